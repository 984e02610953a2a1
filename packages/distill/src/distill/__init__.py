"""Knowledge distillation for trackers.

Teachers, distillation losses, best-teacher selection and fusion.
"""

__version__ = "0.1.0"

__all__: list[str] = []
