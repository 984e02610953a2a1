"""Self-critical sequence training (SCST) for trackers (Kim et al. 2022, eqs. 4 and 6, Algorithm 1).

Each episode is played twice with shared weights: a sampling tracker (stochastic candidate
choice) and an argmax tracker (greedy choice, the test-time tracker). The greedy episode's
reward is the baseline: ``L = -(r(l) - r(l')) * sum_t log p(l_t)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import torch
from torch import Tensor

from ._checks import (
    check_choice,
    check_finite,
    check_ndim,
    check_nonempty,
    check_same_device,
    check_tensor,
)

StepMode = Literal["sample", "argmax"]


def scst_loss(
    log_probs: Tensor,
    reward_sample: Tensor,
    reward_greedy: Tensor,
    *,
    mask: Tensor | None = None,
    reduction: Literal["mean", "sum"] = "mean",
) -> Tensor:
    """SCST loss ``-(r - r') * sum_t log p(l_t)`` (Kim et al. 2022, eq. 6).

    Args:
        log_probs: ``Tensor[B, T]`` log-probabilities of the sampled choices.
        reward_sample: ``Tensor[B]`` episode rewards of the sampling tracker, r(l).
        reward_greedy: ``Tensor[B]`` episode rewards of the argmax tracker, r(l') (baseline).
        mask: optional ``bool Tensor[B, T]``; False steps (padding) do not count.
        reduction: ``"mean"`` over the B episodes (default) or ``"sum"``.

    Returns:
        Scalar loss; gradients flow into ``log_probs`` only (rewards are constants).
    """
    check_same_device(
        ("log_probs", log_probs),
        ("reward_sample", reward_sample),
        ("reward_greedy", reward_greedy),
        ("mask", mask),
    )
    check_tensor(log_probs, "log_probs")
    check_ndim(log_probs, "log_probs", (2,), "[B, T]")
    check_nonempty(log_probs, "log_probs")
    check_choice(reduction, "reduction", ("mean", "sum"))
    b = log_probs.shape[0]
    for name, r in (("reward_sample", reward_sample), ("reward_greedy", reward_greedy)):
        check_tensor(r, name)
        if r.shape != (b,):
            raise ValueError(f"{name} must have shape [B]=({b},), got {tuple(r.shape)}")
        check_finite(r, name)
    if mask is not None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
            raise TypeError(f"mask must be a bool Tensor[B, T], got {mask!r:.60}")
        if mask.shape != log_probs.shape:
            raise ValueError(
                f"mask must have shape {tuple(log_probs.shape)}, got {tuple(mask.shape)}"
            )
        log_probs = torch.where(mask, log_probs, torch.zeros_like(log_probs))
    advantage = (reward_sample - reward_greedy).detach()  # [B]
    per_episode = -advantage * log_probs.sum(dim=1)  # [B]
    return per_episode.mean() if reduction == "mean" else per_episode.sum()


class StepFn(Protocol):
    """``step(state, frame, mode) -> (new_state, choice, log_prob)``.

    ``mode`` is ``"sample"`` or ``"argmax"``. ``state`` is whatever the tracker carries between
    frames (previous box, memory); ``step`` must return a new state rather than mutate the old
    one, because both passes start from the same initial state. ``log_prob`` is ``Tensor[B]``
    (or a scalar for one episode).
    """

    def __call__(self, state: Any, frame: Any, mode: StepMode) -> tuple[Any, Any, Tensor]: ...


@dataclass(frozen=True)
class SCSTRollout:
    """Both plays of an episode.

    Attributes:
        choices_sample: per-frame choices of the sampling tracker (length T).
        choices_greedy: per-frame choices of the argmax tracker (length T).
        log_probs: ``Tensor[B, T]`` log-probabilities of the sampled choices (with graph).
        reward_sample: ``Tensor[B]`` r(l).
        reward_greedy: ``Tensor[B]`` r(l').
        final_state_sample: state after the sampling pass.
        final_state_greedy: state after the argmax pass.
    """

    choices_sample: list[Any]
    choices_greedy: list[Any]
    log_probs: Tensor
    reward_sample: Tensor
    reward_greedy: Tensor
    final_state_sample: Any
    final_state_greedy: Any

    def loss(self, *, reduction: Literal["mean", "sum"] = "mean") -> Tensor:
        """:func:`scst_loss` of this rollout."""
        return scst_loss(
            self.log_probs, self.reward_sample, self.reward_greedy, reduction=reduction
        )


def _as_reward(value: Any, name: str, batch: int) -> Tensor:
    r = torch.as_tensor(value, dtype=torch.get_default_dtype()).detach().reshape(-1)
    if r.shape != (batch,):
        raise ValueError(f"reward_fn must return {batch} reward(s) for {name}, got shape {r.shape}")
    check_finite(r, f"reward_fn output ({name})")
    return r


def run_scst_episode(
    step: StepFn,
    initial_state: Any,
    frames: Iterable[Any],
    reward_fn: Callable[[list[Any]], Any],
) -> SCSTRollout:
    """Play one (batched) episode in sampling mode with gradients, then in argmax mode under
    ``torch.no_grad`` (Kim et al. 2022, Algorithm 1).

    Args:
        step: the tracker, see :class:`StepFn`.
        initial_state: state after initialisation on v_0 (shared by both passes).
        frames: the T tracked frames (or frame batches) v_1 .. v_T; iterated once.
        reward_fn: maps the list of T choices to episode rewards (``Tensor[B]`` or a float),
            e.g. the average overlap of the boxes they imply.

    Returns:
        :class:`SCSTRollout`; call ``.loss()`` for :func:`scst_loss`.
    """
    frame_list = list(frames)
    if not frame_list:
        raise ValueError("frames is empty: an episode needs at least one tracked frame")
    state = initial_state
    choices_s: list[Any] = []
    logps: list[Tensor] = []
    for t, frame in enumerate(frame_list):
        state, choice, log_prob = step(state, frame, "sample")
        if not isinstance(log_prob, Tensor):
            raise TypeError(f"step must return a Tensor log_prob, got {type(log_prob).__name__}")
        if log_prob.ndim > 1:
            raise ValueError(f"step log_prob must be Tensor[B] or scalar, got {log_prob.shape}")
        if logps and log_prob.shape != logps[0].shape:
            raise ValueError(f"step log_prob shape changed at frame {t}: {tuple(log_prob.shape)}")
        choices_s.append(choice)
        logps.append(log_prob)
    final_sample = state
    log_probs = torch.stack(logps, dim=-1)  # [B, T] or [T]
    if log_probs.ndim == 1:
        log_probs = log_probs.unsqueeze(0)
    check_finite(log_probs.detach(), "log_probs from step")
    state = initial_state
    choices_g: list[Any] = []
    with torch.no_grad():
        for frame in frame_list:
            state, choice, _ = step(state, frame, "argmax")
            choices_g.append(choice)
    batch = log_probs.shape[0]
    return SCSTRollout(
        choices_sample=choices_s,
        choices_greedy=choices_g,
        log_probs=log_probs,
        reward_sample=_as_reward(reward_fn(choices_s), "the sampling pass", batch).to(
            log_probs.device
        ),
        reward_greedy=_as_reward(reward_fn(choices_g), "the argmax pass", batch).to(
            log_probs.device
        ),
        final_state_sample=final_sample,
        final_state_greedy=state,
    )
