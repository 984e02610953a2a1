"""Multi-step loss (Wang et al. 2020, eq. 4; MAML++) and its epoch schedule.

`F = sum_{k=0..K} gamma_k L(theta_k)` over the query losses after every inner step, including
`theta_0`. The weights start uniform and anneal linearly to a target vector; the outer gradient
is first order for the first epochs and second order afterwards (Wang et al. 2020, Sec. 4.2).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ._checks import check_device_arg, check_real

__all__ = ["MultiStepSchedule", "multi_step_loss", "multi_step_weights"]

PAPER_TARGET = (0.05, 0.10, 0.20, 0.30, 0.35)


def multi_step_weights(
    epoch: float,
    *,
    num_steps: int,
    target: Sequence[float] | None = PAPER_TARGET,
    anneal_epochs: float = 15.0,
    device: torch.device | str | None = None,
) -> Tensor:
    """Weights `gamma_0..gamma_K` of the multi-step loss at `epoch` (Wang et al. 2020, Sec. 4.2).

    Linear interpolation from uniform `1/(K+1)` at epoch 0 to `target` at `anneal_epochs` (held
    afterwards). Wang et al. 2020 anneals to (0.05, 0.10, 0.20, 0.30, 0.35) for K=4; it does not
    state the annealing length, 15 epochs (its first-order phase) is this library's default.

    Args:
        epoch: training progress in epochs (fractional allowed), a finite number >= 0.
        num_steps: K, the number of inner steps (the result has K+1 entries).
        target: final weights, K+1 finite numbers >= 0 with a positive sum; None keeps
            uniform weights.
        anneal_epochs: epochs to reach the target (0 = target from the start, inf = never).
        device: device of the returned tensor (one this machine has).

    Returns:
        `Tensor[K+1]` (float32).

    Raises:
        TypeError: a non-number epoch/anneal_epochs or a target that is not a sequence.
        ValueError: NaN or negative epoch/anneal_epochs, a NaN/inf/negative target weight,
            an all-zero target, or a device that is not there.
    """
    _check_num_steps(num_steps)
    epoch = check_real("epoch", epoch, low=0.0)
    anneal_epochs = check_real("anneal_epochs", anneal_epochs, low=0.0, inf_ok=True)
    device = check_device_arg("device", device)
    uniform = torch.full((num_steps + 1,), 1.0 / (num_steps + 1), device=device)
    if target is None:
        return uniform
    values = _check_target(target)
    if len(values) != num_steps + 1:
        raise ValueError(
            f"target has {len(values)} weights but num_steps={num_steps} needs {num_steps + 1} "
            "(theta_0 .. theta_K)"
        )
    goal = torch.as_tensor(values, dtype=torch.float32, device=device)
    t = 1.0 if anneal_epochs == 0 else min(float(epoch) / anneal_epochs, 1.0)
    return (1.0 - t) * uniform + t * goal


def _check_num_steps(num_steps: Any) -> None:
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"num_steps must be an int >= 0, got {num_steps!r}")


def _check_target(target: Any) -> list[float]:
    """Multi-step target weights: finite numbers >= 0 with a positive sum (host values)."""
    if isinstance(target, (str, bytes)) or not isinstance(target, Sequence):
        raise TypeError(f"target must be a sequence of numbers, got {type(target).__name__}")
    values = []
    for w in target:
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(w):
            raise ValueError(f"target weights must be finite numbers, got {list(target)!r}")
        if w < 0:
            raise ValueError(f"target weights must be >= 0, got {list(target)}")
        values.append(float(w))
    if values and sum(values) <= 0:
        raise ValueError(f"target weights sum to 0 (the objective would be 0): {list(target)}")
    return values


def multi_step_loss(losses: Tensor | Sequence[Tensor], weights: Tensor) -> Tensor:
    """`sum_k gamma_k L_k` (Wang et al. 2020, eq. 4).

    Args:
        losses: `Tensor[..., K+1]` or a sequence of K+1 scalar tensors (query loss at theta_k).
            NaN or inf losses are not masked: they propagate to the result (like torch).
        weights: `Tensor[K+1]` from `multi_step_weights`.

    Returns:
        `Tensor[...]`, the weighted sum over the last dimension.
    """
    if not isinstance(weights, Tensor):
        raise TypeError(f"weights must be a Tensor[K+1], got {type(weights).__name__}")
    if not isinstance(losses, Tensor):
        if isinstance(losses, (str, bytes)) or not isinstance(losses, Sequence) or not losses:
            raise TypeError("losses must be a Tensor[..., K+1] or a non-empty sequence of tensors")
        for k, loss in enumerate(losses):
            if not isinstance(loss, Tensor):
                raise TypeError(f"losses[{k}] must be a tensor, got {type(loss).__name__}")
    stacked = losses if isinstance(losses, Tensor) else torch.stack(list(losses), dim=-1)
    if stacked.dim() == 0 or stacked.shape[-1] != weights.shape[-1] or weights.dim() != 1:
        raise ValueError(
            f"losses last dim {tuple(stacked.shape)} does not match weights {tuple(weights.shape)}"
        )
    return (stacked * weights.to(stacked)).sum(dim=-1)


@dataclass(frozen=True)
class MultiStepSchedule:
    """Epoch schedule of the meta-objective (Wang et al. 2020, Sec. 4.2).

    Attributes:
        target: final multi-step weights, K+1 entries ((0.05, 0.10, 0.20, 0.30, 0.35) for K=4);
            None keeps uniform weights; `last_only=True` ignores both and uses plain MAML.
        anneal_epochs: epochs from uniform to `target` (not given in the paper; default 15).
        first_order_epochs: epochs trained with the first-order approximation before switching
            to second order (Wang et al. 2020: 15 of 20).
        last_only: plain MAML objective `L(theta_K)` instead of the multi-step loss.
    """

    target: tuple[float, ...] | None = PAPER_TARGET
    anneal_epochs: float = 15.0
    first_order_epochs: float = 15.0
    last_only: bool = False

    def __post_init__(self) -> None:
        check_real("anneal_epochs", self.anneal_epochs, low=0.0, inf_ok=True)
        check_real("first_order_epochs", self.first_order_epochs, low=0.0, inf_ok=True)
        if self.target is not None:
            _check_target(self.target)
        if not isinstance(self.last_only, bool):
            raise TypeError(f"last_only must be a bool, got {self.last_only!r}")

    def weights(
        self, epoch: float, *, num_steps: int, device: torch.device | str | None = None
    ) -> Tensor:
        """`Tensor[K+1]` loss weights at `epoch` (one-hot on theta_K if `last_only`)."""
        if self.last_only:
            _check_num_steps(num_steps)
            check_real("epoch", epoch, low=0.0)
            w = torch.zeros(num_steps + 1, device=check_device_arg("device", device))
            w[-1] = 1.0
            return w
        return multi_step_weights(
            epoch,
            num_steps=num_steps,
            target=self.target,
            anneal_epochs=self.anneal_epochs,
            device=device,
        )

    def first_order(self, epoch: float) -> bool:
        """True while `epoch < first_order_epochs` (the FO -> SO switch)."""
        return check_real("epoch", epoch, low=0.0) < self.first_order_epochs
