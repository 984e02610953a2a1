"""Fusing a caller-supplied appearance similarity with IoU (per-track appearance models)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._validate import FloatArray, as_real_array, check_finite, check_number

__all__ = ["fuse_appearance"]


def fuse_appearance(
    iou: ArrayLike,
    appearance: ArrayLike,
    *,
    iou_weight: float = 0.5,
    appearance_weight: float = 0.5,
    iou_truncation: float = 0.4,
    max_appearance_distance: float = 0.5,
) -> FloatArray:
    """RetinaTrack's fused similarity (Lu et al. 2020, sec. 3.5) on a given appearance matrix.

    ``S = iou_weight * IoU_t + appearance_weight * A`` with ``IoU_t`` the IoU with values below
    ``iou_truncation`` set to 0; pairs with ``1 - A > max_appearance_distance`` are disallowed
    (``-inf``, the gate of :class:`assoc.RetinaTrackTracker`). With ``A`` the cosine similarity of
    embeddings this is :func:`fused_similarity` plus that gate; here ``A`` can come from anything,
    e.g. one appearance model per track (as in trackkit's MAML-MOT, where each track scores the
    detections with its own adapted re-identification parameters), so ``A`` need not be
    symmetric or derived from one embedding per box. Feed the result to :func:`greedy_match` or
    :func:`hungarian_match` with ``maximize=True``.

    Args:
        iou: ``Array[T, M]`` IoU of tracks (rows) with detections, in ``[0, 1]``.
        appearance: ``Array[T, M]`` appearance similarity, in ``[-1, 1]``.
        iou_weight: weight of the truncated IoU (>= 0; paper 0.5).
        appearance_weight: weight of the appearance term (>= 0; paper 0.5).
        iou_truncation: IoU strictly below this counts as 0 (paper 0.4), in ``[0, 1]``.
        max_appearance_distance: largest allowed ``1 - A`` (in ``[0, 2]``; 2 disables the gate).

    Returns:
        ``Array[T, M]`` float64 similarity, ``-inf`` where disallowed.

    Raises:
        ValueError: shapes differ or are not 2-D, values are not finite or out of range, or a
            weight / threshold is out of range.
    """
    check_number("iou_weight", iou_weight, low=0.0)
    check_number("appearance_weight", appearance_weight, low=0.0)
    check_number("iou_truncation", iou_truncation, low=0.0, high=1.0)
    check_number("max_appearance_distance", max_appearance_distance, low=0.0, high=2.0)
    i = as_real_array("iou", iou)
    a = as_real_array("appearance", appearance)
    if i.ndim != 2:
        raise ValueError(f"iou must be a 2-D array [T, M], got shape {i.shape}")
    if a.shape != i.shape:
        raise ValueError(f"appearance must have the shape of iou {i.shape}, got {a.shape}")
    check_finite("iou", i)
    check_finite("appearance", a)
    if i.size and (i.min() < 0.0 or i.max() > 1.0):
        raise ValueError("iou must lie in [0, 1]")
    if a.size and (a.min() < -1.0 - 1e-6 or a.max() > 1.0 + 1e-6):
        raise ValueError("appearance must lie in [-1, 1] (a cosine similarity)")
    truncated = np.where(i < iou_truncation, 0.0, i)
    fused = iou_weight * truncated + appearance_weight * a
    return np.where(1.0 - a <= max_appearance_distance, fused, -np.inf)
