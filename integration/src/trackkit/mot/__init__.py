"""Multi-object tracking: association runs on MOTChallenge detection files.

:class:`DetectionTracker` runs an ``assoc`` tracker (SORT, RetinaTrack's association) over a
sequence's public detections, frame by frame (:func:`associate`); the trackers are built by name
in :mod:`trackkit.registry` (``sort``, ``retinatrack-iou``). This package needs numpy only (no
torch). RetinaTrack and MAML-MOT join here as subpackages.
"""

from trackkit.mot._association import DetectionTracker, associate

__all__ = ["DetectionTracker", "associate"]
