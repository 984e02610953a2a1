"""Online adaptation of B independent fast-weight sets, e.g. one per tracked sequence.

Wang et al. 2020 ("Tracking by Instance Detection: A Meta-Learning Approach", arXiv:2004.00830),
Algorithm 1: a tracker adapts its meta-learned detector head on the first frame with 5 gradient
steps (eq. 5, ``theta <- theta - alpha ⊙ grad L_support(theta)`` with the learned kernel-wise
rates ``alpha``) and later on a support buffer of confident frames with 1 step. A tracker that
follows B sequences in lock step keeps B sets of fast weights (``Tensor[B, *shape]``) and B
buffers; :class:`SupportBuffer` stores them as fixed-size tensors and :func:`adapt_batched` steps
every set on its own buffer, without building a graph (online use, nothing back-propagates
through the steps).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from ._checks import (
    check_param_dict,
    check_real,
    check_same_device,
    check_tensor,
)
from ._functional import functional_forward
from ._inner import LRLike, _as_lr, _check_lr_names, gradient_descent, resolve_adapted
from ._tree import leading_size, tree_leaves, tree_map

__all__ = ["BATCHING_MODES", "SampleLossFn", "SupportBuffer", "adapt_batched", "weighted_mean"]

#: How :func:`adapt_batched` runs the B sequences: one after the other, or ``torch.func.vmap``.
BATCHING_MODES = ("loop", "vmap")


class SampleLossFn(Protocol):
    """`loss_fn(outputs, targets) -> Tensor[n]`: one loss per sample of a collated batch."""

    def __call__(self, outputs: Any, targets: Any, /) -> Tensor: ...


def weighted_mean(losses: Tensor, weights: Tensor) -> Tensor:
    """``sum_i w_i l_i / max(sum_i w_i, 1)``: the support loss of a weighted buffer.

    With unit weights this is the plain mean over the used samples (an empty buffer gives 0).
    Values are not read (no host synchronisation): NaN losses or weights give a NaN result.
    """
    check_tensor("losses", losses)
    check_tensor("weights", weights)
    if losses.device != weights.device:
        raise ValueError(f"losses are on {losses.device} but weights on {weights.device}")
    if losses.shape != weights.shape:
        raise ValueError(
            f"per-sample losses {tuple(losses.shape)} and weights {tuple(weights.shape)} differ"
        )
    return (losses * weights).sum() / weights.sum().clamp_min(1.0)


@dataclass
class SupportBuffer:
    """Support samples of ``B`` sequences in fixed-size tensors (Wang et al. 2020, Sec. 4.3).

    "We buffer at most 30 training images in the support set. Earlier samples, except the
    initial one, will be discarded when the number of images exceeds the limit." Slots
    ``0 .. n_pinned - 1`` hold the first frame's samples (e.g. its augmentations) and are never
    evicted; later samples cycle first-in first-out through the remaining slots. A sample is any
    pytree of tensors (tuple, list, dict), for example ``(features, targets)``.

    Attributes:
        samples: the pytree with every leaf ``Tensor[B, capacity, ...]`` (zeros in empty slots).
        weights: ``Tensor[B, capacity]`` sample weights, 0 for an empty slot.
        next_slot: ``LongTensor[B]`` slot the next sample of each sequence goes to.
        n_pinned: number of permanent slots.
    """

    samples: Any
    weights: Tensor
    next_slot: Tensor
    n_pinned: int

    @classmethod
    def start(cls, samples: Any, *, capacity: int, weights: Tensor | None = None) -> SupportBuffer:
        """New buffers holding the pinned samples (every leaf ``Tensor[B, n_pinned, ...]``).

        Args:
            samples: pytree of the first-frame samples of each sequence.
            capacity: total slots per sequence (30 in Wang et al. 2020), more than ``n_pinned``.
            weights: ``Tensor[B, n_pinned]`` positive weights of the pinned samples (default 1).
        """
        leaves = list(tree_leaves(samples))
        if not leaves or any(t.dim() < 2 for t in leaves):
            raise ValueError("samples must hold tensors of shape [B, n_pinned, ...]")
        b, n_pinned = int(leaves[0].shape[0]), int(leaves[0].shape[1])
        if any(tuple(t.shape[:2]) != (b, n_pinned) for t in leaves):
            shapes = sorted({tuple(t.shape[:2]) for t in leaves})
            raise ValueError(f"samples must share the leading [B, n_pinned] dims, got {shapes}")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity <= n_pinned:
            raise ValueError(f"capacity must be an int > n_pinned={n_pinned}, got {capacity!r}")
        ref = leaves[0]
        check_same_device("samples", samples, ref.device, other="samples' first tensor")
        if weights is None:
            weights = torch.ones(b, n_pinned, device=ref.device)
        elif not isinstance(weights, Tensor) or weights.device != ref.device:
            got = weights.device if isinstance(weights, Tensor) else type(weights).__name__
            raise TypeError(f"weights must be a Tensor on the samples' {ref.device}, got {got}")
        elif weights.shape != (b, n_pinned) or not bool((weights > 0).all()):
            raise ValueError(
                f"weights must be a positive Tensor[{b}, {n_pinned}], got {tuple(weights.shape)}"
            )

        def grow(t: Tensor) -> Tensor:
            out = t.new_zeros((b, capacity, *t.shape[2:]))
            out[:, :n_pinned] = t
            return out

        w = weights.new_zeros((b, capacity))
        w[:, :n_pinned] = weights
        next_slot = torch.full((b,), n_pinned, dtype=torch.long, device=ref.device)
        return cls(tree_map(grow, samples), w, next_slot, n_pinned)

    @property
    def capacity(self) -> int:
        """Total number of slots per sequence."""
        return int(self.weights.shape[1])

    @property
    def valid(self) -> Tensor:
        """``BoolTensor[B, capacity]``: which slots hold a sample."""
        return self.weights > 0

    def add(self, sample: Any, mask: Tensor, *, weight: float | Tensor = 1.0) -> None:
        """Store one new sample per sequence where ``mask`` is True (first in, first out).

        Args:
            sample: pytree like the buffer's, every leaf ``Tensor[B, ...]`` without the slot dim.
            mask: ``BoolTensor[B]``; sequences where it is False keep their buffer unchanged.
            weight: finite positive weight of the new samples (a float or ``Tensor[B]``; a
                float is checked on the host, a tensor's check reads it back from the device).
        """
        b = self.weights.shape[0]
        dev = self.weights.device
        if not isinstance(mask, Tensor) or mask.shape != (b,) or mask.dtype != torch.bool:
            got = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, Tensor) else type(mask)
            raise ValueError(f"mask must be a bool Tensor[{b}], got {got}")
        check_same_device("mask", mask, dev, other="the buffer")
        check_same_device("sample", sample, dev, other="the buffer")
        if isinstance(weight, Tensor):
            check_same_device("weight", weight, dev, other="the buffer")
            if weight.shape not in ((), (b,)):
                raise ValueError(
                    f"weight must be a Tensor[{b}] or a 0-d tensor, got {weight.shape}"
                )
            # Checking a tensor's values reads them on the host (a device synchronisation).
            if not bool(((weight > 0) & torch.isfinite(weight)).all()):
                raise ValueError(f"weight must be finite and positive, got {weight!r}")
        else:
            check_real("weight", weight, low=0.0, low_open=True)
        w_new = torch.as_tensor(weight, dtype=self.weights.dtype, device=self.weights.device)
        rows = torch.arange(b, device=mask.device)
        slot = self.next_slot

        def put(buf: Tensor, new: Tensor) -> Tensor:
            if new.shape != (b, *buf.shape[2:]):
                raise ValueError(
                    f"sample leaf {tuple(new.shape)} does not fit the buffer's "
                    f"[B, ...] = {(b, *buf.shape[2:])}"
                )
            m = mask.reshape(b, *([1] * (new.dim() - 1)))
            buf[rows, slot] = torch.where(m, new.to(buf.dtype), buf[rows, slot])
            return buf

        self.samples = _map2(put, self.samples, sample)
        self.weights[rows, slot] = torch.where(mask, w_new.expand(b), self.weights[rows, slot])
        span = self.capacity - self.n_pinned
        advanced = self.n_pinned + (slot - self.n_pinned + 1) % span
        self.next_slot = torch.where(mask, advanced, slot)

    def select(self, index: Tensor) -> SupportBuffer:
        """The buffers of sequences ``index`` (``LongTensor[b]``), as a new object (copies)."""
        if not isinstance(index, Tensor) or index.is_floating_point() or index.is_complex():
            got = index.dtype if isinstance(index, Tensor) else type(index).__name__
            raise TypeError(f"index must be an integer or bool tensor, got {got}")
        return SupportBuffer(
            tree_map(lambda t: t[index], self.samples),
            self.weights[index],
            self.next_slot[index],
            self.n_pinned,
        )


def _map2(fn: Callable[[Tensor, Tensor], Tensor], a: Any, b: Any) -> Any:
    """``fn`` over the paired tensor leaves of two structurally equal pytrees."""
    if isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise ValueError("sample does not have the buffer's structure")
        return fn(a, b)
    if isinstance(a, (tuple, list)):
        if not isinstance(b, (tuple, list)) or len(a) != len(b):
            raise ValueError("sample does not have the buffer's structure")
        parts = [_map2(fn, x, y) for x, y in zip(a, b)]
        if isinstance(a, list):
            return parts
        return type(a)(*parts) if hasattr(a, "_fields") else tuple(parts)
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            raise ValueError("sample does not have the buffer's structure")
        return {k: _map2(fn, a[k], b[k]) for k in a}
    return a


def _sample_loss(
    model: nn.Module,
    theta: Mapping[str, Tensor],
    support: tuple[Any, Any],
    weights: Tensor,
    loss_fn: SampleLossFn,
) -> Tensor:
    inputs, targets = support
    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    per = loss_fn(functional_forward(model, theta, args), targets)
    if not isinstance(per, Tensor) or per.shape != weights.shape:
        got = tuple(per.shape) if isinstance(per, Tensor) else type(per).__name__
        raise ValueError(
            f"loss_fn must return one loss per sample, Tensor{list(weights.shape)}, got {got}"
        )
    return weighted_mean(per, weights)


def adapt_batched(
    model: nn.Module,
    params: Mapping[str, Tensor],
    support: tuple[Any, Any],
    loss_fn: SampleLossFn,
    *,
    steps: int,
    lr: LRLike,
    weights: Tensor | None = None,
    batching: str = "loop",
    differentiable: bool = False,
) -> dict[str, Tensor]:
    """``steps`` gradient steps for each of B fast-weight sets on its own support set.

    Sequence ``b`` takes ``theta_b <- theta_b - alpha(k) ⊙ grad L_b(theta_b)`` (Wang et al. 2020,
    eq. 5) with ``L_b = sum_i w_bi l_bi / max(sum_i w_bi, 1)`` (:func:`weighted_mean`) over its
    samples ``i``. The steps are taken at detached weights with the rates detached
    (:func:`gradient_descent` with ``track_graph=False``); the result is detached.

    Args:
        model: the module evaluated with ``functional_call`` (e.g. a detection head).
        params: name -> ``Tensor[B, *shape]`` fast weights of the adapted parameters.
        support: ``(inputs, targets)`` pytrees whose leaves are ``Tensor[B, n, ...]``.
        loss_fn: per-sample loss ``loss_fn(outputs, targets) -> Tensor[n]``.
        steps: number of steps (Wang et al. 2020: 5 on the first frame, 1 online).
        lr: ``KernelwiseLR`` etc., ``FixedLR`` or a float.
        weights: ``Tensor[B, n]`` sample weights, 0 = unused slot (e.g. ``SupportBuffer.weights``);
            default all 1.
        batching: ``"loop"`` (default) runs the sequences one after the other; ``"vmap"``
            runs all of them in one ``torch.func.vmap``. Both evaluate every slot, zero-weight
            slots included (so they must hold finite values), and never read a tensor value on
            the host (no device synchronisation). Both give the same weights up to float
            rounding; on CPU the loop is faster (``benchmarks/metalearn_online.py``).
        differentiable: keep a first-order graph (FOMAML: the inner gradients are constants,
            Finn et al. 2017) from the result back to ``params`` and the learned rates, for a
            loss on the adapted weights that trains the initialisation (e.g. sequence-level
            training through a tracker's first-frame adaptation). Loop only.

    Returns:
        name -> ``Tensor[B, *shape]`` adapted fast weights (detached unless ``differentiable``).
        A sequence whose weights are all zero keeps its fast weights; ``B = 0`` returns the
        (empty) ``params``.

    Raises:
        TypeError/ValueError: names that are not parameters of ``model``, shapes that are not
            ``[B, *parameter shape]``, non-floating params, ``support``/``weights`` on another
            device than ``params``, a NaN/inf/negative float ``lr``, mismatched ``B``.
            Tensor values are not read (no host synchronisation): NaN in ``params``,
            ``support`` or ``weights`` gives NaN fast weights for that sequence (weights
            must be finite and >= 0; :class:`SupportBuffer` keeps them so).
    """
    if batching not in BATCHING_MODES:
        raise ValueError(f"batching must be one of {BATCHING_MODES}, got {batching!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    if not isinstance(params, Mapping) or not params:
        raise ValueError("params must be a non-empty mapping name -> Tensor[B, *shape]")
    if not isinstance(support, (tuple, list)) or len(support) != 2:
        raise TypeError("support must be a pair (inputs, targets)")
    check_param_dict("params", params)
    names = resolve_adapted(model, list(params))
    b = leading_size(dict(params), what="params")
    named = dict(model.named_parameters())
    for k in names:
        if params[k].shape[1:] != named[k].shape:
            raise ValueError(
                f"params[{k!r}] must be Tensor[B, *{tuple(named[k].shape)}], got "
                f"{tuple(params[k].shape)}"
            )
    dev = params[names[0]].device
    check_same_device("support", support, dev, other="params")
    if leading_size(support, what="support") != b:
        raise ValueError(f"support must have the leading size B={b} of params")
    if b == 0:  # no sequences: nothing to adapt
        return {k: params[k] if differentiable else params[k].detach() for k in names}
    n = leading_size(tree_map(lambda t: t[0], support), what="support samples")
    if weights is None:
        weights = torch.ones(b, n, device=dev)
    elif not isinstance(weights, Tensor):
        raise TypeError(f"weights must be a Tensor[{b}, {n}], got {type(weights).__name__}")
    elif weights.shape != (b, n):
        raise ValueError(f"weights must be Tensor[{b}, {n}], got {tuple(weights.shape)}")
    check_same_device("weights", weights, dev, other="params")
    rate = _as_lr(lr)
    _check_lr_names(rate, names)
    if differentiable and batching != "loop":
        raise ValueError("differentiable=True needs batching='loop'")
    if steps == 0:
        return {k: params[k] if differentiable else params[k].detach() for k in names}
    if batching == "vmap":
        return _adapt_vmap(model, params, support, loss_fn, steps, rate, weights)
    out: list[dict[str, Tensor]] = []
    for i in range(b):
        # Every slot, weighted: no data-dependent selection, hence no host synchronisation.
        theta0 = {k: params[k][i] if differentiable else params[k][i].detach() for k in names}
        sup_i = tree_map(lambda t, i=i: t[i], support)  # type: ignore[misc]
        w_i = weights[i]

        def loss_i(theta: dict[str, Tensor], sup: Any = sup_i, w: Tensor = w_i) -> Tensor:
            return _sample_loss(model, theta, sup, w, loss_fn)

        steps_i = gradient_descent(
            loss_i, theta0, steps=steps, lr=rate, first_order=True, track_graph=differentiable
        )
        out.append(steps_i[-1])
    return {k: torch.stack([o[k] for o in out]) for k in names}


def _adapt_vmap(
    model: nn.Module,
    params: Mapping[str, Tensor],
    support: tuple[Any, Any],
    loss_fn: SampleLossFn,
    steps: int,
    rate: Any,
    weights: Tensor,
) -> dict[str, Tensor]:
    names = list(params)

    def one(theta0: dict[str, Tensor], sup: Any, w: Tensor) -> dict[str, Tensor]:
        def loss(theta: dict[str, Tensor]) -> Tensor:
            return _sample_loss(model, theta, sup, w, loss_fn)

        grad_fn = torch.func.grad(loss)
        theta = dict(theta0)
        for k in range(steps):
            scaled = rate(grad_fn(theta), k)
            theta = {m: theta[m] - scaled[m] for m in names}
        return theta

    with torch.no_grad():
        detached = {k: params[k].detach() for k in names}
        return torch.func.vmap(one)(detached, support, weights)
