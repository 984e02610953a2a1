"""`MetaLearner`: the MAML outer step over a task batch (Wang et al. 2020, eqs. 3-5).

Also the offline training of MAML-MOT (Chen and Deng 2024, Alg. 1).

The model's own parameters are the meta-learned initialisation theta_0; the outer optimiser
(Adam, lr 1e-4 in both papers) updates them in place together with the learned inner rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from ._checks import check_real, check_same_device
from ._inner import (
    LossFn,
    _as_lr,
    _check_batch,
    _check_lr_names,
    _wanted_steps,
    batch_loss,
    inner_loop,
    resolve_adapted,
)
from ._lr import FixedLR, KernelwiseLR, LearnedLR
from ._multistep import MultiStepSchedule, multi_step_loss
from ._tasks import Task, stack_tasks
from ._tree import check_device
from ._vmap import vmap_query_losses

__all__ = ["MAMLConfig", "MetaLearner", "MetaStepResult"]


@dataclass(frozen=True)
class MAMLConfig:
    """Hyperparameters of `MetaLearner` (defaults: Wang et al. 2020, Sec. 3 and 4.2).

    Attributes:
        inner_steps: K inner GD steps (Wang et al. 2020: 4; Chen and Deng 2024: 1).
        outer_lr: Adam learning rate of the default outer optimiser (both papers: 1e-4); a
            finite number > 0.
        schedule: multi-step loss weights and first-order -> second-order switch by epoch.
        batching: "loop" (any model; tasks one by one, backward per task, lowest memory) or
            "vmap" (`torch.func.vmap` over stacked tasks; needs same-shape tasks and a vmappable
            model, e.g. no BatchNorm in training mode).
    """

    inner_steps: int = 4
    outer_lr: float = 1e-4
    schedule: MultiStepSchedule = field(default_factory=MultiStepSchedule)
    batching: Literal["loop", "vmap"] = "loop"

    def __post_init__(self) -> None:
        if isinstance(self.inner_steps, bool) or not isinstance(self.inner_steps, int):
            raise TypeError(f"inner_steps must be an int, got {self.inner_steps!r}")
        if self.inner_steps < 0:
            raise ValueError(f"inner_steps must be >= 0, got {self.inner_steps}")
        check_real("outer_lr", self.outer_lr, low=0.0, low_open=True)
        if not isinstance(self.schedule, MultiStepSchedule):
            raise TypeError(f"schedule must be a MultiStepSchedule, got {self.schedule!r}")
        target = self.schedule.target
        if not self.schedule.last_only and target is not None:
            if len(target) != self.inner_steps + 1:
                raise ValueError(
                    f"schedule.target has {len(target)} weights but inner_steps="
                    f"{self.inner_steps} needs {self.inner_steps + 1} (theta_0 .. theta_K); pass "
                    "schedule=MultiStepSchedule(target=...) or MultiStepSchedule(last_only=True)"
                )
        if self.batching not in ("loop", "vmap"):
            raise ValueError(f"batching must be 'loop' or 'vmap', got {self.batching!r}")


class MetaStepResult(NamedTuple):
    """Result of one outer step (all tensors detached).

    Attributes:
        loss: `Tensor[]`, the meta-objective averaged over tasks.
        query_losses: `Tensor[K+1]`, mean query loss at theta_0 .. theta_K (NaN at steps whose
            multi-step weight is zero: those are not evaluated).
        weights: `Tensor[K+1]`, the multi-step weights used.
        first_order: whether the first-order approximation was used.
    """

    loss: Tensor
    query_losses: Tensor
    weights: Tensor
    first_order: bool


class MetaLearner:
    """MAML / MAML++ / Meta-SGD outer loop over any `nn.Module`.

    Args:
        model: the module whose parameters are theta_0; trained in place by `step`.
        loss_fn: `loss_fn(outputs, targets) -> Tensor[]` for support batches (and query batches
            unless `query_loss_fn` is given).
        lr: inner learning rates; default `KernelwiseLR` over the adapted parameters, init 1e-3
            (Wang et al. 2020, eq. 5). A float or `FixedLR` gives plain MAML (nothing learned).
        adapted: names of the parameters adapted in the inner loop (default: all that require
            grad). Non-adapted parameters that require grad are still meta-trained (ANIL-style).
        config: `MAMLConfig`.
        optimizer: outer optimiser; default `Adam(model params + lr params, lr=config.outer_lr)`.
        query_loss_fn: loss on query batches if different from `loss_fn`.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        *,
        lr: LearnedLR | FixedLR | float | None = None,
        adapted: Sequence[str] | None = None,
        config: MAMLConfig | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        query_loss_fn: LossFn | None = None,
    ) -> None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        self.model = model
        self.adapted = resolve_adapted(model, adapted)
        self.config = config if config is not None else MAMLConfig()
        if not isinstance(self.config, MAMLConfig):
            raise TypeError(f"config must be a MAMLConfig, got {type(self.config).__name__}")
        named = dict(model.named_parameters())
        if lr is None:
            device = named[self.adapted[0]].device
            lr = KernelwiseLR({n: named[n] for n in self.adapted}).to(device)
        self.lr = _as_lr(lr)
        _check_lr_names(self.lr, self.adapted)
        check_device(list(self.lr.parameters()), named[self.adapted[0]].device, what="lr")
        if query_loss_fn is not None and not callable(query_loss_fn):
            raise TypeError(f"query_loss_fn must be callable, got {type(query_loss_fn).__name__}")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        self.loss_fn = loss_fn
        self.query_loss_fn = query_loss_fn if query_loss_fn is not None else loss_fn
        if optimizer is None:
            optimizer = torch.optim.Adam(self.meta_parameters(), lr=self.config.outer_lr)
        self.optimizer = optimizer

    def meta_parameters(self) -> list[nn.Parameter]:
        """Everything the outer loop trains: the model's trainable parameters and the rates."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        params += [p for p in self.lr.parameters() if p.requires_grad]
        return params

    def _theta0(self) -> dict[str, Tensor]:
        named = dict(self.model.named_parameters())
        return {n: named[n] for n in self.adapted}

    def _task_losses(
        self, task: Task, first_order: bool, wanted: frozenset[int] | None = None
    ) -> Tensor:
        thetas = inner_loop(
            self.model,
            task.support,
            self.loss_fn,
            steps=self.config.inner_steps,
            lr=self.lr,
            adapted=self.adapted,
            first_order=first_order,
        )
        zero = torch.zeros((), device=self.model_device())
        q = [
            batch_loss(self.model, th, task.query, self.query_loss_fn)
            if wanted is None or k in wanted
            else zero
            for k, th in enumerate(thetas)
        ]
        return torch.stack(q)

    def _check_tasks(self, tasks: Sequence[Task] | Task) -> list[Task]:
        if isinstance(tasks, Task):
            raise TypeError("tasks must be a sequence of Task, got a single Task")
        if not isinstance(tasks, Sequence) or len(tasks) == 0:
            raise ValueError("tasks must be a non-empty sequence of Task(support, query)")
        device = self.model_device()
        out = []
        for i, t in enumerate(tasks):
            if not isinstance(t, tuple) or len(t) != 2:
                raise TypeError(
                    f"tasks[{i}] must be a Task(support, query), got {type(t).__name__}"
                )
            _check_batch(t[0], what=f"tasks[{i}].support")
            _check_batch(t[1], what=f"tasks[{i}].query")
            check_same_device(f"tasks[{i}]", t, device, other="the model's adapted parameters")
            out.append(Task(*t))
        return out

    def query_losses(
        self,
        tasks: Sequence[Task],
        *,
        first_order: bool = False,
        at_steps: Sequence[int] | None = None,
    ) -> Tensor:
        """`Tensor[T, K+1]` query losses at theta_0..theta_K per task, with the autograd graph.

        Uses `config.batching` ("vmap" stacks the tasks and vectorises them). `at_steps`
        restricts evaluation to those k (the others are 0), default all.
        """
        task_list = self._check_tasks(tasks)
        wanted = _wanted_steps(self.config.inner_steps, at_steps)
        if self.config.batching == "vmap":
            stacked = stack_tasks(task_list)
            device = self.model_device()
            check_device(stacked, device, what="tasks")
            try:
                return vmap_query_losses(
                    self.model,
                    self._theta0(),
                    stacked,
                    self.loss_fn,
                    steps=self.config.inner_steps,
                    lr=self.lr,
                    first_order=first_order,
                    query_loss_fn=self.query_loss_fn,
                    at_steps=sorted(wanted),
                )
            except RuntimeError as err:
                first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
                raise RuntimeError(
                    f"batching='vmap' failed for this model ({first_line}); models with in-place "
                    "buffer updates (BatchNorm in training mode), data-dependent control flow or "
                    ".item() cannot be vmapped: use MAMLConfig(batching='loop')"
                ) from err
        return torch.stack([self._task_losses(t, first_order, wanted) for t in task_list])

    def model_device(self) -> torch.device:
        """Device of the first adapted parameter."""
        return self._theta0()[self.adapted[0]].device

    def meta_loss(
        self, tasks: Sequence[Task], *, epoch: float = 0.0, first_order: bool | None = None
    ) -> Tensor:
        """The meta-objective (mean over tasks of eq. 4) with its graph; no optimiser step.

        `first_order=None` follows the schedule at `epoch`.
        """
        fo = self.config.schedule.first_order(epoch) if first_order is None else first_order
        w = self.config.schedule.weights(
            epoch, num_steps=self.config.inner_steps, device=self.model_device()
        )
        return multi_step_loss(self.query_losses(tasks, first_order=fo), w).mean()

    def step(self, tasks: Sequence[Task], *, epoch: float = 0.0) -> MetaStepResult:
        """One outer update: zero grads, meta-gradient over the task batch, optimiser step.

        Args:
            tasks: T tasks `(support, query)`, each batch non-empty and on the model's
                device; the objective is their mean.
            epoch: training progress (a finite number >= 0), drives the multi-step weights and
                the FO -> SO switch.

        Raises:
            ValueError: a NaN or infinite meta-loss. The optimiser does not step (so NaN
                gradients never reach the parameters) and the gradients are cleared; the
                model and the rates are as before the call.
        """
        task_list = self._check_tasks(tasks)
        fo = self.config.schedule.first_order(epoch)
        w = self.config.schedule.weights(
            epoch, num_steps=self.config.inner_steps, device=self.model_device()
        )
        # Steps with zero weight (e.g. plain MAML, `last_only`) are not evaluated on the query.
        at_steps = [k for k, wk in enumerate(w.tolist()) if wk != 0.0]
        wanted = frozenset(at_steps)
        self.optimizer.zero_grad(set_to_none=True)
        if self.config.batching == "vmap":
            losses = self.query_losses(task_list, first_order=fo, at_steps=at_steps)
            loss = multi_step_loss(losses, w).mean()
            loss.backward()
            per_step = losses.detach().mean(dim=0)
            total = loss.detach()
        else:
            # Backward task by task: the same gradient as the mean, one task graph in memory.
            per_task = []
            for t in task_list:
                losses = self._task_losses(t, fo, wanted)
                (multi_step_loss(losses, w) / len(task_list)).backward()
                per_task.append(losses.detach())
            stacked = torch.stack(per_task)
            per_step = stacked.mean(dim=0)
            total = multi_step_loss(stacked, w).mean()
        if not bool(torch.isfinite(total)):  # one host read per outer step
            self.optimizer.zero_grad(set_to_none=True)
            raise ValueError(
                f"the meta-loss is {total.item()} (NaN or inf in a task's data, the model's "
                "output or the rates); the optimiser step was skipped, the model is unchanged"
            )
        self.optimizer.step()
        skipped = torch.tensor([k not in wanted for k in range(len(w))], device=per_step.device)
        per_step = per_step.masked_fill(skipped, float("nan"))
        return MetaStepResult(loss=total, query_losses=per_step, weights=w, first_order=fo)

    def parameters(self) -> Iterable[nn.Parameter]:
        """Alias of `meta_parameters()`."""
        return iter(self.meta_parameters())
