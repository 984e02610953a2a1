"""Box coding: RetinaNet anchor deltas and FCOS ltrb distances with centerness targets."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from ._checks import check_broadcast, check_last_dim, check_real, check_same_device

#: RetinaNet / Faster R-CNN clamp of predicted log-size deltas, log(1000 / 16).
DEFAULT_DELTA_CLAMP = math.log(1000.0 / 16)


def _weights(weights: Sequence[float], like: Tensor) -> Tensor:
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence) or len(weights) != 4:
        raise ValueError(f"weights must hold 4 numbers (wx, wy, ww, wh), got {weights!r}")
    values = [check_real(f"weights[{i}]", w, low=0.0, low_open=True) for i, w in enumerate(weights)]
    return torch.tensor(values, dtype=like.dtype, device=like.device)


def _check_pair(name_a: str, a: Tensor, name_b: str, b: Tensor, size_a: int = 4) -> None:
    """Both floating tensors with the right last dimension, broadcasting, on one device."""
    check_last_dim(name_a, a, size_a, floating=True)
    check_last_dim(name_b, b, 4, floating=True)
    check_broadcast((name_a, a), (name_b, b), skip_last=True)
    check_same_device((name_a, a), (name_b, b))


def _check_stride(stride: object, like: Tensor) -> None:
    if isinstance(stride, Tensor):
        check_same_device(("points_xy", like), ("stride", stride))
    else:
        check_real("stride", stride, low=0.0, low_open=True)


def encode_deltas(
    boxes_xyxy: Tensor,
    anchors_xyxy: Tensor,
    *,
    weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    eps: float = 1e-6,
) -> Tensor:
    """RetinaNet / Faster R-CNN box deltas ``(dx, dy, dw, dh)`` of boxes w.r.t. anchors.

    ``dx = wx (cx - cx_a) / w_a``, ``dw = ww log(w / w_a)`` etc. Shapes broadcast:
    ``Tensor[..., 4]`` x ``Tensor[..., 4]`` -> ``Tensor[..., 4]``. RetinaNet uses unit weights.
    ``weights`` are finite numbers > 0, ``eps`` a finite number > 0.
    """
    _check_pair("boxes_xyxy", boxes_xyxy, "anchors_xyxy", anchors_xyxy)
    check_real("eps", eps, low=0.0, low_open=True)
    w = _weights(weights, boxes_xyxy)
    aw = (anchors_xyxy[..., 2] - anchors_xyxy[..., 0]).clamp(min=eps)
    ah = (anchors_xyxy[..., 3] - anchors_xyxy[..., 1]).clamp(min=eps)
    ax = anchors_xyxy[..., 0] + 0.5 * aw
    ay = anchors_xyxy[..., 1] + 0.5 * ah
    bw = (boxes_xyxy[..., 2] - boxes_xyxy[..., 0]).clamp(min=eps)
    bh = (boxes_xyxy[..., 3] - boxes_xyxy[..., 1]).clamp(min=eps)
    bx = boxes_xyxy[..., 0] + 0.5 * bw
    by = boxes_xyxy[..., 1] + 0.5 * bh
    return torch.stack(
        [
            w[0] * (bx - ax) / aw,
            w[1] * (by - ay) / ah,
            w[2] * torch.log(bw / aw),
            w[3] * torch.log(bh / ah),
        ],
        dim=-1,
    )


def decode_deltas(
    deltas: Tensor,
    anchors_xyxy: Tensor,
    *,
    weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    clamp: float = DEFAULT_DELTA_CLAMP,
) -> Tensor:
    """Inverse of :func:`encode_deltas`: ``Tensor[..., 4]`` deltas -> ``Tensor[..., 4]`` xyxy.

    ``dw, dh`` are clamped at ``clamp`` (default ``log(1000/16)``; a number, ``inf`` = no
    clamp) before ``exp``. ``weights`` are finite numbers > 0.
    """
    _check_pair("deltas", deltas, "anchors_xyxy", anchors_xyxy)
    check_real("clamp", clamp, inf_ok=True)
    w = _weights(weights, deltas)
    aw = anchors_xyxy[..., 2] - anchors_xyxy[..., 0]
    ah = anchors_xyxy[..., 3] - anchors_xyxy[..., 1]
    ax = anchors_xyxy[..., 0] + 0.5 * aw
    ay = anchors_xyxy[..., 1] + 0.5 * ah
    cx = deltas[..., 0] / w[0] * aw + ax
    cy = deltas[..., 1] / w[1] * ah + ay
    bw = torch.exp((deltas[..., 2] / w[2]).clamp(max=clamp)) * aw
    bh = torch.exp((deltas[..., 3] / w[3]).clamp(max=clamp)) * ah
    return torch.stack([cx - 0.5 * bw, cy - 0.5 * bh, cx + 0.5 * bw, cy + 0.5 * bh], dim=-1)


def encode_ltrb(points_xy: Tensor, boxes_xyxy: Tensor, *, stride: float | Tensor = 1.0) -> Tensor:
    """FCOS distances ``(l, t, r, b)`` from points to box sides, divided by ``stride``.

    ``Tensor[..., 2]`` x ``Tensor[..., 4]`` -> ``Tensor[..., 4]`` (broadcast). Negative entries
    mean the point lies outside the box. ``stride`` is a finite number > 0 or a tensor
    broadcasting to ``[...]`` (its values are not checked).
    """
    _check_pair("points_xy", points_xy, "boxes_xyxy", boxes_xyxy, size_a=2)
    _check_stride(stride, points_xy)
    s = stride[..., None] if isinstance(stride, Tensor) else stride
    x, y = points_xy[..., 0], points_xy[..., 1]
    ltrb = torch.stack(
        [
            x - boxes_xyxy[..., 0],
            y - boxes_xyxy[..., 1],
            boxes_xyxy[..., 2] - x,
            boxes_xyxy[..., 3] - y,
        ],
        dim=-1,
    )
    return ltrb / s


def decode_ltrb(points_xy: Tensor, ltrb: Tensor, *, stride: float | Tensor = 1.0) -> Tensor:
    """Inverse of :func:`encode_ltrb`: ``Tensor[..., 4]`` distances -> ``Tensor[..., 4]`` xyxy."""
    _check_pair("points_xy", points_xy, "ltrb", ltrb, size_a=2)
    _check_stride(stride, points_xy)
    s = stride[..., None] if isinstance(stride, Tensor) else stride
    d = ltrb * s
    x, y = points_xy[..., 0], points_xy[..., 1]
    return torch.stack([x - d[..., 0], y - d[..., 1], x + d[..., 2], y + d[..., 3]], dim=-1)


def centerness_target(ltrb: Tensor, *, eps: float = 1e-12) -> Tensor:
    """FCOS centerness ``sqrt(min(l, r)/max(l, r) * min(t, b)/max(t, b))``: ``[..., 4] -> [...]``.

    Points outside the box (a negative distance) get 0.
    """
    check_last_dim("ltrb", ltrb, 4)
    check_real("eps", eps, low=0.0, low_open=True)
    lr = ltrb[..., 0::2]
    tb = ltrb[..., 1::2]
    ratio = (lr.min(-1).values / lr.max(-1).values.clamp(min=eps)) * (
        tb.min(-1).values / tb.max(-1).values.clamp(min=eps)
    )
    inside = ltrb.min(-1).values > 0
    return torch.where(inside, ratio.clamp(min=eps).sqrt(), torch.zeros_like(ratio))
