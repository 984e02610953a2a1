"""Batched detection losses of whole heads: RetinaNet, FCOS and RetinaTrack.

All images are processed at once (no per-image Python loop); ground truth is padded
(``gt_boxes: Tensor[B, G, 4]``, ``gt_labels: Tensor[B, G]`` long class indices in
``[0, N)``, ``gt_valid: Tensor[B, G]`` bool). By default losses are summed over the batch and
divided by the total number of positives (at least 1); ``normalize="image"`` divides each
image by its own positives instead and returns per-image losses (the tracking variants of
Wang et al. 2020 weight support samples individually). Targets can be computed once
(:func:`retinanet_targets`, :func:`fcos_targets`) and reused (:func:`retinanet_target_loss`,
:func:`fcos_target_loss`); the one-call losses compose exactly these functions.

References: Lin et al. 2017 (RetinaNet, focal loss, arXiv:1708.02002); Tian et al. 2019 (FCOS,
arXiv:1904.01355); Wang et al. 2020 (Retina-MAML / FCOS-MAML, arXiv:2004.00830); Lu et al. 2020
(RetinaTrack, arXiv:2003.13870).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from ._assign import (
    FCOSAssignment,
    IoUAssignment,
    _prepare_gt,
    assign_by_iou,
    assign_fcos,
    assign_identities,
    gather_gt,
)
from ._checks import (
    check_index_tensor,
    check_int,
    check_outputs,
    check_real,
    check_same_device,
)
from ._coding import centerness_target, decode_deltas, decode_ltrb, encode_deltas
from ._losses import (
    centerness_bce_loss,
    centerness_l2_loss,
    giou_loss,
    huber_loss,
    iou_loss,
    l1_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
)
from ._triplet import batch_hard_triplet_loss, gather_identity_embeddings

REG_LOSSES_RETINA = ("smooth_l1", "huber", "l1", "giou")
REG_LOSSES_FCOS = ("l1", "iou", "giou")
CENTERNESS_LOSSES = ("l2", "bce")
NORMALIZE_MODES = ("batch", "image")


def _check_labels(
    gt_labels: Tensor, gt_boxes: Tensor, gt_valid: Tensor, num_classes: int, validate: bool
) -> None:
    check_index_tensor("gt_labels", gt_labels)
    check_same_device(("gt_boxes", gt_boxes), ("gt_labels", gt_labels))
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


def _check_normalize(normalize: str, min_positives: float) -> None:
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f"normalize must be one of {NORMALIZE_MODES}, got {normalize!r}")
    if isinstance(min_positives, bool) or not isinstance(min_positives, (int, float)):
        raise TypeError(f"min_positives must be a number, got {type(min_positives).__name__}")
    check_real("min_positives", min_positives, low=0.0, low_open=True)


def _check_hyper(**values: float) -> None:
    """Finite real loss hyperparameters (checked even when the chosen loss does not use them,
    so a typo never waits for another ``reg_loss``); IoUs in [0, 1], the rest >= 0."""
    for name, value in values.items():
        if name.endswith("_iou"):
            check_real(name, value, low=0.0, high=1.0)
        else:
            check_real(name, value, low=0.0)


def _check_devices(outputs: Mapping[str, Tensor], **tensors: Tensor | None) -> None:
    """Every given tensor on the device of the first output."""
    key = next(iter(outputs))
    named = [(f"outputs[{key!r}]", outputs[key])]
    named += [(k, t) for k, t in tensors.items() if isinstance(t, Tensor)]
    check_same_device(*named)


def _normalized(
    parts: Mapping[str, Tensor], num_pos: Tensor, normalize: str, min_positives: float
) -> dict[str, Tensor]:
    """Per-image sums ``Tensor[B]`` -> losses divided by ``max(positives, min_positives)``.

    ``"batch"``: the sums and positives of all images are added first (scalars out);
    ``"image"``: every image by its own positives (``Tensor[B]`` out). ``"loss"`` is the sum of
    the parts divided once by the normaliser.
    """
    if normalize == "batch":
        parts = {k: v.sum() for k, v in parts.items()}
        num_pos = num_pos.sum()
    denom = num_pos.clamp(min=float(min_positives))
    total = None
    for v in parts.values():
        total = v if total is None else total + v
    assert total is not None
    out = {k: v / denom for k, v in parts.items()}
    out["loss"] = total / denom
    out["num_pos"] = num_pos
    return out


class RetinaNetTargets(NamedTuple):
    """Dense RetinaNet training targets of every anchor (:func:`retinanet_targets`).

    Attributes:
        cls_targets: ``Tensor[B, A, N]`` one-hot class targets (0 for negative/ignored anchors).
        cls_weights: ``Tensor[B, A]`` 1 for positive and negative anchors, 0 for ignored ones.
        positive: ``Tensor[B, A]`` 1.0 for positive anchors, else 0.
        deltas: ``Tensor[B, A, 4]`` encoded matched boxes (0 where not positive).
        boxes: ``Tensor[B, A, 4]`` matched boxes (the anchor itself where not positive).
    """

    cls_targets: Tensor
    cls_weights: Tensor
    positive: Tensor
    deltas: Tensor
    boxes: Tensor


def _retinanet_targets(
    anchors_xyxy: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor | None,
    gt_valid: Tensor | None,
    *,
    num_classes: int,
    pos_iou: float,
    neg_iou: float,
    force_best: bool,
    coder_weights: Sequence[float],
    validate: bool,
) -> tuple[RetinaNetTargets, IoUAssignment]:
    gt_boxes, gt_valid = _prepare_gt(gt_boxes, gt_valid, validate=validate)
    if gt_labels is None:
        gt_labels = torch.zeros(gt_boxes.shape[:2], dtype=torch.long, device=gt_boxes.device)
    _check_labels(gt_labels, gt_boxes, gt_valid, num_classes, validate)
    b = gt_boxes.shape[0]
    a = anchors_xyxy.shape[-2]
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
        dtype = gt_boxes.dtype
        cls_target = _onehot_targets(gather_gt(gt_labels, assign.matched_gt), positive, num_classes)
        matched = gather_gt(gt_boxes, assign.matched_gt)
        anchors = anchors_xyxy.expand(b, a, 4)
        matched = torch.where(positive[..., None], matched, anchors)  # safe placeholder
        deltas = encode_deltas(matched, anchors, weights=coder_weights)
    targets = RetinaNetTargets(
        cls_target.to(dtype),
        (assign.labels >= 0).to(dtype),
        positive.to(dtype),
        deltas,
        matched,
    )
    return targets, assign


def retinanet_targets(
    anchors_xyxy: Tensor,
    gt_boxes: Tensor,
    gt_labels: Tensor | None = None,
    gt_valid: Tensor | None = None,
    *,
    num_classes: int = 1,
    pos_iou: float = 0.5,
    neg_iou: float = 0.3,
    force_best: bool = True,
    coder_weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    validate: bool = True,
) -> RetinaNetTargets:
    """Dense RetinaNet targets from padded ground truth (:func:`assign_by_iou` + box coding).

    Compute them once and reuse them with :func:`retinanet_target_loss` when the same images are
    seen many times (a tracker's support buffer, Wang et al. 2020, Algorithm 1). The rule is
    Lin et al. 2017's: positive at IoU >= ``pos_iou``, negative below ``neg_iou``, ignored in
    between, plus each box's best anchor with ``force_best``. Retina-MAML (Wang et al. 2020,
    Sec. 4.1) uses one 64x64 anchor per location: pass ``Tensor[A, 4]`` anchors, one per cell.

    Args:
        anchors_xyxy: ``Tensor[A, 4]`` (or per image ``Tensor[B, A, 4]``).
        gt_boxes, gt_labels, gt_valid: padded ground truth as in :func:`retinanet_loss`.
        num_classes: ``N``, the width of the head's class logits.
    """
    targets, _ = _retinanet_targets(
        anchors_xyxy,
        gt_boxes,
        gt_labels,
        gt_valid,
        num_classes=num_classes,
        pos_iou=pos_iou,
        neg_iou=neg_iou,
        force_best=force_best,
        coder_weights=coder_weights,
        validate=validate,
    )
    return targets


def retinanet_target_loss(
    outputs: Mapping[str, Tensor],
    targets: RetinaNetTargets,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reg_loss: str = "smooth_l1",
    beta: float = 1.0 / 9.0,
    delta: float = 1.0,
    anchors_xyxy: Tensor | None = None,
    coder_weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
    normalize: str = "batch",
    min_positives: float = 1.0,
) -> dict[str, Tensor]:
    """RetinaNet loss of a head output against precomputed :func:`retinanet_targets`.

    Sigmoid focal loss (Lin et al. 2017, eq. 5; alpha 0.25, gamma 2) on every non-ignored
    anchor plus the box regression loss of the positives, divided by the number of positives.

    Args:
        outputs: ``{"cls_logits": Tensor[B, A, N], "bbox_deltas": Tensor[B, A, 4]}``.
        targets: :class:`RetinaNetTargets` of the same images.
        reg_loss: ``"smooth_l1"`` (beta), ``"huber"`` (delta), ``"l1"`` or ``"giou"`` (decoded
            boxes; needs ``anchors_xyxy``).
        normalize: ``"batch"`` (default, RetinaNet): all images' sums divided by the total
            number of positives -> scalars. ``"image"``: each image's sums divided by its own
            positives -> ``Tensor[B]`` per-image losses, as a tracker weighting its support
            samples needs (Retina-MAML, Wang et al. 2020, Sec. 4.1).
        min_positives: the divisor is ``max(positives, min_positives)`` (1 in RetinaNet).

    Returns:
        ``{"loss", "loss_cls", "loss_reg", "num_pos"}``; ``loss = (cls + reg) / divisor``.
    """
    if reg_loss not in REG_LOSSES_RETINA:
        raise ValueError(f"reg_loss must be one of {REG_LOSSES_RETINA}, got {reg_loss!r}")
    _check_normalize(normalize, min_positives)
    check_outputs(outputs, ("cls_logits", "bbox_deltas"))
    _check_hyper(alpha=alpha, gamma=gamma, beta=beta, delta=delta)
    _check_devices(outputs, cls_targets=targets.cls_targets, anchors_xyxy=anchors_xyxy)
    logits, deltas = outputs["cls_logits"], outputs["bbox_deltas"]
    if logits.shape != targets.cls_targets.shape or deltas.shape != targets.deltas.shape:
        raise ValueError(
            f"cls_logits {tuple(logits.shape)} / bbox_deltas {tuple(deltas.shape)} do not match "
            f"the targets {tuple(targets.cls_targets.shape)} / {tuple(targets.deltas.shape)}"
        )
    pos_w = targets.positive.to(deltas.dtype)
    cls = sigmoid_focal_loss(
        logits,
        targets.cls_targets.to(logits.dtype),
        alpha=alpha,
        gamma=gamma,
        weights=targets.cls_weights.to(logits.dtype)[..., None],
    ).flatten(1)
    if reg_loss == "smooth_l1":
        reg = smooth_l1_loss(deltas, targets.deltas, beta=beta).sum(-1)
    elif reg_loss == "huber":
        reg = huber_loss(deltas, targets.deltas, delta=delta).sum(-1)
    elif reg_loss == "l1":
        reg = l1_loss(deltas, targets.deltas).sum(-1)
    else:
        if anchors_xyxy is None:
            raise ValueError("reg_loss='giou' needs anchors_xyxy to decode the deltas")
        pred = decode_deltas(deltas, anchors_xyxy, weights=coder_weights)
        reg = giou_loss(pred, targets.boxes)
    parts = {"loss_cls": cls.sum(1), "loss_reg": (reg * pos_w).sum(1)}
    return _normalized(parts, targets.positive.sum(1), normalize, min_positives)


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
    normalize: str = "batch",
    min_positives: float = 1.0,
    validate: bool = True,
) -> tuple[dict[str, Tensor], IoUAssignment]:
    """:func:`retinanet_loss` that also returns the anchor assignment."""
    if reg_loss not in REG_LOSSES_RETINA:
        raise ValueError(f"reg_loss must be one of {REG_LOSSES_RETINA}, got {reg_loss!r}")
    _check_normalize(normalize, min_positives)
    check_outputs(outputs, ("cls_logits", "bbox_deltas"))
    _check_hyper(pos_iou=pos_iou, neg_iou=neg_iou, alpha=alpha, gamma=gamma, beta=beta, delta=delta)
    _check_devices(
        outputs,
        anchors_xyxy=anchors_xyxy,
        gt_boxes=gt_boxes,
        gt_labels=gt_labels,
        gt_valid=gt_valid,
    )
    logits, deltas = outputs["cls_logits"], outputs["bbox_deltas"]
    if logits.dim() != 3:
        raise ValueError(f"outputs['cls_logits'] must be [B, A, N], got {tuple(logits.shape)}")
    b, a, n = logits.shape
    if deltas.shape != (b, a, 4) or anchors_xyxy.shape != (a, 4):
        raise ValueError(
            f"cls_logits {tuple(logits.shape)}, bbox_deltas {tuple(deltas.shape)} and "
            f"anchors {tuple(anchors_xyxy.shape)} disagree (expect [B, A, N], [B, A, 4], [A, 4])"
        )
    if isinstance(gt_boxes, Tensor) and gt_boxes.dim() == 3 and gt_boxes.shape[0] != b:
        raise ValueError(f"gt_boxes has batch {gt_boxes.shape[0]}, outputs {b}")
    targets, assign = _retinanet_targets(
        anchors_xyxy,
        gt_boxes,
        gt_labels,
        gt_valid,
        num_classes=n,
        pos_iou=pos_iou,
        neg_iou=neg_iou,
        force_best=force_best,
        coder_weights=coder_weights,
        validate=validate,
    )
    losses = retinanet_target_loss(
        outputs,
        targets,
        alpha=alpha,
        gamma=gamma,
        reg_loss=reg_loss,
        beta=beta,
        delta=delta,
        anchors_xyxy=anchors_xyxy,
        coder_weights=coder_weights,
        normalize=normalize,
        min_positives=min_positives,
    )
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
    normalize: str = "batch",
    min_positives: float = 1.0,
    validate: bool = True,
) -> dict[str, Tensor]:
    """RetinaNet loss of a :class:`RetinaNetHead` output, batched over images.

    :func:`retinanet_targets` followed by :func:`retinanet_target_loss`. Retina-MAML (Wang et
    al. 2020, Sec. 4.1): IoU assignment positive >= 0.5 / negative < 0.3, sigmoid focal loss
    (Lin et al. 2017, eq. 5; alpha 0.25, gamma 2) on every non-ignored anchor, smooth L1
    (beta 1/9) on the deltas of positives; both divided by the number of positives (at least
    ``min_positives``). RetinaTrack (Lu et al. 2020) uses ``reg_loss="huber"``.

    Args:
        outputs: ``{"cls_logits": Tensor[B, A, N], "bbox_deltas": Tensor[B, A, 4]}``.
        anchors_xyxy: ``Tensor[A, 4]`` (``make_anchors``).
        gt_boxes: ``Tensor[B, G, 4]`` xyxy; ``gt_labels``: ``Tensor[B, G]`` long in ``[0, N)``
            (``None`` = all class 0); ``gt_valid``: ``Tensor[B, G]`` bool (``None`` = all).
        reg_loss: ``"smooth_l1"`` (beta), ``"huber"`` (delta), ``"l1"`` or ``"giou"`` (on
            decoded boxes).
        normalize: ``"batch"`` (scalars, all images over their total positives) or ``"image"``
            (``Tensor[B]``, each image over its own positives); see
            :func:`retinanet_target_loss`.
        min_positives: floor of the divisor (1).
        validate: check ground truth (finite, x2 >= x1, labels in range; one host sync).

    Returns:
        ``{"loss": total, "loss_cls", "loss_reg", "num_pos"}`` (scalars, or ``Tensor[B]`` with
        ``normalize="image"``).
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
        normalize=normalize,
        min_positives=min_positives,
        validate=validate,
    )
    return losses


class FCOSTargets(NamedTuple):
    """Dense FCOS training targets of every point (:func:`fcos_targets`).

    Attributes:
        positive: ``Tensor[B, P]`` 1.0 for positive points, else 0.
        centerness: ``Tensor[B, P]`` centerness of the matched box, 0 where negative.
        ltrb: ``Tensor[B, P, 4]`` distances to the matched box's sides divided by the point's
            stride (1 where negative, a harmless placeholder).
    """

    positive: Tensor
    centerness: Tensor
    ltrb: Tensor


def _fcos_targets_of(assign: FCOSAssignment, dtype: torch.dtype) -> FCOSTargets:
    positive = assign.labels == 1
    ctr = centerness_target(assign.ltrb_targets) * positive
    return FCOSTargets(positive.to(dtype), ctr.to(dtype), assign.ltrb_targets.to(dtype))


def fcos_targets(
    points_xy: Tensor,
    point_strides: Tensor,
    gt_boxes: Tensor,
    gt_valid: Tensor | None = None,
    *,
    scale_ranges: Tensor | None = None,
    center_sampling_radius: float = 1.5,
    validate: bool = True,
) -> FCOSTargets:
    """Dense FCOS targets (Tian et al. 2019, eq. 1-3) from padded ground truth.

    :func:`assign_fcos` followed by the centerness target. The positive rule is
    ``center_sampling_radius``: 1.5 is FCOS's centre sampling; 0 makes every point inside a box
    positive, the rule of FCOS-MAML (Wang et al. 2020, Sec. 4.1) whose single-level tracking
    head has no ``scale_ranges``. Compute the targets once and reuse them with
    :func:`fcos_target_loss` when the same images are seen many times (a tracker's support
    buffer).
    """
    with torch.no_grad():
        assign = assign_fcos(
            points_xy,
            point_strides,
            gt_boxes,
            gt_valid,
            scale_ranges=scale_ranges,
            center_sampling_radius=center_sampling_radius,
            validate=validate,
        )
        return _fcos_targets_of(assign, gt_boxes.dtype)


def _fcos_sums(
    outputs: Mapping[str, Tensor],
    targets: FCOSTargets,
    *,
    points_xy: Tensor | None,
    point_strides: Tensor | None,
    reg_loss: str,
    centerness_loss: str,
    centerness_on_positives: bool,
) -> dict[str, Tensor]:
    if reg_loss not in REG_LOSSES_FCOS:
        raise ValueError(f"reg_loss must be one of {REG_LOSSES_FCOS}, got {reg_loss!r}")
    if centerness_loss not in CENTERNESS_LOSSES:
        raise ValueError(
            f"centerness_loss must be one of {CENTERNESS_LOSSES}, got {centerness_loss!r}"
        )
    ctr, ltrb = outputs["centerness_logits"], outputs["bbox_ltrb"]
    if ctr.shape != targets.centerness.shape or ltrb.shape != targets.ltrb.shape:
        raise ValueError(
            f"centerness_logits {tuple(ctr.shape)} / bbox_ltrb {tuple(ltrb.shape)} do not match "
            f"the targets {tuple(targets.centerness.shape)} / {tuple(targets.ltrb.shape)}"
        )
    pos_w = targets.positive.to(ctr.dtype)
    ctr_fn = centerness_l2_loss if centerness_loss == "l2" else centerness_bce_loss
    ctr_w = pos_w if centerness_on_positives else None
    loss_ctr = ctr_fn(ctr, targets.centerness.to(ctr.dtype), weights=ctr_w).sum(1)
    target_ltrb = targets.ltrb.to(ltrb.dtype)
    if reg_loss == "l1":
        reg = l1_loss(ltrb, target_ltrb).sum(-1)
    else:
        if points_xy is None or point_strides is None:
            raise ValueError(f"reg_loss={reg_loss!r} needs points_xy and point_strides")
        pred = decode_ltrb(points_xy, ltrb, stride=point_strides)
        tgt = decode_ltrb(points_xy, target_ltrb, stride=point_strides)
        reg = iou_loss(pred, tgt, log=True) if reg_loss == "iou" else giou_loss(pred, tgt)
    return {"loss_ctr": loss_ctr, "loss_reg": (reg * pos_w).sum(1)}


def fcos_target_loss(
    outputs: Mapping[str, Tensor],
    targets: FCOSTargets,
    *,
    points_xy: Tensor | None = None,
    point_strides: Tensor | None = None,
    reg_loss: str = "l1",
    centerness_loss: str = "l2",
    normalize: str = "batch",
    min_positives: float = 1.0,
) -> dict[str, Tensor]:
    """Loss of a class-free (tracking) FCOS head against precomputed :func:`fcos_targets`.

    FCOS-MAML (Wang et al. 2020, Sec. 4.1): "we only keep the centerness branch to produce
    classification scores", so the centerness is the score, supervised on every point with
    target 0 off the object (L2 loss), and the ltrb of positives get the L1 loss; both summed
    and divided by the number of positives.

    Args:
        outputs: ``{"centerness_logits": Tensor[B, P], "bbox_ltrb": Tensor[B, P, 4]}``.
        targets: :class:`FCOSTargets` of the same images.
        points_xy, point_strides: needed by ``reg_loss="iou"`` / ``"giou"`` (decoded boxes).
        reg_loss: ``"l1"`` (Wang et al. 2020), ``"iou"`` (``-log IoU``, FCOS) or ``"giou"``.
        centerness_loss: ``"l2"`` (Wang et al. 2020) or ``"bce"`` (FCOS).
        normalize: ``"batch"`` (default): all images' sums over the total number of positives
            -> scalars; ``"image"``: each image's sums over its own positives -> ``Tensor[B]``,
            e.g. the per-sample losses of a weighted support buffer.
        min_positives: the divisor is ``max(positives, min_positives)``. FCOS uses 1; the
            shipped FCOS-MAML uses 32 with ``"image"``: with 1, a background crop (no positive)
            sums the squared scores of all cells undivided, which drowns the positive crops.

    Returns:
        ``{"loss", "loss_ctr", "loss_reg", "num_pos"}``; ``loss = (ctr + reg) / divisor``.
    """
    _check_normalize(normalize, min_positives)
    check_outputs(outputs, ("centerness_logits", "bbox_ltrb"))
    _check_devices(outputs, targets=targets.ltrb, points_xy=points_xy, point_strides=point_strides)
    parts = _fcos_sums(
        outputs,
        targets,
        points_xy=points_xy,
        point_strides=point_strides,
        reg_loss=reg_loss,
        centerness_loss=centerness_loss,
        centerness_on_positives=False,
    )
    return _normalized(parts, targets.positive.sum(1), normalize, min_positives)


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
    normalize: str = "batch",
    min_positives: float = 1.0,
    validate: bool = True,
) -> dict[str, Tensor]:
    """FCOS loss of an :class:`FCOSHead` output, batched over images.

    Defaults follow FCOS-MAML (Wang et al. 2020, Sec. 4.1): L1 on the (stride-normalised) ltrb
    of positives and L2 on the centerness score. When the head has class logits, they get the
    sigmoid focal loss over all points and centerness is supervised on positives only (FCOS,
    Tian et al. 2019). Without class logits (tracking variant) centerness is the score and is
    supervised on every point, with target 0 off the object (:func:`fcos_target_loss`). Every
    term is divided by the number of positives (at least ``min_positives``).

    Args:
        outputs: ``{"centerness_logits": [B, P], "bbox_ltrb": [B, P, 4]}`` and optionally
            ``"cls_logits": [B, P, N]``.
        points_xy, point_strides: ``make_points`` output (``Tensor[P, 2]``, ``Tensor[P]``).
        gt_boxes, gt_labels, gt_valid: padded ground truth as in :func:`retinanet_loss`.
        scale_ranges: ``Tensor[P, 2]`` per-point regression ranges or ``None``.
        center_sampling_radius: positive rule, see :func:`fcos_targets` (0: inside the box).
        reg_loss: ``"l1"`` (Wang et al. 2020), ``"iou"`` (``-log IoU``, FCOS) or ``"giou"``.
        centerness_loss: ``"l2"`` (Wang et al. 2020) or ``"bce"`` (FCOS).
        normalize: ``"batch"`` (scalars) or ``"image"`` (``Tensor[B]``), see
            :func:`fcos_target_loss`.
        min_positives: floor of the divisor (1).

    Returns:
        ``{"loss", "loss_ctr", "loss_reg", "num_pos"}`` plus ``"loss_cls"`` with class logits.
    """
    if reg_loss not in REG_LOSSES_FCOS:
        raise ValueError(f"reg_loss must be one of {REG_LOSSES_FCOS}, got {reg_loss!r}")
    if centerness_loss not in CENTERNESS_LOSSES:
        raise ValueError(
            f"centerness_loss must be one of {CENTERNESS_LOSSES}, got {centerness_loss!r}"
        )
    _check_normalize(normalize, min_positives)
    check_outputs(outputs, ("centerness_logits", "bbox_ltrb"))
    _check_hyper(alpha=alpha, gamma=gamma, center_sampling_radius=center_sampling_radius)
    _check_devices(
        outputs,
        points_xy=points_xy,
        point_strides=point_strides,
        gt_boxes=gt_boxes,
        gt_labels=gt_labels,
        gt_valid=gt_valid,
        scale_ranges=scale_ranges,
    )
    ctr, ltrb = outputs["centerness_logits"], outputs["bbox_ltrb"]
    if ctr.dim() != 2:
        raise ValueError(f"outputs['centerness_logits'] must be [B, P], got {tuple(ctr.shape)}")
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
        targets = _fcos_targets_of(assign, ctr.dtype)
    parts: dict[str, Tensor] = {}
    has_cls = "cls_logits" in outputs
    if has_cls:
        check_outputs(outputs, ("cls_logits",))
        logits = outputs["cls_logits"]
        if logits.dim() != 3 or logits.shape[:2] != (b, p):
            raise ValueError(
                f"outputs['cls_logits'] must be [B, P, N] = [{b}, {p}, N], got "
                f"{tuple(logits.shape)}"
            )
        n = logits.shape[-1]
        if gt_labels is None:
            gt_labels = torch.zeros(gt_boxes.shape[:2], dtype=torch.long, device=gt_boxes.device)
        _check_labels(gt_labels, gt_boxes, gt_valid, n, validate)
        target = _onehot_targets(gather_gt(gt_labels, assign.matched_gt), assign.labels == 1, n)
        cls = sigmoid_focal_loss(logits, target.to(logits.dtype), alpha=alpha, gamma=gamma)
        parts["loss_cls"] = cls.flatten(1).sum(1)
    parts.update(
        _fcos_sums(
            outputs,
            targets,
            points_xy=points_xy,
            point_strides=point_strides,
            reg_loss=reg_loss,
            centerness_loss=centerness_loss,
            centerness_on_positives=has_cls,
        )
    )
    return _normalized(parts, targets.positive.sum(1), normalize, min_positives)


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
    """Lu et al. 2020's training loss: focal + Huber (RetinaNet part) + BatchHard triplet.

    Detection: anchors positive at IoU >= 0.5 (background otherwise, plus the forced best anchor
    per box), sigmoid focal and Huber losses normalised by positives. Embeddings: identities
    assigned at IoU >= 0.7 (:func:`assign_identities`), soft-margin BatchHard triplets (margin
    0.1) over at most ``num_triplets`` sampled anchors, only within a clip. The paper sums the
    three terms unweighted (``embedding_weight=1``).

    Args:
        outputs: :class:`RetinaTrackHead` output (``cls_logits``, ``bbox_deltas``,
            ``embeddings``).
        gt_ids: ``Tensor[B, G]`` long track identities (unique within a clip).
        clip_ids: ``Tensor[B]`` clip of each image (Lu et al. 2020: two frames per clip); ``None``
            = every image its own clip.

    Returns:
        ``{"loss", "loss_cls", "loss_reg", "loss_emb", "num_pos", "num_identified"}``.
    """
    check_outputs(outputs, ("cls_logits", "bbox_deltas", "embeddings"))
    _check_hyper(identity_iou=identity_iou, margin=margin, embedding_weight=embedding_weight)
    if num_triplets is not None:
        check_int("num_triplets", num_triplets, minimum=1)
    check_index_tensor("gt_ids", gt_ids)
    if clip_ids is not None:
        check_index_tensor("clip_ids", clip_ids)
    _check_devices(outputs, gt_ids=gt_ids, clip_ids=clip_ids)
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
