"""Batched detection losses of whole heads: RetinaNet (paper 000 / 004) and FCOS (paper 000).

All images are processed at once (no per-image Python loop); ground truth is padded
(``gt_boxes: Tensor[B, G, 4]``, ``gt_labels: Tensor[B, G]`` long class indices in
``[0, N)``, ``gt_valid: Tensor[B, G]`` bool). Losses are summed over the batch and divided by
the total number of positives (at least 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ._assign import (
    IoUAssignment,
    _prepare_gt,
    assign_by_iou,
    assign_fcos,
    assign_identities,
    gather_gt,
)
from ._coding import centerness_target, decode_deltas, decode_ltrb, encode_deltas
from ._losses import (
    centerness_bce_loss,
    centerness_l2_loss,
    giou_loss,
    huber_loss,
    iou_loss,
    l1_loss,
    normalize_by_positives,
    sigmoid_focal_loss,
    smooth_l1_loss,
)
from ._triplet import batch_hard_triplet_loss, gather_identity_embeddings

REG_LOSSES_RETINA = ("smooth_l1", "huber", "l1", "giou")
REG_LOSSES_FCOS = ("l1", "iou", "giou")
CENTERNESS_LOSSES = ("l2", "bce")


def _check_labels(
    gt_labels: Tensor, gt_boxes: Tensor, gt_valid: Tensor, num_classes: int, validate: bool
) -> None:
    if gt_labels.shape != gt_boxes.shape[:2] or gt_labels.dtype.is_floating_point:
        raise ValueError(
            f"gt_labels must be an integer Tensor{list(gt_boxes.shape[:2])}, got "
            f"{gt_labels.dtype} {tuple(gt_labels.shape)}"
        )
    if validate and gt_labels.numel():
        bad = gt_valid & ((gt_labels < 0) | (gt_labels >= num_classes))
        if bool(bad.any()):
            raise ValueError(f"gt_labels must lie in [0, {num_classes}) for valid boxes")


def _onehot_targets(labels: Tensor, positive: Tensor, num_classes: int) -> Tensor:
    classes = torch.arange(num_classes, device=labels.device)
    onehot = labels[..., None] == classes  # comparison, not F.one_hot: vmap-friendly
    return (onehot & positive[..., None]).to(torch.float32)


def _retinanet_loss(
    outputs: Mapping[str, Tensor],
    anchors_xyxy: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor | None = None,
    gt_valid: Tensor | None = None,
    *,
    pos_iou: float = 0.5,
    neg_iou: float = 0.3,
    force_best: bool = True,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reg_loss: str = "smooth_l1",
    beta: float = 1.0 / 9.0,
    delta: float = 1.0,
    coder_weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    validate: bool = True,
) -> tuple[dict[str, Tensor], IoUAssignment]:
    """:func:`retinanet_loss` that also returns the anchor assignment."""
    if reg_loss not in REG_LOSSES_RETINA:
        raise ValueError(f"reg_loss must be one of {REG_LOSSES_RETINA}, got {reg_loss!r}")
    logits, deltas = outputs["cls_logits"], outputs["bbox_deltas"]
    b, a, n = logits.shape
    if deltas.shape != (b, a, 4) or anchors_xyxy.shape != (a, 4):
        raise ValueError(
            f"cls_logits {tuple(logits.shape)}, bbox_deltas {tuple(deltas.shape)} and "
            f"anchors {tuple(anchors_xyxy.shape)} disagree (expect [B, A, N], [B, A, 4], [A, 4])"
        )
    gt_boxes, gt_valid = _prepare_gt(gt_boxes, gt_valid, validate=validate)
    if gt_boxes.shape[0] != b:
        raise ValueError(f"gt_boxes has batch {gt_boxes.shape[0]}, outputs {b}")
    if gt_labels is None:
        gt_labels = torch.zeros(gt_boxes.shape[:2], dtype=torch.long, device=gt_boxes.device)
    _check_labels(gt_labels, gt_boxes, gt_valid, n, validate)
    with torch.no_grad():
        assign = assign_by_iou(
            anchors_xyxy,
            gt_boxes,
            gt_valid,
            pos_iou=pos_iou,
            neg_iou=neg_iou,
            force_best=force_best,
            validate=False,
        )
        positive = assign.labels == 1
        num_pos = positive.sum().to(logits.dtype)
        cls_target = _onehot_targets(gather_gt(gt_labels, assign.matched_gt), positive, n)
        cls_weight = (assign.labels >= 0).to(logits.dtype)[..., None]
        matched = gather_gt(gt_boxes, assign.matched_gt)
        anchors = anchors_xyxy[None].expand(b, a, 4)
        matched = torch.where(positive[..., None], matched, anchors)  # safe placeholder
        reg_target = encode_deltas(matched, anchors, weights=coder_weights)
    cls = sigmoid_focal_loss(
        logits,
        cls_target.to(logits.dtype),
        alpha=alpha,
        gamma=gamma,
        weights=cls_weight,
        reduction="sum",
    )
    pos_w = positive.to(deltas.dtype)
    if reg_loss == "smooth_l1":
        reg = smooth_l1_loss(
            deltas, reg_target, beta=beta, weights=pos_w[..., None], reduction="sum"
        )
    elif reg_loss == "huber":
        reg = huber_loss(deltas, reg_target, delta=delta, weights=pos_w[..., None], reduction="sum")
    elif reg_loss == "l1":
        reg = l1_loss(deltas, reg_target, weights=pos_w[..., None], reduction="sum")
    else:
        pred = decode_deltas(deltas, anchors, weights=coder_weights)
        reg = giou_loss(pred, matched, weights=pos_w, reduction="sum")
    loss_cls = normalize_by_positives(cls, num_pos)
    loss_reg = normalize_by_positives(reg, num_pos)
    losses = {
        "loss": loss_cls + loss_reg,
        "loss_cls": loss_cls,
        "loss_reg": loss_reg,
        "num_pos": num_pos,
    }
    return losses, assign


def retinanet_loss(
    outputs: Mapping[str, Tensor],
    anchors_xyxy: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor | None = None,
    gt_valid: Tensor | None = None,
    *,
    pos_iou: float = 0.5,
    neg_iou: float = 0.3,
    force_best: bool = True,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reg_loss: str = "smooth_l1",
    beta: float = 1.0 / 9.0,
    delta: float = 1.0,
    coder_weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    validate: bool = True,
) -> dict[str, Tensor]:
    """RetinaNet loss of a :class:`RetinaNetHead` output, batched over images.

    Paper 000 (Retina-MAML): IoU assignment positive >= 0.5 / negative < 0.3, sigmoid focal loss
    (alpha 0.25, gamma 2) on every non-ignored anchor, smooth L1 (beta 1/9) on the deltas of
    positives; both divided by the number of positives (at least 1). Paper 004 uses
    ``reg_loss="huber"``.

    Args:
        outputs: ``{"cls_logits": Tensor[B, A, N], "bbox_deltas": Tensor[B, A, 4]}``.
        anchors_xyxy: ``Tensor[A, 4]`` (``make_anchors``).
        gt_boxes: ``Tensor[B, G, 4]`` xyxy; ``gt_labels``: ``Tensor[B, G]`` long in ``[0, N)``
            (``None`` = all class 0); ``gt_valid``: ``Tensor[B, G]`` bool (``None`` = all).
        reg_loss: ``"smooth_l1"`` (beta), ``"huber"`` (delta), ``"l1"`` or ``"giou"`` (on
            decoded boxes).
        validate: check ground truth (finite, x2 >= x1, labels in range; one host sync).

    Returns:
        ``{"loss": total, "loss_cls", "loss_reg", "num_pos": float tensor}`` (scalars).
    """
    losses, _ = _retinanet_loss(
        outputs,
        anchors_xyxy,
        gt_boxes,
        gt_labels,
        gt_valid,
        pos_iou=pos_iou,
        neg_iou=neg_iou,
        force_best=force_best,
        alpha=alpha,
        gamma=gamma,
        reg_loss=reg_loss,
        beta=beta,
        delta=delta,
        coder_weights=coder_weights,
        validate=validate,
    )
    return losses


def fcos_loss(
    outputs: Mapping[str, Tensor],
    points_xy: Tensor,
    point_strides: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor | None = None,
    gt_valid: Tensor | None = None,
    *,
    scale_ranges: Tensor | None = None,
    center_sampling_radius: float = 1.5,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reg_loss: str = "l1",
    centerness_loss: str = "l2",
    validate: bool = True,
) -> dict[str, Tensor]:
    """FCOS loss of an :class:`FCOSHead` output, batched over images.

    Defaults follow paper 000's FCOS-MAML: L1 on the (stride-normalised) ltrb of positives and
    L2 on the centerness score. When the head has class logits, they get the sigmoid focal loss
    over all points and centerness is supervised on positives only (FCOS). Without class logits
    (tracking variant) centerness is the score and is supervised on every point, with target 0
    off the object. Every term is divided by the number of positives.

    Args:
        outputs: ``{"centerness_logits": [B, P], "bbox_ltrb": [B, P, 4]}`` and optionally
            ``"cls_logits": [B, P, N]``.
        points_xy, point_strides: ``make_points`` output (``Tensor[P, 2]``, ``Tensor[P]``).
        gt_boxes, gt_labels, gt_valid: padded ground truth as in :func:`retinanet_loss`.
        scale_ranges: ``Tensor[P, 2]`` per-point regression ranges or ``None``.
        reg_loss: ``"l1"`` (paper 000), ``"iou"`` (``-log IoU``, FCOS) or ``"giou"``.
        centerness_loss: ``"l2"`` (paper 000) or ``"bce"`` (FCOS).

    Returns:
        ``{"loss", "loss_ctr", "loss_reg", "num_pos"}`` plus ``"loss_cls"`` with class logits.
    """
    if reg_loss not in REG_LOSSES_FCOS:
        raise ValueError(f"reg_loss must be one of {REG_LOSSES_FCOS}, got {reg_loss!r}")
    if centerness_loss not in CENTERNESS_LOSSES:
        raise ValueError(
            f"centerness_loss must be one of {CENTERNESS_LOSSES}, got {centerness_loss!r}"
        )
    ctr, ltrb = outputs["centerness_logits"], outputs["bbox_ltrb"]
    b, p = ctr.shape
    if ltrb.shape != (b, p, 4) or points_xy.shape != (p, 2):
        raise ValueError(
            f"centerness_logits {tuple(ctr.shape)}, bbox_ltrb {tuple(ltrb.shape)} and points "
            f"{tuple(points_xy.shape)} disagree (expect [B, P], [B, P, 4], [P, 2])"
        )
    gt_boxes, gt_valid = _prepare_gt(gt_boxes, gt_valid, validate=validate)
    if gt_boxes.shape[0] != b:
        raise ValueError(f"gt_boxes has batch {gt_boxes.shape[0]}, outputs {b}")
    with torch.no_grad():
        assign = assign_fcos(
            points_xy,
            point_strides,
            gt_boxes,
            gt_valid,
            scale_ranges=scale_ranges,
            center_sampling_radius=center_sampling_radius,
            validate=False,
        )
        positive = assign.labels == 1
        num_pos = positive.sum().to(ctr.dtype)
        ctr_target = centerness_target(assign.ltrb_targets) * positive
        target_ltrb = assign.ltrb_targets
    pos_w = positive.to(ctr.dtype)
    out: dict[str, Tensor] = {}
    has_cls = "cls_logits" in outputs
    if has_cls:
        logits = outputs["cls_logits"]
        n = logits.shape[-1]
        if gt_labels is None:
            gt_labels = torch.zeros(gt_boxes.shape[:2], dtype=torch.long, device=gt_boxes.device)
        _check_labels(gt_labels, gt_boxes, gt_valid, n, validate)
        target = _onehot_targets(gather_gt(gt_labels, assign.matched_gt), positive, n)
        cls = sigmoid_focal_loss(logits, target.to(logits.dtype), alpha=alpha, gamma=gamma)
        out["loss_cls"] = normalize_by_positives(cls.sum(), num_pos)
    ctr_w = pos_w if has_cls else None
    ctr_fn = centerness_l2_loss if centerness_loss == "l2" else centerness_bce_loss
    loss_ctr = normalize_by_positives(
        ctr_fn(ctr, ctr_target.to(ctr.dtype), weights=ctr_w, reduction="sum"), num_pos
    )
    if reg_loss == "l1":
        reg = l1_loss(ltrb, target_ltrb.to(ltrb.dtype), weights=pos_w[..., None], reduction="sum")
    else:
        pred = decode_ltrb(points_xy, ltrb, stride=point_strides)
        tgt = decode_ltrb(points_xy, target_ltrb.to(ltrb.dtype), stride=point_strides)
        if reg_loss == "iou":
            reg = iou_loss(pred, tgt, log=True, weights=pos_w, reduction="sum")
        else:
            reg = giou_loss(pred, tgt, weights=pos_w, reduction="sum")
    loss_reg = normalize_by_positives(reg, num_pos)
    total = loss_ctr + loss_reg + (out["loss_cls"] if has_cls else 0.0)
    out.update({"loss": total, "loss_ctr": loss_ctr, "loss_reg": loss_reg, "num_pos": num_pos})
    return out


def retinatrack_loss(
    outputs: Mapping[str, Tensor],
    anchors_xyxy: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor | None,
    gt_ids: Tensor,
    gt_valid: Tensor | None = None,
    clip_ids: Tensor | None = None,
    *,
    pos_iou: float = 0.5,
    neg_iou: float = 0.5,
    identity_iou: float = 0.7,
    alpha: float = 0.25,
    gamma: float = 2.0,
    delta: float = 1.0,
    margin: float = 0.1,
    num_triplets: int | None = 64,
    embedding_weight: float = 1.0,
    generator: torch.Generator | None = None,
    validate: bool = True,
) -> dict[str, Tensor]:
    """Paper 004's training loss: focal + Huber (RetinaNet part) + BatchHard triplet.

    Detection: anchors positive at IoU >= 0.5 (background otherwise, plus the forced best anchor
    per box), sigmoid focal and Huber losses normalised by positives. Embeddings: identities
    assigned at IoU >= 0.7 (:func:`assign_identities`), soft-margin BatchHard triplets (margin
    0.1) over at most ``num_triplets`` sampled anchors, only within a clip. The paper sums the
    three terms unweighted (``embedding_weight=1``).

    Args:
        outputs: :class:`RetinaTrackHead` output (``cls_logits``, ``bbox_deltas``,
            ``embeddings``).
        gt_ids: ``Tensor[B, G]`` long track identities (unique within a clip).
        clip_ids: ``Tensor[B]`` clip of each image (paper 004: two frames per clip); ``None``
            = every image its own clip.

    Returns:
        ``{"loss", "loss_cls", "loss_reg", "loss_emb", "num_pos", "num_identified"}``.
    """
    det, assign = _retinanet_loss(
        outputs,
        anchors_xyxy,
        gt_boxes,
        gt_labels,
        gt_valid,
        pos_iou=pos_iou,
        neg_iou=neg_iou,
        force_best=True,
        alpha=alpha,
        gamma=gamma,
        reg_loss="huber",
        delta=delta,
        validate=validate,
    )
    with torch.no_grad():
        if identity_iou >= pos_iou:  # reuse the detection assignment's IoUs
            if gt_ids.shape != gt_boxes.shape[:2] or gt_ids.dtype.is_floating_point:
                raise ValueError(
                    f"gt_ids must be an integer Tensor{list(gt_boxes.shape[:2])}, got "
                    f"{gt_ids.dtype} {tuple(gt_ids.shape)}"
                )
            ids = gather_gt(gt_ids.long(), assign.matched_gt)
            ids = torch.where(assign.max_iou >= identity_iou, ids, torch.full_like(ids, -1))
        else:
            ids = assign_identities(
                anchors_xyxy, gt_boxes, gt_ids, gt_valid, iou_threshold=identity_iou, validate=False
            )
    emb, idn, clips = gather_identity_embeddings(outputs["embeddings"], ids, clip_ids)
    loss_emb = batch_hard_triplet_loss(
        emb, idn, clips, margin=margin, num_samples=num_triplets, generator=generator
    )
    return {
        "loss": det["loss"] + embedding_weight * loss_emb,
        "loss_cls": det["loss_cls"],
        "loss_reg": det["loss_reg"],
        "loss_emb": loss_emb,
        "num_pos": det["num_pos"],
        "num_identified": (ids >= 0).sum().to(det["num_pos"].dtype),
    }
