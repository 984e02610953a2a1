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
    smooth = {"previous_values": torch.tensor(rng.normal(size=(64, 5))), "value_ema": 0.8}
    for kwargs in (
        {},
        {"valid": valid},
        {"valid": valid, "previous_index": previous},
        {"valid": valid, "previous_index": previous, **smooth},
    ):
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


def ema_reference(
    values: np.ndarray, valid: np.ndarray, alpha: float, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Slow obvious TRASFUST choice on smoothed values: loops over frames, items, candidates.

    ``values``, ``valid``: ``[T, B, N]``. Per item: ``s = v`` at the first frame, then
    ``s = alpha * s + (1 - alpha) * v``; the highest ``s`` among valid candidates (first on
    ties), unless the previous choice is still valid and within ``margin`` of it.
    """
    t_len, b, n = values.shape
    choice = np.zeros((t_len, b), dtype=np.int64)
    smoothed = np.zeros((t_len, b, n))
    for i in range(b):
        s = [0.0] * n
        prev = -1
        for t in range(t_len):
            for k in range(n):
                v = float(values[t, i, k])
                s[k] = v if t == 0 else alpha * s[k] + (1 - alpha) * v
            best = -1
            for k in range(n):
                if valid[t, i, k] and (best < 0 or s[k] > s[best]):
                    best = k
            if prev >= 0 and valid[t, i, prev] and s[best] <= s[prev] + margin:
                best = prev
            choice[t, i] = prev = best
            smoothed[t, i] = s
    return choice, smoothed


@pytest.mark.parametrize("alpha", [0.5, 0.8, 0.95])
@pytest.mark.parametrize("margin", [0.0, 0.1])
def test_value_ema_matches_frame_loop_reference(alpha: float, margin: float) -> None:
    rng = np.random.default_rng(2)
    t_len, b, n = 40, 16, 4
    values = rng.normal(size=(t_len, b, n)).round(1)  # rounding creates ties
    valid = rng.random((t_len, b, n)) < 0.7
    valid[..., 3] |= ~valid.any(axis=-1)  # every item keeps a valid candidate
    expected, expected_smoothed = ema_reference(values, valid, alpha, margin)
    boxes = torch.zeros(b, n, 4, dtype=torch.float64)
    previous_index = previous_values = None
    for t in range(t_len):  # the batched library function, one call per frame
        out = fuse_by_value(
            boxes,
            torch.tensor(values[t]),
            valid=torch.tensor(valid[t]),
            previous_index=previous_index,
            previous_values=previous_values,
            margin=margin,
            value_ema=alpha,
        )
        np.testing.assert_array_equal(out.candidate_index, expected[t], err_msg=f"frame {t}")
        np.testing.assert_array_equal(out.smoothed_values, expected_smoothed[t])
        np.testing.assert_array_equal(out.value, values[t][np.arange(b), expected[t]])
        previous_index, previous_values = out.candidate_index, out.smoothed_values


def test_value_ema_zero_is_todays_fusion_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    values = torch.tensor(rng.normal(size=(32, 5)).round(1))
    valid = torch.tensor(rng.random((32, 5)) < 0.6)
    valid[:, 1] = True
    previous = torch.tensor(rng.integers(0, 5, 32))
    junk = torch.tensor(rng.normal(size=(32, 5)))  # ignored at value_ema=0
    kw = {"valid": valid, "previous_index": previous, "margin": 0.1}
    plain = fuse_by_value(boxes_for(values), values, **kw)  # type: ignore[arg-type]
    for kwargs in ({"value_ema": 0.0}, {"value_ema": 0.0, "previous_values": junk}, {}):
        out = fuse_by_value(boxes_for(values), values, **kw, **kwargs)  # type: ignore[arg-type]
        for a, b in zip(out, plain):
            torch.testing.assert_close(a, b, atol=0, rtol=0)
        assert out.smoothed_values is values
    # no previous values (a reset): the first step chooses on the raw values whatever alpha
    first = fuse_by_value(boxes_for(values), values, valid=valid, value_ema=0.95)
    np.testing.assert_array_equal(first.candidate_index, fuse_by_value(
        boxes_for(values), values, valid=valid).candidate_index)  # fmt: skip


def test_value_ema_commits_to_the_better_candidate_on_average() -> None:
    # candidate 0 steady at 0.6; candidate 1 flickers 0.9 / 0.2 (mean 0.55)
    steps = [torch.tensor([[0.6, 0.9 if t % 2 else 0.2]], dtype=torch.float64) for t in range(20)]
    boxes = torch.zeros(1, 2, 4, dtype=torch.float64)

    def run(alpha: float) -> list[int]:
        picks, prev = [], None
        for v in steps:
            out = fuse_by_value(boxes, v, previous_values=prev, value_ema=alpha)
            picks.append(int(out.candidate_index))
            prev = out.smoothed_values
        return picks

    assert run(0.0) == [0, 1] * 10  # the raw values flip-flop
    assert set(run(0.8)[2:]) == {0}  # the moving average keeps the steady candidate


def test_value_ema_bad_inputs() -> None:
    values = torch.zeros(2, 3, dtype=torch.float64)
    boxes = torch.zeros(2, 3, 4)
    for bad in (1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"value_ema must lie in \[0, 1\)"):
            fuse_by_value(boxes, values, value_ema=bad)
    for wrong in (True, "0.5", None):
        with pytest.raises(TypeError, match="value_ema must be a number"):
            fuse_by_value(boxes, values, value_ema=wrong)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="previous_values must be a"):
        fuse_by_value(boxes, values, previous_values=torch.zeros(2, 4), value_ema=0.5)
    with pytest.raises(ValueError, match="previous_values must be a"):
        fuse_by_value(boxes, values, previous_values=torch.zeros(2, 3), value_ema=0.5)  # float32
    with pytest.raises(TypeError, match="previous_values"):
        fuse_by_value(boxes, values, previous_values=np.zeros((2, 3)), value_ema=0.5)  # type: ignore[arg-type]


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
