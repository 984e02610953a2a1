"""Pairwise cost and similarity matrices between two sets of boxes or embeddings."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._validate import FloatArray, as_real_array, check_boxes_xyxy, check_embeddings, check_number


def _areas(boxes_xyxy: FloatArray) -> FloatArray:
    return (boxes_xyxy[:, 2] - boxes_xyxy[:, 0]) * (boxes_xyxy[:, 3] - boxes_xyxy[:, 1])


def _intersection_union(a: FloatArray, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``(intersection[N, M], union[N, M])`` areas; outer products keep temporaries 2-D."""
    w = np.minimum.outer(a[:, 2], b[:, 2]) - np.maximum.outer(a[:, 0], b[:, 0])
    h = np.minimum.outer(a[:, 3], b[:, 3]) - np.maximum.outer(a[:, 1], b[:, 1])
    np.maximum(w, 0.0, out=w)
    np.maximum(h, 0.0, out=h)
    intersection = w * h
    union = np.add.outer(_areas(a), _areas(b)) - intersection
    return intersection, union


def _safe_divide(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator > 0.0)
    return out


def iou_matrix(boxes_xyxy_a: ArrayLike, boxes_xyxy_b: ArrayLike) -> FloatArray:
    """Intersection over union of every pair of boxes.

    Args:
        boxes_xyxy_a: ``Array[N, 4]`` boxes ``(x1, y1, x2, y2)``, ``x2 >= x1``, ``y2 >= y1``.
        boxes_xyxy_b: ``Array[M, 4]`` boxes in the same format.

    Returns:
        ``Array[N, M]`` float64 IoU in ``[0, 1]``. Pairs whose union has zero area (two
        degenerate boxes) get IoU 0.

    Raises:
        ValueError: a box array has the wrong shape or dtype, holds NaN/inf, or has x2 < x1.
    """
    a = check_boxes_xyxy("boxes_xyxy_a", boxes_xyxy_a)
    b = check_boxes_xyxy("boxes_xyxy_b", boxes_xyxy_b)
    return iou_unchecked(a, b)


def iou_unchecked(a: FloatArray, b: FloatArray) -> FloatArray:
    """:func:`iou_matrix` on boxes the caller has already validated (trackers' hot path)."""
    intersection, union = _intersection_union(a, b)
    iou = _safe_divide(intersection, union)
    np.maximum(iou, 0.0, out=iou)
    return np.minimum(iou, 1.0, out=iou)


def giou_matrix(boxes_xyxy_a: ArrayLike, boxes_xyxy_b: ArrayLike) -> FloatArray:
    """Generalised IoU (Rezatofighi et al. 2019, Alg. 1) of every pair of boxes.

    ``GIoU = IoU - (|C| - |A u B|) / |C|`` with ``C`` the smallest enclosing box.

    Args:
        boxes_xyxy_a: ``Array[N, 4]`` boxes ``(x1, y1, x2, y2)``.
        boxes_xyxy_b: ``Array[M, 4]`` boxes in the same format.

    Returns:
        ``Array[N, M]`` float64 in ``[-1, 1]``; pairs whose enclosing box has zero area get 0.

    Raises:
        ValueError: as for :func:`iou_matrix`.
    """
    a = check_boxes_xyxy("boxes_xyxy_a", boxes_xyxy_a)
    b = check_boxes_xyxy("boxes_xyxy_b", boxes_xyxy_b)
    intersection, union = _intersection_union(a, b)
    iou = _safe_divide(intersection, union)
    enclosing_w = np.maximum.outer(a[:, 2], b[:, 2]) - np.minimum.outer(a[:, 0], b[:, 0])
    enclosing_h = np.maximum.outer(a[:, 3], b[:, 3]) - np.minimum.outer(a[:, 1], b[:, 1])
    enclosing = enclosing_w * enclosing_h
    giou = iou - _safe_divide(enclosing - union, enclosing)
    return np.clip(giou, -1.0, 1.0)


def cosine_similarity(embeddings_a: ArrayLike, embeddings_b: ArrayLike) -> FloatArray:
    """Cosine similarity of every pair of embedding vectors.

    Args:
        embeddings_a: ``Array[N, D]``, no all-zero row.
        embeddings_b: ``Array[M, D]``, no all-zero row.

    Returns:
        ``Array[N, M]`` float64 in ``[-1, 1]``.

    Raises:
        ValueError: wrong shape or dtype, NaN/inf, an all-zero row, or differing ``D``.
    """
    a = check_embeddings("embeddings_a", embeddings_a)
    b = check_embeddings("embeddings_b", embeddings_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"embeddings_a and embeddings_b must have the same dimension D, got {a.shape[1]} "
            f"and {b.shape[1]}"
        )
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.clip(a @ b.T, -1.0, 1.0)


def cosine_distance(embeddings_a: ArrayLike, embeddings_b: ArrayLike) -> FloatArray:
    """Cosine distance ``1 - cos(a, b)`` of every pair of embeddings, ``Array[N, M]`` in ``[0, 2]``.

    Args:
        embeddings_a: ``Array[N, D]``, no all-zero row.
        embeddings_b: ``Array[M, D]``, no all-zero row.

    Raises:
        ValueError: as for :func:`cosine_similarity`.
    """
    return 1.0 - cosine_similarity(embeddings_a, embeddings_b)


def fused_similarity(
    boxes_xyxy_a: ArrayLike,
    boxes_xyxy_b: ArrayLike,
    embeddings_a: ArrayLike,
    embeddings_b: ArrayLike,
    *,
    iou_weight: float = 0.5,
    embedding_weight: float = 0.5,
    iou_truncation: float = 0.4,
) -> FloatArray:
    """RetinaTrack's association similarity (Lu et al. 2020, sec. 3.5).

    ``S = iou_weight * IoU_t + embedding_weight * cos(e_a, e_b)`` where ``IoU_t`` is the IoU with
    values below ``iou_truncation`` set to 0. The paper uses a uniformly weighted sum with
    truncation threshold 0.4, hence the defaults.

    Args:
        boxes_xyxy_a: ``Array[N, 4]`` boxes ``(x1, y1, x2, y2)``.
        boxes_xyxy_b: ``Array[M, 4]`` boxes.
        embeddings_a: ``Array[N, D]`` embeddings of the ``a`` boxes.
        embeddings_b: ``Array[M, D]`` embeddings of the ``b`` boxes.
        iou_weight: weight of the truncated IoU term (>= 0).
        embedding_weight: weight of the cosine similarity term (>= 0).
        iou_truncation: IoU values strictly below this become 0; must lie in ``[0, 1]``.

    Returns:
        ``Array[N, M]`` float64 similarity (higher is more alike).
    """
    check_number("iou_weight", iou_weight, low=0.0)
    check_number("embedding_weight", embedding_weight, low=0.0)
    check_number("iou_truncation", iou_truncation, low=0.0, high=1.0)
    boxes_a = check_boxes_xyxy("boxes_xyxy_a", boxes_xyxy_a)
    boxes_b = check_boxes_xyxy("boxes_xyxy_b", boxes_xyxy_b)
    emb_a = check_embeddings("embeddings_a", embeddings_a, rows=boxes_a.shape[0])
    emb_b = check_embeddings("embeddings_b", embeddings_b, rows=boxes_b.shape[0])
    iou = iou_matrix(boxes_a, boxes_b)
    iou = np.where(iou < iou_truncation, 0.0, iou)
    return iou_weight * iou + embedding_weight * cosine_similarity(emb_a, emb_b)


_XYWH_EPS = float(np.finfo(float).eps)


def iou_xywh(boxes_a: FloatArray, boxes_b: FloatArray) -> FloatArray:
    """IoU of ``xywh`` boxes ``[..., 4]`` x ``[..., 4]`` -> ``[...]`` (leading dims broadcast).

    The evaluation convention (the CLEAR/HOTA and OTB toolkits' overlap of top-left + size
    boxes): a pair involving a box without area (``w * h <= eps``), or with no union, scores 0;
    no validation, so callers filter absent (NaN) boxes first. Rows are compared element by
    element; pass ``a[:, None]`` and ``b[None]`` for the ``[N, M]`` matrix. The same IoU as
    :func:`iou_matrix` on the boxes converted to ``xyxy``, up to float rounding.

    Raises:
        ValueError: an argument is not a real array with last dimension 4, or the leading
            dimensions do not broadcast (shape checks only; values are not checked).
    """
    if not (type(boxes_a) is np.ndarray and boxes_a.dtype == np.float64):
        boxes_a = as_real_array("boxes_a", boxes_a)
    if not (type(boxes_b) is np.ndarray and boxes_b.dtype == np.float64):
        boxes_b = as_real_array("boxes_b", boxes_b)
    for name, boxes in (("boxes_a", boxes_a), ("boxes_b", boxes_b)):
        if boxes.ndim < 1 or boxes.shape[-1] != 4:
            raise ValueError(f"{name} must have shape [..., 4] (xywh), got shape {boxes.shape}")
    try:
        np.broadcast_shapes(boxes_a.shape[:-1], boxes_b.shape[:-1])
    except ValueError:
        raise ValueError(
            f"boxes_a and boxes_b leading dimensions must broadcast, got shapes "
            f"{boxes_a.shape} and {boxes_b.shape}"
        ) from None
    a1, b1 = boxes_a[..., :2], boxes_b[..., :2]
    a2, b2 = a1 + boxes_a[..., 2:], b1 + boxes_b[..., 2:]
    wh = np.clip(np.minimum(a2, b2) - np.maximum(a1, b1), 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = boxes_a[..., 2] * boxes_a[..., 3]
    area_b = boxes_b[..., 2] * boxes_b[..., 3]
    union = area_a + area_b - inter
    empty = (area_a <= _XYWH_EPS) | (area_b <= _XYWH_EPS) | (union <= _XYWH_EPS)
    inter = np.where(empty, 0.0, inter)
    return inter / np.where(union <= _XYWH_EPS, 1.0, union)
