"""Gaussian policy over relative box actions (Dunnhofer et al. 2020, Sec. 3.3, autonomous students).

Actions are sampled from ``N(mu, sigma)`` with ``mu`` the network's action and
``sigma = |mu - a*|`` where ``a* = phi(g_t, b_{t-1})`` is the action reaching the ground truth:
the distribution shrinks as the student approaches the right action and spreads when it is far.
A floor ``min_sigma`` keeps the density proper when ``mu == a*``. The executed action is clamped
to [-1, 1]^4; the log-probability is that of the raw Gaussian sample (the clamp is part of the
environment), which keeps the REINFORCE estimate unbiased.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._checks import (
    check_broadcast,
    check_finite,
    check_positive,
    check_same_device,
    check_tensor,
)


def _check_actions(value: Tensor, name: str) -> None:
    check_tensor(value, name)
    if value.ndim == 0 or value.shape[-1] != 4:
        raise ValueError(f"{name} must have shape [..., 4], got {tuple(value.shape)}")
    check_finite(value, name)


def gaussian_box_sigma(
    mu: Tensor, target_action: Tensor, *, min_sigma: float = 0.01, detach: bool = True
) -> Tensor:
    """``sigma = max(|mu - a*|, min_sigma)`` (Dunnhofer et al. 2020, Sec. 3.3; the floor is ours).

    Args:
        mu: ``Tensor[..., 4]`` the policy's mean action.
        target_action: ``Tensor[..., 4]`` ``phi(g_t, b_{t-1})``, same shape.
        min_sigma: lower bound on each standard deviation.
        detach: stop gradients through sigma (default): sigma is an exploration scale, the
            policy gradient flows through ``mu`` only.

    Returns:
        ``Tensor[..., 4]`` per-dimension standard deviations.
    """
    check_same_device(("mu", mu), ("target_action", target_action))
    _check_actions(mu, "mu")
    _check_actions(target_action, "target_action")
    if mu.shape != target_action.shape:
        raise ValueError(
            f"mu and target_action must have the same shape, got {tuple(mu.shape)} and "
            f"{tuple(target_action.shape)}"
        )
    check_positive(min_sigma, "min_sigma")
    sigma = (mu - target_action).abs().clamp(min=min_sigma)
    return sigma.detach() if detach else sigma


def gaussian_log_prob(actions: Tensor, mu: Tensor, sigma: Tensor) -> Tensor:
    """Log-density of ``actions`` under the diagonal Gaussian, summed over the 4 dims.

    Args:
        actions: ``Tensor[..., 4]``.
        mu: ``Tensor[..., 4]``.
        sigma: ``Tensor[..., 4]`` positive.

    Returns:
        ``Tensor[...]``.
    """
    check_same_device(("actions", actions), ("mu", mu), ("sigma", sigma))
    _check_actions(actions, "actions")
    _check_actions(mu, "mu")
    _check_actions(sigma, "sigma")
    check_broadcast(("actions", actions), ("mu", mu), ("sigma", sigma))
    if bool((sigma <= 0).any()):
        raise ValueError("sigma must be > 0 everywhere")
    z = (actions - mu) / sigma
    return (-0.5 * z * z - sigma.log() - 0.5 * math.log(2 * math.pi)).sum(dim=-1)


def gaussian_entropy(sigma: Tensor) -> Tensor:
    """Entropy of the diagonal Gaussian ``Tensor[..., 4] -> Tensor[...]``."""
    _check_actions(sigma, "sigma")
    if bool((sigma <= 0).any()):
        raise ValueError("sigma must be > 0 everywhere")
    return (sigma.log() + 0.5 * math.log(2 * math.pi * math.e)).sum(dim=-1)


def sample_box_action(
    mu: Tensor,
    sigma: Tensor,
    *,
    mode: str = "sample",
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Draw (or take the mean of) a box action and its log-probability.

    Args:
        mu: ``Tensor[..., 4]`` mean action.
        sigma: ``Tensor[..., 4]`` standard deviations (e.g. :func:`gaussian_box_sigma`).
        mode: ``"sample"`` (a ~ N(mu, sigma)) or ``"argmax"`` (a = mu, the tracking mode).
        generator: optional ``torch.Generator`` for reproducible sampling.

    Returns:
        ``(action, log_prob)``: ``action Tensor[..., 4]`` clamped to [-1, 1] and detached;
        ``log_prob Tensor[...]`` of the unclamped draw, differentiable w.r.t. ``mu``.
    """
    check_same_device(("mu", mu), ("sigma", sigma))
    _check_actions(mu, "mu")
    _check_actions(sigma, "sigma")
    if mu.shape != sigma.shape:
        raise ValueError(
            f"mu and sigma must have the same shape, got {tuple(mu.shape)} and {tuple(sigma.shape)}"
        )
    if mode == "sample":
        noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        raw = mu.detach() + sigma.detach() * noise
    elif mode == "argmax":
        raw = mu.detach()
    else:
        raise ValueError(f"mode must be one of ('sample', 'argmax'), got {mode!r}")
    return raw.clamp(-1.0, 1.0), gaussian_log_prob(raw, mu, sigma)
