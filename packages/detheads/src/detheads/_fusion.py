"""Weighted box fusion of the detections of several passes (test-time augmentation, ensembles)."""

from __future__ import annotations

from typing import NamedTuple

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
    if isinstance(num_passes, bool) or not isinstance(num_passes, int):
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
    boxes: Tensor, scores: Tensor, passes: list[int], num_passes: int, thr: float
) -> Tensor:
    """Greedy WBF assignment on CPU float64 tensors: the cluster of every box (creation order).

    Sequential by nature (a box's cluster depends on the clusters' fused boxes so far); each
    step is one vectorised IoU of the box with every cluster's running fused box, and only
    the joined cluster's fused box is updated.
    """
    n = len(passes)
    order = torch.sort(scores, descending=True, stable=True).indices.tolist()
    box_list, score_list = boxes.tolist(), scores.tolist()
    cluster = [0] * n
    wbox = [[0.0] * 4 for _ in range(n)]  # running sum of score * box per cluster
    wsum = [0.0] * n  # running sum of scores
    sbox = [[0.0] * 4 for _ in range(n)]  # plain sum of boxes (used while all scores are 0)
    count = [0] * n
    fused = torch.zeros((4, n), dtype=torch.float64)  # x1, y1, x2, y2 rows
    area = torch.zeros(n, dtype=torch.float64)
    has_pass = torch.zeros((num_passes, n), dtype=torch.bool)
    f = 0
    for i in order:
        b, s, p = box_list[i], score_list[i], passes[i]
        k = -1
        if f:
            iw = (fused[2, :f].clamp(max=b[2]) - fused[0, :f].clamp(min=b[0])).clamp(min=0.0)
            ih = (fused[3, :f].clamp(max=b[3]) - fused[1, :f].clamp(min=b[1])).clamp(min=0.0)
            inter = iw * ih
            area_b = max(b[2] - b[0], 0.0) * max(b[3] - b[1], 0.0)
            iou = inter / (area[:f] + area_b - inter).clamp(min=1e-12)
            iou.masked_fill_(has_pass[p, :f], -1.0)  # one box per pass in a cluster
            best = int(torch.argmax(iou))
            if float(iou[best]) >= thr:
                k = best
        if k < 0:
            k, f = f, f + 1
        cluster[i] = k
        for c in range(4):
            wbox[k][c] += s * b[c]
            sbox[k][c] += b[c]
        wsum[k] += s
        count[k] += 1
        has_pass[p, k] = True
        if wsum[k] > 0:
            new = [wbox[k][c] / wsum[k] for c in range(4)]
        else:
            new = [sbox[k][c] / count[k] for c in range(4)]
        fused[:, k] = torch.tensor(new, dtype=torch.float64)
        area[k] = max(new[2] - new[0], 0.0) * max(new[3] - new[1], 0.0)
    return torch.tensor(cluster, dtype=torch.long)


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
    nature and runs on the CPU in float64 (one copy of the ``[N, 4]`` boxes; one vectorised
    IoU with all clusters per box); the fusion is batched (``index_add_``) on the inputs'
    device and dtype.
    With one pass (``num_passes = 1``) every box is its own cluster: boxes and scores come
    back unchanged (sorted by score).

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
    cluster_cpu = _assign_clusters(
        boxes_xyxy.detach().to("cpu", torch.float64),
        scores.detach().to("cpu", torch.float64),
        pass_index.detach().cpu().tolist(),
        int(num_passes),
        float(iou_threshold),
    )
    f = int(cluster_cpu.max()) + 1
    cluster = cluster_cpu.to(device)
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
