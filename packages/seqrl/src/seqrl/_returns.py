"""n-step returns, advantages and actor-critic losses (Dunnhofer et al. 2020, eqs. 5-7; A3C).

Notation: a segment has ``T`` steps ``t = 0 .. T-1`` with rewards ``r_t``, state values
``v_t = V(s_t)`` and a bootstrap value ``v_T = V(s_T)`` of the state after the last step (zero
when the episode ended there). ``v_tp1`` is ``v_{t+1}``. All tensors are ``[..., T]`` with
any leading batch dimensions; losses sum over time and average over the leading dimensions.

Dunnhofer et al. 2020 prints the value target of eq. 7 as ``R_i = sum_{k=1}^{i} gamma^(k-1) r_k`` (a
sum up to step ``i``); its text describes the value as "the cumulative reward that the student
expects to receive from s_t to the end of the interaction", so we use the standard A3C return
from step ``i`` onwards, bootstrapped from ``v_T``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from ._checks import (
    check_choice,
    check_finite,
    check_int,
    check_nonempty,
    check_positive,
    check_same_device,
    check_tensor,
)


def _series(x: Tensor, name: str) -> Tensor:
    check_tensor(x, name)
    if x.ndim == 0:
        raise ValueError(f"{name} must have shape [..., T], got a scalar")
    check_nonempty(x, name)
    check_finite(x.detach(), name)
    return x


def _same_shape(a: Tensor, b: Tensor, na: str, nb: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{na} and {nb} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def _gamma(gamma: float) -> None:
    check_positive(gamma, "gamma", allow_zero=True)
    if gamma > 1:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")


def bootstrap_value(v_T: Tensor | float, terminal: Any, *, like: Tensor) -> Tensor:
    """``v_T`` where the segment was cut (bootstrap), 0 where the episode ended (terminal).

    Args:
        v_T: ``Tensor[...]`` (or float) value of the state after the last step; copied to
            ``like``'s device (the one argument that may sit elsewhere, e.g. a bootstrap value
            computed by the model on its device).
        terminal: bool / ``bool Tensor[...]``: True where the episode ended.
        like: a ``Tensor[..., T]`` series whose leading shape, dtype and device to follow.

    Returns:
        ``Tensor[...]`` detached.
    """
    lead = like.shape[:-1]
    v = torch.as_tensor(v_T, dtype=like.dtype, device=like.device).detach()
    if v.shape != lead:
        if v.ndim == 0:
            v = v.expand(lead)
        else:
            raise ValueError(f"v_T must have shape {tuple(lead)}, got {tuple(v.shape)}")
    check_finite(v, "v_T")
    term = torch.as_tensor(terminal, device=like.device)
    if term.dtype != torch.bool:
        raise TypeError(f"terminal must be bool, got dtype {term.dtype}")
    return torch.where(term, torch.zeros_like(v), v)


def n_step_returns(
    r_t: Tensor,
    v_t: Tensor,
    v_T: Tensor | float,
    *,
    n: int,
    gamma: float = 1.0,
    terminal: Any = False,
) -> Tensor:
    """n-step returns ``G_t = sum_{k<m} gamma^k r_{t+k} + gamma^m v_{t+m}``, ``m = min(n, T-t)``.

    Steps whose n-step window passes the segment end bootstrap from ``v_T`` (or from 0 when
    ``terminal``). With ``n >= T`` and ``terminal=True`` this is the Monte-Carlo return.

    Args:
        r_t: ``Tensor[..., T]`` rewards.
        v_t: ``Tensor[..., T]`` values V(s_t) (detached: returns are targets).
        v_T: ``Tensor[...]`` value of the state after the last step.
        n: look-ahead; >= 1.
        gamma: discount in [0, 1]; Dunnhofer et al. 2020 uses 1.
        terminal: bool (or ``bool Tensor[...]``): the episode ended after the last step.

    Returns:
        ``Tensor[..., T]`` detached returns.
    """
    check_same_device(("r_t", r_t), ("v_t", v_t))
    _series(r_t, "r_t")
    _series(v_t, "v_t")
    _same_shape(r_t, v_t, "r_t", "v_t")
    check_int(n, "n", minimum=1)
    _gamma(gamma)
    r = r_t.detach()
    T = r.shape[-1]
    n = min(n, T)
    boot = bootstrap_value(v_T, terminal, like=r)
    values = torch.cat((v_t.detach(), boot.unsqueeze(-1)), dim=-1)  # [..., T+1]
    r_pad = torch.cat((r, r.new_zeros((*r.shape[:-1], n))), dim=-1)  # zeros past the end
    out = torch.zeros_like(r)
    for k in range(n):
        out = out + (gamma**k) * r_pad[..., k : k + T]
    t = torch.arange(T, device=r.device)
    end = torch.clamp(t + n, max=T)  # index of the bootstrap state, [T]
    m = (end - t).to(r.dtype)  # steps actually summed
    boot_v = values.index_select(-1, end)  # [..., T]
    return out + torch.pow(torch.full_like(m, gamma), m) * boot_v


def discounted_returns(
    r_t: Tensor, v_T: Tensor | float = 0.0, *, gamma: float = 1.0, terminal: Any = False
) -> Tensor:
    """A3C segment returns ``R_t = r_t + gamma R_{t+1}``, ``R_T = v_T`` (0 if terminal).

    Every step looks ahead to the segment end (n = T - t); equals
    ``n_step_returns(..., n=T)``. Dunnhofer et al. 2020 eq. 7 (see the module note on its indexing).

    Args:
        r_t: ``Tensor[..., T]`` rewards.
        v_T: ``Tensor[...]`` bootstrap value (default 0).
        gamma: discount in [0, 1].
        terminal: the episode ended after the last step.

    Returns:
        ``Tensor[..., T]`` detached.
    """
    _series(r_t, "r_t")
    _gamma(gamma)
    r = r_t.detach()
    T = r.shape[-1]
    boot = bootstrap_value(v_T, terminal, like=r)
    # R_t = sum_{k=t}^{T-1} gamma^{k-t} r_k + gamma^{T-t} v_T, as one triangular matmul.
    t = torch.arange(T, device=r.device, dtype=r.dtype)
    power = t.unsqueeze(0) - t.unsqueeze(1)  # [T(t), T(k)] = k - t
    discount = torch.where(power >= 0, torch.full_like(power, gamma) ** power.clamp(min=0), 0.0)
    tail = torch.full_like(t, gamma) ** (T - t)  # [T]
    return r @ discount.T + boot.unsqueeze(-1) * tail


def td_advantages(r_t: Tensor, v_t: Tensor, v_tp1: Tensor, *, gamma: float = 1.0) -> Tensor:
    """One-step advantages ``r_t + gamma v_tp1 - v_t`` (Dunnhofer et al. 2020, eq. 6), detached."""
    check_same_device(("r_t", r_t), ("v_t", v_t), ("v_tp1", v_tp1))
    _series(r_t, "r_t")
    _series(v_t, "v_t")
    _series(v_tp1, "v_tp1")
    _same_shape(r_t, v_t, "r_t", "v_t")
    _same_shape(r_t, v_tp1, "r_t", "v_tp1")
    _gamma(gamma)
    return (r_t + gamma * v_tp1 - v_t).detach()


def next_values(v_t: Tensor, v_T: Tensor | float, *, terminal: Any = False) -> Tensor:
    """``v_tp1``: the values shifted by one step, ending in the bootstrap value (detached)."""
    _series(v_t, "v_t")
    boot = bootstrap_value(v_T, terminal, like=v_t)
    return torch.cat((v_t.detach()[..., 1:], boot.unsqueeze(-1)), dim=-1)


def policy_gradient_loss(log_prob_t: Tensor, advantage_t: Tensor) -> Tensor:
    """``-sum_t log pi(a_t|s_t) * A_t`` (eq. 6), summed over time, mean over batch dims.

    The advantage is treated as a constant (detached).
    """
    check_same_device(("log_prob_t", log_prob_t), ("advantage_t", advantage_t))
    _series(log_prob_t, "log_prob_t")
    _series(advantage_t, "advantage_t")
    _same_shape(log_prob_t, advantage_t, "log_prob_t", "advantage_t")
    return -(log_prob_t * advantage_t.detach()).sum(dim=-1).mean()


def value_loss(returns_t: Tensor, v_t: Tensor) -> Tensor:
    """``sum_t 0.5 (R_t - v_t)^2`` (eq. 7), summed over time, mean over batch dims."""
    check_same_device(("returns_t", returns_t), ("v_t", v_t))
    _series(returns_t, "returns_t")
    _series(v_t, "v_t")
    _same_shape(returns_t, v_t, "returns_t", "v_t")
    return (0.5 * (returns_t.detach() - v_t) ** 2).sum(dim=-1).mean()


@dataclass(frozen=True)
class ActorCriticLoss:
    """Components of :func:`actor_critic_loss` (``total`` is what to back-propagate).

    Attributes:
        total: ``policy + value_coef * value - entropy_coef * entropy``.
        policy: eq. 6 term.
        value: eq. 7 term.
        entropy: summed entropy (0 when no entropies were given).
        returns_t: ``Tensor[..., T]`` value targets.
        advantage_t: ``Tensor[..., T]`` advantages used by the policy term.
    """

    total: Tensor
    policy: Tensor
    value: Tensor
    entropy: Tensor
    returns_t: Tensor
    advantage_t: Tensor


def actor_critic_loss(
    log_prob_t: Tensor,
    v_t: Tensor,
    r_t: Tensor,
    v_T: Tensor | float,
    *,
    terminal: Any = False,
    gamma: float = 1.0,
    n: int | None = None,
    advantage: Literal["td", "n_step"] = "td",
    value_coef: float = 1.0,
    entropy_t: Tensor | None = None,
    entropy_coef: float = 0.0,
) -> ActorCriticLoss:
    """Advantage actor-critic loss of one segment (Dunnhofer et al. 2020, eqs. 5-7).

    Args:
        log_prob_t: ``Tensor[..., T]`` log pi(a_t | s_t) (with graph).
        v_t: ``Tensor[..., T]`` values V(s_t) (with graph).
        r_t: ``Tensor[..., T]`` rewards.
        v_T: ``Tensor[...]`` value of the state after the last step (bootstrap).
        terminal: True where the episode ended after the last step (bootstrap 0).
        gamma: discount; Dunnhofer et al. 2020 uses 1.
        n: n-step look-ahead of the value targets; None = to the segment end (A3C, t_max).
        advantage: ``"td"`` = ``r_t + gamma v_tp1 - v_t`` as printed in eq. 6, or
            ``"n_step"`` = ``R_t - v_t`` (the usual A3C choice).
        value_coef: weight of the value loss (paper: L_pi + L_v, i.e. 1).
        entropy_t: optional ``Tensor[..., T]`` policy entropies for an exploration bonus.
        entropy_coef: weight of the bonus (0 = off).

    Returns:
        :class:`ActorCriticLoss`.
    """
    check_same_device(
        ("log_prob_t", log_prob_t),
        ("v_t", v_t),
        ("r_t", r_t),
        ("entropy_t", entropy_t),
    )
    _series(log_prob_t, "log_prob_t")
    _series(v_t, "v_t")
    _series(r_t, "r_t")
    _same_shape(log_prob_t, v_t, "log_prob_t", "v_t")
    _same_shape(log_prob_t, r_t, "log_prob_t", "r_t")
    check_choice(advantage, "advantage", ("td", "n_step"))
    check_positive(value_coef, "value_coef", allow_zero=True)
    check_positive(entropy_coef, "entropy_coef", allow_zero=True)
    T = r_t.shape[-1]
    horizon = T if n is None else n
    returns = n_step_returns(r_t, v_t, v_T, n=horizon, gamma=gamma, terminal=terminal)
    if advantage == "td":
        v_tp1 = next_values(v_t, v_T, terminal=terminal)
        adv = td_advantages(r_t, v_t.detach(), v_tp1, gamma=gamma)
    else:
        adv = (returns - v_t.detach()).detach()
    pol = policy_gradient_loss(log_prob_t, adv)
    val = value_loss(returns, v_t)
    if entropy_t is not None:
        _series(entropy_t, "entropy_t")
        _same_shape(entropy_t, r_t, "entropy_t", "r_t")
        ent = entropy_t.sum(dim=-1).mean()
    else:
        ent = log_prob_t.new_zeros(())
    total = pol + value_coef * val - entropy_coef * ent
    return ActorCriticLoss(total, pol, val, ent, returns, adv)


def fit_linear_value(
    features: Tensor, returns: Tensor, *, ridge: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Least-squares critic: the linear value head ``v = features @ w + b`` fitted to returns.

    Minimises ``sum (features w + b - returns)^2 + ridge |w|^2`` (the bias is not penalised)
    in closed form, solved in float64. With ``returns`` the Monte Carlo returns of eq. 7
    (Dunnhofer et al. 2020; e.g. from :func:`discounted_returns`) this is batch Monte Carlo
    policy evaluation of a critic whose last layer is linear, the regression the A3C value
    loss (eq. 7) performs by gradient steps, done in one solve on a frozen feature extractor.

    Args:
        features: ``Tensor[..., D]`` inputs of the value head (e.g. the LSTM output).
        returns: ``Tensor[...]`` targets, the leading shape of ``features``.
        ridge: L2 penalty ``>= 0`` on ``w``.

    Returns:
        ``(weight [1, D], bias [1])`` in ``features``' dtype and device, the layout of a
        ``torch.nn.Linear(D, 1)``.
    """
    check_tensor(features, "features")
    check_tensor(returns, "returns")
    check_same_device(("features", features), ("returns", returns))
    if features.ndim < 1 or features.shape[:-1] != returns.shape:
        raise ValueError(
            f"returns must have shape {tuple(features.shape[:-1])} (features [..., D]), "
            f"got {tuple(returns.shape)}"
        )
    check_nonempty(returns, "returns")
    check_finite(features.detach(), "features")
    check_finite(returns.detach(), "returns")
    if not (isinstance(ridge, (int, float)) and ridge >= 0 and ridge < float("inf")):
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}")
    x = features.detach().reshape(-1, features.shape[-1]).double()
    y = returns.detach().reshape(-1).double()
    mean_x, mean_y = x.mean(0), y.mean()
    xc, yc = x - mean_x, y - mean_y
    gram = xc.T @ xc + ridge * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    w = torch.linalg.solve(gram, xc.T @ yc)
    b = mean_y - mean_x @ w
    dtype = features.dtype if features.is_floating_point() else torch.float32
    return w[None].to(dtype), b.reshape(1).to(dtype)
