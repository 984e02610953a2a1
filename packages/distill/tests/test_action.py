"""Masked L1 action distillation (eq. 3), its mask and best-teacher selection (eq. 4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distill import (
    action_distillation_mask,
    box_iou_xywh,
    masked_action_distillation_loss,
    select_best_teacher,
)


def test_mask_is_one_only_where_teacher_beat_student() -> None:
    student = torch.tensor([0.5, -1.0, 0.8, 0.3])
    teacher = torch.tensor([0.6, -1.0, 0.2, 0.9])
    np.testing.assert_array_equal(action_distillation_mask(student, teacher), [1, 0, 0, 1])


def test_loss_hand_values() -> None:
    student = torch.tensor([[[0.1, 0.2, 0.0, 0.0], [0.5, -0.5, 0.1, 0.1], [0.0, 0.0, 0.0, 0.0]]])
    teacher = torch.tensor([[[0.3, 0.2, 0.0, -0.1], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]])
    mask = torch.tensor([[1.0, 0.0, 1.0]])
    # step 0: 0.2 + 0 + 0 + 0.1 = 0.3; step 1 masked; step 2: 4.0
    loss = masked_action_distillation_loss(student, teacher, mask, reduction="none")
    torch.testing.assert_close(loss, torch.tensor([4.3]))
    batch_s = torch.cat([student, torch.zeros_like(student)])
    batch_t = torch.cat([teacher, torch.ones_like(teacher)])
    batch_m = torch.cat([mask, torch.ones_like(mask)])  # second episode: 12 * 1.0
    out = masked_action_distillation_loss(batch_s, batch_t, batch_m, reduction="none")
    torch.testing.assert_close(out, torch.tensor([4.3, 12.0]))
    torch.testing.assert_close(
        masked_action_distillation_loss(batch_s, batch_t, batch_m), torch.tensor(8.15)
    )
    torch.testing.assert_close(
        masked_action_distillation_loss(batch_s, batch_t, batch_m.bool(), reduction="sum"),
        torch.tensor(16.3),
    )


def test_mask_zeroes_gradients_where_student_is_better() -> None:
    torch.manual_seed(0)
    student_actions = torch.randn(2, 5, 4, requires_grad=True)
    teacher_actions = torch.randn(2, 5, 4, requires_grad=True)
    student_rewards = torch.randn(2, 5)
    teacher_rewards = torch.randn(2, 5)
    mask = action_distillation_mask(student_rewards, teacher_rewards)
    assert 0 < mask.sum() < mask.numel()
    masked_action_distillation_loss(student_actions, teacher_actions, mask).backward()
    grad = student_actions.grad
    assert grad is not None
    student_better = student_rewards >= teacher_rewards
    assert torch.all(grad[student_better] == 0)
    # where the teacher is better: d|t - s|/ds = -sign(t - s), divided by the batch mean
    expected = -torch.sign(teacher_actions - student_actions).detach() / 2
    torch.testing.assert_close(grad[~student_better], expected[~student_better])
    assert teacher_actions.grad is None  # teacher actions are targets


def test_loss_shape_errors() -> None:
    a = torch.zeros(2, 3, 4)
    with pytest.raises(ValueError, match="mask must have shape"):
        masked_action_distillation_loss(a, a, torch.ones(2, 4))
    with pytest.raises(ValueError, match="same shape"):
        masked_action_distillation_loss(a, torch.zeros(2, 3, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match="reduction"):
        masked_action_distillation_loss(a, a, torch.ones(2, 3), reduction="max")
    with pytest.raises(TypeError, match="floating"):
        action_distillation_mask(torch.zeros(3, dtype=torch.long), torch.zeros(3))


def test_best_teacher_hand_case_and_ties() -> None:
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
    teachers = torch.tensor(
        [
            [[2.0, 0, 10, 10], [1.0, 0, 10, 10], [float("nan")] * 4],
            [[5.0, 0, 10, 10], [0.0, 5, 10, 10], [3.0, 0, 10, 10]],  # tie of 0 and 1
        ]
    )
    best = select_best_teacher(teachers, gt)
    np.testing.assert_array_equal(best.teacher_index, [1, 2])
    torch.testing.assert_close(best.boxes_xywh, teachers[[0, 1], [1, 2]])
    torch.testing.assert_close(best.iou, torch.tensor([9 / 11, 7 / 13]))
    tie = select_best_teacher(teachers[1:, :2], gt[1:])
    assert int(tie.teacher_index[0]) == 0


def test_best_teacher_matches_a_loop_reference() -> None:
    rng = np.random.default_rng(0)
    teachers = np.concatenate(
        [rng.uniform(0, 20, (3, 7, 5, 2)), rng.uniform(2, 9, (3, 7, 5, 2))], -1
    )
    gt = np.concatenate([rng.uniform(0, 20, (3, 7, 2)), rng.uniform(2, 9, (3, 7, 2))], -1)
    best = select_best_teacher(torch.tensor(teachers), torch.tensor(gt))
    for i in range(3):
        for t in range(7):
            ious = [float(box_iou_xywh(teachers[i, t, k], gt[i, t])) for k in range(5)]
            assert int(best.teacher_index[i, t]) == int(np.argmax(ious))
            assert abs(float(best.iou[i, t]) - max(ious)) < 1e-12


def test_best_teacher_shape_errors() -> None:
    with pytest.raises(ValueError, match="gt_boxes_xywh must have shape"):
        select_best_teacher(torch.zeros(2, 3, 4), torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"\[\.\.\., N, 4\]"):
        select_best_teacher(torch.zeros(3, 5), torch.zeros(4))
