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
from trackkit.eval._report import (
    markdown_table,
    mot_results_table,
    plot_sot_results,
    sot_results_table,
)
from trackkit.eval._results_io import read_otb_results, write_otb_results
from trackkit.eval._runner import (
    BatchSOTTracker,
    MOTBenchmarkResult,
    MOTTracker,
    SequenceMOTTracker,
    SOTBenchmarkResult,
    SOTRun,
    SOTTracker,
    run_mot_benchmark,
    run_sot_batch,
    run_sot_benchmark,
    run_sot_sequence,
    tre_segments,
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
    "BatchSOTTracker",
    "CLEARScores",
    "HOTAScores",
    "IdentityScores",
    "MOTBenchmarkResult",
    "MOTEvalInput",
    "MOTScores",
    "MOTTracker",
    "SOTBenchmarkResult",
    "SOTRun",
    "SOTScores",
    "SOTTracker",
    "SequenceMOTTracker",
    "center_errors",
    "clear_mot",
    "evaluate_mot",
    "evaluate_sot",
    "hota",
    "identity_metrics",
    "iou_matrix_xywh",
    "markdown_table",
    "mean_sot_scores",
    "mot_results_table",
    "normalized_center_errors",
    "overlaps_xywh",
    "plot_sot_results",
    "precision_curve",
    "prepare_mot_eval",
    "read_otb_results",
    "run_mot_benchmark",
    "run_sot_batch",
    "run_sot_benchmark",
    "run_sot_sequence",
    "sot_results_table",
    "success_curve",
    "tre_segments",
    "write_otb_results",
]
