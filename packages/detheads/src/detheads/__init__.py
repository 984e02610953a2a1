"""Detection heads for trackers.

Backbones, FPN, RetinaNet / FCOS / RetinaTrack heads, losses, assignment, decoding.

References:
    Wang, G., Luo, C., Sun, X., Xiong, Z., Zeng, W. 2020. Tracking by Instance Detection: A
        Meta-Learning Approach. CVPR 2020. arXiv:2004.00830.
    Lu, Z., Rathod, V., Votel, R., Huang, J. 2020. RetinaTrack: Online Single Stage Joint Detection
        and Tracking. CVPR 2020. arXiv:2003.13870.
    Lin, T.-Y., Goyal, P., Girshick, R., He, K., Dollár, P. 2017. Focal Loss for Dense Object
        Detection (RetinaNet). ICCV 2017. arXiv:1708.02002.
    Tian, Z., Shen, C., Chen, H., He, T. 2019. FCOS: Fully Convolutional One-Stage Object Detection.
        ICCV 2019. arXiv:1904.01355.
    Lin, T.-Y., Dollár, P., Girshick, R., He, K., Hariharan, B., Belongie, S. 2017. Feature Pyramid
        Networks for Object Detection. CVPR 2017. arXiv:1612.03144.
    Hermans, A., Beyer, L., Leibe, B. 2017. In Defense of the Triplet Loss for Person
        Re-Identification. arXiv:1703.07737.
    He, K., Zhang, X., Ren, S., Sun, J. 2016. Deep Residual Learning for Image Recognition. CVPR
        2016. arXiv:1512.03385.
    Sandler, M., Howard, A., Zhu, M., Zhmoginov, A., Chen, L.-C. 2018. MobileNetV2: Inverted
        Residuals and Linear Bottlenecks. CVPR 2018. arXiv:1801.04381.
    Rezatofighi, H., Tsoi, N., Gwak, J., Sadeghian, A., Reid, I., Savarese, S. 2019. Generalized
        Intersection over Union: A Metric and A Loss for Bounding Box Regression. CVPR 2019.
        arXiv:1902.09630.
    Zheng, Z., Wang, P., Ren, D., Liu, W., Ye, R., Hu, Q., Zuo, W. 2020. Enhancing Geometric Factors
        in Model Learning and Inference for Object Detection and Instance Segmentation
        (Cluster-NMS). arXiv:2005.03572.
    Solovyev, R., Wang, W., Gabruseva, T. 2021. Weighted Boxes Fusion: Ensembling Boxes from
        Different Object Detection Models. Image and Vision Computing 107. arXiv:1910.13302.
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
from ._decode import (
    batched_nms,
    check_finite_detections,
    decode_fcos,
    decode_retinanet,
    nms_mask,
    postprocess_detections,
)
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
from ._fusion import FusedDetections, weighted_box_fusion
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
from ._norm import FrozenBatchNorm2d, fold_frozen_batchnorm
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
    "FusedDetections",
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
    "check_finite_detections",
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
    "fold_frozen_batchnorm",
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
    "weighted_box_fusion",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
]
