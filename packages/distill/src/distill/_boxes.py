"""Small box helpers in numpy and torch (``x, y, w, h``, pixels, 0-based top-left corner).

The libraries never import each other, so ``distill`` keeps its own tiny IoU.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

__all__ = ["box_iou_xywh", "box_iou_xywh_torch"]


def box_iou_xywh(boxes_a_xywh: ArrayLike, boxes_b_xywh: ArrayLike) -> NDArray[np.float64]:
    """Element-wise IoU of two broadcastable arrays of ``x, y, w, h`` boxes.

    Args:
        boxes_a_xywh: ``[..., 4]`` boxes (top-left corner, width, height), pixels.
        boxes_b_xywh: ``[..., 4]`` boxes broadcastable against ``boxes_a_xywh``.

    Returns:
        ``[...]`` float64 IoU in ``[0, 1]``. A pair where either box holds NaN (absent
        target, lost track) or both boxes have zero area gets IoU 0.
    """
    a = np.asarray(boxes_a_xywh, dtype=np.float64)
    b = np.asarray(boxes_b_xywh, dtype=np.float64)
    if a.shape[-1:] != (4,) or b.shape[-1:] != (4,):
        raise ValueError(
            f"boxes_a_xywh and boxes_b_xywh must end in 4 coordinates, got shapes "
            f"{a.shape} and {b.shape}"
        )
    wa = np.clip(a[..., 2], 0.0, None)
    ha = np.clip(a[..., 3], 0.0, None)
    wb = np.clip(b[..., 2], 0.0, None)
    hb = np.clip(b[..., 3], 0.0, None)
    iw = np.minimum(a[..., 0] + wa, b[..., 0] + wb) - np.maximum(a[..., 0], b[..., 0])
    ih = np.minimum(a[..., 1] + ha, b[..., 1] + hb) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    union = wa * ha + wb * hb - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.clip(np.nan_to_num(iou, nan=0.0), 0.0, 1.0)


def box_iou_xywh_torch(boxes_a_xywh: torch.Tensor, boxes_b_xywh: torch.Tensor) -> torch.Tensor:
    """Element-wise IoU of two broadcastable tensors of ``x, y, w, h`` boxes.

    Args:
        boxes_a_xywh: ``Tensor[..., 4]`` boxes in pixels.
        boxes_b_xywh: ``Tensor[..., 4]`` broadcastable against ``boxes_a_xywh``.

    Returns:
        ``Tensor[...]`` IoU in ``[0, 1]``; pairs with a NaN box or an empty union get 0.
    """
    if boxes_a_xywh.shape[-1:] != (4,) or boxes_b_xywh.shape[-1:] != (4,):
        raise ValueError(
            f"boxes_a_xywh and boxes_b_xywh must end in 4 coordinates, got shapes "
            f"{tuple(boxes_a_xywh.shape)} and {tuple(boxes_b_xywh.shape)}"
        )
    a, b = torch.broadcast_tensors(boxes_a_xywh, boxes_b_xywh)
    wa, ha = a[..., 2].clamp(min=0), a[..., 3].clamp(min=0)
    wb, hb = b[..., 2].clamp(min=0), b[..., 3].clamp(min=0)
    iw = torch.minimum(a[..., 0] + wa, b[..., 0] + wb) - torch.maximum(a[..., 0], b[..., 0])
    ih = torch.minimum(a[..., 1] + ha, b[..., 1] + hb) - torch.maximum(a[..., 1], b[..., 1])
    inter = iw.clamp(min=0) * ih.clamp(min=0)
    union = wa * ha + wb * hb - inter
    safe = torch.where(union > 0, union, torch.ones_like(union))
    iou = torch.where(union > 0, inter / safe, torch.zeros_like(union))
    return torch.nan_to_num(iou, nan=0.0).clamp(0.0, 1.0)
