"""Task batching with `torch.func.vmap`: the whole inner loop of T tasks in one vectorised pass.

The inner gradient is taken with `torch.func.grad` (which composes with `vmap` and with ordinary
autograd), so a `.backward()` on the returned losses gives the same meta-gradient as the task loop.
Models whose forward does data-dependent Python control flow, in-place buffer updates (BatchNorm
in training mode) or `.item()` cannot be vmapped: use `batching="loop"` for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from ._checks import check_param_dict, check_same_device
from ._inner import LossFn, _as_lr, _check_lr_names, _wanted_steps, batch_loss
from ._lr import FixedLR, LearnedLR
from ._tasks import Task

__all__ = ["vmap_query_losses"]


def vmap_query_losses(
    model: nn.Module,
    theta0: Mapping[str, Tensor],
    tasks: Task,
    loss_fn: LossFn,
    *,
    steps: int,
    lr: LearnedLR | FixedLR | float,
    first_order: bool = False,
    query_loss_fn: LossFn | None = None,
    at_steps: Sequence[int] | None = None,
) -> Tensor:
    """Query losses after every inner step for T stacked tasks, vectorised over tasks.

    Args:
        model: module evaluated with `functional_call` (must be vmappable).
        theta0: initial adapted parameters, shared by all tasks.
        tasks: stacked `Task` (see `stack_tasks`): every tensor has a leading task dim T.
        loss_fn: support loss `loss_fn(outputs, targets)`; also the query loss unless
            `query_loss_fn` is given.
        steps: K inner steps.
        lr: learning-rate module or a float.
        first_order: FOMAML approximation.
        query_loss_fn: query loss if different from `loss_fn`.
        at_steps: evaluate the query loss only at these k (others are returned as 0, e.g. the
            steps whose multi-step weight is zero); default all.

    Returns:
        `Tensor[T, K+1]`: query loss of each task at theta_0 .. theta_K.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if not isinstance(tasks, Task):
        raise TypeError(f"tasks must be a stacked Task (stack_tasks), got {type(tasks).__name__}")
    check_param_dict("theta0", theta0)
    q_loss = query_loss_fn if query_loss_fn is not None else loss_fn
    names = list(theta0)
    wanted = _wanted_steps(steps, at_steps)
    rate = _as_lr(lr)
    _check_lr_names(rate, names)
    device = next(iter(theta0.values())).device
    check_same_device("tasks", tasks, device, other="theta0")

    def one_task(support: object, query: object) -> Tensor:
        def support_loss(theta: dict[str, Tensor]) -> Tensor:
            return batch_loss(model, theta, support, loss_fn)  # type: ignore[arg-type]

        grad_fn = torch.func.grad(support_loss)
        theta = dict(theta0)

        def query_loss(k: int) -> Tensor:
            if k not in wanted:
                return torch.zeros((), device=device)
            return batch_loss(model, theta, query, q_loss)  # type: ignore[arg-type]

        losses = [query_loss(0)]
        for k in range(steps):
            grads = grad_fn(theta)
            if first_order:
                grads = {n: g.detach() for n, g in grads.items()}
            scaled = rate(grads, k)
            theta = {n: theta[n] - scaled[n] for n in names}
            losses.append(query_loss(k + 1))
        return torch.stack(losses)

    with torch.enable_grad():
        return torch.func.vmap(one_task, in_dims=(0, 0), randomness="same")(
            tasks.support, tasks.query
        )
