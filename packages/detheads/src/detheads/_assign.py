"""Target assignment, batched over images with padded ground truth.

Ground truth arrives padded: ``gt_boxes: Tensor[B, G, 4]`` xyxy with ``gt_valid: Tensor[B, G]``
bool (``None`` = all valid); ``G`` may be 0 and images may hold different numbers of boxes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from ._boxes import box_area, box_iou, check_boxes
from ._checks import check_index_tensor, check_int, check_last_dim, check_real, check_same_device


class IoUAssignment(NamedTuple):
    """Result of :func:`assign_by_iou`.

    Attributes:
        labels: ``Tensor[B, A]`` long: 1 positive, 0 negative, -1 ignored.
        matched_gt: ``Tensor[B, A]`` long index into ``G`` of the best-overlapping box (0 when
            the image has no box; only meaningful where ``labels == 1``).
        max_iou: ``Tensor[B, A]`` IoU with that box (0 without boxes).
    """

    labels: Tensor
    matched_gt: Tensor
    max_iou: Tensor


class FCOSAssignment(NamedTuple):
    """Result of :func:`assign_fcos`.

    Attributes:
        labels: ``Tensor[B, P]`` long: 1 positive, 0 negative.
        matched_gt: ``Tensor[B, P]`` long index into ``G`` (0 where negative).
        ltrb_targets: ``Tensor[B, P, 4]`` distances to the matched box divided by the point's
            stride (1 where negative, a harmless placeholder).
    """

    labels: Tensor
    matched_gt: Tensor
    ltrb_targets: Tensor


def _prepare_gt(
    gt_boxes: Tensor, gt_valid: Tensor | None, *, validate: bool
) -> tuple[Tensor, Tensor]:
    if not isinstance(gt_boxes, Tensor) or gt_boxes.dim() != 3 or gt_boxes.shape[-1] != 4:
        shape = tuple(gt_boxes.shape) if isinstance(gt_boxes, Tensor) else type(gt_boxes)
        raise ValueError(f"gt_boxes must be Tensor[B, G, 4] xyxy, got {shape}")
    if gt_valid is None:
        gt_valid = torch.ones(gt_boxes.shape[:2], dtype=torch.bool, device=gt_boxes.device)
    elif (
        not isinstance(gt_valid, Tensor)
        or gt_valid.shape != gt_boxes.shape[:2]
        or gt_valid.dtype != torch.bool
    ):
        got = (
            f"{gt_valid.dtype} {tuple(gt_valid.shape)}"
            if isinstance(gt_valid, Tensor)
            else type(gt_valid).__name__
        )
        raise ValueError(f"gt_valid must be a bool Tensor{list(gt_boxes.shape[:2])}, got {got}")
    check_same_device(("gt_boxes", gt_boxes), ("gt_valid", gt_valid))
    if validate:
        check_boxes("gt_boxes", gt_boxes, valid=gt_valid)
    return gt_boxes, gt_valid


def gather_gt(values: Tensor, matched_gt: Tensor) -> Tensor:
    """Per-anchor ground-truth values: ``Tensor[B, G, ...]`` x ``Tensor[B, A]`` -> ``[B, A, ...]``.

    With ``G == 0`` returns zeros.
    """
    check_index_tensor("matched_gt", matched_gt)
    b, a = matched_gt.shape
    rest = values.shape[2:]
    if values.shape[1] == 0:
        return values.new_zeros((b, a, *rest))
    idx = matched_gt.reshape(b, a, *([1] * len(rest))).expand(b, a, *rest)
    return torch.gather(values, 1, idx)


def assign_by_iou(
    anchors_xyxy: Tensor,
    gt_boxes: Tensor,
    gt_valid: Tensor | None = None,
    *,
    pos_iou: float = 0.5,
    neg_iou: float = 0.3,
    force_best: bool = True,
    validate: bool = True,
) -> IoUAssignment:
    """RetinaNet anchor assignment (Wang et al. 2020: positive >= 0.5, negative < 0.3).

    An anchor is positive if its best IoU >= ``pos_iou``, negative if < ``neg_iou``, ignored in
    between. With ``force_best`` every valid box additionally makes its best anchor(s) (ties
    included, best IoU > 0) positive, matched to that anchor's best box (Lu et al. 2020,
    torchvision's ``allow_low_quality_matches``).

    Args:
        anchors_xyxy: ``Tensor[A, 4]`` or per image ``Tensor[B, A, 4]``.
        gt_boxes: ``Tensor[B, G, 4]`` padded boxes; ``gt_valid``: ``Tensor[B, G]`` bool.
    """
    check_real("pos_iou", pos_iou, low=0.0, high=1.0)
    check_real("neg_iou", neg_iou, low=0.0, high=1.0)
    if not 0 <= neg_iou <= pos_iou <= 1:
        raise ValueError(f"need 0 <= neg_iou <= pos_iou <= 1, got {neg_iou}, {pos_iou}")
    gt_boxes, gt_valid = _prepare_gt(gt_boxes, gt_valid, validate=validate)
    check_last_dim("anchors_xyxy", anchors_xyxy, 4, floating=True)
    check_same_device(("gt_boxes", gt_boxes), ("anchors_xyxy", anchors_xyxy))
    b, g = gt_boxes.shape[:2]
    anchors = anchors_xyxy if anchors_xyxy.dim() == 3 else anchors_xyxy[None]
    a = anchors.shape[1]
    if g == 0:
        zeros = torch.zeros((b, a), dtype=torch.long, device=gt_boxes.device)
        return IoUAssignment(zeros, zeros.clone(), gt_boxes.new_zeros((b, a)))
    iou = box_iou(anchors, gt_boxes)  # [B, A, G]
    iou = torch.where(gt_valid[:, None, :], iou, torch.full_like(iou, -1.0))
    max_iou, matched = iou.max(dim=2)
    labels = torch.full_like(matched, -1)
    labels = torch.where(max_iou >= pos_iou, torch.ones_like(labels), labels)
    # below neg_iou, including images without any valid box (max_iou = -1): negative
    labels = torch.where(max_iou < neg_iou, torch.zeros_like(labels), labels)
    if force_best:
        best = iou.max(dim=1, keepdim=True).values  # [B, 1, G]
        forced = ((iou == best) & (best > 0) & gt_valid[:, None, :]).any(dim=2)
        labels = torch.where(forced, torch.ones_like(labels), labels)
    max_iou = max_iou.clamp(min=0)
    matched = torch.where(labels == 1, matched, torch.zeros_like(matched))
    return IoUAssignment(labels, matched, max_iou)


def assign_identities(
    anchors_xyxy: Tensor,
    gt_boxes: Tensor,
    gt_ids: Tensor,
    gt_valid: Tensor | None = None,
    *,
    iou_threshold: float = 0.7,
    validate: bool = True,
) -> Tensor:
    """Track identity per anchor (Lu et al. 2020: IoU >= 0.7, no forced matches).

    Args:
        anchors_xyxy: ``Tensor[A, 4]`` or ``Tensor[B, A, 4]``.
        gt_boxes: ``Tensor[B, G, 4]``; ``gt_ids``: ``Tensor[B, G]`` long identities (>= 0).

    Returns:
        ``Tensor[B, A]`` long: the identity of the best-overlapping box if its IoU >=
        ``iou_threshold``, else -1.
    """
    check_real("iou_threshold", iou_threshold, low=0.0, high=1.0)
    gt_boxes, gt_valid = _prepare_gt(gt_boxes, gt_valid, validate=validate)
    check_index_tensor("gt_ids", gt_ids)
    check_same_device(("gt_boxes", gt_boxes), ("gt_ids", gt_ids))
    if gt_ids.shape != gt_boxes.shape[:2] or gt_ids.dtype.is_floating_point:
        raise ValueError(
            f"gt_ids must be an integer Tensor{list(gt_boxes.shape[:2])}, got "
            f"{gt_ids.dtype} {tuple(gt_ids.shape)}"
        )
    res = assign_by_iou(
        anchors_xyxy,
        gt_boxes,
        gt_valid,
        pos_iou=iou_threshold,
        neg_iou=iou_threshold,
        force_best=False,
        validate=False,
    )
    ids = gather_gt(gt_ids.long(), res.matched_gt)
    return torch.where(res.labels == 1, ids, torch.full_like(ids, -1))


def point_scale_ranges(
    level_sizes: Sequence[int],
    ranges: Sequence[tuple[float, float]],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Per-point ``(min, max)`` regression range ``Tensor[P, 2]`` from per-level ranges."""
    if len(level_sizes) != len(ranges):
        raise ValueError(f"{len(level_sizes)} levels but {len(ranges)} ranges")
    for i, (n, pair) in enumerate(zip(level_sizes, ranges, strict=True)):
        check_int(f"level_sizes[{i}]", n)
        if not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"ranges[{i}] must be a pair (min, max), got {pair!r}")
        lo = check_real(f"ranges[{i}] min", pair[0], inf_ok=True)
        hi = check_real(f"ranges[{i}] max", pair[1], inf_ok=True)
        if lo > hi:
            raise ValueError(f"ranges[{i}] must have min <= max, got {pair!r}")
    parts = [
        torch.tensor([lo, hi], device=device, dtype=dtype).expand(n, 2)
        for n, (lo, hi) in zip(level_sizes, ranges, strict=True)
    ]
    return torch.cat(parts)


def assign_fcos(
    points_xy: Tensor,
    point_strides: Tensor,
    gt_boxes: Tensor,
    gt_valid: Tensor | None = None,
    *,
    scale_ranges: Tensor | None = None,
    center_sampling_radius: float = 1.5,
    validate: bool = True,
) -> FCOSAssignment:
    """FCOS point assignment (Tian et al. 2019), batched.

    A point is a candidate for a box if it lies inside the box (or, with
    ``center_sampling_radius > 0``, inside the box's centre region of half-size
    ``radius * stride``, clipped to the box) and ``max(l, t, r, b)`` lies in its level's range.
    Among candidates the box of smallest area wins.

    Args:
        points_xy: ``Tensor[P, 2]``; ``point_strides``: ``Tensor[P]`` (see ``make_points``).
        gt_boxes: ``Tensor[B, G, 4]``; ``gt_valid``: ``Tensor[B, G]`` bool.
        scale_ranges: ``Tensor[P, 2]`` (see :func:`point_scale_ranges`); ``None`` = no limit
            (single-level tracking heads).
        center_sampling_radius: 1.5 (FCOS improvements); 0 = plain inside-box sampling.
    """
    check_real("center_sampling_radius", center_sampling_radius, low=0.0)
    gt_boxes, gt_valid = _prepare_gt(gt_boxes, gt_valid, validate=validate)
    check_last_dim("points_xy", points_xy, 2, floating=True)
    if not isinstance(point_strides, Tensor):
        raise TypeError(f"point_strides must be a Tensor[P], got {type(point_strides).__name__}")
    tensors = [("gt_boxes", gt_boxes), ("points_xy", points_xy), ("point_strides", point_strides)]
    if scale_ranges is not None:
        if not isinstance(scale_ranges, Tensor):
            raise TypeError(f"scale_ranges must be a Tensor[P, 2], got {type(scale_ranges)}")
        tensors.append(("scale_ranges", scale_ranges))
    check_same_device(*tensors)
    b, g = gt_boxes.shape[:2]
    p = points_xy.shape[0]
    if point_strides.shape != (p,):
        raise ValueError(f"point_strides must be Tensor[{p}], got {tuple(point_strides.shape)}")
    if g == 0:
        zeros = torch.zeros((b, p), dtype=torch.long, device=gt_boxes.device)
        return FCOSAssignment(zeros, zeros.clone(), gt_boxes.new_ones((b, p, 4)))
    pts = points_xy[None, :, None, :]  # [1, P, 1, 2]
    boxes = gt_boxes[:, None, :, :]  # [B, 1, G, 4]
    x, y = pts[..., 0], pts[..., 1]
    ltrb = torch.stack(
        [x - boxes[..., 0], y - boxes[..., 1], boxes[..., 2] - x, boxes[..., 3] - y], dim=-1
    )  # [B, P, G, 4] in pixels
    if center_sampling_radius > 0:
        cx = (boxes[..., 0] + boxes[..., 2]) / 2
        cy = (boxes[..., 1] + boxes[..., 3]) / 2
        r = center_sampling_radius * point_strides[None, :, None]
        x1 = torch.maximum(cx - r, boxes[..., 0])
        y1 = torch.maximum(cy - r, boxes[..., 1])
        x2 = torch.minimum(cx + r, boxes[..., 2])
        y2 = torch.minimum(cy + r, boxes[..., 3])
        inside = torch.stack([x - x1, y - y1, x2 - x, y2 - y], dim=-1).min(-1).values > 0
    else:
        inside = ltrb.min(-1).values > 0
    candidate = inside & gt_valid[:, None, :]
    if scale_ranges is not None:
        if scale_ranges.shape != (p, 2):
            raise ValueError(
                f"scale_ranges must be Tensor[{p}, 2], got {tuple(scale_ranges.shape)}"
            )
        reach = ltrb.max(-1).values
        candidate = (
            candidate
            & (reach >= scale_ranges[None, :, None, 0])
            & (reach <= scale_ranges[None, :, None, 1])
        )
    area = box_area(gt_boxes)[:, None, :].expand(b, p, g)
    area = torch.where(candidate, area, torch.full_like(area, math.inf))
    min_area, matched = area.min(dim=2)
    positive = torch.isfinite(min_area)
    labels = positive.long()
    matched = torch.where(positive, matched, torch.zeros_like(matched))
    chosen = torch.gather(ltrb, 2, matched[:, :, None, None].expand(b, p, 1, 4))[:, :, 0]
    targets = chosen / point_strides[None, :, None]
    targets = torch.where(positive[..., None], targets, torch.ones_like(targets))
    return FCOSAssignment(labels, matched, targets)
