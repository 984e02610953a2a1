"""Multi-step loss (Wang et al. 2020, eq. 4; MAML++) and its epoch schedule.

`F = sum_{k=0..K} gamma_k L(theta_k)` over the query losses after every inner step, including
`theta_0`. The weights start uniform and anneal linearly to a target vector; the outer gradient
is first order for the first epochs and second order afterwards (Wang et al. 2020, Sec. 4.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

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
        epoch: training progress in epochs (fractional allowed), >= 0.
        num_steps: K, the number of inner steps (the result has K+1 entries).
        target: final weights, K+1 non-negative numbers; None keeps uniform weights.
        anneal_epochs: epochs to reach the target (0 = target from the start).
        device: device of the returned tensor.

    Returns:
        `Tensor[K+1]` (float32).
    """
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"num_steps must be an int >= 0, got {num_steps!r}")
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    if anneal_epochs < 0:
        raise ValueError(f"anneal_epochs must be >= 0, got {anneal_epochs}")
    uniform = torch.full((num_steps + 1,), 1.0 / (num_steps + 1), device=device)
    if target is None:
        return uniform
    goal = torch.as_tensor(list(target), dtype=torch.float32, device=device)
    if goal.shape != (num_steps + 1,):
        raise ValueError(
            f"target has {goal.numel()} weights but num_steps={num_steps} needs {num_steps + 1} "
            "(theta_0 .. theta_K)"
        )
    if bool((goal < 0).any()):
        raise ValueError(f"target weights must be >= 0, got {list(target)}")
    t = 1.0 if anneal_epochs == 0 else min(float(epoch) / anneal_epochs, 1.0)
    return (1.0 - t) * uniform + t * goal


def multi_step_loss(losses: Tensor | Sequence[Tensor], weights: Tensor) -> Tensor:
    """`sum_k gamma_k L_k` (Wang et al. 2020, eq. 4).

    Args:
        losses: `Tensor[..., K+1]` or a sequence of K+1 scalar tensors (query loss at theta_k).
        weights: `Tensor[K+1]` from `multi_step_weights`.

    Returns:
        `Tensor[...]`, the weighted sum over the last dimension.
    """
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
        if self.anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be >= 0, got {self.anneal_epochs}")
        if self.first_order_epochs < 0:
            raise ValueError(f"first_order_epochs must be >= 0, got {self.first_order_epochs}")

    def weights(
        self, epoch: float, *, num_steps: int, device: torch.device | str | None = None
    ) -> Tensor:
        """`Tensor[K+1]` loss weights at `epoch` (one-hot on theta_K if `last_only`)."""
        if self.last_only:
            w = torch.zeros(num_steps + 1, device=device)
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
        return float(epoch) < self.first_order_epochs
