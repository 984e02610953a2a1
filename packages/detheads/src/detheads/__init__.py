"""Detection heads for trackers.

Backbones, FPN, RetinaNet / FCOS / RetinaTrack heads, losses, assignment, decoding.
"""

from ._mobilenet import MOBILENET_V2_CHANNELS, MobileNetV2Backbone, MobileNetV2Classifier
from ._norm import FrozenBatchNorm2d
from ._resnet import ResNet18Backbone
from ._weights import find_mobilenet_v2_weights

__version__ = "0.1.0"

__all__: list[str] = [
    "MOBILENET_V2_CHANNELS",
    "FrozenBatchNorm2d",
    "MobileNetV2Backbone",
    "MobileNetV2Classifier",
    "ResNet18Backbone",
    "find_mobilenet_v2_weights",
]
