"""SCST loss and the two-pass episode runner (Kim et al. 2022)."""

from typing import Any

import pytest
import torch

import seqrl
from seqrl import toys


def test_scst_loss_hand_cases() -> None:
    log_probs = torch.tensor([[-0.5, -1.0, -0.5], [-2.0, -1.0, -1.0]], requires_grad=True)
    r = torch.tensor([0.8, 0.2])
    r_greedy = torch.tensor([0.5, 0.6])
    # episode 0: -(0.3)(-2.0) = 0.6 ; episode 1: -(-0.4)(-4.0) = -1.6
    loss = seqrl.scst_loss(log_probs, r, r_greedy)
    assert float(loss.detach()) == pytest.approx((0.6 - 1.6) / 2)
    assert float(
        seqrl.scst_loss(log_probs, r, r_greedy, reduction="sum").detach()
    ) == pytest.approx(-1.0)
    loss.backward()
    # d loss / d log p_t = -(r - r') / B: better-than-greedy samples are pushed up
    expected = torch.tensor([[-0.15] * 3, [0.2] * 3])
    torch.testing.assert_close(log_probs.grad, expected)


def test_scst_loss_zero_when_sample_equals_greedy_and_mask() -> None:
    lp = torch.randn(3, 4)
    r = torch.rand(3)
    assert float(seqrl.scst_loss(lp, r, r)) == 0.0
    mask = torch.tensor([[True, True, False, False]] * 3)
    torch.testing.assert_close(
        seqrl.scst_loss(lp, r, torch.zeros(3), mask=mask),
        seqrl.scst_loss(lp[:, :2], r, torch.zeros(3)),
    )


@pytest.mark.parametrize(
    ("args", "err", "match"),
    [
        ((torch.zeros(0, 3), torch.zeros(0), torch.zeros(0)), ValueError, "empty"),
        ((torch.zeros(2, 3), torch.zeros(3), torch.zeros(2)), ValueError, "reward_sample"),
        ((torch.zeros(2, 3), torch.zeros(2), torch.zeros(2, 1)), ValueError, "reward_greedy"),
        ((torch.zeros(3), torch.zeros(1), torch.zeros(1)), ValueError, r"\[B, T\]"),
        ((torch.zeros(2, 3), torch.tensor([0.1, float("nan")]), torch.zeros(2)), ValueError, "NaN"),
        ((torch.zeros(2, 3), [0.1, 0.2], torch.zeros(2)), TypeError, "reward_sample"),
    ],
)
def test_scst_loss_bad_inputs(args: tuple, err: type, match: str) -> None:
    with pytest.raises(err, match=match):
        seqrl.scst_loss(*args)


def test_runner_plays_twice_from_the_same_state_with_greedy_under_no_grad() -> None:
    calls: list[tuple[Any, str, bool]] = []
    w = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)

    def step(state: int, frame: int, mode: str) -> tuple[int, int, torch.Tensor]:
        calls.append((state, mode, torch.is_grad_enabled()))
        lp = torch.log_softmax(w * frame, 0)
        idx, logp = seqrl.select_candidates(lp.unsqueeze(0), mode=mode)  # type: ignore[arg-type]
        return state + 1, int(idx), logp

    torch.manual_seed(0)
    roll = seqrl.run_scst_episode(step, 10, [1, 2, 3], lambda ch: float(sum(ch)))
    assert [c[0] for c in calls] == [10, 11, 12, 10, 11, 12]
    assert [c[1] for c in calls] == ["sample"] * 3 + ["argmax"] * 3
    assert [c[2] for c in calls] == [True] * 3 + [False] * 3
    assert roll.choices_greedy == [2, 2, 2] and roll.reward_greedy.tolist() == [6.0]
    assert roll.log_probs.shape == (1, 3) and roll.log_probs.requires_grad
    assert roll.reward_sample.tolist() == [float(sum(roll.choices_sample))]
    assert roll.final_state_sample == 13 and roll.final_state_greedy == 13
    roll.loss().backward()
    assert w.grad is not None


def test_runner_bad_inputs() -> None:
    def step(state: Any, frame: Any, mode: str) -> tuple[Any, Any, torch.Tensor]:
        return state, 0, torch.zeros(2)

    with pytest.raises(ValueError, match="empty"):
        seqrl.run_scst_episode(step, None, [], lambda ch: torch.zeros(2))
    with pytest.raises(ValueError, match="non-finite"):
        seqrl.run_scst_episode(step, None, [1], lambda ch: torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="2 reward"):
        seqrl.run_scst_episode(step, None, [1], lambda ch: torch.zeros(3))
    with pytest.raises(TypeError, match="log_prob"):
        seqrl.run_scst_episode(lambda s, f, m: (s, 0, 0.5), None, [1], lambda ch: 0.0)


def test_scst_learns_choose_the_target_cell() -> None:
    """SCST raises the expected (sampled) and greedy average overlap of a toy tracker."""
    torch.manual_seed(0)
    task = toys.TargetCellTask(num_cells=16)
    model = toys.CellScorer()
    opt = torch.optim.SGD(model.parameters(), lr=2.0)
    g = torch.Generator().manual_seed(0)

    def evaluate() -> tuple[float, float]:
        ge = torch.Generator().manual_seed(99)
        init, frames = task.sample_episode(512, 8, ge)
        with torch.no_grad():
            roll = seqrl.run_scst_episode(
                task.make_step(model, ge), init, frames, lambda c: task.average_overlap(c, frames)
            )
        return float(roll.reward_sample.mean()), float(roll.reward_greedy.mean())

    sample0, greedy0 = evaluate()
    for _ in range(100):
        init, frames = task.sample_episode(16, 8, g)
        roll = seqrl.run_scst_episode(
            task.make_step(model, g), init, frames, lambda c, fr=frames: task.average_overlap(c, fr)
        )
        opt.zero_grad()
        roll.loss().backward()
        opt.step()
    sample1, greedy1 = evaluate()
    assert sample0 < 0.15 and greedy0 < 0.15
    assert sample1 > 0.7 and greedy1 > 0.9


def test_temperature_zero_sampling_equals_argmax_and_loss_is_zero() -> None:
    """At temperature 0 the sampling tracker is the argmax tracker: same choices, r = r',
    and the SCST loss (and its gradient) is zero."""
    torch.manual_seed(0)
    task = toys.TargetCellTask(num_cells=16)
    model = toys.CellScorer()
    g = torch.Generator().manual_seed(3)
    init, frames = task.sample_episode(32, 10, g)
    roll = seqrl.run_scst_episode(
        task.make_step(model, g, temperature=0.0),
        init,
        frames,
        lambda c: task.average_overlap(c, frames),
    )
    for a, b in zip(roll.choices_sample, roll.choices_greedy):
        assert torch.equal(a, b)
    assert torch.equal(roll.reward_sample, roll.reward_greedy)
    loss = roll.loss()
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert all(float(p.grad.abs().max()) == 0.0 for p in model.parameters() if p.grad is not None)
