"""Detection heads for trackers.

Backbones, FPN, RetinaNet / FCOS / RetinaTrack heads, losses, assignment, decoding.
"""

__version__ = "0.1.0"

__all__: list[str] = []
