"""Gaussian box-action policy (Dunnhofer et al. 2020, Sec. 3.3), on the ``device`` fixture."""

import pytest
import torch

import seqrl


def test_sigma_is_abs_difference_with_floor_and_detached(device: torch.device) -> None:
    mu = torch.tensor([0.2, -0.5, 0.0, 0.9], device=device, requires_grad=True)
    target = torch.tensor([0.5, -0.5, -0.3, 0.2], device=device)
    sigma = seqrl.gaussian_box_sigma(mu, target, min_sigma=0.05)
    torch.testing.assert_close(sigma, torch.tensor([0.3, 0.05, 0.3, 0.7], device=device))
    assert not sigma.requires_grad
    assert seqrl.gaussian_box_sigma(mu, target, detach=False).requires_grad


def test_log_prob_and_entropy_match_torch_normal(device: torch.device) -> None:
    torch.manual_seed(0)
    mu, sigma = torch.randn(6, 4, device=device), torch.rand(6, 4, device=device) + 0.1
    a = torch.randn(6, 4, device=device)
    normal = torch.distributions.Normal(mu, sigma)
    torch.testing.assert_close(seqrl.gaussian_log_prob(a, mu, sigma), normal.log_prob(a).sum(-1))
    torch.testing.assert_close(seqrl.gaussian_entropy(sigma), normal.entropy().sum(-1))


def test_sample_is_clamped_and_log_prob_is_of_the_raw_draw(device: torch.device) -> None:
    mu = torch.full((5000, 4), 0.9, device=device, requires_grad=True)
    sigma = torch.full((5000, 4), 0.5, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    a, logp = seqrl.sample_box_action(mu, sigma, generator=g)
    assert a.device == logp.device == mu.device
    assert a.min() >= -1 and a.max() <= 1 and (a == 1).any()
    assert not a.requires_grad and logp.requires_grad
    g = torch.Generator(device=device).manual_seed(0)
    raw = mu.detach() + sigma * torch.randn(mu.shape, generator=g, device=device)
    torch.testing.assert_close(logp, seqrl.gaussian_log_prob(raw, mu, sigma))
    # the draws follow N(mu, sigma)
    assert abs(float(raw.mean()) - 0.9) < 0.02 and abs(float(raw.std()) - 0.5) < 0.02


def test_argmax_mode_returns_mu(device: torch.device) -> None:
    mu = torch.tensor([0.1, -0.2, 0.3, 1.5], device=device)
    a, _ = seqrl.sample_box_action(mu, torch.ones(4, device=device), mode="argmax")
    torch.testing.assert_close(a, torch.tensor([0.1, -0.2, 0.3, 1.0], device=device))


def test_gaussian_gradient_is_unbiased(device: torch.device) -> None:
    """E[r(a) grad_mu log N(a; mu, sigma)] equals grad_mu E[r(a)] for r(a) = -(a - c)^2."""
    mu = torch.tensor([0.1, -0.2, 0.4, 0.0], dtype=torch.float64, device=device, requires_grad=True)
    sigma = torch.tensor([0.3, 0.5, 0.2, 0.4], dtype=torch.float64, device=device)
    c = torch.tensor([0.5, 0.5, -0.5, 0.0], dtype=torch.float64, device=device)
    analytic = -2 * (mu.detach() - c)  # d/dmu E[-(a-c)^2] = -2 (mu - c)
    m = 200_000
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(m, 4, generator=g, dtype=torch.float64).to(device)
    raw = mu.detach() + sigma * noise
    r = -((raw - c) ** 2).sum(-1)
    logp = seqrl.gaussian_log_prob(raw, mu.expand(m, 4), sigma.expand(m, 4))
    ((r - r.mean()) * logp).mean().backward()
    torch.testing.assert_close(mu.grad, analytic, atol=0.03, rtol=0.0)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="shape"):
        seqrl.gaussian_box_sigma(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="same shape"):
        seqrl.gaussian_box_sigma(torch.zeros(2, 4), torch.zeros(4))
    with pytest.raises(ValueError, match="min_sigma"):
        seqrl.gaussian_box_sigma(torch.zeros(4), torch.zeros(4), min_sigma=0.0)
    with pytest.raises(ValueError, match="non-finite"):
        seqrl.sample_box_action(torch.tensor([0.0, float("nan"), 0, 0]), torch.ones(4))
    with pytest.raises(ValueError, match="sigma"):
        seqrl.gaussian_log_prob(torch.zeros(4), torch.zeros(4), torch.zeros(4))
    with pytest.raises(ValueError, match="mode"):
        seqrl.sample_box_action(torch.zeros(4), torch.ones(4), mode="mean")
    with pytest.raises(TypeError):
        seqrl.sample_box_action([0.0] * 4, torch.ones(4))  # type: ignore[arg-type]
