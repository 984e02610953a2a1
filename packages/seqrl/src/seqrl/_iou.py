"""A tiny torch IoU over ``boxes_xywh`` (seqrl keeps its own helper; no box library needed)."""

from __future__ import annotations

from torch import Tensor

from ._checks import check_same_device


def box_iou_xywh(boxes_a_xywh: Tensor, boxes_b_xywh: Tensor) -> Tensor:
    """Element-wise IoU of two equally shaped box tensors.

    Args:
        boxes_a_xywh: ``Tensor[..., 4]`` boxes as (x, y, w, h), top-left corner, pixels.
        boxes_b_xywh: ``Tensor[..., 4]`` same shape.

    Returns:
        ``Tensor[...]`` IoU in [0, 1] (0 where the union is empty).
    """
    check_same_device(("boxes_a_xywh", boxes_a_xywh), ("boxes_b_xywh", boxes_b_xywh))
    if boxes_a_xywh.shape != boxes_b_xywh.shape or boxes_a_xywh.shape[-1:] != (4,):
        raise ValueError(
            "boxes_a_xywh and boxes_b_xywh must both have shape [..., 4], got "
            f"{tuple(boxes_a_xywh.shape)} and {tuple(boxes_b_xywh.shape)}"
        )
    ax1, ay1, aw, ah = boxes_a_xywh.unbind(-1)
    bx1, by1, bw, bh = boxes_b_xywh.unbind(-1)
    iw = (((ax1 + aw).minimum(bx1 + bw)) - ax1.maximum(bx1)).clamp(min=0)
    ih = (((ay1 + ah).minimum(by1 + bh)) - ay1.maximum(by1)).clamp(min=0)
    inter = iw * ih
    union = aw.clamp(min=0) * ah.clamp(min=0) + bw.clamp(min=0) * bh.clamp(min=0) - inter
    return inter / union.clamp(min=1e-12)
