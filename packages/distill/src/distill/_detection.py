"""Detection-head distillation on plain tensors (dense one-stage heads such as RetinaNet/FCOS)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from ._checks import check_floating, check_same_shape

__all__ = ["DetectionDistillation", "detection_distillation_loss"]


class DetectionDistillation(NamedTuple):
    """Terms of `detection_distillation_loss` (each already normalised).

    Attributes:
        score: focal-weighted score distillation (scalar).
        box: box imitation on teacher-positive locations (scalar).
        num_positive: number of teacher-positive locations (float scalar, no gradient).
    """

    score: torch.Tensor
    box: torch.Tensor
    num_positive: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        """``score + box``."""
        return self.score + self.box


def detection_distillation_loss(
    student_cls_logits: torch.Tensor,
    teacher_cls_logits: torch.Tensor,
    student_box_regression: torch.Tensor,
    teacher_box_regression: torch.Tensor,
    *,
    gamma: float = 2.0,
    positive_threshold: float = 0.5,
    box_beta: float = 1.0 / 9.0,
) -> DetectionDistillation:
    """Distil a dense detection head (per-location class logits and box regressions).

    Score distillation: sigmoid cross-entropy of the student against the teacher's
    probabilities ``q = sigmoid(z_t)`` as soft labels, weighted by ``|q - p|^gamma`` with
    ``p = sigmoid(z_s)``, so confident agreements (the many easy background locations) fade as in
    the focal loss. This is the quality focal loss of Li et al. 2020 (GFL, eq. 5, ``beta = 2``)
    with teacher probabilities as targets; with ``gamma = 0`` it is plain BCE on soft labels.

    Box imitation: Smooth-L1 (``box_beta``, RetinaNet's 1/9 in Detectron) between the student's
    and the teacher's box regressions, only at teacher-positive locations, where the teacher's
    highest class probability is at least ``positive_threshold`` (boxes where the teacher sees
    no object carry no knowledge). Both terms are summed and divided by ``max(1, number of
    teacher-positive locations)``, the focal-loss normalisation. Teacher outputs are detached;
    the box codes must be in the same encoding for both heads (same anchors or points).

    Args:
        student_cls_logits: ``Tensor[..., L, C]`` class logits at ``L`` locations (all FPN
            levels and anchors flattened), ``C`` classes (sigmoid, no background class).
        teacher_cls_logits: ``Tensor[..., L, C]``.
        student_box_regression: ``Tensor[..., L, 4]``.
        teacher_box_regression: ``Tensor[..., L, 4]``.
        gamma: focusing exponent ``>= 0``.
        positive_threshold: teacher probability in ``(0, 1]`` that makes a location positive.
        box_beta: Smooth-L1 transition point ``>= 0`` (0 gives L1).

    Returns:
        `DetectionDistillation` (``score``, ``box``, ``num_positive``; ``.total`` sums them).

    NaN or inf logits propagate to a NaN/inf ``score`` (as in torch; values are not read); a
    NaN box regression at a teacher-positive location gives a NaN ``box``.
    """
    for value, argument in (
        (student_cls_logits, "student_cls_logits"),
        (teacher_cls_logits, "teacher_cls_logits"),
        (student_box_regression, "student_box_regression"),
        (teacher_box_regression, "teacher_box_regression"),
    ):
        check_floating(value, argument)
    check_same_shape(
        student_cls_logits, teacher_cls_logits, "student_cls_logits", "teacher_cls_logits"
    )
    check_same_shape(
        student_box_regression,
        teacher_box_regression,
        "student_box_regression",
        "teacher_box_regression",
    )
    if student_cls_logits.dim() < 1 or student_box_regression.shape[-1:] != (4,):
        raise ValueError(
            f"box regressions must end in 4 values, got {tuple(student_box_regression.shape)}"
        )
    if student_box_regression.shape[:-1] != student_cls_logits.shape[:-1]:
        raise ValueError(
            f"class logits {tuple(student_cls_logits.shape)} and box regressions "
            f"{tuple(student_box_regression.shape)} must share their leading dimensions"
        )
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    if not 0.0 < positive_threshold <= 1.0:
        raise ValueError(f"positive_threshold must lie in (0, 1], got {positive_threshold}")
    if box_beta < 0:
        raise ValueError(f"box_beta must be >= 0, got {box_beta}")

    q = torch.sigmoid(teacher_cls_logits.detach())  # [..., L, C]
    p = torch.sigmoid(student_cls_logits)
    bce = F.binary_cross_entropy_with_logits(student_cls_logits, q, reduction="none")
    score_sum = ((q - p).abs().pow(gamma) * bce).sum()

    positive = q.max(dim=-1).values >= positive_threshold  # [..., L]
    num_positive = positive.sum().to(student_cls_logits.dtype)
    normaliser = num_positive.clamp(min=1.0)
    box_terms = F.smooth_l1_loss(
        student_box_regression,
        teacher_box_regression.detach(),
        reduction="none",
        beta=box_beta,
    ).sum(dim=-1)  # [..., L]
    box_sum = (box_terms * positive.to(box_terms.dtype)).sum()
    return DetectionDistillation(score_sum / normaliser, box_sum / normaliser, num_positive)
