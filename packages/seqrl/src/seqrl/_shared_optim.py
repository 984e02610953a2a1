"""One optimiser shared by all A3C workers: Adam / RAdam whose moments and step counters live
in shared memory, so every worker's update continues the same optimiser (Hogwild, no lock).

The update rules are written out here rather than borrowed from ``torch.optim`` so that the
shared state layout is ours (not an implementation detail of torch) and so a worker's first
step does not import ``torch._dynamo`` (seconds per spawned process). Tests compare them with
``torch.optim.Adam`` / ``torch.optim.RAdam`` step by step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ._checks import check_choice, check_positive

OPTIMIZERS: tuple[str, ...] = ("radam", "adam")


@dataclass(frozen=True)
class OptimizerConfig:
    """Shared optimiser settings.

    Attributes:
        name: ``"radam"`` (Dunnhofer et al. 2020; Liu et al. 2020) or ``"adam"`` (Kingma & Ba 2015).
        lr: learning rate (Dunnhofer et al. 2020: 1e-6 for its ResNet-18 student; small toys need
            ~1e-3).
        betas: moment decay rates.
        eps: denominator epsilon.
        weight_decay: L2 penalty added to the gradient (Dunnhofer et al. 2020 adds 1e-4 to the
            distillation loss only; a loss hook can do that instead).
    """

    name: str = "radam"
    lr: float = 1e-6
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        check_choice(self.name, "optimizer name", OPTIMIZERS)
        check_positive(self.lr, "lr")
        check_positive(self.eps, "eps")
        check_positive(self.weight_decay, "weight_decay", allow_zero=True)
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")


SharedState = list[dict[str, Tensor]]


def make_shared_state(params: Sequence[Tensor]) -> SharedState:
    """Allocate ``step``, ``exp_avg`` and ``exp_avg_sq`` for every parameter, in shared memory."""
    state: SharedState = []
    for p in params:
        entry = {
            "step": torch.zeros((), dtype=torch.float64),
            "exp_avg": torch.zeros_like(p, memory_format=torch.contiguous_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.contiguous_format),
        }
        for t in entry.values():
            t.share_memory_()
        state.append(entry)
    return state


class SharedOptimizer:
    """Adam or RAdam over ``params`` whose state tensors are ``state`` (updated in place).

    Every process that builds a ``SharedOptimizer`` on the same shared parameters and state
    drives one optimiser. ``step()`` reads each parameter's ``.grad`` (skipping None).
    """

    def __init__(
        self, params: Sequence[nn.Parameter], config: OptimizerConfig, state: SharedState
    ) -> None:
        self.params = list(params)
        if len(self.params) != len(state):
            raise ValueError(f"state has {len(state)} entries for {len(self.params)} parameters")
        self.config = config
        self.state = state

    @torch.no_grad()
    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        cfg = self.config
        b1, b2 = cfg.betas
        for p, st in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad
            if cfg.weight_decay:
                g = g.add(p, alpha=cfg.weight_decay)
            st["step"].add_(1)
            t = float(st["step"])
            m, v = st["exp_avg"], st["exp_avg_sq"]
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            bc1 = 1 - b1**t
            bc2 = 1 - b2**t
            if cfg.name == "adam":
                denom = (v.sqrt() / math.sqrt(bc2)).add_(cfg.eps)
                p.addcdiv_(m, denom, value=-cfg.lr / bc1)
                continue
            rho_inf = 2 / (1 - b2) - 1
            rho_t = rho_inf - 2 * t * b2**t / bc2
            if rho_t > 5:  # variance of the adaptive rate is tractable: rectified Adam step
                rect = math.sqrt(
                    (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                )
                denom = v.sqrt().add_(cfg.eps)  # torch.optim.RAdam puts eps before sqrt(bc2)
                p.addcdiv_(m, denom, value=-cfg.lr * rect * math.sqrt(bc2) / bc1)
            else:  # warm-up: SGD with momentum
                p.add_(m, alpha=-cfg.lr / bc1)
