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

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RetinaTrackNet",
    "RetinaTrackNetConfig",
    "load_retinatrack_checkpoint",
    "mobilenet_block_stride",
    "preprocess_frames",
    "save_retinatrack_checkpoint",
]
