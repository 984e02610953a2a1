"""RetinaTrack (Lu et al. 2020): joint detection and embedding network + association tracker.

Composed from :mod:`detheads` (MobileNetV2, FPN, ``RetinaTrackHead``, anchors, decoding, NMS)
and :mod:`assoc` (``RetinaTrackTracker``, SORT).
"""

from trackkit.mot.retinatrack._network import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    RetinaTrackNet,
    RetinaTrackNetConfig,
    load_retinatrack_checkpoint,
    mobilenet_block_stride,
    preprocess_frames,
    save_retinatrack_checkpoint,
)
from trackkit.mot.retinatrack._tracker import (
    ACCURACY_CHECKPOINT,
    ACCURACY_NMS_THRESHOLD,
    ACCURACY_SCORE_THRESHOLD,
    ACCURACY_WIDTH,
    ASSOCIATIONS,
    DEFAULT_CHECKPOINT,
    EMBEDDING_GATE,
    TRACKING_IOU_SOURCE,
    TRACKING_NMS_THRESHOLD,
    TRACKING_SCORE_THRESHOLD,
    DetectionTTA,
    FrameDetections,
    RetinaTrackMOT,
    StageTimes,
    detect_frames,
    detect_passes,
    fuse_passes,
    load_default_network,
    make_association,
)

__all__ = [
    "ACCURACY_CHECKPOINT",
    "ACCURACY_NMS_THRESHOLD",
    "ACCURACY_SCORE_THRESHOLD",
    "ACCURACY_WIDTH",
    "ASSOCIATIONS",
    "DEFAULT_CHECKPOINT",
    "EMBEDDING_GATE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TRACKING_IOU_SOURCE",
    "TRACKING_NMS_THRESHOLD",
    "TRACKING_SCORE_THRESHOLD",
    "DetectionTTA",
    "FrameDetections",
    "RetinaTrackMOT",
    "RetinaTrackNet",
    "RetinaTrackNetConfig",
    "StageTimes",
    "detect_frames",
    "detect_passes",
    "fuse_passes",
    "load_default_network",
    "load_retinatrack_checkpoint",
    "make_association",
    "mobilenet_block_stride",
    "preprocess_frames",
    "save_retinatrack_checkpoint",
]
