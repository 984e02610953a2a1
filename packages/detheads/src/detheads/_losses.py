"""Elementwise detection losses (pure functions with the papers' default hyperparameters).

Every loss takes ``reduction`` in ``{"none", "sum", "mean"}`` (anything else raises) and an
optional ``weights`` tensor broadcasting to the elementwise loss (use it to mask ignored anchors
or padding). Normalisation by the number of positives is :func:`normalize_by_positives`.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import Tensor

from ._boxes import elementwise_giou, elementwise_iou

REDUCTIONS = ("none", "sum", "mean")


def reduce_loss(loss: Tensor, reduction: str, weights: Tensor | None = None) -> Tensor:
    """Apply ``weights`` then ``reduction`` (``"none"``, ``"sum"`` or ``"mean"``).

    ``"mean"`` divides the weighted sum by the number of elements (not by the weight sum).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if weights is not None:
        if not isinstance(weights, Tensor):
            raise TypeError(f"weights must be a tensor, got {type(weights).__name__}")
        if weights.device != loss.device:
            raise ValueError(f"weights are on {weights.device} but the loss on {loss.device}")
        loss = loss * weights
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


def _check_pair(name: str, a: Tensor, b: Tensor) -> None:
    """Shape, dtype and device checks of a loss's two tensors (metadata only, no host sync)."""
    for label, t in (("input", a), ("target", b)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {label} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name}: {label} must be a floating tensor, got dtype {t.dtype}")
    if a.shape != b.shape:
        raise ValueError(f"{name}: input {tuple(a.shape)} and target {tuple(b.shape)} differ")
    if a.device != b.device:
        raise ValueError(f"{name}: input on {a.device} and target on {b.device} differ")


def _check_real(name: str, value: object) -> float:
    """A finite Python/numpy real hyperparameter (not bool) -> float; TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def sigmoid_focal_loss(
    logits: Tensor,
    targets: Tensor,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    weights: Tensor | None = None,
    reduction: str = "none",
) -> Tensor:
    """Sigmoid focal loss, alpha 0.25, gamma 2 (Lin et al. 2017; Wang et al. 2020; Lu et al. 2020).

    ``FL = -alpha_t (1 - p_t)^gamma log(p_t)`` elementwise over ``logits``/``targets`` (same
    shape, targets in [0, 1]). ``alpha < 0`` disables the alpha weighting; with ``gamma=0`` and
    ``alpha < 0`` it equals ``binary_cross_entropy_with_logits``. Numerically stable (uses
    ``logsigmoid``) and free of in-place ops (second-order differentiable).
    """
    _check_pair("sigmoid_focal_loss", logits, targets)
    alpha = _check_real("alpha", alpha)
    if _check_real("gamma", gamma) < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce if gamma == 0 else ce * (1 - p_t).pow(gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return reduce_loss(loss, reduction, weights)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    *,
    beta: float = 1.0 / 9.0,
    weights: Tensor | None = None,
    reduction: str = "none",
) -> Tensor:
    """Smooth L1, Detectron's RetinaNet ``beta = 1/9`` (Retina-MAML regression, Wang et al. 2020).

    ``0.5 x^2 / beta`` for ``|x| < beta`` else ``|x| - 0.5 beta``; ``beta = 0`` is plain L1.
    """
    _check_pair("smooth_l1_loss", input, target)
    if _check_real("beta", beta) < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    diff = (input - target).abs()
    if beta == 0:
        loss = diff
    else:
        loss = torch.where(diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta)
    return reduce_loss(loss, reduction, weights)


def huber_loss(
    input: Tensor,
    target: Tensor,
    *,
    delta: float = 1.0,
    weights: Tensor | None = None,
    reduction: str = "none",
) -> Tensor:
    """Huber loss (Lu et al. 2020's box regression; TF Object Detection API ``delta = 1``).

    ``0.5 x^2`` for ``|x| <= delta`` else ``delta (|x| - 0.5 delta)`` (= ``delta *
    smooth_l1(beta=delta)``).
    """
    _check_pair("huber_loss", input, target)
    if _check_real("delta", delta) <= 0:
        raise ValueError(f"delta must be > 0, got {delta}")
    diff = (input - target).abs()
    loss = torch.where(diff <= delta, 0.5 * diff * diff, delta * (diff - 0.5 * delta))
    return reduce_loss(loss, reduction, weights)


def l1_loss(
    input: Tensor, target: Tensor, *, weights: Tensor | None = None, reduction: str = "none"
) -> Tensor:
    """L1 loss ``|input - target|`` (Wang et al. 2020's FCOS ltrb regression loss)."""
    _check_pair("l1_loss", input, target)
    return reduce_loss((input - target).abs(), reduction, weights)


def iou_loss(
    pred_xyxy: Tensor,
    target_xyxy: Tensor,
    *,
    log: bool = False,
    eps: float = 1e-7,
    weights: Tensor | None = None,
    reduction: str = "none",
) -> Tensor:
    """IoU loss of matching boxes ``Tensor[..., 4]``: ``1 - IoU`` or, with ``log``, ``-log IoU``
    (UnitBox / FCOS). Returns ``Tensor[...]`` before reduction."""
    _check_pair("iou_loss", pred_xyxy, target_xyxy)
    iou = elementwise_iou(pred_xyxy, target_xyxy, eps=eps)
    loss = -torch.log(iou.clamp(min=eps)) if log else 1 - iou
    return reduce_loss(loss, reduction, weights)


def giou_loss(
    pred_xyxy: Tensor,
    target_xyxy: Tensor,
    *,
    eps: float = 1e-7,
    weights: Tensor | None = None,
    reduction: str = "none",
) -> Tensor:
    """GIoU loss ``1 - GIoU`` of matching boxes ``Tensor[..., 4]`` -> ``Tensor[...]``, in [0, 2]."""
    _check_pair("giou_loss", pred_xyxy, target_xyxy)
    return reduce_loss(1 - elementwise_giou(pred_xyxy, target_xyxy, eps=eps), reduction, weights)


def centerness_bce_loss(
    logits: Tensor, targets: Tensor, *, weights: Tensor | None = None, reduction: str = "none"
) -> Tensor:
    """FCOS centerness loss: BCE of ``sigmoid(logits)`` against centerness targets in [0, 1]."""
    _check_pair("centerness_bce_loss", logits, targets)
    loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return reduce_loss(loss, reduction, weights)


def centerness_l2_loss(
    logits: Tensor, targets: Tensor, *, weights: Tensor | None = None, reduction: str = "none"
) -> Tensor:
    """FCOS-MAML score loss ``(sigmoid(logits) - targets)^2`` on centerness (Wang et al. 2020)."""
    _check_pair("centerness_l2_loss", logits, targets)
    return reduce_loss((torch.sigmoid(logits) - targets).pow(2), reduction, weights)


def normalize_by_positives(loss_sum: Tensor, num_positives: Tensor | float) -> Tensor:
    """Divide a summed loss by ``max(num_positives, 1)`` (RetinaNet / FCOS normalisation).

    A number ``num_positives`` must be finite and >= 0; a tensor one is used as it is.
    """
    if isinstance(num_positives, Tensor):
        return loss_sum / num_positives.to(loss_sum.dtype).clamp(min=1.0)
    return loss_sum / max(_check_real("num_positives", num_positives), 1.0)
