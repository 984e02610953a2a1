"""Detection heads for trackers.

Backbones, FPN, RetinaNet / FCOS / RetinaTrack heads, losses, assignment, decoding.
"""

from ._anchors import (
    FCOS_SCALE_RANGES,
    cell_anchors,
    grid_points,
    level_sizes,
    make_anchors,
    make_points,
    retinanet_sizes,
)
from ._assign import (
    FCOSAssignment,
    IoUAssignment,
    assign_by_iou,
    assign_fcos,
    assign_identities,
    gather_gt,
    point_scale_ranges,
)
from ._boxes import (
    box_area,
    box_iou,
    check_boxes,
    elementwise_giou,
    elementwise_iou,
    xywh_to_xyxy,
    xyxy_to_xywh,
)
from ._coding import centerness_target, decode_deltas, decode_ltrb, encode_deltas, encode_ltrb
from ._decode import batched_nms, decode_fcos, decode_retinanet, nms_mask, postprocess_detections
from ._detloss import (
    NORMALIZE_MODES,
    FCOSTargets,
    RetinaNetTargets,
    fcos_loss,
    fcos_target_loss,
    fcos_targets,
    retinanet_loss,
    retinanet_target_loss,
    retinanet_targets,
    retinatrack_loss,
)
from ._fcos import FCOSHead
from ._fpn import FPN
from ._losses import (
    centerness_bce_loss,
    centerness_l2_loss,
    giou_loss,
    huber_loss,
    iou_loss,
    l1_loss,
    normalize_by_positives,
    reduce_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
)
from ._mobilenet import MOBILENET_V2_CHANNELS, MobileNetV2Backbone, MobileNetV2Classifier
from ._norm import FrozenBatchNorm2d
from ._resnet import ResNet18Backbone
from ._retinanet import TRACKING_ANCHOR_RATIOS, TRACKING_ANCHOR_SIZES, RetinaNetHead
from ._retinatrack import RetinaTrackHead
from ._tower import feature_sizes_of
from ._triplet import batch_hard_triplet_loss, gather_identity_embeddings
from ._weights import find_mobilenet_v2_weights

__version__ = "0.1.0"

__all__: list[str] = [
    "FCOS_SCALE_RANGES",
    "FPN",
    "MOBILENET_V2_CHANNELS",
    "NORMALIZE_MODES",
    "TRACKING_ANCHOR_RATIOS",
    "TRACKING_ANCHOR_SIZES",
    "FCOSAssignment",
    "FCOSHead",
    "FCOSTargets",
    "FrozenBatchNorm2d",
    "IoUAssignment",
    "MobileNetV2Backbone",
    "MobileNetV2Classifier",
    "ResNet18Backbone",
    "RetinaNetHead",
    "RetinaNetTargets",
    "RetinaTrackHead",
    "assign_by_iou",
    "assign_fcos",
    "assign_identities",
    "batch_hard_triplet_loss",
    "batched_nms",
    "box_area",
    "box_iou",
    "cell_anchors",
    "centerness_bce_loss",
    "centerness_l2_loss",
    "centerness_target",
    "check_boxes",
    "decode_deltas",
    "decode_fcos",
    "decode_ltrb",
    "decode_retinanet",
    "elementwise_giou",
    "elementwise_iou",
    "encode_deltas",
    "encode_ltrb",
    "fcos_loss",
    "fcos_target_loss",
    "fcos_targets",
    "feature_sizes_of",
    "find_mobilenet_v2_weights",
    "gather_gt",
    "gather_identity_embeddings",
    "giou_loss",
    "grid_points",
    "huber_loss",
    "iou_loss",
    "l1_loss",
    "level_sizes",
    "make_anchors",
    "make_points",
    "nms_mask",
    "normalize_by_positives",
    "point_scale_ranges",
    "postprocess_detections",
    "reduce_loss",
    "retinanet_loss",
    "retinanet_sizes",
    "retinanet_target_loss",
    "retinanet_targets",
    "retinatrack_loss",
    "sigmoid_focal_loss",
    "smooth_l1_loss",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
]
