"""Box averaging of agreeing candidates (``average_agreeing``, ``fuse_by_value(average_iou=)``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from distill import average_agreeing, fuse_by_value


def iou_reference(a: list[float], b: list[float]) -> float:
    """Plain IoU of two x, y, w, h boxes; 0 for a NaN box or an empty union."""
    if any(math.isnan(v) for v in (*a, *b)):
        return 0.0
    wa, ha, wb, hb = max(a[2], 0.0), max(a[3], 0.0), max(b[2], 0.0), max(b[3], 0.0)
    iw = max(0.0, min(a[0] + wa, b[0] + wb) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + ha, b[1] + hb) - max(a[1], b[1]))
    union = wa * ha + wb * hb - iw * ih
    return min(1.0, iw * ih / union) if union > 0 else 0.0


def average_reference(
    boxes: np.ndarray,
    values: np.ndarray,
    index: np.ndarray,
    valid: np.ndarray,
    tau: float,
    temperature: float | None,
) -> np.ndarray:
    """Slow obvious averaging: a loop over items and candidates."""
    b, n, _ = boxes.shape
    out = np.zeros((b, 4))
    for i in range(b):
        c = int(index[i])
        members = [
            k
            for k in range(n)
            if k == c
            or (
                valid[i, k]
                and all(math.isfinite(v) for v in boxes[i, k])
                and iou_reference(list(boxes[i, k]), list(boxes[i, c])) >= tau
            )
        ]
        if temperature is None:
            w = [1.0] * len(members)
        else:
            top = max(values[i, k] for k in members)
            w = [math.exp((values[i, k] - top) / temperature) for k in members]
        total = sum(w)
        for coord in range(4):
            out[i, coord] = sum(wk * boxes[i, k, coord] for wk, k in zip(w, members)) / total
    return out


@st.composite
def fusion_inputs(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    b = draw(st.integers(1, 5))
    n = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 50, size=(b, 1, 4)) + np.array([0.0, 0.0, 10.0, 10.0])
    boxes = base + rng.normal(scale=draw(st.sampled_from([0.5, 3.0, 10.0])), size=(b, n, 4))
    boxes[..., 2:] = np.abs(boxes[..., 2:]) + 0.5
    boxes[rng.random((b, n)) < 0.15] = np.nan  # a lost teacher
    values = rng.normal(size=(b, n)).round(1)
    valid = rng.random((b, n)) < 0.8
    index = rng.integers(0, n, size=b)
    return boxes, values, valid, index


@given(
    fusion_inputs(),
    st.sampled_from([0.3, 0.5, 0.7, 1.0]),
    st.sampled_from([None, 0.05, 0.1, 1.0]),
)
def test_average_agreeing_matches_loop_reference(
    inputs: tuple[np.ndarray, ...], tau: float, temperature: float | None
) -> None:
    boxes, values, valid, index = inputs
    expected = average_reference(boxes, values, index, valid, tau, temperature)
    out = average_agreeing(
        torch.tensor(boxes),
        torch.tensor(values),
        torch.tensor(index),
        iou_threshold=tau,
        temperature=temperature,
        valid=torch.tensor(valid),
    )
    assert out.dtype == torch.float64 and out.shape == (len(index), 4)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-9)


def test_leading_dims_and_float32() -> None:
    rng = np.random.default_rng(0)
    boxes = torch.tensor(rng.uniform(10, 20, size=(2, 3, 4, 4)), dtype=torch.float32)
    values = torch.tensor(rng.normal(size=(2, 3, 4)), dtype=torch.float32)
    index = torch.tensor(rng.integers(0, 4, size=(2, 3)))
    out = average_agreeing(boxes, values, index, iou_threshold=0.3, temperature=0.1)
    flat = average_agreeing(
        boxes.reshape(6, 4, 4), values.reshape(6, 4), index.reshape(6), iou_threshold=0.3,
        temperature=0.1,
    )  # fmt: skip
    assert out.dtype == torch.float32 and out.shape == (2, 3, 4)
    torch.testing.assert_close(out.reshape(6, 4), flat)


def test_off_is_todays_fusion_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    boxes = torch.tensor(rng.uniform(0, 30, size=(16, 3, 4)))
    values = torch.tensor(rng.normal(size=(16, 3)).round(1))
    valid = torch.tensor(rng.random((16, 3)) < 0.7)
    valid[:, 0] = True
    previous = torch.tensor(rng.integers(0, 3, 16))
    kw = {"valid": valid, "previous_index": previous, "margin": 0.1}
    plain = fuse_by_value(boxes, values, **kw)  # type: ignore[arg-type]
    for extra in ({"average_iou": None}, {"average_iou": None, "average_temperature": 0.1}):
        out = fuse_by_value(boxes, values, **kw, **extra)  # type: ignore[arg-type]
        for a, b in zip(out, plain):
            torch.testing.assert_close(a, b, atol=0, rtol=0)


@pytest.mark.parametrize("temperature", [None, 0.1])
def test_same_box_twice_gives_that_box_and_disagreement_keeps_the_pick(
    temperature: float | None,
) -> None:
    boxes = torch.tensor(
        [
            [[10.0, 10, 40, 40], [10.0, 10, 40, 40], [200, 200, 20, 20]],  # two agree
            [[10.0, 10, 40, 40], [100.0, 100, 40, 40], [200, 200, 20, 20]],  # none agree
            [[10.0, 10, 40, 40], [12.0, 10, 40, 40], [math.nan] * 4],  # NaN box: dropped
        ],
        dtype=torch.float64,
    )
    values = torch.tensor([[0.5, 0.9, 0.1], [0.2, 0.9, 0.3], [0.9, 0.5, 0.95]])
    valid = torch.tensor([[True, True, True], [True, True, True], [True, True, False]])
    plain = fuse_by_value(boxes, values.double(), valid=valid)
    out = fuse_by_value(
        boxes, values.double(), valid=valid, average_iou=0.5, average_temperature=temperature
    )
    torch.testing.assert_close(out.candidate_index, plain.candidate_index, rtol=0, atol=0)
    torch.testing.assert_close(out.value, plain.value, rtol=0, atol=0)
    torch.testing.assert_close(out.boxes_xywh[0], boxes[0, 1])
    torch.testing.assert_close(out.boxes_xywh[1], boxes[1, 1], rtol=0, atol=0)  # exactly
    assert bool(torch.isfinite(out.boxes_xywh[2]).all())
    # the NaN box (also invalid) never takes part; equal weights: the mean of the two others
    if temperature is None:
        torch.testing.assert_close(out.boxes_xywh[2], boxes[2, :2].mean(0))
    # a valid NaN box is left out too
    nan_valid = average_agreeing(
        boxes[2:], values[2:].double(), torch.tensor([0]), iou_threshold=0.5
    )
    torch.testing.assert_close(nan_valid[0], boxes[2, :2].mean(0))


def test_softmax_weights_lean_to_the_higher_value_and_follow_smoothed_values() -> None:
    boxes = torch.tensor([[[10.0, 10, 40, 40], [14.0, 10, 40, 40]]], dtype=torch.float64)
    values = torch.tensor([[0.9, 0.5]], dtype=torch.float64)
    sharp = fuse_by_value(boxes, values, average_iou=0.5, average_temperature=0.01)
    torch.testing.assert_close(sharp.boxes_xywh[0], boxes[0, 0])
    soft = fuse_by_value(boxes, values, average_iou=0.5, average_temperature=0.1)
    w = 1 / (1 + math.exp(-4.0))  # weight of candidate 0
    assert float(soft.boxes_xywh[0, 0]) == pytest.approx(10 * w + 14 * (1 - w))
    flat = fuse_by_value(boxes, values, average_iou=0.5, average_temperature=1e9)
    equal = fuse_by_value(boxes, values, average_iou=0.5)
    torch.testing.assert_close(flat.boxes_xywh, equal.boxes_xywh)
    inf = fuse_by_value(boxes, values, average_iou=0.5, average_temperature=math.inf)
    torch.testing.assert_close(inf.boxes_xywh, equal.boxes_xywh, rtol=0, atol=0)
    # with value_ema the weights use the smoothed values the choice was made on
    prev = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    smooth = fuse_by_value(
        boxes, values, previous_values=prev, value_ema=0.5, average_iou=0.5,
        average_temperature=0.1,
    )  # fmt: skip
    s = smooth.smoothed_values[0]
    w1 = 1 / (1 + math.exp(float(s[0] - s[1]) / 0.1))  # weight of candidate 1
    assert float(smooth.boxes_xywh[0, 0]) == pytest.approx(10 * (1 - w1) + 14 * w1)
    # a non-finite value among the agreeing candidates: equal weights
    bad = fuse_by_value(
        boxes, torch.tensor([[math.inf, 0.5]], dtype=torch.float64), average_iou=0.5,
        average_temperature=0.1,
    )  # fmt: skip
    torch.testing.assert_close(bad.boxes_xywh, equal.boxes_xywh)


def test_average_bad_inputs() -> None:
    boxes = torch.zeros(2, 3, 4)
    values = torch.zeros(2, 3)
    index = torch.zeros(2, dtype=torch.long)
    for tau in (0.0, -0.1, 1.01, math.nan):
        with pytest.raises(ValueError, match=r"average_iou must lie in \(0, 1\]"):
            fuse_by_value(boxes, values, average_iou=tau)
        with pytest.raises(ValueError, match=r"average_iou must lie in \(0, 1\]"):
            average_agreeing(boxes, values, index, iou_threshold=tau)
    for temp in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="average_temperature must be > 0"):
            fuse_by_value(boxes, values, average_iou=0.5, average_temperature=temp)
    with pytest.raises(TypeError, match="average_iou must be a number"):
        fuse_by_value(boxes, values, average_iou="0.5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="average_temperature must be a number"):
        fuse_by_value(boxes, values, average_iou=0.5, average_temperature=True)
    with pytest.raises(ValueError, match="index must be a long tensor"):
        average_agreeing(boxes, values, index.float(), iou_threshold=0.5)
    with pytest.raises(ValueError, match=r"index must lie in \[0, 3\)"):
        average_agreeing(boxes, values, torch.tensor([0, 3]), iou_threshold=0.5)
    with pytest.raises(ValueError, match="values must have shape"):
        average_agreeing(boxes, torch.zeros(2, 4), index, iou_threshold=0.5)
    with pytest.raises(ValueError, match="valid must be a bool tensor"):
        average_agreeing(boxes, values, index, iou_threshold=0.5, valid=torch.ones(2, 3))
    with pytest.raises(TypeError, match=r"index must be a torch\.Tensor"):
        average_agreeing(boxes, values, [0, 0], iou_threshold=0.5)  # type: ignore[arg-type]
