"""Multi-object tracking: association runs on MOTChallenge detection files, and RetinaTrack.

:class:`DetectionTracker` runs an ``assoc`` tracker (SORT, RetinaTrack's association) over a
sequence's public detections, frame by frame (:func:`associate`); the trackers are built by name
in :mod:`trackkit.registry` (``sort``, ``retinatrack-iou``, ``retinatrack``, ``maml-mot``). This
package needs numpy only (no torch); the subpackages :mod:`trackkit.mot.retinatrack` (the joint
detection and embedding network of Lu et al. 2020 and its tracker, torch) and
:mod:`trackkit.mot.maml_mot` (MAML-MOT, Chen and Deng 2024: per-track meta-learned
re-identification on RetinaTrack's detections) are imported only when used; both run their
frames through :func:`track_frame_source`. :func:`postprocess_rows` (``assoc``'s offline gap
interpolation, short-track removal and Gaussian-process smoothing on a sequence's rows) and
:func:`postprocessed` (a
tracker wrapped to apply it) are the optional offline step after any of them.
"""

from trackkit.mot._association import DetectionTracker, associate
from trackkit.mot._frames import track_frame_source
from trackkit.mot._postprocess import (
    PostProcessedFrameTracker,
    PostProcessedTracker,
    check_postprocess_options,
    postprocess_rows,
    postprocessed,
)

__all__ = [
    "DetectionTracker",
    "PostProcessedFrameTracker",
    "PostProcessedTracker",
    "associate",
    "check_postprocess_options",
    "postprocess_rows",
    "postprocessed",
    "track_frame_source",
]
