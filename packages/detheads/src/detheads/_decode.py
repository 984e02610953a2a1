"""Decoding: per-level top-k, score threshold, class-wise batched NMS in pure torch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ._boxes import box_iou
from ._checks import check_int, check_last_dim, check_outputs, check_real, check_same_device
from ._coding import decode_deltas, decode_ltrb


def check_finite_detections(
    scores: Tensor, boxes_xyxy: Tensor, *, valid: Tensor | None = None
) -> None:
    """Raise ``ValueError`` if a (valid) score is NaN or a (valid) box is not finite.

    Decoding never drops or ranks NaN silently: a NaN score would sort above every real score
    in ``topk``/``sort`` and a NaN box compares false with every IoU threshold, so it would
    survive NMS and could suppress nothing or push valid boxes out. NaN and infinite values
    mean the network or its inputs diverged, so they are an error. ``scores`` is ``[..., N]``
    (or ``[..., N, C]`` with ``boxes_xyxy`` ``[..., N, 4]``); ``valid`` masks padded entries.
    One host synchronisation.
    """
    bad_scores = torch.isnan(scores)
    if bad_scores.dim() == boxes_xyxy.dim():  # [..., N, C] class scores
        bad_scores = bad_scores.any(dim=-1)
    bad_boxes = ~torch.isfinite(boxes_xyxy).all(dim=-1)
    if valid is not None:
        bad_scores, bad_boxes = bad_scores & valid, bad_boxes & valid
    if bool((bad_scores | bad_boxes).any()):
        if bool(bad_scores.any()):
            raise ValueError(
                f"scores contains NaN ({int(bad_scores.sum())} entries); "
                "detections cannot be ranked"
            )
        raise ValueError(
            f"boxes_xyxy contains NaN or infinite coordinates ({int(bad_boxes.sum())} boxes)"
        )


def nms_mask(
    boxes_xyxy: Tensor,
    scores: Tensor,
    iou_threshold: float,
    *,
    classes: Tensor | None = None,
    valid: Tensor | None = None,
) -> Tensor:
    """Greedy NMS keep-mask, batched: ``Tensor[B, N, 4]``, ``Tensor[B, N]`` -> ``Tensor[B, N]``.

    Exactly the classic greedy result (highest score first; a box is suppressed by a kept,
    higher-ranked box of the same class with IoU > ``iou_threshold``), computed by the
    Cluster-NMS fixed-point iteration (Zheng et al. 2020): ``keep_i = not any_j (keep_j and
    j ranks above i and IoU_ij > t)``, iterated from all-kept until it stops changing. Each
    iteration is one batched matrix operation; the number of iterations is the length of the
    longest suppression chain (usually a handful), not ``N``. Ties in score rank by index.

    Args:
        boxes_xyxy: ``Tensor[B, N, 4]`` (or ``[N, 4]``).
        scores: ``Tensor[B, N]`` (or ``[N]``).
        classes: optional ``Tensor[B, N]`` ints; boxes of different classes never suppress
            each other.
        valid: optional ``Tensor[B, N]`` bool; invalid boxes neither survive nor suppress.

    Raises:
        TypeError: non-tensors, non-floating boxes/scores, non-integer ``classes``, non-bool
            ``valid``, a non-number ``iou_threshold``.
        ValueError: shapes that do not match, tensors on different devices, an
            ``iou_threshold`` outside [0, 1] or NaN, or a NaN score / non-finite box among the
            valid entries (see :func:`check_finite_detections`).
    """
    check_real("iou_threshold", iou_threshold, low=0.0, high=1.0)
    check_last_dim("boxes_xyxy", boxes_xyxy, 4, floating=True)
    _check_scores(scores, boxes_xyxy)
    if boxes_xyxy.dim() not in (2, 3) or scores.dim() != boxes_xyxy.dim() - 1:
        raise ValueError(
            f"boxes_xyxy [B, N, 4] or [N, 4] and scores [B, N] or [N] expected, got "
            f"{tuple(boxes_xyxy.shape)} and {tuple(scores.shape)}"
        )
    for name, t, ok in (
        ("classes", classes, lambda x: not (x.is_floating_point() or x.is_complex())),
        ("valid", valid, lambda x: x.dtype == torch.bool),
    ):
        if t is None:
            continue
        if not isinstance(t, Tensor) or not ok(t):
            got = t.dtype if isinstance(t, Tensor) else type(t).__name__
            kind = "an integer" if name == "classes" else "a bool"
            raise TypeError(f"{name} must be {kind} tensor, got {got}")
        if t.shape != scores.shape:
            raise ValueError(f"{name} {tuple(t.shape)} does not match scores {tuple(scores.shape)}")
        check_same_device(("scores", scores), (name, t))
    squeeze = boxes_xyxy.dim() == 2
    if squeeze:
        boxes_xyxy, scores = boxes_xyxy[None], scores[None]
        classes = None if classes is None else classes[None]
        valid = None if valid is None else valid[None]
    b, n = scores.shape
    if boxes_xyxy.shape != (b, n, 4):
        raise ValueError(f"boxes_xyxy {tuple(boxes_xyxy.shape)} does not match scores {(b, n)}")
    if valid is None:
        valid = torch.ones((b, n), dtype=torch.bool, device=scores.device)
    elif valid.shape != (b, n):
        raise ValueError(f"valid {tuple(valid.shape)} does not match scores {(b, n)}")
    if n == 0:
        return valid[0] if squeeze else valid
    check_finite_detections(scores, boxes_xyxy, valid=valid)
    order = torch.sort(scores.masked_fill(~valid, -torch.inf), dim=1, descending=True, stable=True)
    idx = order.indices
    sb = torch.gather(boxes_xyxy, 1, idx[..., None].expand(b, n, 4))
    sv = torch.gather(valid, 1, idx)
    over = box_iou(sb, sb) > iou_threshold  # [B, N, N]
    if classes is not None:
        sc = torch.gather(classes, 1, idx)
        over = over & (sc[:, :, None] == sc[:, None, :])
    upper = torch.ones((n, n), dtype=torch.bool, device=scores.device).triu(diagonal=1)
    over = over & upper & sv[:, :, None]  # over[j, i]: valid j ranked above i suppresses i
    overf = over.to(boxes_xyxy.dtype)
    keep = sv.clone()
    for _ in range(n):
        suppressed = torch.einsum("bj,bji->bi", keep.to(overf.dtype), overf) > 0
        new_keep = sv & ~suppressed
        if torch.equal(new_keep, keep):
            break
        keep = new_keep
    out = torch.zeros_like(keep).scatter(1, idx, keep)
    return out[0] if squeeze else out


def _check_scores(scores: object, boxes_xyxy: Tensor) -> None:
    if not isinstance(scores, Tensor) or not scores.is_floating_point():
        got = scores.dtype if isinstance(scores, Tensor) else type(scores).__name__
        raise TypeError(f"scores must be a floating tensor, got {got}")
    check_same_device(("boxes_xyxy", boxes_xyxy), ("scores", scores))


def batched_nms(
    boxes_xyxy: Tensor, scores: Tensor, classes: Tensor, iou_threshold: float
) -> Tensor:
    """Class-wise NMS of one set ``Tensor[N, 4]``: kept indices sorted by decreasing score.

    ``classes`` is an integer ``Tensor[N]``; errors as :func:`nms_mask`.
    """
    check_last_dim("boxes_xyxy", boxes_xyxy, 4)
    if boxes_xyxy.dim() != 2:
        raise ValueError(f"boxes_xyxy must be Tensor[N, 4], got {tuple(boxes_xyxy.shape)}")
    if classes is None:
        raise TypeError("classes must be an integer Tensor[N], got None")
    keep = nms_mask(boxes_xyxy, scores, iou_threshold, classes=classes)
    kept = torch.nonzero(keep).reshape(-1)
    return kept[torch.argsort(scores[kept], descending=True, stable=True)]


def postprocess_detections(
    scores: Tensor,
    boxes_xyxy: Tensor,
    *,
    level_sizes: Sequence[int] | None = None,
    score_threshold: float = 0.05,
    topk_per_level: int = 1000,
    nms_threshold: float = 0.5,
    max_detections: int = 100,
    extras: Mapping[str, Tensor] | None = None,
) -> list[dict[str, Tensor]]:
    """Detections per image from dense scores and decoded boxes (RetinaNet / FCOS inference).

    Per level: the ``topk_per_level`` best (anchor, class) scores above ``score_threshold``;
    then class-wise NMS over all levels; then the ``max_detections`` best. Everything runs on
    the whole batch (padded to the largest candidate count of any image, which costs one host
    sync); only the final split into images is per image.

    Args:
        scores: ``Tensor[B, A, N]`` probabilities (or ``Tensor[B, A]`` for one class).
        boxes_xyxy: ``Tensor[B, A, 4]`` decoded boxes (class-agnostic).
        level_sizes: anchors per level (``level_sizes(feature_sizes, K)``); ``None`` = one level.
        extras: per-anchor tensors ``Tensor[B, A, ...]`` (e.g. ``"embeddings"``) gathered for
            each detection, so embeddings travel with their boxes.

    Returns:
        one dict per image: ``"boxes_xyxy": [D, 4]``, ``"scores": [D]``, ``"labels": [D]``
        long, ``"anchor_idx": [D]`` long (index into A), and ``extras[k]: [D, ...]``; sorted
        by decreasing score.

    Empty input is no error: ``B = 0`` images give ``[]``, ``A = 0`` anchors (or ``N = 0``
    classes) one empty dict per image.

    Raises:
        TypeError: non-tensor or non-floating scores/boxes, non-number thresholds, non-int
            counts.
        ValueError: mismatched shapes or devices, a NaN/inf ``score_threshold``, an
            ``nms_threshold`` outside [0, 1], negative ``level_sizes``, or a NaN score /
            non-finite box anywhere (:func:`check_finite_detections`): NaN is never ranked or
            dropped silently.
    """
    check_last_dim("boxes_xyxy", boxes_xyxy, 4, floating=True)
    _check_scores(scores, boxes_xyxy)
    score_threshold = check_real("score_threshold", score_threshold)
    check_real("nms_threshold", nms_threshold, low=0.0, high=1.0)
    if scores.dim() == 2:
        scores = scores[..., None]
    if scores.dim() != 3:
        raise ValueError(f"scores must be Tensor[B, A, N] or [B, A], got {tuple(scores.shape)}")
    b, a, n = scores.shape
    if boxes_xyxy.shape != (b, a, 4):
        raise ValueError(f"boxes_xyxy {tuple(boxes_xyxy.shape)} does not match scores {(b, a, n)}")
    for name, v in (("topk_per_level", topk_per_level), ("max_detections", max_detections)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if level_sizes is None:
        sizes = [a]
    elif isinstance(level_sizes, Sequence):
        sizes = [check_int(f"level_sizes[{i}]", v) for i, v in enumerate(level_sizes)]
    else:
        raise TypeError(f"level_sizes must be a sequence of ints, got {type(level_sizes)}")
    if sum(sizes) != a:
        raise ValueError(f"level_sizes sum to {sum(sizes)}, scores have A = {a}")
    for key, value in (extras or {}).items():
        if not isinstance(value, Tensor) or value.shape[:2] != (b, a):
            got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"extras[{key!r}] must be Tensor[B, A, ...], got {got}")
        check_same_device(("boxes_xyxy", boxes_xyxy), (f"extras[{key!r}]", value))
    if b == 0:
        return []
    if a == 0 or n == 0:
        return [_empty_detections(boxes_xyxy, scores, extras) for _ in range(b)]
    check_finite_detections(scores, boxes_xyxy)
    cand_scores, cand_flat = [], []
    start = 0
    for size in sizes:
        lvl = scores[:, start : start + size].reshape(b, size * n)
        k = min(topk_per_level, size * n)
        top = lvl.topk(k, dim=1)
        cand_scores.append(top.values)
        cand_flat.append(top.indices + start * n)
        start += size
    cs = torch.cat(cand_scores, dim=1)
    flat = torch.cat(cand_flat, dim=1)
    valid = cs > score_threshold
    # compact to the largest number of above-threshold candidates of any image (one host sync)
    # so the [B, N, N] NMS matrices stay small
    n_keep = max(int(valid.sum(dim=1).max()), 1)
    order = cs.masked_fill(~valid, -torch.inf).topk(n_keep, dim=1).indices
    cs, flat, valid = cs.gather(1, order), flat.gather(1, order), valid.gather(1, order)
    anchor_idx = flat // n
    labels = flat % n
    cb = torch.gather(boxes_xyxy, 1, anchor_idx[..., None].expand(-1, -1, 4))
    keep = nms_mask(cb, cs, nms_threshold, classes=labels, valid=valid)
    final = cs.masked_fill(~keep, -torch.inf)
    k = min(max_detections, final.shape[1])
    top = final.topk(k, dim=1)
    sel = top.indices
    sel_keep = torch.isfinite(top.values)
    result_boxes = torch.gather(cb, 1, sel[..., None].expand(-1, -1, 4))
    result_anchor = torch.gather(anchor_idx, 1, sel)
    result_labels = torch.gather(labels, 1, sel)
    gathered = {}
    for key, value in (extras or {}).items():
        rest = value.shape[2:]
        idx = result_anchor.reshape(b, k, *([1] * len(rest))).expand(b, k, *rest)
        gathered[key] = torch.gather(value, 1, idx)
    out = []
    counts = sel_keep.sum(dim=1).tolist()
    for i, c in enumerate(counts):
        det = {
            "boxes_xyxy": result_boxes[i, :c],
            "scores": top.values[i, :c],
            "labels": result_labels[i, :c],
            "anchor_idx": result_anchor[i, :c],
        }
        det.update({key: v[i, :c] for key, v in gathered.items()})
        out.append(det)
    return out


def _empty_detections(
    boxes_xyxy: Tensor, scores: Tensor, extras: Mapping[str, Tensor] | None
) -> dict[str, Tensor]:
    """One image's result without detections (the dtypes and devices of a real one)."""
    idx = torch.zeros(0, dtype=torch.long, device=scores.device)
    det = {
        "boxes_xyxy": boxes_xyxy.new_zeros((0, 4)),
        "scores": scores.new_zeros((0,)),
        "labels": idx,
        "anchor_idx": idx.clone(),
    }
    det.update({k: v.new_zeros((0, *v.shape[2:])) for k, v in (extras or {}).items()})
    return det


def decode_retinanet(
    outputs: Mapping[str, Tensor],
    anchors_xyxy: Tensor,
    *,
    level_sizes: Sequence[int] | None = None,
    coder_weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    score_threshold: float = 0.05,
    topk_per_level: int = 1000,
    nms_threshold: float = 0.5,
    max_detections: int = 100,
    extra_keys: Sequence[str] = ("embeddings",),
) -> list[dict[str, Tensor]]:
    """Detections from a RetinaNet / RetinaTrack output (sigmoid scores, delta decoding).

    ``outputs`` keys ``cls_logits [B, A, N]``, ``bbox_deltas [B, A, 4]``; any of ``extra_keys``
    present (``"embeddings"`` of RetinaTrack, or ``"instance_features"``) travel with the
    detections. Returns :func:`postprocess_detections`'s per-image dicts.

    Raises:
        ValueError: a missing output key, or ``anchors_xyxy`` that is not ``[A, 4]`` with the
            outputs' anchor count ``A``.
    """
    _require(outputs, ("cls_logits", "bbox_deltas"))
    check_last_dim("anchors_xyxy", anchors_xyxy, 4, floating=True)
    check_same_device(
        ("outputs['bbox_deltas']", outputs["bbox_deltas"]), ("anchors_xyxy", anchors_xyxy)
    )
    a = outputs["bbox_deltas"].shape[1]
    if (
        anchors_xyxy.shape != (a, 4)
        or outputs["cls_logits"].shape[:2] != outputs["bbox_deltas"].shape[:2]
    ):
        raise ValueError(
            f"anchors_xyxy must have shape [A, 4] with A = {a} anchors (outputs['bbox_deltas'] "
            f"is {tuple(outputs['bbox_deltas'].shape)}, outputs['cls_logits'] is "
            f"{tuple(outputs['cls_logits'].shape)}), got {tuple(anchors_xyxy.shape)}"
        )
    if isinstance(extra_keys, (str, bytes)):
        raise TypeError(f"extra_keys must be a sequence of names, not the string {extra_keys!r}")
    boxes = decode_deltas(outputs["bbox_deltas"], anchors_xyxy[None], weights=coder_weights)
    return postprocess_detections(
        torch.sigmoid(outputs["cls_logits"]),
        boxes,
        level_sizes=level_sizes,
        score_threshold=score_threshold,
        topk_per_level=topk_per_level,
        nms_threshold=nms_threshold,
        max_detections=max_detections,
        extras={k: outputs[k] for k in extra_keys if k in outputs},
    )


def decode_fcos(
    outputs: Mapping[str, Tensor],
    points_xy: Tensor,
    point_strides: Tensor,
    *,
    level_sizes: Sequence[int] | None = None,
    score_threshold: float = 0.05,
    topk_per_level: int = 1000,
    nms_threshold: float = 0.6,
    max_detections: int = 100,
) -> list[dict[str, Tensor]]:
    """Detections from an FCOS output.

    Score = ``sqrt(sigmoid(cls) * sigmoid(centerness))`` with class logits (FCOS), or
    ``sigmoid(centerness)`` in the tracking variant (Wang et al. 2020). FCOS's NMS threshold 0.6.

    Raises:
        ValueError: a missing output key, or ``points_xy`` / ``point_strides`` that are not
            ``[A, 2]`` / ``[A]`` with the outputs' location count ``A``.
    """
    _require(outputs, ("centerness_logits", "bbox_ltrb"))
    check_last_dim("points_xy", points_xy, 2, floating=True)
    if not isinstance(point_strides, Tensor):
        raise TypeError(f"point_strides must be a Tensor[A], got {type(point_strides).__name__}")
    check_same_device(
        ("outputs['bbox_ltrb']", outputs["bbox_ltrb"]),
        ("points_xy", points_xy),
        ("point_strides", point_strides),
    )
    a = outputs["bbox_ltrb"].shape[1]
    if points_xy.shape != (a, 2):
        raise ValueError(
            f"points_xy must have shape [A, 2] with A = {a} locations (outputs['bbox_ltrb'] is "
            f"{tuple(outputs['bbox_ltrb'].shape)}), got {tuple(points_xy.shape)}"
        )
    if point_strides.shape != (a,):
        raise ValueError(
            f"point_strides must have shape [A] with A = {a}, got {tuple(point_strides.shape)}"
        )
    ctr = torch.sigmoid(outputs["centerness_logits"])
    if ctr.shape != outputs["bbox_ltrb"].shape[:2]:
        raise ValueError(
            f"outputs['centerness_logits'] {tuple(ctr.shape)} must be [B, A] = "
            f"{tuple(outputs['bbox_ltrb'].shape[:2])}"
        )
    if "cls_logits" in outputs and (
        outputs["cls_logits"].dim() != 3 or outputs["cls_logits"].shape[:2] != ctr.shape
    ):
        raise ValueError(
            f"outputs['cls_logits'] {tuple(outputs['cls_logits'].shape)} must be [B, A, N] with "
            f"[B, A] = {tuple(ctr.shape)}"
        )
    if "cls_logits" in outputs:
        scores = torch.sqrt(torch.sigmoid(outputs["cls_logits"]) * ctr[..., None])
    else:
        scores = ctr[..., None]
    boxes = decode_ltrb(points_xy[None], outputs["bbox_ltrb"], stride=point_strides[None])
    return postprocess_detections(
        scores,
        boxes,
        level_sizes=level_sizes,
        score_threshold=score_threshold,
        topk_per_level=topk_per_level,
        nms_threshold=nms_threshold,
        max_detections=max_detections,
    )


def _require(outputs: Mapping[str, Tensor], keys: Sequence[str]) -> None:
    check_outputs(outputs, keys)
