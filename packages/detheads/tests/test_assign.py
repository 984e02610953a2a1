"""Assignment: batched implementations vs per-anchor slow references; padding; bad input."""

from __future__ import annotations

import math

import pytest
import torch

from detheads import (
    assign_by_iou,
    assign_fcos,
    assign_identities,
    make_anchors,
    make_points,
    point_scale_ranges,
)


def _iou(a: list[float], b: list[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _random_gt(b: int, g: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(b, g, 2, generator=gen) * 48
    wh = torch.rand(b, g, 2, generator=gen) * 40 + 4
    boxes = torch.cat([xy, xy + wh], -1)
    valid = torch.rand(b, g, generator=gen) > 0.3
    valid[0] = False  # image 0 has no boxes at all
    return boxes, valid


def _slow_assign(anchors, boxes, valid, pos, neg):  # type: ignore[no-untyped-def]
    out_labels, out_match = [], []
    for bi in range(boxes.shape[0]):
        gts = [(g, boxes[bi, g].tolist()) for g in range(boxes.shape[1]) if valid[bi, g]]
        labels, match = [], []
        ious = [[_iou(a, gb) for _, gb in gts] for a in anchors.tolist()]
        for row in ious:
            if not row:
                labels.append(0)
                match.append(0)
                continue
            m = max(row)
            j = row.index(m)
            labels.append(1 if m >= pos else (0 if m < neg else -1))
            match.append(gts[j][0])
        for gi in range(len(gts)):
            col = [r[gi] for r in ious]
            best = max(col)
            if best > 0:
                for ai, v in enumerate(col):
                    if v == best:
                        labels[ai] = 1
        match = [m if lab == 1 else 0 for m, lab in zip(match, labels, strict=True)]
        out_labels.append(labels)
        out_match.append(match)
    return torch.tensor(out_labels), torch.tensor(out_match)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_assign_by_iou_matches_slow_reference(seed: int) -> None:
    anchors = make_anchors([(4, 4)], [16], [(24.0, 48.0)], (0.5, 1.0, 2.0))
    boxes, valid = _random_gt(3, 4, seed)
    res = assign_by_iou(anchors, boxes, valid)
    labels, match = _slow_assign(anchors, boxes, valid, 0.5, 0.3)
    assert torch.equal(res.labels, labels)
    assert torch.equal(res.matched_gt, match)
    assert (res.labels[0] == 0).all()


def test_assign_by_iou_hand_case_and_empty() -> None:
    anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30], [0, 0, 10, 8]])
    gt = torch.tensor([[[0.0, 0, 10, 10], [21, 21, 40, 40]]])
    res = assign_by_iou(anchors, gt)
    # IoUs with gt0: 1, .5, 0, .8; with gt1: 0, 0, 81/419 (forced best), 0
    assert res.labels.tolist() == [[1, 1, 1, 1]]
    assert res.matched_gt.tolist() == [[0, 0, 1, 0]]
    res = assign_by_iou(anchors, gt, force_best=False, pos_iou=0.9, neg_iou=0.6)
    assert res.labels.tolist() == [[1, 0, 0, -1]]
    empty = assign_by_iou(anchors, torch.zeros(2, 0, 4))
    assert empty.labels.shape == (2, 4) and (empty.labels == 0).all()


def _slow_fcos(points, strides, boxes, valid, ranges, radius):  # type: ignore[no-untyped-def]
    labels, match = [], []
    for bi in range(boxes.shape[0]):
        lab_i, mat_i = [], []
        for p, (x, y) in enumerate(points.tolist()):
            best, best_area = 0, math.inf
            for g in range(boxes.shape[1]):
                if not valid[bi, g]:
                    continue
                x1, y1, x2, y2 = boxes[bi, g].tolist()
                ltrb = [x - x1, y - y1, x2 - x, y2 - y]
                if radius > 0:
                    cx, cy, r = (x1 + x2) / 2, (y1 + y2) / 2, radius * strides[p].item()
                    c = [max(cx - r, x1), max(cy - r, y1), min(cx + r, x2), min(cy + r, y2)]
                    inside = min(x - c[0], y - c[1], c[2] - x, c[3] - y) > 0
                else:
                    inside = min(ltrb) > 0
                lo, hi = ranges[p].tolist()
                if inside and lo <= max(ltrb) <= hi:
                    area = (x2 - x1) * (y2 - y1)
                    if area < best_area:
                        best, best_area = g, area
            lab_i.append(int(best_area < math.inf))
            mat_i.append(best)
        labels.append(lab_i)
        match.append(mat_i)
    return torch.tensor(labels), torch.tensor(match)


@pytest.mark.parametrize("radius", [0.0, 1.5])
def test_assign_fcos_matches_slow_reference(radius: float) -> None:
    sizes = [(8, 8), (4, 4)]
    points, strides = make_points(sizes, [8, 16])
    ranges = point_scale_ranges([64, 16], [(0.0, 24.0), (24.0, math.inf)])
    boxes, valid = _random_gt(3, 5, seed=4)
    res = assign_fcos(
        points, strides, boxes, valid, scale_ranges=ranges, center_sampling_radius=radius
    )
    labels, match = _slow_fcos(points, strides, boxes, valid, ranges, radius)
    assert torch.equal(res.labels, labels)
    assert torch.equal(res.matched_gt, match)
    assert res.labels.sum() > 5
    pos = res.labels == 1
    assert (res.ltrb_targets[pos] > 0).all()


def test_assign_identities() -> None:
    anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 6], [20, 20, 30, 30]])
    gt = torch.tensor([[[0.0, 0, 10, 10], [20, 20, 30, 31]], [[0.0, 0, 1, 1], [0, 0, 1, 1]]])
    ids = torch.tensor([[7, 3], [1, 2]])
    valid = torch.tensor([[True, True], [False, False]])
    out = assign_identities(anchors, gt, ids, valid)
    assert out.tolist() == [[7, -1, 3], [-1, -1, -1]]


def test_assignment_bad_input() -> None:
    anchors = torch.tensor([[0.0, 0, 10, 10]])
    with pytest.raises(ValueError, match="x2 < x1"):
        assign_by_iou(anchors, torch.tensor([[[10.0, 0, 0, 10]]]))
    with pytest.raises(ValueError, match="NaN"):
        assign_by_iou(anchors, torch.tensor([[[0.0, 0, float("nan"), 10]]]))
    with pytest.raises(ValueError, match="gt_boxes must be"):
        assign_by_iou(anchors, torch.zeros(3, 4))
    with pytest.raises(ValueError, match="gt_valid"):
        assign_by_iou(anchors, torch.zeros(1, 2, 4), torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="neg_iou"):
        assign_by_iou(anchors, torch.zeros(1, 0, 4), pos_iou=0.3, neg_iou=0.5)
    with pytest.raises(ValueError, match="gt_ids"):
        assign_identities(anchors, torch.zeros(1, 1, 4), torch.zeros(1, 1))
    # NaN in a padded (invalid) row is fine: padding is never read
    nan_pad = torch.tensor([[[0.0, 0, 10, 10], [float("nan")] * 4]])
    res = assign_by_iou(anchors, nan_pad, torch.tensor([[True, False]]))
    assert res.labels.tolist() == [[1]]
