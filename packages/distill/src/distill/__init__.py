"""Knowledge distillation for trackers.

Teachers (`Teacher` protocol, `OpenCVTeacher`, `ReplayTeacher`, `TrackerTeacher` for any
tracker, the cached `TeacherPool`), the
transfer set (IoU filtering, 32-frame chunks), distillation losses (masked L1 action
distillation, Hinton soft targets, features, detection heads), best-teacher selection and
fusion by value (Dunnhofer et al. 2020, TRAS/TRAST/TRASFUST). OpenCV is optional: it is imported
only when an OpenCV teacher is built or frames are given as image paths.

References:
    Dunnhofer, M., Martinel, N., Micheloni, C. 2020. Tracking-by-Trackers with a Distilled and
        Reinforced Model. ACCV 2020. arXiv:2007.04108.
    Hinton, G., Vinyals, O., Dean, J. 2015. Distilling the Knowledge in a Neural Network.
        arXiv:1503.02531.
    Romero, A., Ballas, N., Kahou, S. E., Chassang, A., Gatta, C., Bengio, Y. 2015. FitNets: Hints
        for Thin Deep Nets. ICLR 2015. arXiv:1412.6550.
    Li, X., Wang, W., Wu, L., Chen, S., Hu, X., Li, J., Tang, J., Yang, J. 2020. Generalized Focal
        Loss: Learning Qualified and Distributed Bounding Boxes for Dense Object Detection. NeurIPS
        2020. arXiv:2006.04388.
"""

from ._action import (
    BestTeacher,
    action_distillation_mask,
    masked_action_distillation_loss,
    select_best_teacher,
)
from ._boxes import box_iou_xywh, box_iou_xywh_torch
from ._detection import DetectionDistillation, detection_distillation_loss
from ._feature import FeatureAdapter, feature_distillation_loss
from ._fusion import FusionChoice, average_agreeing, fuse_by_value, value_ranking_accuracy
from ._hinton import hinton_distillation_loss, soft_target_loss
from ._opencv import OpenCVTeacher, available_opencv_kinds
from ._pool import TeacherPool, TeacherTrajectory, sequence_digest
from ._replay import ReplayTeacher, read_result_file, write_result_file
from ._teacher import Teacher, check_box_xywh, check_frame
from ._tracker_teacher import TrackerTeacher
from ._transfer import TransferChunk, build_transfer_set, chunk_indices, trajectory_keep_mask

__version__ = "0.1.0"

__all__ = [
    "BestTeacher",
    "DetectionDistillation",
    "FeatureAdapter",
    "FusionChoice",
    "OpenCVTeacher",
    "ReplayTeacher",
    "Teacher",
    "TeacherPool",
    "TeacherTrajectory",
    "TrackerTeacher",
    "TransferChunk",
    "action_distillation_mask",
    "available_opencv_kinds",
    "average_agreeing",
    "box_iou_xywh",
    "box_iou_xywh_torch",
    "build_transfer_set",
    "check_box_xywh",
    "check_frame",
    "chunk_indices",
    "detection_distillation_loss",
    "feature_distillation_loss",
    "fuse_by_value",
    "hinton_distillation_loss",
    "masked_action_distillation_loss",
    "read_result_file",
    "select_best_teacher",
    "sequence_digest",
    "soft_target_loss",
    "trajectory_keep_mask",
    "value_ranking_accuracy",
    "write_result_file",
]
