"""The functional inner loop: K steps of gradient descent on a parameter dict.

Wang et al. 2020, "Tracking by Instance Detection: A Meta-Learning Approach", eqs. 1 and 5.

Nothing here mutates a module: parameters live in dicts and the model is evaluated with
`torch.func.functional_call`. Adapted parameters are the chosen subset; every other parameter and
buffer of the module is used as it is (frozen for the inner loop; it still receives outer-loop
gradients if it requires grad).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeAlias

import torch
from torch import Tensor, nn

from ._checks import check_int, check_param_dict, check_real, check_tensor
from ._functional import functional_forward
from ._lr import FixedLR, LearnedLR
from ._tree import check_device, leading_size

__all__ = [
    "Batch",
    "LossFn",
    "batch_loss",
    "gradient_descent",
    "inner_loop",
    "resolve_adapted",
]

Batch: TypeAlias = tuple[Any, Any]
"""A batch `(inputs, targets)`: `inputs` is a Tensor or a tuple of Tensors passed positionally to
the model, each with the batch on dim 0; `targets` is any pytree (Tensor, tuple, dict) of tensors
handed unchanged to the loss."""


class LossFn(Protocol):
    """`loss_fn(outputs, targets) -> Tensor[]`.

    `outputs` is whatever the model returns for the batch inputs (a Tensor, a tuple such as
    `(cls_logits, box_deltas)`, a dict), `targets` the batch targets unchanged; the result must be
    a scalar, averaged over the batch.
    """

    def __call__(self, outputs: Any, targets: Any, /) -> Tensor: ...


LRLike: TypeAlias = "LearnedLR | FixedLR | float"


def _as_lr(lr: Any) -> LearnedLR | FixedLR:
    if isinstance(lr, (LearnedLR, FixedLR)):
        return lr
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        return FixedLR(check_real("lr", lr, low=0.0))
    raise TypeError(f"lr must be a LearnedLR, FixedLR or a float, got {type(lr).__name__}")


def resolve_adapted(model: nn.Module, adapted: Sequence[str] | None) -> list[str]:
    """Validate adapted-parameter names against `model.named_parameters()`.

    `None` means every parameter that requires grad. Raises ValueError naming unknown entries.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    named = dict(model.named_parameters())
    if adapted is None:
        names = [n for n, p in named.items() if p.requires_grad]
        if not names:
            raise ValueError("adapted=None but the model has no parameter that requires grad")
        return names
    if isinstance(adapted, str):
        raise TypeError(f"adapted must be a sequence of names, not the string {adapted!r}")
    names = list(adapted)
    if not names:
        raise ValueError("adapted is empty: name at least one parameter to adapt")
    unknown = [n for n in names if n not in named]
    if unknown:
        raise ValueError(
            f"adapted names {unknown} are not parameters of the model; available: {list(named)}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"adapted contains duplicate names: {names}")
    return names


def _check_lr_names(lr: LearnedLR | FixedLR, names: Sequence[str]) -> None:
    known = lr.names
    if known is None:
        return
    missing = [n for n in names if n not in known]
    if missing:
        raise ValueError(f"lr has no learning rate for adapted parameters {missing}")


def _check_batch(batch: Any, *, what: str) -> None:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(f"{what} must be a pair (inputs, targets), got {type(batch).__name__}")
    n = leading_size(batch[0], what=f"{what} inputs")
    if n == 0:
        raise ValueError(f"{what} is empty (batch size 0)")


def _wanted_steps(steps: int, at_steps: Sequence[int] | None) -> frozenset[int]:
    if at_steps is None:
        return frozenset(range(steps + 1))
    if isinstance(at_steps, (str, bytes)) or not isinstance(at_steps, Sequence):
        raise TypeError(f"at_steps must be a sequence of ints, got {type(at_steps).__name__}")
    wanted = frozenset(check_int("at_steps entries", k, minimum=-(2**62)) for k in at_steps)
    bad = sorted(k for k in wanted if not 0 <= k <= steps)
    if bad:
        raise ValueError(f"at_steps {bad} outside 0..{steps}")
    return wanted


def batch_loss(
    model: nn.Module, params: Mapping[str, Tensor], batch: Batch, loss_fn: LossFn
) -> Tensor:
    """`loss_fn(model(*inputs) with params, targets)` via `functional_call` (no mutation).

    Args:
        model: any module; parameters/buffers not in `params` are taken from it.
        params: parameter values overriding the module's (e.g. adapted fast weights).
        batch: `(inputs, targets)`, see `Batch`.
        loss_fn: `loss_fn(outputs, targets) -> Tensor[]`.
    """
    inputs, targets = batch
    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outputs = functional_forward(model, params, args)
    loss = loss_fn(outputs, targets)
    if not isinstance(loss, Tensor) or loss.dim() != 0:
        shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn must return a scalar tensor, got {shape}")
    return loss


def gradient_descent(
    loss_of_params: Callable[[dict[str, Tensor]], Tensor],
    params: Mapping[str, Tensor],
    *,
    steps: int,
    lr: LRLike,
    first_order: bool = False,
    track_graph: bool = True,
) -> list[dict[str, Tensor]]:
    """K steps of (learned-rate) gradient descent on a parameter dict; pure function.

    `theta_{k+1} = theta_k - alpha(k) ⊙ grad L(theta_k)` (Wang et al. 2020, eq. 5). Second-order by
    default: the steps are differentiable (`create_graph=True`) so an outer loss at any
    `theta_k` back-propagates through the inner loop to `theta_0` and to the learned rates. With
    `first_order=True` the inner gradients are treated as constants (FOMAML): `d theta_k /
    d theta_0 = I`, and the rates still receive their (first-order) gradient.

    Args:
        loss_of_params: `f(params) -> Tensor[]`, the support loss of a parameter dict.
        params: `theta_0`, name -> tensor. Tensors that do not require grad are adapted from a
            detached copy (so they get no outer gradient).
        steps: number of GD steps K >= 0.
        lr: `LearnedLR`, `FixedLR` or a float.
        first_order: FOMAML approximation instead of the full second-order graph.
        track_graph: `False` takes the steps without any graph (online adaptation, Wang et
            al. 2020, Algorithm 1): each gradient is taken at detached weights, the update is
            applied under `no_grad` with the rates detached, and every returned tensor is
            detached (`first_order` is then irrelevant).

    Returns:
        `[theta_0, theta_1, ..., theta_K]`, K+1 dicts with the same keys as `params`.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if not callable(loss_of_params):
        raise TypeError(f"loss_of_params must be callable, got {type(loss_of_params).__name__}")
    check_param_dict("params", params)
    rate = _as_lr(lr)
    if not track_graph:
        return _descend_without_graph(loss_of_params, params, steps, rate)
    theta = {
        n: (p if p.requires_grad else p.detach().requires_grad_(True)) for n, p in params.items()
    }
    names = list(theta)
    _check_lr_names(rate, names)
    history = [theta]
    with torch.enable_grad():
        for k in range(steps):
            loss = _checked_loss(loss_of_params(theta))
            grads = torch.autograd.grad(
                loss,
                [theta[n] for n in names],
                create_graph=not first_order,
                allow_unused=True,
                materialize_grads=True,
            )
            scaled = rate(dict(zip(names, grads)), k)
            theta = {n: theta[n] - scaled[n] for n in names}
            history.append(theta)
    return history


def _checked_loss(loss: Any) -> Tensor:
    """The support loss must be a scalar tensor that depends on the parameters (metadata)."""
    if not isinstance(loss, Tensor) or loss.dim() != 0:
        shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"loss_of_params must return a scalar tensor, got {shape}")
    if not loss.requires_grad:
        raise ValueError(
            "loss_of_params returned a loss without a graph to params (it does not depend on "
            "the parameters it was given)"
        )
    return loss


def _descend_without_graph(
    loss_of_params: Callable[[dict[str, Tensor]], Tensor],
    params: Mapping[str, Tensor],
    steps: int,
    rate: LearnedLR | FixedLR,
) -> list[dict[str, Tensor]]:
    names = list(params)
    _check_lr_names(rate, names)
    theta = {n: p.detach() for n, p in params.items()}
    history = [theta]
    for k in range(steps):
        with torch.enable_grad():
            leaf = {n: p.detach().requires_grad_(True) for n, p in theta.items()}
            loss = _checked_loss(loss_of_params(leaf))
            grads = torch.autograd.grad(
                loss, [leaf[n] for n in names], allow_unused=True, materialize_grads=True
            )
        with torch.no_grad():
            scaled = rate(dict(zip(names, grads)), k)
            theta = {n: leaf[n].detach() - scaled[n] for n in names}
        history.append(theta)
    return history


def inner_loop(
    model: nn.Module,
    support: Batch,
    loss_fn: LossFn,
    *,
    steps: int = 4,
    lr: LRLike = 1e-3,
    adapted: Sequence[str] | None = None,
    params: Mapping[str, Tensor] | None = None,
    first_order: bool = False,
) -> list[dict[str, Tensor]]:
    """Adapt a subset of `model`'s parameters to a support batch with K GD steps.

    The module is never mutated: the returned dicts hold new tensors; evaluate the adapted model
    with `batch_loss(model, thetas[k], batch, loss_fn)` or
    `torch.func.functional_call(model, thetas[k], args)`.

    Args:
        model: any `nn.Module` that works under `torch.func.functional_call`.
        support: `(inputs, targets)` batch, see `Batch`.
        loss_fn: `loss_fn(outputs, targets) -> Tensor[]`, see `LossFn`.
        steps: K, 4 in Wang et al. 2020 (offline), 5 for first-frame adaptation.
        lr: `KernelwiseLR` (Wang et al. 2020), `ElementwiseLR`, `ScalarLR`, `FixedLR` or a float.
        adapted: names of the parameters to adapt (default: all that require grad); the others
            and all buffers are used as stored in the module.
        params: optional `theta_0` for the adapted names (default: the module's own tensors, so
            outer gradients reach `model`'s parameters).
        first_order: FOMAML instead of second order (default second order).

    Returns:
        `[theta_0, ..., theta_K]`: K+1 dicts name -> tensor over the adapted names only.
    """
    if adapted is None and params is not None:
        adapted = list(params)
    names = resolve_adapted(model, adapted)
    named = dict(model.named_parameters())
    theta0: dict[str, Tensor]
    if params is None:
        theta0 = {n: named[n] for n in names}
    else:
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping name -> tensor, got {type(params).__name__}")
        missing = [n for n in names if n not in params]
        if missing:
            raise ValueError(f"params lacks adapted parameters {missing}")
        theta0 = {n: check_tensor(f"params[{n!r}]", params[n], floating=True) for n in names}
        for n in names:
            if theta0[n].shape != named[n].shape:
                raise ValueError(
                    f"params[{n!r}] has shape {tuple(theta0[n].shape)}, the model's parameter "
                    f"has {tuple(named[n].shape)}"
                )
    _check_batch(support, what="support")
    device = next(iter(theta0.values())).device
    check_device(theta0, device, what="params")
    check_device(support, device, what="support")
    rate = _as_lr(lr)
    if isinstance(rate, LearnedLR):
        check_device(list(rate.parameters()), device, what="lr")

    def support_loss(theta: dict[str, Tensor]) -> Tensor:
        return batch_loss(model, theta, support, loss_fn)

    return gradient_descent(support_loss, theta0, steps=steps, lr=rate, first_order=first_order)
