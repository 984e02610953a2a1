"""Box operations on ``boxes_xyxy`` tensors (x1, y1, x2, y2 in pixels), batched."""

from __future__ import annotations

import torch
from torch import Tensor

from ._checks import check_broadcast, check_last_dim, check_real, check_same_device


def check_boxes(name: str, boxes: Tensor, *, valid: Tensor | None = None) -> None:
    """Raise if ``boxes`` is not a finite ``Tensor[..., 4]`` with ``x2 >= x1`` and ``y2 >= y1``.

    Args:
        name: argument name used in the message.
        boxes: ``Tensor[..., 4]`` xyxy.
        valid: optional ``Tensor[...]`` bool mask; padded rows (``False``) are not checked.

    Raises:
        TypeError: not a floating tensor.
        ValueError: wrong shape, NaN/inf coordinates or inverted boxes.
    """
    if not isinstance(boxes, Tensor) or not boxes.is_floating_point():
        raise TypeError(f"{name} must be a floating Tensor[..., 4], got {type(boxes).__name__}")
    if boxes.shape[-1:] != (4,):
        raise ValueError(f"{name} must have shape [..., 4] (xyxy), got {tuple(boxes.shape)}")
    if valid is not None:
        boxes = torch.where(valid[..., None], boxes, torch.zeros_like(boxes))
    if boxes.numel() == 0:
        return
    if not bool(torch.isfinite(boxes).all()):
        raise ValueError(f"{name} contains NaN or infinite coordinates")
    if bool(((boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1])).any()):
        raise ValueError(f"{name} has boxes with x2 < x1 or y2 < y1 (expected xyxy)")


def check_box_shape(name: str, boxes: Tensor) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``boxes`` is a ``Tensor[..., N, 4]``.

    A shape-only check (no host synchronisation), cheap enough for every call of a hot path.
    """
    if not isinstance(boxes, Tensor):
        raise TypeError(f"{name} must be a Tensor[..., N, 4], got {type(boxes).__name__}")
    if boxes.dim() < 2 or boxes.shape[-1] != 4:
        raise ValueError(
            f"{name} must have shape [..., N, 4] (x1, y1, x2, y2), got {tuple(boxes.shape)}"
        )


def box_area(boxes: Tensor) -> Tensor:
    """Area of ``Tensor[..., 4]`` xyxy boxes -> ``Tensor[...]`` (0 for degenerate boxes)."""
    check_last_dim("boxes", boxes, 4)
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(
        min=0
    )


def box_iou(boxes1: Tensor, boxes2: Tensor, *, eps: float = 1e-9) -> Tensor:
    """Pairwise IoU: ``Tensor[..., N, 4]`` x ``Tensor[..., M, 4]`` -> ``Tensor[..., N, M]``.

    Leading dimensions broadcast. Two empty boxes have IoU 0.

    Raises:
        ValueError: an argument whose last dimension is not 4 (or that has fewer than 2 dims),
            arguments on different devices, ``eps`` not a finite number > 0.
    """
    check_box_shape("boxes1", boxes1)
    check_box_shape("boxes2", boxes2)
    check_same_device(("boxes1", boxes1), ("boxes2", boxes2))
    check_real("eps", eps, low=0.0, low_open=True)
    lt = torch.maximum(boxes1[..., :, None, :2], boxes2[..., None, :, :2])
    rb = torch.minimum(boxes1[..., :, None, 2:], boxes2[..., None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(boxes1)[..., :, None] + box_area(boxes2)[..., None, :] - inter
    return inter / union.clamp(min=eps)


def elementwise_iou(boxes1: Tensor, boxes2: Tensor, *, eps: float = 1e-7) -> Tensor:
    """IoU of matching rows: ``Tensor[..., 4]`` x ``Tensor[..., 4]`` -> ``Tensor[...]``."""
    _check_rows(boxes1, boxes2, eps)
    lt = torch.maximum(boxes1[..., :2], boxes2[..., :2])
    rb = torch.minimum(boxes1[..., 2:], boxes2[..., 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(boxes1) + box_area(boxes2) - inter
    return inter / (union + eps)


def elementwise_giou(boxes1: Tensor, boxes2: Tensor, *, eps: float = 1e-7) -> Tensor:
    """Generalised IoU of matching rows (Rezatofighi et al. 2019), in [-1, 1]."""
    _check_rows(boxes1, boxes2, eps)
    lt = torch.maximum(boxes1[..., :2], boxes2[..., :2])
    rb = torch.minimum(boxes1[..., 2:], boxes2[..., 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(boxes1) + box_area(boxes2) - inter
    iou = inter / (union + eps)
    enc_lt = torch.minimum(boxes1[..., :2], boxes2[..., :2])
    enc_rb = torch.maximum(boxes1[..., 2:], boxes2[..., 2:])
    enc = (enc_rb - enc_lt).clamp(min=0)
    enc_area = enc[..., 0] * enc[..., 1]
    return iou - (enc_area - union) / (enc_area + eps)


def _check_rows(boxes1: Tensor, boxes2: Tensor, eps: float) -> None:
    """Shape, broadcast and device checks of the element-wise IoUs (metadata only)."""
    check_last_dim("boxes1", boxes1, 4)
    check_last_dim("boxes2", boxes2, 4)
    check_broadcast(("boxes1", boxes1), ("boxes2", boxes2))
    check_same_device(("boxes1", boxes1), ("boxes2", boxes2))
    check_real("eps", eps, low=0.0, low_open=True)


def xywh_to_xyxy(boxes_xywh: Tensor) -> Tensor:
    """``(x, y, w, h)`` top-left corner and size -> ``(x1, y1, x2, y2)``."""
    check_last_dim("boxes_xywh", boxes_xywh, 4)
    xy, wh = boxes_xywh[..., :2], boxes_xywh[..., 2:]
    return torch.cat([xy, xy + wh], dim=-1)


def xyxy_to_xywh(boxes_xyxy: Tensor) -> Tensor:
    """``(x1, y1, x2, y2)`` -> ``(x, y, w, h)`` top-left corner and size."""
    check_last_dim("boxes_xyxy", boxes_xyxy, 4)
    return torch.cat([boxes_xyxy[..., :2], boxes_xyxy[..., 2:] - boxes_xyxy[..., :2]], dim=-1)
