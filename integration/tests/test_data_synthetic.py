"""Deterministic synthetic single-object sequences."""

from __future__ import annotations

import numpy as np
import pytest

from trackkit.data import crop_and_resize, synthetic_sot_sequence


def _patch(seq, t: int, box: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    return crop_and_resize(seq[t], box, 24).astype(np.float64)


def test_same_seed_same_pixels_other_seed_differs() -> None:
    a = synthetic_sot_sequence(length=12, seed=5)
    b = synthetic_sot_sequence(length=12, seed=5)
    c = synthetic_sot_sequence(length=12, seed=6)
    np.testing.assert_array_equal(a.boxes_xywh, b.boxes_xywh)
    assert all(np.array_equal(a[t], b[t]) for t in range(12))
    assert not np.array_equal(a[0], c[0])


def test_boxes_follow_the_target_and_stay_inside() -> None:
    seq = synthetic_sot_sequence(length=40, seed=1, distractors=0, occlusion=0.0)
    h, w = seq[0].shape[:2]
    b = seq.boxes_xywh
    assert (
        (b[:, :2] >= 0).all() and (b[:, 0] + b[:, 2] <= w).all() and (b[:, 1] + b[:, 3] <= h).all()
    )
    assert np.ptp(b[:, 2]) > 5  # scale changes
    assert np.linalg.norm(b[-1, :2] - b[0, :2]) > 5  # the target moves
    first = _patch(seq, 0, b[0])
    on_target = [np.abs(_patch(seq, t, b[t]) - first).mean() for t in (10, 25, 39)]
    shifted = b.copy()
    shifted[:, 0] += np.where(shifted[:, 0] > w / 2, -1.2, 1.2) * b[:, 2]
    off_target = [np.abs(_patch(seq, t, shifted[t]) - first).mean() for t in (10, 25, 39)]
    assert max(on_target) < 0.5 * min(off_target)


def test_full_occlusion_marks_absent_and_distractors_look_alike() -> None:
    seq = synthetic_sot_sequence(length=30, seed=2, occlusion=1.0, occlusion_frames=(10, 14))
    np.testing.assert_array_equal(np.nonzero(seq.absent)[0], [10, 11, 12, 13])
    assert np.isnan(seq.boxes_xywh[10:14]).all() and np.isfinite(seq.boxes_xywh[14]).all()
    assert seq.meta["distractor_boxes_xywh"].shape == (2, 30, 4)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="length"):
        synthetic_sot_sequence(length=0)
    with pytest.raises(ValueError, match="target_size"):
        synthetic_sot_sequence(target_size=(400, 10))
    with pytest.raises(ValueError, match="occlusion_frames"):
        synthetic_sot_sequence(length=10, occlusion_frames=(5, 20))
