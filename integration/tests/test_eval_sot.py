"""Single-object metrics against slow per-frame references and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trackkit.eval import (
    OVERLAP_THRESHOLDS,
    evaluate_sot,
    mean_sot_scores,
    overlaps_xywh,
    precision_curve,
    success_curve,
)


def _iou_ref(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


boxes_st = arrays(
    np.float64,
    (7, 4),
    elements=st.floats(0.5, 100, allow_nan=False),
)


@given(boxes_st, boxes_st)
def test_overlap_matches_reference_symmetric_bounded(p: np.ndarray, g: np.ndarray) -> None:
    fast = overlaps_xywh(p, g)
    ref = np.array([_iou_ref(a, b) for a, b in zip(p, g)])
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(overlaps_xywh(g, p), fast, rtol=1e-12, atol=1e-12)
    assert ((fast >= 0) & (fast <= 1 + 1e-12)).all()
    np.testing.assert_allclose(overlaps_xywh(p, p), 1.0)


def test_hand_computed_sequence() -> None:
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10.0]])
    pred = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [30, 30, 10, 10], [0, 0, 10, 5.0]])
    # IoU: 1, 50/150, 0, 0.5 ; centre errors: 0, 5, 42.43, 2.5
    s = evaluate_sot(pred, gt)
    iou = np.array([1, 1 / 3, 0, 0.5])
    ref_curve = np.array([np.mean(iou > t) for t in np.linspace(0, 1, 21)])
    np.testing.assert_allclose(s.success, ref_curve)
    assert s.auc == pytest.approx(ref_curve.mean())
    assert s.precision == pytest.approx(0.75)
    assert s.ao == pytest.approx(iou.mean())
    assert s.sr50 == pytest.approx(0.25)  # 0.5 is not > 0.5
    assert s.sr75 == pytest.approx(0.25)
    # normalised centre errors: 0, 0.5, 4.24, 0.25 -> at 0.2: 1/4 ; frames used 4
    assert s.norm_precision == pytest.approx(0.25) and s.frames == 4


def test_perfect_tracker_auc_is_20_of_21() -> None:
    gt = np.tile([3.0, 4, 20, 30], (9, 1))
    s = evaluate_sot(gt, gt)
    assert s.auc == pytest.approx(20 / 21)  # success at threshold 1.0 needs IoU > 1
    assert s.precision == 1.0 and s.ao == 1.0 and s.sr75 == 1.0


def test_absent_policies() -> None:
    gt = np.array([[0, 0, 10, 10], [np.nan] * 4, [0, 0, 10, 10], [0, 0, 10, 10.0]])
    absent = np.array([False, True, False, True])
    pred = np.array([[0, 0, 10, 10], [50, 50, 10, 10], [100, 100, 10, 10], [0, 0, 10, 10.0]])
    ex = evaluate_sot(pred, gt, absent)  # frames 0 and 2 remain: IoU 1 and 0
    assert ex.frames == 2 and ex.ao == pytest.approx(0.5) and ex.precision == pytest.approx(0.5)
    otb = evaluate_sot(pred, gt, absent, absent_policy="otb")
    # 4 frames; absent ones are failures for success ...
    assert otb.frames == 4 and otb.success[0] == pytest.approx(0.25)
    # ... and hits for precision (the OTB/UAV123 toolkit quirk: error -1 <= threshold).
    assert otb.precision == pytest.approx(0.75)
    first = evaluate_sot(pred, gt, absent, skip_first=True)
    assert first.frames == 1 and first.ao == 0.0
    with pytest.raises(ValueError, match="absent_policy"):
        evaluate_sot(pred, gt, absent_policy="vot")


def test_invalid_prediction_scores_zero() -> None:
    gt = np.tile([0.0, 0, 10, 10], (2, 1))
    pred = np.array([[np.nan] * 4, [0, 0, 0, 0.0]])
    s = evaluate_sot(pred, gt)
    assert s.ao == 0.0 and s.precision == 0.0 and s.success[0] == 0.0


def test_curves_and_mean_over_sequences() -> None:
    np.testing.assert_allclose(success_curve([0.5, 1.0], thresholds=[0.4, 0.5]), [1.0, 0.5])
    np.testing.assert_allclose(precision_curve([0.0, 20.0, 21.0], thresholds=[20]), [2 / 3])
    assert math.isnan(success_curve([])[0])
    assert len(OVERLAP_THRESHOLDS) == 21
    gt = np.tile([0.0, 0, 10, 10], (4, 1))
    a = evaluate_sot(gt, gt)
    b = evaluate_sot(gt + np.array([30.0, 0, 0, 0]), gt)
    m = mean_sot_scores([a, b])
    assert m.auc == pytest.approx((a.auc + b.auc) / 2) and m.ao == pytest.approx(0.5)
    with pytest.raises(ValueError, match="empty"):
        mean_sot_scores([])


def test_shape_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="pred_xywh"):
        evaluate_sot(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="differ"):
        evaluate_sot(np.zeros((2, 4)), np.zeros((3, 4)))


def test_identical_boxes_never_exceed_overlap_one() -> None:
    rng = np.random.default_rng(0)
    gt = np.concatenate([rng.uniform(0, 300, (200, 2)), rng.uniform(1, 90, (200, 2))], axis=1)
    iou = overlaps_xywh(gt, gt)
    assert (iou <= 1.0).all()
    assert evaluate_sot(gt, gt).success[-1] == 0.0  # nothing has overlap > 1
