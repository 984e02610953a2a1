"""Hinton soft-target knowledge distillation (Hinton, Vinyals and Dean 2015)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import check_floating, check_real, check_same_shape, check_tensor

__all__ = ["hinton_distillation_loss", "soft_target_loss"]


def _check_temperature(temperature: float) -> float:
    if check_real(temperature, "temperature") <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return float(temperature)


def soft_target_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, *, temperature: float = 4.0
) -> torch.Tensor:
    """Soft-target term ``T^2 * KL(softmax(z_t / T) || softmax(z_s / T))``, averaged over items.

    Hinton et al. 2015, Sec. 2: the gradients of the softened cross-entropy scale as
    ``1 / T^2``, so the term is multiplied by ``T^2`` to keep its weight when ``T`` changes.
    KL and the cross-entropy against the softened teacher distribution differ only by the
    teacher's entropy (constant in the student), so both give the same gradient,
    ``d/dz_s = T * (softmax(z_s / T) - softmax(z_t / T))`` per item before averaging.
    The teacher is a fixed target (detached).

    Args:
        student_logits: ``Tensor[..., C]`` logits, classes in the last dimension.
        teacher_logits: ``Tensor[..., C]`` logits of the teacher.
        temperature: ``T > 0``; 4.0 is a common choice (Hinton et al. used 2.5 to 20).

    Returns:
        Scalar: the mean over all leading positions of ``T^2 * KL``.

    NaN or inf in the logits propagates to a NaN/inf loss (as in torch): nothing is masked
    or replaced, so a diverged student or teacher shows in the loss instead of training on a
    wrong number. Tensor values are not read (no host synchronisation).
    """
    check_floating(student_logits, "student_logits")
    check_floating(teacher_logits, "teacher_logits")
    check_same_shape(student_logits, teacher_logits, "student_logits", "teacher_logits")
    if student_logits.dim() < 1 or student_logits.shape[-1] < 1:
        raise ValueError(f"student_logits must be [..., C], got {tuple(student_logits.shape)}")
    t = _check_temperature(temperature)
    log_p_student = F.log_softmax(student_logits / t, dim=-1)
    log_p_teacher = F.log_softmax(teacher_logits.detach() / t, dim=-1)
    kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=-1)  # [...]
    return kl.mean() * t * t


def hinton_distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    temperature: float = 4.0,
    alpha: float = 0.9,
) -> torch.Tensor:
    """Hinton KD: ``alpha * T^2 * KL(soft targets) + (1 - alpha) * CE(student, hard targets)``.

    Hinton et al. 2015, Sec. 2: a weighted average of the soft-target objective at temperature
    ``T`` (see `soft_target_loss`, which carries the ``T^2`` factor) and the ordinary
    cross-entropy with the true labels at ``T = 1``; the paper puts a considerably lower weight on
    the hard term, hence ``alpha = 0.9``.

    Args:
        student_logits: ``Tensor[..., C]``.
        teacher_logits: ``Tensor[..., C]``.
        targets: long ``Tensor[...]`` class indices.
        temperature: ``T > 0``.
        alpha: weight of the soft term in ``[0, 1]``.

    NaN or inf in the logits propagates to a NaN/inf loss (as in torch): nothing is masked
    or replaced, so a diverged student or teacher shows in the loss instead of training on a
    wrong number. Tensor values are not read (no host synchronisation). A NaN teacher logit
    gives NaN even with ``alpha = 0`` (``0 * NaN``).
    """
    check_tensor(targets, "targets")
    if targets.dtype != torch.long:
        raise TypeError(f"targets must be a long tensor of class indices, got {targets.dtype}")
    if targets.shape != student_logits.shape[:-1]:
        raise ValueError(
            f"targets must have shape {tuple(student_logits.shape[:-1])}, got "
            f"{tuple(targets.shape)}"
        )
    if not 0.0 <= check_real(alpha, "alpha") <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    soft = soft_target_loss(student_logits, teacher_logits, temperature=temperature)
    num_classes = student_logits.shape[-1]
    hard = F.cross_entropy(student_logits.reshape(-1, num_classes), targets.reshape(-1))
    return alpha * soft + (1.0 - alpha) * hard
