"""Scoring trackers the way the benchmarks do: single-object and multi-object metrics."""

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
    "NORM_PRECISION_THRESHOLDS",
    "OVERLAP_THRESHOLDS",
    "PRECISION_THRESHOLDS",
    "SOTScores",
    "center_errors",
    "evaluate_sot",
    "mean_sot_scores",
    "normalized_center_errors",
    "overlaps_xywh",
    "precision_curve",
    "success_curve",
]
