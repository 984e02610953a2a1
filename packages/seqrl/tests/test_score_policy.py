"""Score-map candidate policy (Kim et al. 2022, eqs. 5 and 10)."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import seqrl


def test_logit_softmax_matches_eq5_by_hand() -> None:
    x = torch.tensor([[0.2, 0.5, 0.9]], dtype=torch.float64)
    logits = [math.log(v / (1 - v)) for v in (0.2, 0.5, 0.9)]
    z = sum(math.exp(v) for v in logits)
    expected = torch.tensor([[math.log(math.exp(v) / z) for v in logits]], dtype=torch.float64)
    got = seqrl.score_map_log_probs(x, transform="logit")
    torch.testing.assert_close(got, expected)
    # eq. 5 is softmax(logit x): p(n) is proportional to x_n / (1 - x_n)
    odds = x / (1 - x)
    torch.testing.assert_close(got.exp(), odds / odds.sum())


def test_raw_is_eq10_and_temperature_scales_logits() -> None:
    y = torch.randn(4, 7, dtype=torch.float64)
    torch.testing.assert_close(
        seqrl.score_map_log_probs(y, transform="raw"), torch.log_softmax(y, -1)
    )
    torch.testing.assert_close(
        seqrl.score_map_log_probs(y, transform="raw", temperature=0.5),
        torch.log_softmax(2 * y, -1),
    )


def test_eps_keeps_zero_and_one_scores_finite() -> None:
    x = torch.tensor([[0.0, 1.0, 0.5]])
    lp = seqrl.score_map_log_probs(x, eps=1e-3)
    assert torch.isfinite(lp).all()
    # clamped to [eps, 1-eps]: 1.0 -> odds (1-eps)/eps
    odds = torch.tensor([1e-3 / (1 - 1e-3), (1 - 1e-3) / 1e-3, 1.0])
    torch.testing.assert_close(lp.exp()[0], odds / odds.sum())


@given(st.integers(1, 5), st.integers(1, 30), st.integers(0, 10_000))
def test_log_probs_normalised(b: int, n: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, n, generator=g, dtype=torch.float64)
    lp = seqrl.score_map_log_probs(x)
    torch.testing.assert_close(lp.exp().sum(-1), torch.ones(b, dtype=torch.float64))


def test_argmax_and_sample_modes() -> None:
    x = torch.tensor([[0.1, 0.8, 0.3], [0.9, 0.2, 0.95]])
    lp = seqrl.score_map_log_probs(x)
    idx, logp = seqrl.select_candidates(lp, mode="argmax")
    assert idx.tolist() == [1, 2]
    torch.testing.assert_close(logp, lp[[0, 1], [1, 2]])
    g = torch.Generator().manual_seed(0)
    probs = torch.tensor([[0.1, 0.6, 0.3]])
    lp = probs.log().expand(20_000, 3).contiguous()
    idx, _ = seqrl.select_candidates(lp, mode="sample", generator=g)
    freq = torch.bincount(idx, minlength=3).double() / idx.numel()
    assert torch.allclose(freq, probs[0].double(), atol=0.015)


def test_candidate_log_prob_and_entropy() -> None:
    lp = torch.log(torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]))
    assert seqrl.candidate_log_prob(lp, torch.tensor([1, 0])).tolist() == pytest.approx(
        [math.log(0.5), 0.0]
    )
    torch.testing.assert_close(seqrl.categorical_entropy(lp), torch.tensor([math.log(2.0), 0.0]))


def test_policy_gradient_is_unbiased_on_a_bandit() -> None:
    """E[r(n) grad log p(n)] over many samples equals grad E[r] computed analytically."""
    torch.manual_seed(0)
    scores = torch.tensor([[0.3, 0.7, 0.5, 0.1, 0.6]], dtype=torch.float64, requires_grad=True)
    reward = torch.tensor([1.0, -0.5, 2.0, 0.3, 0.0], dtype=torch.float64)
    # analytic: d/dx sum_n p(n) r(n)
    (seqrl.score_map_log_probs(scores).exp()[0] * reward).sum().backward()
    analytic = scores.grad.clone()
    scores.grad = None
    m = 200_000
    lp = seqrl.score_map_log_probs(scores).expand(m, 5)
    g = torch.Generator().manual_seed(1)
    idx, logp = seqrl.select_candidates(lp, mode="sample", generator=g)
    (logp * reward[idx]).mean().backward()
    estimate = scores.grad
    # Monte-Carlo error ~ std/sqrt(m); the gradient entries are O(1)
    torch.testing.assert_close(estimate, analytic, atol=0.03, rtol=0.0)
    assert analytic.abs().max() > 0.3  # the check is not trivially satisfied


@pytest.mark.parametrize(
    ("kwargs", "err"),
    [
        ({"scores": torch.rand(5)}, ValueError),
        ({"scores": torch.rand(2, 0)}, ValueError),
        ({"scores": torch.tensor([[0.5, 1.5]])}, ValueError),
        ({"scores": torch.tensor([[0.5, float("nan")]])}, ValueError),
        ({"scores": torch.tensor([[1, 0]])}, TypeError),
        ({"scores": [[0.5, 0.5]]}, TypeError),
        ({"scores": torch.rand(1, 3), "transform": "sigmoid"}, ValueError),
        ({"scores": torch.rand(1, 3), "temperature": -1.0}, ValueError),
        ({"scores": torch.rand(1, 3), "eps": 0.7}, ValueError),
    ],
)
def test_bad_inputs(kwargs: dict, err: type) -> None:
    scores = kwargs.pop("scores")
    with pytest.raises(err):
        seqrl.score_map_log_probs(scores, **kwargs)


def test_select_bad_inputs() -> None:
    lp = torch.log_softmax(torch.randn(2, 3), -1)
    with pytest.raises(ValueError, match="mode"):
        seqrl.select_candidates(lp, mode="greedy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="indices"):
        seqrl.candidate_log_prob(lp, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        seqrl.candidate_log_prob(lp, torch.tensor([0]))
    with pytest.raises(TypeError):
        seqrl.candidate_log_prob(lp, torch.tensor([0.0, 1.0]))


def test_temperature_zero_is_the_argmax() -> None:
    # well-separated scores so that the small-temperature check below is not a near tie
    gen = torch.Generator().manual_seed(0)
    perm = torch.stack([torch.randperm(9, generator=gen) for _ in range(64)]).double()
    scores = ((perm + 0.5) / 9.0).requires_grad_(True)
    lp = seqrl.score_map_log_probs(scores, temperature=0.0)
    best = scores.detach().argmax(-1)
    assert torch.equal(lp.detach().argmax(-1), best)
    assert torch.equal(torch.isfinite(lp), torch.nn.functional.one_hot(best, 9).bool())
    g = torch.Generator().manual_seed(0)
    idx, chosen = seqrl.select_candidates(lp, mode="sample", generator=g)
    assert torch.equal(idx, best)
    assert torch.equal(chosen.detach(), torch.zeros(64, dtype=torch.float64))
    chosen.sum().backward()  # still attached to the graph, with zero gradient
    assert scores.grad is not None and torch.equal(scores.grad, torch.zeros_like(scores))
    assert float(seqrl.categorical_entropy(lp.detach()).abs().max()) == 0.0
    # a small positive temperature approaches the same distribution
    near = seqrl.score_map_log_probs(scores.detach(), temperature=1e-2).exp()
    torch.testing.assert_close(near, lp.detach().exp(), atol=1e-6, rtol=0)
