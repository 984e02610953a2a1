"""Detection-head distillation: focal-weighted scores and box imitation on plain tensors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from distill import detection_distillation_loss


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_hand_values() -> None:
    # two locations, one class; teacher positive only at location 0 (q = 0.8 >= 0.5)
    student_cls = torch.tensor([[[logit(0.5)], [logit(0.1)]]])
    teacher_cls = torch.tensor([[[logit(0.8)], [logit(0.2)]]])
    student_box = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [5.0, 5.0, 5.0, 5.0]]])
    teacher_box = torch.tensor([[[1.0, 0.05, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]])
    out = detection_distillation_loss(student_cls, teacher_cls, student_box, teacher_box)

    def bce(q: float, p: float) -> float:
        return -(q * math.log(p) + (1 - q) * math.log(1 - p))

    score = (0.3**2) * bce(0.8, 0.5) + (0.1**2) * bce(0.2, 0.1)
    # smooth L1 with beta 1/9: |1| -> 1 - 1/18; |0.05| -> 0.5 * 0.05^2 * 9
    box = (1 - 1 / 18) + 0.5 * 0.05**2 * 9
    assert float(out.num_positive) == 1.0
    assert float(out.score) == pytest.approx(score, rel=1e-5)
    assert float(out.box) == pytest.approx(box, rel=1e-5)
    assert float(out.total) == pytest.approx(score + box, rel=1e-5)


def test_gamma_zero_is_soft_label_bce() -> None:
    torch.manual_seed(0)
    s, t = torch.randn(2, 7, 3), torch.randn(2, 7, 3) * 2
    boxes = torch.zeros(2, 7, 4)
    out = detection_distillation_loss(s, t, boxes, boxes, gamma=0.0)
    positives = (torch.sigmoid(t).max(-1).values >= 0.5).sum().clamp(min=1)
    expected = F.binary_cross_entropy_with_logits(s, torch.sigmoid(t), reduction="sum")
    torch.testing.assert_close(out.score, expected / positives)


def test_boxes_only_learn_at_teacher_positive_locations() -> None:
    torch.manual_seed(1)
    s_cls = torch.randn(1, 6, 2)
    t_cls = torch.tensor([[[3.0, -3], [-3, -3], [-3, 2.0], [-3, -3], [-3, -3], [0.5, -3]]])
    s_box = torch.randn(1, 6, 4, requires_grad=True)
    t_box = torch.randn(1, 6, 4, requires_grad=True)
    out = detection_distillation_loss(s_cls, t_cls, s_box, t_box)
    out.box.backward()
    assert s_box.grad is not None
    positive = torch.tensor([True, False, True, False, False, True])
    assert torch.all(s_box.grad[0, ~positive] == 0)
    assert torch.all(s_box.grad[0, positive].abs().sum(-1) > 0)
    assert t_box.grad is None
    assert float(out.num_positive) == 3.0


def test_agreement_costs_little_and_no_positives_normalise_by_one() -> None:
    t = torch.full((1, 4, 2), -6.0)  # teacher sees nothing anywhere
    boxes = torch.randn(1, 4, 4)
    agree = detection_distillation_loss(t.clone(), t, boxes, boxes * 2)
    assert float(agree.num_positive) == 0.0
    assert float(agree.box) == 0.0
    disagree = detection_distillation_loss(t + 8.0, t, boxes, boxes)
    assert float(disagree.score) > 1000 * float(agree.score)


def test_bad_inputs() -> None:
    cls, box = torch.zeros(1, 3, 2), torch.zeros(1, 3, 4)
    with pytest.raises(ValueError, match="same shape"):
        detection_distillation_loss(cls, torch.zeros(1, 3, 3), box, box)
    with pytest.raises(ValueError, match="leading dimensions"):
        detection_distillation_loss(cls, cls, torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="gamma"):
        detection_distillation_loss(cls, cls, box, box, gamma=-1.0)
    with pytest.raises(ValueError, match="positive_threshold"):
        detection_distillation_loss(cls, cls, box, box, positive_threshold=0.0)
    with pytest.raises(TypeError, match="floating"):
        detection_distillation_loss(cls.long(), cls, box, box)
