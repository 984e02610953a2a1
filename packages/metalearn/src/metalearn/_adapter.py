"""Online adaptation for trackers (Wang et al. 2020, Algorithm 1; Chen and Deng 2024, Sec. II-C).

An `Adapter` holds the current fast weights of the adapted parameters and a support buffer.
First frame: `adapt(support, steps=5)` (reset to the meta-learned init, GD5). Later frames:
`add(...)` confident samples and `update(steps=1)` every few frames (GD1 from the current fast
weights). The buffer has a capacity (30 in Wang et al. 2020); pinned samples (the first frame's) are
never evicted, the oldest unpinned sample goes first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ._checks import check_tensor
from ._functional import functional_forward
from ._inner import (
    LossFn,
    _as_lr,
    _check_lr_names,
    batch_loss,
    gradient_descent,
    resolve_adapted,
)
from ._lr import FixedLR, LearnedLR
from ._tree import check_device, leading_size, stack_trees, tree_leaves, tree_map

__all__ = ["Adapter"]

Collate = Callable[[Sequence[Any]], Any]


class Adapter:
    """Fast weights plus a support buffer for online (test-time) adaptation.

    Adaptation runs without building a graph: gradients of `loss_fn` on the whole buffer are
    taken with respect to detached fast weights and stepped with the learned rates (detached).
    The module is never mutated; run it with `adapter(*inputs)` or
    `functional_call(model, adapter.params(), inputs)`.

    A sample is one `(inputs, targets)` pair without batch dimension; `inputs` is a Tensor or a
    tuple of Tensors (the model's positional arguments), `targets` any pytree of Tensors.
    The buffer is collated into a batch with `collate_fn` (default: `torch.stack` leaf-wise, so
    all samples must have equal shapes; a tracker stores pre-computed backbone features and
    dense per-location target maps, which stack).

    Args:
        model: the meta-trained module (e.g. a detection head).
        loss_fn: `loss_fn(outputs, targets) -> Tensor[]` on a collated batch.
        lr: learned rates from meta-training (`KernelwiseLR` etc.), `FixedLR` or a float.
        adapted: adapted parameter names (default: all that require grad).
        capacity: maximum buffered samples (Wang et al. 2020: 30, first frame always kept).
        collate_fn: list of samples -> `(inputs, targets)` batch.
        init: initial fast weights (default: the module's parameters), e.g. from
            `similarity_weighted_init` (Chen and Deng 2024, eq. 7).
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossFn,
        *,
        lr: LearnedLR | FixedLR | float,
        adapted: Sequence[str] | None = None,
        capacity: int = 30,
        collate_fn: Collate | None = None,
        init: Mapping[str, Tensor] | None = None,
    ) -> None:
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an int >= 1, got {capacity!r}")
        self.model = model
        self.loss_fn = loss_fn
        self.names = resolve_adapted(model, adapted)
        self.lr = _as_lr(lr)
        _check_lr_names(self.lr, self.names)
        self.capacity = capacity
        self.collate_fn: Collate = collate_fn if collate_fn is not None else stack_trees
        named = dict(model.named_parameters())
        self.device = named[self.names[0]].device
        check_device(list(self.lr.parameters()), self.device, what="lr")
        self._init: dict[str, Tensor] = {}
        self.set_init(init if init is not None else {n: named[n] for n in self.names})
        self._samples: list[Any] = []
        self._pinned: list[bool] = []
        self.fast_weights: dict[str, Tensor] = {}
        self.reset()

    # ----------------------------------------------------------------------------- state
    def set_init(self, init: Mapping[str, Tensor]) -> None:
        """Set the weights `adapt` starts from (copied, detached); does not reset the buffer."""
        named = dict(self.model.named_parameters())
        if not isinstance(init, Mapping):
            raise TypeError(f"init must be a mapping name -> tensor, got {type(init).__name__}")
        missing = [n for n in self.names if n not in init]
        if missing:
            raise ValueError(f"init lacks adapted parameters {missing}")
        for n in self.names:
            check_tensor(f"init[{n!r}]", init[n], floating=True)
            if init[n].shape != named[n].shape:
                raise ValueError(
                    f"init[{n!r}] has shape {tuple(init[n].shape)}, "
                    f"expected {tuple(named[n].shape)}"
                )
        check_device({n: init[n] for n in self.names}, self.device, what="init")
        self._init = {n: init[n].detach().clone() for n in self.names}

    def reset(self) -> None:
        """Forget the buffer and return the fast weights to the initial weights."""
        self._samples = []
        self._pinned = []
        self.fast_weights = {n: p.clone() for n, p in self._init.items()}

    def params(self) -> dict[str, Tensor]:
        """The current fast weights (adapted names only), for `functional_call`."""
        return dict(self.fast_weights)

    def __call__(self, *inputs: Any) -> Any:
        """Run the model with the current fast weights (no grad)."""
        check_device(inputs, self.device, what="inputs")
        with torch.no_grad():
            return functional_forward(self.model, self.fast_weights, inputs)

    def __len__(self) -> int:
        """Number of buffered samples."""
        return len(self._samples)

    # ---------------------------------------------------------------------------- buffer
    def add(self, inputs: Any, targets: Any, *, pinned: bool = False) -> None:
        """Add one sample (no batch dimension). The first sample after `reset` is always pinned.

        When full, the oldest unpinned sample is evicted; ValueError if every slot is pinned.
        """
        if next(tree_leaves(inputs), None) is None:
            raise TypeError(f"inputs must be a tensor or a tuple of tensors, got {type(inputs)}")
        sample = tree_map(lambda t: t.detach(), (inputs, targets))
        check_device(sample, self.device, what="sample")
        pinned = pinned or not self._samples
        if len(self._samples) >= self.capacity:
            try:
                victim = self._pinned.index(False)
            except ValueError:
                raise ValueError(
                    f"support buffer full ({self.capacity} pinned samples); raise capacity"
                ) from None
            del self._samples[victim]
            del self._pinned[victim]
        self._samples.append(sample)
        self._pinned.append(pinned)

    def add_batch(self, inputs: Any, targets: Any, *, pinned: bool = False) -> None:
        """Add every sample of a batch (dim 0 of every tensor is the sample index)."""
        n = leading_size((inputs, targets), what="add_batch")
        for i in range(n):
            sample_in, sample_t = tree_map(_Index(i), (inputs, targets))
            self.add(sample_in, sample_t, pinned=pinned)

    def support(self) -> Any:
        """The collated buffer `(inputs, targets)`; ValueError when empty."""
        if not self._samples:
            raise ValueError("the support buffer is empty: add samples or pass support to adapt")
        return self.collate_fn(self._samples)

    # ------------------------------------------------------------------------ adaptation
    def _descend(self, start: Mapping[str, Tensor], steps: int) -> dict[str, Tensor]:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be an int >= 0, got {steps!r}")
        batch = self.support()

        def loss(theta: dict[str, Tensor]) -> Tensor:
            return batch_loss(self.model, theta, batch, self.loss_fn)

        start = {n: start[n] for n in self.names}
        return gradient_descent(loss, start, steps=steps, lr=self.lr, track_graph=False)[-1]

    def adapt(
        self, support: Any | None = None, *, steps: int = 5, pinned: bool = True
    ) -> dict[str, Tensor]:
        """First-frame adaptation: restart from the initial weights and run `steps` GD steps.

        Args:
            support: optional batch `(inputs, targets)` (e.g. augmented first-frame samples);
                if given, the buffer is cleared and these samples are added (pinned by default).
            steps: GD steps (Wang et al. 2020, Algorithm 1: 5).
            pinned: whether the given support samples are never evicted.

        Returns:
            The new fast weights.
        """
        if support is not None:
            if not isinstance(support, (tuple, list)) or len(support) != 2:
                raise TypeError("support must be a pair (inputs, targets)")
            self._samples, self._pinned = [], []
            self.add_batch(support[0], support[1], pinned=pinned)
        self.fast_weights = self._descend(self._init, steps)
        return self.params()

    def update(self, *, steps: int = 1) -> dict[str, Tensor]:
        """Online update: `steps` GD steps on the buffer from the current fast weights (GD1)."""
        self.fast_weights = self._descend(self.fast_weights, steps)
        return self.params()


class _Index:
    """Callable `t -> t[i]` (a named function object keeps mypy happy inside loops)."""

    def __init__(self, i: int) -> None:
        self.i = i

    def __call__(self, t: Tensor) -> Tensor:
        return t[self.i]
