"""Hinton soft-target distillation, including a small student that learns its teacher.

Runs on the ``device`` fixture (CUDA when available, else CPU).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from distill import hinton_distillation_loss, soft_target_loss


def softened_cross_entropy(student: torch.Tensor, teacher: torch.Tensor, t: float) -> torch.Tensor:
    q = F.softmax(teacher / t, dim=-1)
    return -(q * F.log_softmax(student / t, dim=-1)).sum(-1).mean()


def test_equals_cross_entropy_against_softened_targets_up_to_t_squared(
    device: torch.device,
) -> None:
    torch.manual_seed(0)
    student = torch.randn(6, 5, device=device, requires_grad=True)
    teacher = torch.randn(6, 5, device=device) * 3
    t = 3.0
    q = F.softmax(teacher / t, dim=-1)
    teacher_entropy = -(q * q.log()).sum(-1).mean()
    loss = soft_target_loss(student, teacher, temperature=t)
    assert loss.device == student.device
    ce = softened_cross_entropy(student, teacher, t)
    torch.testing.assert_close(loss, t * t * (ce - teacher_entropy))
    (grad_kd,) = torch.autograd.grad(loss, student)
    (grad_ce,) = torch.autograd.grad(t * t * ce, student)
    torch.testing.assert_close(grad_kd, grad_ce)
    # the documented closed form: T * (p_s - q) per item, averaged over the batch
    p_s = F.softmax(student.detach() / t, dim=-1)
    torch.testing.assert_close(grad_kd, t * (p_s - q) / 6)


def test_hand_value_and_zero_when_equal() -> None:
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[2.0 * torch.log(torch.tensor(3.0)), 0.0]])  # q = (0.75, 0.25) at T=2
    expected = 4.0 * (0.75 * torch.log(torch.tensor(1.5)) + 0.25 * torch.log(torch.tensor(0.5)))
    torch.testing.assert_close(soft_target_loss(student, teacher, temperature=2.0), expected)
    x = torch.randn(3, 4, 7)
    assert float(soft_target_loss(x, x)) == pytest.approx(0.0, abs=1e-6)


def test_combined_loss_weights_and_hard_term(device: torch.device) -> None:
    torch.manual_seed(1)
    student, teacher = torch.randn(4, 3, device=device), torch.randn(4, 3, device=device)
    targets = torch.tensor([0, 2, 1, 1], device=device)
    hard = F.cross_entropy(student, targets)
    soft = soft_target_loss(student, teacher, temperature=4.0)
    torch.testing.assert_close(
        hinton_distillation_loss(student, teacher, targets, alpha=0.3), 0.3 * soft + 0.7 * hard
    )
    torch.testing.assert_close(hinton_distillation_loss(student, teacher, targets, alpha=0.0), hard)
    with pytest.raises(TypeError, match="long"):
        hinton_distillation_loss(student, teacher, targets.float())
    with pytest.raises(ValueError, match="alpha"):
        hinton_distillation_loss(student, teacher, targets, alpha=1.5)
    with pytest.raises(ValueError, match="temperature"):
        soft_target_loss(student, teacher, temperature=0.0)
    with pytest.raises(ValueError, match="same shape"):
        soft_target_loss(student, teacher[:, :2])


def mean_kl(teacher: nn.Module, student: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        log_q = F.log_softmax(teacher(x), -1)
        log_p = F.log_softmax(student(x), -1)
        return float((log_q.exp() * (log_q - log_p)).sum(-1).mean())


KL_BOUND = 0.02


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny matrices: thread hand-offs cost more than the maths on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_tiny_student_learns_a_fixed_teacher(device: torch.device) -> None:
    """A 6-16-4 student distilled from a fixed 6-32-4 teacher reaches KL < 0.02 (T = 1)."""
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 4)).to(device)
    with torch.no_grad():
        teacher[2].weight.mul_(5.0)  # confident teacher: KL of an untrained student ~0.2
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 4)).to(device)
    held_out = torch.randn(2000, 6).to(device)
    before = mean_kl(teacher, student, held_out)
    optimiser = torch.optim.Adam(student.parameters(), lr=1e-2)
    for _ in range(300):
        x = torch.randn(128, 6).to(device)
        loss = soft_target_loss(student(x), teacher(x), temperature=2.0)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = mean_kl(teacher, student, held_out)
    assert before > 5 * KL_BOUND, f"the task is too easy: KL before training {before:.4f}"
    assert after < KL_BOUND, f"KL after distillation {after:.4f} (before {before:.4f})"
