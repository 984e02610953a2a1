"""Detection AP: a hand-computed case and a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trackkit.eval import detection_average_precision


def test_hand_computed_ap() -> None:
    gt = [np.array([[0, 0, 10, 10], [20, 0, 10, 10]]), np.array([[0, 0, 10, 10]])]
    det = [
        np.array([[0, 0, 10, 10], [1, 0, 10, 10], [50, 50, 5, 5]]),  # TP, duplicate FP, FP
        np.array([[0, 1, 10, 10]]),  # TP (IoU 0.82)
    ]
    scores = [np.array([0.9, 0.8, 0.7]), np.array([0.85])]
    r = detection_average_precision(gt, det, scores)
    # ranked: 0.9 TP, 0.85 TP, 0.8 FP, 0.7 FP; 3 gt -> recall 1/3, 2/3 at precision 1
    np.testing.assert_allclose(r.precision, [1, 1, 2 / 3, 1 / 2])
    np.testing.assert_allclose(r.recall, [1 / 3, 2 / 3, 2 / 3, 2 / 3])
    assert r.ap == pytest.approx(2 / 3)
    assert r.num_gt == 3 and r.recall_at_precision(0.9) == pytest.approx(2 / 3)


def test_edge_cases_and_errors() -> None:
    assert detection_average_precision([np.zeros((1, 4)) + 5], [np.zeros((0, 4))], [[]]).ap == 0
    assert np.isnan(detection_average_precision([np.zeros((0, 4))], [[[0, 0, 1, 1]]], [[1]]).ap)
    with pytest.raises(ValueError, match="one entry per frame"):
        detection_average_precision([np.zeros((0, 4))], [], [])
    with pytest.raises(ValueError, match="frame 0: 1 detections but 2 scores"):
        detection_average_precision([np.zeros((0, 4))], [[[0, 0, 1, 1]]], [[1, 2]])


def _reference(gt, det, sc, thr=0.5) -> float:  # type: ignore[no-untyped-def]
    """Slow, obvious: Python loops, IoU by hand, AP as the sum over recall steps."""

    def iou(a, b):  # type: ignore[no-untyped-def]
        x1, y1 = max(a[0], b[0]), max(a[1], b[1])
        x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
        inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
        union = a[2] * a[3] + b[2] * b[3] - inter
        return inter / union if union > 0 else 0.0

    items = [(-s, t, r) for t in range(len(sc)) for r, s in enumerate(sc[t])]
    items.sort()
    used = [[False] * len(g) for g in gt]
    n_gt = sum(len(g) for g in gt)
    tps = []
    for _, t, r in items:
        best, bj = -1.0, -1
        for j, g in enumerate(gt[t]):
            if not used[t][j] and iou(det[t][r], g) > best:
                best, bj = iou(det[t][r], g), j
        ok = bj >= 0 and best >= thr
        if ok:
            used[t][bj] = True
        tps.append(ok)
    if n_gt == 0:
        return float("nan")
    prec, rec, tp = [], [], 0
    for k, ok in enumerate(tps):
        tp += ok
        prec.append(tp / (k + 1))
        rec.append(tp / n_gt)
    ap, last = 0.0, 0.0
    for k in range(len(tps)):
        if rec[k] > last:
            ap += (rec[k] - last) * max(prec[k:])
            last = rec[k]
    return ap


box = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(1, 15), st.integers(1, 15)).map(
    list
)
frame = st.tuples(
    st.lists(box, max_size=4), st.lists(st.tuples(box, st.integers(0, 20)), max_size=5)
)


@given(st.lists(frame, min_size=1, max_size=4))
def test_matches_bruteforce_reference(frames) -> None:  # type: ignore[no-untyped-def]
    gt = [[list(map(float, b)) for b in f[0]] for f in frames]
    det = [[list(map(float, d[0])) for d in f[1]] for f in frames]
    sc = [[d[1] / 20.0 for d in f[1]] for f in frames]
    got = detection_average_precision(gt, det, sc).ap
    want = _reference(gt, det, sc)
    if np.isnan(want):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(want, abs=1e-12)
