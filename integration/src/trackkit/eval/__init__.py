"""Scoring trackers the way the benchmarks do: single-object and multi-object metrics."""

from trackkit.eval._clear import CLEARScores, clear_mot
from trackkit.eval._hota import HOTA_ALPHAS, HOTAScores, hota
from trackkit.eval._identity import IdentityScores, identity_metrics
from trackkit.eval._mot_metrics import MOTScores, evaluate_mot
from trackkit.eval._mot_prepare import (
    MOT17_DISTRACTOR_CLASSES,
    MOTEvalInput,
    iou_matrix_xywh,
    prepare_mot_eval,
)
from trackkit.eval._sot_metrics import (
    NORM_PRECISION_THRESHOLDS,
    OVERLAP_THRESHOLDS,
    PRECISION_THRESHOLDS,
    SOTScores,
    center_errors,
    evaluate_sot,
    mean_sot_scores,
    normalized_center_errors,
    overlaps_xywh,
    precision_curve,
    success_curve,
)

__all__ = [
    "HOTA_ALPHAS",
    "MOT17_DISTRACTOR_CLASSES",
    "NORM_PRECISION_THRESHOLDS",
    "OVERLAP_THRESHOLDS",
    "PRECISION_THRESHOLDS",
    "CLEARScores",
    "HOTAScores",
    "IdentityScores",
    "MOTEvalInput",
    "MOTScores",
    "SOTScores",
    "center_errors",
    "clear_mot",
    "evaluate_mot",
    "evaluate_sot",
    "hota",
    "identity_metrics",
    "iou_matrix_xywh",
    "mean_sot_scores",
    "normalized_center_errors",
    "overlaps_xywh",
    "precision_curve",
    "prepare_mot_eval",
    "success_curve",
]
