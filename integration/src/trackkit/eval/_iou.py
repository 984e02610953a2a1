"""The one IoU of ``trackkit``: ``xywh`` boxes, numpy, broadcasting (no torch)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["iou_xywh"]

_EPS = float(np.finfo(float).eps)


def iou_xywh(boxes_a: NDArray[np.float64], boxes_b: NDArray[np.float64]) -> NDArray[np.float64]:
    """IoU of ``xywh`` boxes ``[..., 4]`` x ``[..., 4]`` -> ``[...]`` (leading dims broadcast).

    A pair involving a box without area (``w * h <= eps``), or with no union, scores 0. Rows
    are compared element by element; pass ``a[:, None]`` and ``b[None]`` for the ``[N, M]``
    matrix.
    """
    a1, b1 = boxes_a[..., :2], boxes_b[..., :2]
    a2, b2 = a1 + boxes_a[..., 2:], b1 + boxes_b[..., 2:]
    wh = np.clip(np.minimum(a2, b2) - np.maximum(a1, b1), 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = boxes_a[..., 2] * boxes_a[..., 3]
    area_b = boxes_b[..., 2] * boxes_b[..., 3]
    union = area_a + area_b - inter
    empty = (area_a <= _EPS) | (area_b <= _EPS) | (union <= _EPS)
    inter = np.where(empty, 0.0, inter)
    return inter / np.where(union <= _EPS, 1.0, union)
