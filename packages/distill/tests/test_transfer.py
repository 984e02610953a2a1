"""Transfer set: filtering teacher trajectories by IoU and chunking them."""

from __future__ import annotations

import numpy as np
import pytest

from distill import TeacherTrajectory, build_transfer_set, chunk_indices, trajectory_keep_mask


def gt_boxes(length: int) -> np.ndarray:
    return np.column_stack(
        [np.arange(length, dtype=float), np.zeros(length), np.full((length, 2), 10.0)]
    )


def shifted(gt: np.ndarray, dx: np.ndarray) -> np.ndarray:
    out = gt.copy()
    out[:, 0] += dx
    return out


def test_keep_mask_hand_made() -> None:
    gt = gt_boxes(5)
    # a 10x10 box shifted by dx has IoU (10 - dx) / (10 + dx): dx=2 -> 0.667, dx=4 -> 0.429
    perfect = gt.copy()
    slightly_off = shifted(gt, np.full(5, 2.0))
    one_bad_frame = shifted(gt, np.array([0, 0, 4.0, 0, 0]))
    lost = gt.copy()
    lost[2] = np.nan
    teachers = np.stack([perfect, slightly_off, one_bad_frame, lost])
    np.testing.assert_array_equal(
        trajectory_keep_mask(teachers, gt, beta=0.5), [True, True, False, False]
    )
    np.testing.assert_array_equal(
        trajectory_keep_mask(teachers, gt, beta=0.7), [True, False, False, False]
    )
    assert bool(trajectory_keep_mask(slightly_off, gt, beta=0.6))
    # IoU must be strictly above beta
    assert not bool(trajectory_keep_mask(slightly_off, gt, beta=8 / 12))


def test_absent_ground_truth_is_skipped() -> None:
    gt = gt_boxes(4)
    gt[1] = np.nan
    teacher = gt.copy()
    teacher[1] = [100, 100, 5, 5]  # wrong, but the target is absent there
    assert bool(trajectory_keep_mask(teacher, gt))
    assert not bool(trajectory_keep_mask(teacher, np.full((4, 4), np.nan)))


def test_chunks_consecutive_and_random() -> None:
    chunks = chunk_indices(70, chunk_length=32)
    np.testing.assert_array_equal(chunks, [np.arange(32), np.arange(32, 64)])
    assert chunk_indices(31).shape == (0, 32)
    assert chunk_indices(32).shape == (1, 32)
    rng = np.random.default_rng(0)
    random = chunk_indices(40, num_chunks=5, rng=rng)
    assert random.shape == (5, 32)
    assert np.all(np.diff(random, axis=1) == 1)
    assert random.min() >= 0 and random.max() <= 39
    assert chunk_indices(10, num_chunks=5, rng=rng).shape == (0, 32)
    with pytest.raises(TypeError, match="rng"):
        chunk_indices(40, num_chunks=5)
    with pytest.raises(ValueError, match="chunk_length"):
        chunk_indices(40, chunk_length=0)


def test_build_transfer_set() -> None:
    gt = gt_boxes(70)
    good = shifted(gt, np.full(70, 1.0))
    bad = good.copy()
    bad[50, 0] += 9.0
    trajectories = {
        "good": TeacherTrajectory("good", good, np.ones(70, bool), 1.0),
        "bad": bad,
        "perfect": gt,
    }
    chunks = build_transfer_set(trajectories, gt, sequence="seq")
    assert [(c.teacher, int(c.frame_indices[0])) for c in chunks] == [
        ("good", 0),
        ("good", 32),
        ("perfect", 0),
        ("perfect", 32),
    ]
    second = chunks[1]
    assert second.sequence == "seq"
    np.testing.assert_array_equal(second.teacher_boxes_xywh, good[32:64])
    np.testing.assert_array_equal(second.gt_boxes_xywh, gt[32:64])


def test_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\[T, 4\]"):
        trajectory_keep_mask(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="T = 3"):
        trajectory_keep_mask(np.zeros((2, 4, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="beta"):
        trajectory_keep_mask(np.zeros((3, 4)), np.zeros((3, 4)), beta=1.0)
