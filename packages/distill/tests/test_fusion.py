"""Fusion by value (TRAST / TRASFUST), with validity and hysteresis."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from distill import fuse_by_value, value_ranking_accuracy


def boxes_for(values: torch.Tensor) -> torch.Tensor:
    """Candidate n of item b gets the box (b, n, 1, 1) so the choice is visible in the box."""
    b, n = values.shape
    grid = torch.stack(torch.meshgrid(torch.arange(b), torch.arange(n), indexing="ij"), -1)
    return torch.cat([grid.float(), torch.ones(b, n, 2)], -1)


def test_picks_highest_value_with_ties_to_lowest_index() -> None:
    values = torch.tensor([[0.1, 0.7, 0.3], [0.5, 0.5, 0.2]])
    out = fuse_by_value(boxes_for(values), values)
    np.testing.assert_array_equal(out.candidate_index, [1, 0])  # TRAST: student (0) wins ties
    torch.testing.assert_close(out.boxes_xywh[:, 1], torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(out.value, torch.tensor([0.7, 0.5]))


def test_invalid_candidates_are_never_chosen() -> None:
    values = torch.tensor([[0.1, 0.9, 0.3]])
    valid = torch.tensor([[True, False, True]])
    assert int(fuse_by_value(boxes_for(values), values, valid=valid).candidate_index) == 2
    with pytest.raises(ValueError, match="at least one valid"):
        fuse_by_value(boxes_for(values), values, valid=torch.zeros(1, 3, dtype=torch.bool))


def test_hysteresis_margin() -> None:
    values = torch.tensor([[0.50, 0.55], [0.50, 0.65], [0.5, 0.5], [0.2, 0.9]])
    previous = torch.tensor([0, 0, 1, 0])
    valid = torch.tensor([[True, True], [True, True], [True, True], [False, True]])
    out = fuse_by_value(boxes_for(values), values, previous_index=previous, margin=0.1, valid=valid)
    # 0.05 < margin: stay; 0.15 > margin: switch; tie: stay on 1; previous invalid: drop it
    np.testing.assert_array_equal(out.candidate_index, [0, 1, 1, 1])
    plain = fuse_by_value(boxes_for(values), values)
    np.testing.assert_array_equal(plain.candidate_index, [1, 1, 0, 1])


def reference(values: np.ndarray, previous: np.ndarray, margin: float) -> np.ndarray:
    out = np.empty(values.shape[0], dtype=np.int64)
    for i, row in enumerate(values):
        best = int(np.argmax(row))
        out[i] = previous[i] if row[best] <= row[previous[i]] + margin else best
    return out


def test_batched_matches_loop_reference() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(64, 5)).round(1)  # rounding creates ties
    previous = rng.integers(0, 5, 64)
    out = fuse_by_value(
        boxes_for(torch.tensor(values)),
        torch.tensor(values),
        previous_index=torch.tensor(previous),
        margin=0.3,
    )
    np.testing.assert_array_equal(out.candidate_index, reference(values, previous, 0.3))


def test_leading_dimensions() -> None:
    values = torch.randn(2, 3, 4)
    boxes = torch.randn(2, 3, 4, 4)
    out = fuse_by_value(boxes, values)
    assert out.candidate_index.shape == (2, 3) and out.boxes_xywh.shape == (2, 3, 4)
    flat = fuse_by_value(boxes.reshape(6, 4, 4), values.reshape(6, 4))
    torch.testing.assert_close(out.boxes_xywh.reshape(6, 4), flat.boxes_xywh)


def test_bad_inputs() -> None:
    values = torch.zeros(2, 3)
    boxes = torch.zeros(2, 3, 4)
    with pytest.raises(ValueError, match="values must have shape"):
        fuse_by_value(boxes, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="margin"):
        fuse_by_value(boxes, values, margin=-0.1)
    with pytest.raises(ValueError, match="previous_index must lie"):
        fuse_by_value(boxes, values, previous_index=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="previous_index must be a long"):
        fuse_by_value(boxes, values, previous_index=torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="valid must be a bool"):
        fuse_by_value(boxes, values, valid=torch.ones(2, 3))


class _ScalarReads(TorchDispatchMode):
    """Counts host reads of tensor values (``.item()``, ``bool()`` of a tensor)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func.overloadpacket.__name__ == "_local_scalar_dense":
            self.reads += 1
        return func(*args, **(kwargs or {}))


def test_validate_false_gives_the_checked_result_without_host_reads() -> None:
    rng = np.random.default_rng(1)
    values = torch.tensor(rng.normal(size=(64, 5)).round(1))  # rounding creates ties
    valid = torch.tensor(rng.random((64, 5)) < 0.6)
    valid[:, 2] = True  # every item has a valid candidate
    previous = torch.tensor(rng.integers(0, 5, 64))
    boxes = boxes_for(values).double()
    for kwargs in ({}, {"valid": valid}, {"valid": valid, "previous_index": previous}):
        checked = fuse_by_value(boxes, values, margin=0.3, **kwargs)  # type: ignore[arg-type]
        with _ScalarReads() as mode:
            fast = fuse_by_value(boxes, values, margin=0.3, validate=False, **kwargs)  # type: ignore[arg-type]
        assert mode.reads == 0, kwargs
        for a, b in zip(fast, checked):
            torch.testing.assert_close(a, b, atol=0, rtol=0)
    with _ScalarReads() as mode:
        fuse_by_value(boxes, values, valid=valid, previous_index=previous)
    assert mode.reads == 2  # what validate=False avoids


def test_validate_false_documented_behaviour_and_remaining_checks() -> None:
    values = torch.tensor([[0.1, 0.9, 0.3], [0.2, 0.1, 0.4]])
    none_valid = torch.tensor([[False, False, False], [False, True, True]])
    out = fuse_by_value(boxes_for(values), values, valid=none_valid, validate=False)
    np.testing.assert_array_equal(out.candidate_index, [0, 2])  # no valid candidate: 0
    with pytest.raises(ValueError, match="at least one valid"):  # the default still rejects it
        fuse_by_value(boxes_for(values), values, valid=none_valid)
    with pytest.raises(ValueError, match="valid must be a bool"):
        fuse_by_value(boxes_for(values), values, valid=torch.ones(2, 3), validate=False)
    with pytest.raises(ValueError, match="previous_index must be a long"):
        fuse_by_value(
            boxes_for(values), values, previous_index=torch.tensor([0.0, 1.0]), validate=False
        )
    with pytest.raises(ValueError, match="values must have shape"):
        fuse_by_value(boxes_for(values), torch.zeros(2, 4), validate=False)


def test_value_ranking_accuracy_matches_a_pair_loop() -> None:
    rng = np.random.default_rng(1)
    v = rng.normal(size=(6, 3, 5))
    y = rng.uniform(size=(6, 3, 5))
    v[0, 1, 0] = v[0, 0, 0]  # equal values count as wrong
    good = total = 0
    for g in range(6):
        for t in range(5):
            for i in range(3):
                for j in range(i + 1, 3):
                    if abs(y[g, i, t] - y[g, j, t]) > 0.1:
                        total += 1
                        good += (v[g, i, t] - v[g, j, t]) * (y[g, i, t] - y[g, j, t]) > 0
    out = value_ranking_accuracy(torch.tensor(v), torch.tensor(y), min_gap=0.1)
    assert out["pairs"] == total and out["pairwise"] == pytest.approx(good / total)
    pick = y[np.arange(6)[:, None], v.argmax(1), np.arange(5)[None]]
    assert out["pick_quality"] == pytest.approx(pick.mean())
    assert out["oracle_quality"] == pytest.approx(y.max(1).mean())
    assert out["fixed_quality_2"] == pytest.approx(y[:, 2].mean())
    # the pick is exactly what fuse_by_value chooses from the same values
    boxes = torch.zeros(6, 5, 3, 4)
    idx = fuse_by_value(boxes, torch.tensor(v).permute(0, 2, 1)).candidate_index
    np.testing.assert_array_equal(idx.numpy(), v.argmax(1))
    # values equal to the quality rank every pair right
    perfect = value_ranking_accuracy(torch.tensor(y), torch.tensor(y))
    assert perfect["pairwise"] == 1.0
    assert perfect["pick_quality"] == pytest.approx(perfect["oracle_quality"])


def test_value_ranking_accuracy_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\[G, K, L\]"):
        value_ranking_accuracy(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="finite"):
        value_ranking_accuracy(torch.full((1, 2, 3), float("nan")), torch.zeros(1, 2, 3))
    no_pairs = value_ranking_accuracy(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3))
    assert no_pairs["pairs"] == 0 and np.isnan(no_pairs["pairwise"])
