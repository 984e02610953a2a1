"""Weighted box fusion of the detections of several passes (test-time augmentation, ensembles)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ._boxes import check_boxes


class FusedDetections(NamedTuple):
    """Result of :func:`weighted_box_fusion`, sorted by decreasing fused score.

    Attributes:
        boxes_xyxy: ``Tensor[F, 4]`` fused boxes (score-weighted means of each cluster).
        scores: ``Tensor[F]`` fused scores (sum of the members' scores / ``num_passes``).
        embeddings: ``Tensor[F, E]`` L2-normalised score-weighted means of the members'
            embeddings, or ``None`` when none were given.
        support: ``Tensor[F]`` long, the number of passes (members) in each cluster.
        cluster: ``Tensor[N]`` long, the output row each input detection was fused into.
    """

    boxes_xyxy: Tensor
    scores: Tensor
    embeddings: Tensor | None
    support: Tensor
    cluster: Tensor


def _check_inputs(
    boxes_xyxy: Tensor,
    scores: Tensor,
    pass_index: Tensor,
    num_passes: int,
    iou_threshold: float,
    embeddings: Tensor | None,
) -> None:
    check_boxes("boxes_xyxy", boxes_xyxy)
    if boxes_xyxy.dim() != 2:
        raise ValueError(f"boxes_xyxy must have shape [N, 4], got {tuple(boxes_xyxy.shape)}")
    n = boxes_xyxy.shape[0]
    if not isinstance(scores, Tensor) or not scores.is_floating_point():
        raise TypeError(f"scores must be a floating Tensor[N], got {type(scores).__name__}")
    if scores.shape != (n,):
        raise ValueError(f"scores must have shape [N] = [{n}], got {tuple(scores.shape)}")
    if (
        not isinstance(pass_index, Tensor)
        or pass_index.is_floating_point()
        or pass_index.is_complex()
    ):
        raise TypeError(f"pass_index must be an integer Tensor[N], got {type(pass_index).__name__}")
    if pass_index.shape != (n,):
        raise ValueError(f"pass_index must have shape [N] = [{n}], got {tuple(pass_index.shape)}")
    if isinstance(num_passes, bool) or not isinstance(num_passes, (int, np.integer)):
        raise TypeError(f"num_passes must be an int, got {type(num_passes).__name__}")
    if num_passes < 1:
        raise ValueError(f"num_passes must be >= 1, got {num_passes}")
    if not isinstance(iou_threshold, (int, float)) or not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must lie in (0, 1], got {iou_threshold!r}")
    for name, t in (("scores", scores), ("pass_index", pass_index)):
        if t.device != boxes_xyxy.device:
            raise ValueError(f"{name} is on {t.device}, boxes_xyxy on {boxes_xyxy.device}")
    if embeddings is not None:
        if not isinstance(embeddings, Tensor) or not embeddings.is_floating_point():
            raise TypeError(
                f"embeddings must be a floating Tensor[N, E], got {type(embeddings).__name__}"
            )
        if embeddings.dim() != 2 or embeddings.shape[0] != n:
            raise ValueError(
                f"embeddings must have shape [N, E] with N = {n}, got {tuple(embeddings.shape)}"
            )
        if embeddings.device != boxes_xyxy.device:
            raise ValueError(
                f"embeddings is on {embeddings.device}, boxes_xyxy on {boxes_xyxy.device}"
            )
    if n == 0:
        return
    if bool(torch.isnan(scores).any()) or not bool(torch.isfinite(scores).all()):
        raise ValueError("scores contains NaN or infinite values")
    if bool((scores < 0).any()):
        raise ValueError("scores must be >= 0 (detection confidences)")
    if bool(((pass_index < 0) | (pass_index >= num_passes)).any()):
        raise ValueError(f"pass_index values must lie in [0, num_passes) = [0, {num_passes})")
    if embeddings is not None and not bool(torch.isfinite(embeddings).all()):
        raise ValueError("embeddings contains NaN or infinite values")


def _assign_clusters(
    boxes: np.ndarray, scores: np.ndarray, passes: np.ndarray, num_passes: int, thr: float
) -> np.ndarray:
    """Greedy WBF assignment (float64, host): the cluster of every box, in creation order."""
    n = len(scores)
    order = np.argsort(-scores, kind="stable")
    cluster = np.empty(n, dtype=np.int64)
    wbox = np.zeros((n, 4))  # running sum of score * box per cluster
    wsum = np.zeros(n)  # running sum of scores
    sbox = np.zeros((n, 4))  # running plain sum of boxes (fallback when all scores are 0)
    count = np.zeros(n)
    has_pass = np.zeros((n, num_passes), dtype=bool)
    f = 0
    for i in order:
        b = boxes[i]
        k = -1
        if f:
            pos = wsum[:f] > 0
            fused = np.where(
                pos[:, None],
                wbox[:f] / np.where(pos, wsum[:f], 1.0)[:, None],
                sbox[:f] / np.maximum(count[:f], 1.0)[:, None],
            )
            iw = np.minimum(fused[:, 2], b[2]) - np.maximum(fused[:, 0], b[0])
            ih = np.minimum(fused[:, 3], b[3]) - np.maximum(fused[:, 1], b[1])
            inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
            area_f = np.maximum(fused[:, 2] - fused[:, 0], 0.0) * np.maximum(
                fused[:, 3] - fused[:, 1], 0.0
            )
            area_b = max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)
            iou = inter / np.maximum(area_f + area_b - inter, 1e-12)
            iou[has_pass[:f, passes[i]]] = -1.0  # one box per pass in a cluster
            best = int(np.argmax(iou))
            if iou[best] >= thr:
                k = best
        if k < 0:
            k, f = f, f + 1
        cluster[i] = k
        wbox[k] += scores[i] * b
        wsum[k] += scores[i]
        sbox[k] += b
        count[k] += 1.0
        has_pass[k, passes[i]] = True
    return cluster


def weighted_box_fusion(
    boxes_xyxy: Tensor,
    scores: Tensor,
    pass_index: Tensor,
    num_passes: int,
    *,
    iou_threshold: float = 0.55,
    embeddings: Tensor | None = None,
) -> FusedDetections:
    """Fuse the detections of ``num_passes`` passes over one image by weighted box fusion.

    Weighted box fusion (WBF; Solovyev, Wang, Gabruseva 2021, "Weighted boxes fusion:
    Ensembling boxes from different object detection models", Image and Vision Computing
    107): the boxes of all passes (e.g. test-time augmentations: flips, input sizes, each
    mapped back to image pixels and already NMS-ed per pass) are visited by decreasing score
    (ties by index); a box joins the existing cluster whose *current fused box* it overlaps
    most, if that IoU is ``>= iou_threshold``, and starts a new cluster otherwise. Departure
    from the paper, stated: a cluster holds at most one box per pass (a box whose pass is
    already in its best cluster tries the next one), so every cluster counts each pass once.

    Per cluster: the fused box is the score-weighted mean of its boxes (the plain mean if all
    its scores are 0); the fused score is the sum of its scores divided by ``num_passes``,
    i.e. WBF's mean score rescaled by ``min(T, P) / P`` for a cluster of ``T`` boxes from
    ``P`` passes: a pass that found nothing there counts as a score of 0, so a detection
    found by one pass only is down-weighted; the fused embedding is the L2-normalised
    score-weighted mean of the members' embeddings. The greedy assignment is sequential by
    nature and runs on the host in float64 (one copy of the ``[N, 4]`` boxes); the fusion is
    batched on the inputs' device and dtype. With one pass (``num_passes = 1``) every box is
    its own cluster: boxes and scores come back unchanged (sorted by score).

    Args:
        boxes_xyxy: ``Tensor[N, 4]`` boxes of all passes (x1, y1, x2, y2 in image pixels).
        scores: ``Tensor[N]`` scores >= 0.
        pass_index: ``Tensor[N]`` integer, the pass (``0 .. num_passes - 1``) of each box.
        num_passes: the number of passes ``P >= 1`` (passes that found nothing count).
        iou_threshold: IoU with a cluster's fused box needed to join it (WBF's 0.55).
        embeddings: optional ``Tensor[N, E]`` per-detection embeddings.

    Returns:
        :class:`FusedDetections`, sorted by decreasing fused score; empty input gives
        empty output (``[0, 4]``, ``[0]``, ``[0, E]``).

    Raises:
        TypeError: a non-tensor or wrongly typed argument.
        ValueError: wrong shapes, NaN / infinite values, negative scores, inverted boxes,
            ``num_passes < 1``, a pass index outside ``[0, num_passes)``, an
            ``iou_threshold`` outside (0, 1] or inputs on different devices.
    """
    _check_inputs(boxes_xyxy, scores, pass_index, num_passes, iou_threshold, embeddings)
    device, n = boxes_xyxy.device, boxes_xyxy.shape[0]
    if n == 0:
        empty_long = torch.zeros(0, dtype=torch.long, device=device)
        emb = None if embeddings is None else embeddings[:0]
        return FusedDetections(boxes_xyxy[:0], scores[:0], emb, empty_long, empty_long)
    cluster_np = _assign_clusters(
        boxes_xyxy.detach().double().cpu().numpy(),
        scores.detach().double().cpu().numpy(),
        pass_index.detach().cpu().numpy().astype(np.int64),
        int(num_passes),
        float(iou_threshold),
    )
    f = int(cluster_np.max()) + 1
    cluster = torch.from_numpy(cluster_np).to(device)
    dtype = boxes_xyxy.dtype
    s = scores.to(dtype)
    total = torch.zeros(f, dtype=dtype, device=device).index_add_(0, cluster, s)
    count = torch.zeros(f, dtype=dtype, device=device).index_add_(0, cluster, torch.ones_like(s))
    # per-member weights normalised within the cluster (1.0 exactly for a lone member)
    pos = total[cluster] > 0
    w = torch.where(pos, s / torch.where(pos, total[cluster], 1.0), 1.0 / count[cluster])
    boxes = torch.zeros((f, 4), dtype=dtype, device=device).index_add_(
        0, cluster, w[:, None] * boxes_xyxy
    )
    fused_scores = (total / num_passes).to(scores.dtype)
    emb = None
    if embeddings is not None:
        we = w.to(embeddings.dtype)[:, None] * embeddings
        summed = torch.zeros(
            (f, embeddings.shape[1]), dtype=embeddings.dtype, device=device
        ).index_add_(0, cluster, we)
        emb = torch.nn.functional.normalize(summed, dim=-1)
    order = torch.sort(fused_scores, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank[order] = torch.arange(f, device=device)
    return FusedDetections(
        boxes[order],
        fused_scores[order],
        None if emb is None else emb[order],
        count[order].round().long(),
        rank[cluster],
    )
