"""Association for multi-object tracking.

Cost matrices, matching, batched Kalman motion and a track store (numpy only).
"""

__version__ = "0.1.0"

__all__: list[str] = []
