"""Box ops, anchors and box coding: slow references, hand cases, hypothesis properties."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from detheads import (
    box_iou,
    cell_anchors,
    centerness_target,
    check_boxes,
    decode_deltas,
    decode_ltrb,
    elementwise_giou,
    elementwise_iou,
    encode_deltas,
    encode_ltrb,
    grid_points,
    level_sizes,
    make_anchors,
    make_points,
    retinanet_sizes,
    xywh_to_xyxy,
    xyxy_to_xywh,
)

coord = st.floats(min_value=-50, max_value=50, allow_nan=False, width=32)
size = st.floats(min_value=0.5, max_value=60, allow_nan=False, width=32)


@st.composite
def boxes(draw: st.DrawFn, n: int | None = None) -> torch.Tensor:
    count = draw(st.integers(1, 6)) if n is None else n
    rows = [
        [x, y, x + w, y + h]
        for x, y, w, h in ((draw(coord), draw(coord), draw(size), draw(size)) for _ in range(count))
    ]
    return torch.tensor(rows, dtype=torch.float64)


def _slow_iou(a: list[float], b: list[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@settings(max_examples=30)
@given(boxes(), boxes())
def test_box_iou_matches_slow_reference(a: torch.Tensor, b: torch.Tensor) -> None:
    fast = box_iou(a, b)
    slow = torch.tensor([[_slow_iou(x, y) for y in b.tolist()] for x in a.tolist()])
    assert torch.allclose(fast, slow.double(), atol=1e-9)
    assert torch.allclose(fast, box_iou(b, a).T)
    assert torch.allclose(box_iou(a, a).diagonal(), torch.ones(len(a), dtype=a.dtype))


@settings(max_examples=30)
@given(boxes(n=5), boxes(n=5))
def test_giou_bounds_and_relation_to_iou(a: torch.Tensor, b: torch.Tensor) -> None:
    g = elementwise_giou(a, b)
    i = elementwise_iou(a, b)
    assert (g <= i + 1e-9).all() and (g >= -1 - 1e-9).all()
    assert torch.allclose(elementwise_giou(a, a), torch.ones(5, dtype=a.dtype), atol=1e-6)


def test_giou_hand_case() -> None:
    a = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[2.0, 0.0, 3.0, 1.0]])
    # IoU 0, enclosing box 3x1, union 2 -> GIoU = 0 - (3 - 2) / 3
    assert torch.allclose(elementwise_giou(a, b), torch.tensor([-1 / 3]), atol=1e-6)


@settings(max_examples=30)
@given(boxes(n=4), boxes(n=4))
def test_delta_coding_roundtrip(b: torch.Tensor, a: torch.Tensor) -> None:
    for w in [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)]:
        d = encode_deltas(b, a, weights=w)
        assert torch.allclose(decode_deltas(d, a, weights=w, clamp=math.inf), b, atol=1e-6)
    # the default clamp bounds the size ratio at 1000 / 16
    big = decode_deltas(torch.tensor([0.0, 0.0, 50.0, 50.0]), torch.tensor([0.0, 0.0, 1.0, 1.0]))
    assert torch.allclose(big[2:] - big[:2], torch.tensor([62.5, 62.5]))


def test_delta_hand_case() -> None:
    anchor = torch.tensor([0.0, 0.0, 10.0, 20.0])
    box = torch.tensor([5.0, 10.0, 25.0, 30.0])  # centre (15, 20) size (20, 20)
    d = encode_deltas(box, anchor)
    assert torch.allclose(d, torch.tensor([1.0, 0.5, math.log(2.0), 0.0]))


@settings(max_examples=30)
@given(boxes(n=3), st.floats(min_value=1, max_value=32))
def test_ltrb_roundtrip(b: torch.Tensor, stride: float) -> None:
    pts = (b[:, :2] + b[:, 2:]) / 2 + 0.1
    ltrb = encode_ltrb(pts, b, stride=stride)
    assert torch.allclose(decode_ltrb(pts, ltrb, stride=stride), b, atol=1e-6)


def test_centerness_hand_cases() -> None:
    t = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0], [-1.0, 2.0, 3.0, 4.0]])
    expected = torch.tensor([1.0, math.sqrt(1 / 3 * 2 / 4), 0.0])
    assert torch.allclose(centerness_target(t), expected)


def test_anchor_grid_layout() -> None:
    base = cell_anchors((32.0, 64.0), (0.5, 1.0, 2.0))
    assert base.shape == (6, 4)
    wh = base[:, 2:] - base[:, :2]
    assert torch.allclose(wh[:, 0] * wh[:, 1], torch.tensor([32.0**2, 64.0**2] * 3))
    assert torch.allclose(wh[:, 1] / wh[:, 0], torch.tensor([0.5, 0.5, 1, 1, 2, 2]))
    anchors = make_anchors([(2, 3), (1, 2)], [8, 16], [(32.0, 64.0), (64.0, 128.0)], (0.5, 1, 2))
    assert anchors.shape == (2 * 3 * 6 + 1 * 2 * 6, 4)
    assert level_sizes([(2, 3), (1, 2)], 6) == [36, 12]
    # anchor a = ((y * W) + x) * K + k on level 0: y=1, x=2, k=3 -> centre ((2.5, 1.5) * 8)
    a = anchors[((1 * 3) + 2) * 6 + 3]
    assert torch.allclose((a[:2] + a[2:]) / 2, torch.tensor([20.0, 12.0]))
    pts, strides = make_points([(2, 3), (1, 2)], [8, 16])
    assert torch.equal(pts[:6], grid_points((2, 3), 8))
    assert torch.equal(strides, torch.tensor([8.0] * 6 + [16.0] * 2))
    assert len(retinanet_sizes()) == 5 and retinanet_sizes()[0][0] == 32.0


def test_xywh_conversion() -> None:
    b = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert torch.equal(xywh_to_xyxy(b), torch.tensor([[1.0, 2.0, 4.0, 6.0]]))
    assert torch.equal(xyxy_to_xywh(xywh_to_xyxy(b)), b)


def test_check_boxes_errors() -> None:
    with pytest.raises(ValueError, match="x2 < x1"):
        check_boxes("gt", torch.tensor([[5.0, 0.0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        check_boxes("gt", torch.tensor([[0.0, 0.0, float("nan"), 1.0]]))
    with pytest.raises(ValueError, match=r"\[\.\.\., 4\]"):
        check_boxes("gt", torch.zeros(2, 3))
    with pytest.raises(TypeError, match="floating"):
        check_boxes("gt", torch.zeros(2, 4, dtype=torch.long))
    # padded rows are not checked
    check_boxes(
        "gt",
        torch.tensor([[0.0, 0.0, 1.0, 1.0], [9.0, 9.0, 0.0, 0.0]]),
        valid=torch.tensor([1, 0]).bool(),
    )
    with pytest.raises(ValueError, match="sizes"):
        make_anchors([(2, 2)], [8], [(32.0,), (64.0,)])


@pytest.mark.parametrize("bad", ["boxes1", "boxes2"])
def test_box_iou_names_the_argument_with_a_wrong_shape(bad: str) -> None:
    good, wrong = torch.zeros(2, 4), torch.zeros(2, 3)
    args = (wrong, good) if bad == "boxes1" else (good, wrong)
    with pytest.raises(ValueError, match=rf"{bad} must have shape \[\.\.\., N, 4\].*\(2, 3\)"):
        box_iou(*args)
