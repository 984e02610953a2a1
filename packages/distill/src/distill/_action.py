"""Action distillation from the best teacher (Dunnhofer et al. 2020, eqs. 3-4)."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._boxes import box_iou_xywh_torch
from ._checks import check_floating, check_reduction, check_same_shape, check_tensor, reduce

__all__ = [
    "BestTeacher",
    "action_distillation_mask",
    "masked_action_distillation_loss",
    "select_best_teacher",
]


def action_distillation_mask(
    student_rewards: torch.Tensor, teacher_rewards: torch.Tensor
) -> torch.Tensor:
    """The mask ``m_t`` of eq. 3: 1 where the teacher's reward beat the student's, else 0.

    Dunnhofer et al. 2020, Sec. 3.3: ``m_i = 1`` when the student performed worse than the teacher
    in terms of the rewards ``r(s_t, a_t)`` and ``r(s_t, a_t^(t))``, ``m_i = 0`` otherwise (ties
    count as the student not being worse, so they give 0).

    Args:
        student_rewards: ``Tensor[..., T]`` rewards of the student's actions.
        teacher_rewards: ``Tensor[..., T]`` rewards the teacher's actions would get.

    Returns:
        ``Tensor[..., T]`` float mask (dtype of ``student_rewards``), no gradient.
    """
    check_floating(student_rewards, "student_rewards")
    check_floating(teacher_rewards, "teacher_rewards")
    check_same_shape(student_rewards, teacher_rewards, "student_rewards", "teacher_rewards")
    return (teacher_rewards.detach() > student_rewards.detach()).to(student_rewards.dtype)


def masked_action_distillation_loss(
    student_actions: torch.Tensor,
    teacher_actions: torch.Tensor,
    mask: torch.Tensor,
    *,
    reduction: str = "mean",
) -> torch.Tensor:
    """Masked L1 action distillation, eq. 3 of Dunnhofer et al. 2020.

    ``L_dist = sum_t |a_t^(t) - s_pi(s_t)|_1 * m_t`` over the ``T`` steps of an interaction
    (``t_max = 5`` in the paper) and the action components. Steps with ``m_t = 0`` (the student
    did at least as well as the teacher) contribute neither loss nor gradient. The teacher's
    actions are targets (detached).

    Args:
        student_actions: ``Tensor[..., T, A]`` the student's actions (``A = 4`` relative box
            motions in the paper).
        teacher_actions: ``Tensor[..., T, A]`` the actions that move the student's previous box
            onto the (best) teacher's box, ``phi(b_t^(t), b_{t-1})``.
        mask: ``Tensor[..., T]`` of 0/1 (float or bool), e.g. `action_distillation_mask`.
        reduction: ``"none"`` returns the per-interaction sums ``Tensor[...]``; ``"sum"`` adds
            them; ``"mean"`` averages them over the leading dimensions.

    NaN or inf actions propagate to a NaN/inf loss, also at steps with ``m_t = 0`` (the mask
    multiplies, ``0 * NaN = NaN``): a NaN action is never hidden. Values are not read.
    """
    check_floating(student_actions, "student_actions")
    check_floating(teacher_actions, "teacher_actions")
    check_tensor(mask, "mask")
    check_reduction(reduction)
    check_same_shape(student_actions, teacher_actions, "student_actions", "teacher_actions")
    if student_actions.dim() < 2:
        raise ValueError(
            f"student_actions must have shape [..., T, A], got {tuple(student_actions.shape)}"
        )
    if mask.shape != student_actions.shape[:-1]:
        raise ValueError(
            f"mask must have shape {tuple(student_actions.shape[:-1])} (actions without the "
            f"last dimension), got {tuple(mask.shape)}"
        )
    weights = mask.to(student_actions.dtype).unsqueeze(-1)  # [..., T, 1]
    per_step = (teacher_actions.detach() - student_actions).abs() * weights  # [..., T, A]
    return reduce(per_step.sum(dim=(-2, -1)), reduction)


class BestTeacher(NamedTuple):
    """Output of `select_best_teacher`: ``teacher_index``, ``boxes_xywh`` and ``iou``."""

    teacher_index: torch.Tensor
    boxes_xywh: torch.Tensor
    iou: torch.Tensor


def select_best_teacher(
    teacher_boxes_xywh: torch.Tensor, gt_boxes_xywh: torch.Tensor
) -> BestTeacher:
    """Pick, per step, the teacher whose box has the highest IoU with the ground truth (eq. 4).

    Dunnhofer et al. 2020, eq. 4: ``t = argmax_t IoU(b_t^(t), g_t)``. Ties go to the lowest teacher
    index; a NaN teacher box (teacher has no output) has IoU 0.

    Args:
        teacher_boxes_xywh: ``Tensor[..., N, 4]`` the N teachers' boxes.
        gt_boxes_xywh: ``Tensor[..., 4]`` ground truth.

    Returns:
        `BestTeacher` with ``teacher_index`` (long ``[...]``), the chosen ``boxes_xywh``
        ``[..., 4]`` and their ``iou`` ``[...]``.
    """
    check_floating(teacher_boxes_xywh, "teacher_boxes_xywh")
    check_floating(gt_boxes_xywh, "gt_boxes_xywh")
    if teacher_boxes_xywh.dim() < 2 or teacher_boxes_xywh.shape[-1] != 4:
        raise ValueError(
            f"teacher_boxes_xywh must have shape [..., N, 4], got {tuple(teacher_boxes_xywh.shape)}"
        )
    expected = (*teacher_boxes_xywh.shape[:-2], 4)
    if tuple(gt_boxes_xywh.shape) != expected:
        raise ValueError(
            f"gt_boxes_xywh must have shape {expected}, got {tuple(gt_boxes_xywh.shape)}"
        )
    if teacher_boxes_xywh.shape[-2] < 1:
        raise ValueError("teacher_boxes_xywh holds no teacher (N = 0)")
    iou = box_iou_xywh_torch(teacher_boxes_xywh, gt_boxes_xywh.unsqueeze(-2))  # [..., N]
    index = iou.argmax(dim=-1)  # first maximum on ties
    best_iou = iou.gather(-1, index.unsqueeze(-1)).squeeze(-1)
    gather = index[..., None, None].expand(*index.shape, 1, 4)
    boxes = teacher_boxes_xywh.gather(-2, gather).squeeze(-2)
    return BestTeacher(index, boxes, best_iou)
