"""Multi-step loss weights, annealing schedule and the FO -> SO switch."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from metalearn import MultiStepSchedule, multi_step_loss, multi_step_weights

PAPER = (0.05, 0.10, 0.20, 0.30, 0.35)


def test_uniform_at_start_target_after_annealing_midpoint_between() -> None:
    torch.testing.assert_close(multi_step_weights(0.0, num_steps=4), torch.full((5,), 0.2))
    torch.testing.assert_close(multi_step_weights(15.0, num_steps=4), torch.tensor(PAPER))
    torch.testing.assert_close(multi_step_weights(99.0, num_steps=4), torch.tensor(PAPER))
    mid = multi_step_weights(5.0, num_steps=4, anneal_epochs=10.0)
    torch.testing.assert_close(mid, (torch.full((5,), 0.2) + torch.tensor(PAPER)) / 2)


@given(st.floats(0.0, 50.0), st.floats(0.1, 30.0))
def test_weights_sum_to_one_and_are_nonnegative(epoch: float, anneal: float) -> None:
    w = multi_step_weights(epoch, num_steps=4, anneal_epochs=anneal)
    assert abs(float(w.sum()) - 1.0) < 1e-6
    assert bool((w >= 0).all())


def test_multi_step_loss_is_weighted_sum() -> None:
    losses = [torch.tensor(1.0), torch.tensor(2.0), torch.tensor(4.0)]
    w = torch.tensor([0.5, 0.25, 0.25])
    assert float(multi_step_loss(losses, w)) == pytest.approx(0.5 + 0.5 + 1.0)
    batched = torch.tensor([[1.0, 2.0, 4.0], [0.0, 0.0, 4.0]])
    torch.testing.assert_close(multi_step_loss(batched, w), torch.tensor([2.0, 1.0]))


def test_schedule_switches_first_to_second_order_by_epoch() -> None:
    s = MultiStepSchedule()  # Wang et al. 2020: FO for the first 15 epochs
    assert s.first_order(0.0) and s.first_order(14.99)
    assert not s.first_order(15.0)
    last = MultiStepSchedule(last_only=True).weights(0.0, num_steps=3)
    torch.testing.assert_close(last, torch.tensor([0.0, 0.0, 0.0, 1.0]))


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="num_steps=3 needs 4"):
        multi_step_weights(0.0, num_steps=3)
    with pytest.raises(ValueError, match="epoch"):
        multi_step_weights(-1.0, num_steps=4)
    with pytest.raises(ValueError, match="does not match"):
        multi_step_loss(torch.zeros(3), torch.ones(5))
    with pytest.raises(ValueError, match="first_order_epochs"):
        MultiStepSchedule(first_order_epochs=-1)
