"""Learned inner-loop learning rates: scalar, kernel-wise (KLLR) and element-wise (Meta-SGD).

All three store their rates as `nn.Parameter`s so the outer optimiser of a `MetaLearner` trains
them together with the initial parameters. Each can hold one set of rates per inner step
(MAML++, Antoniou et al. 2019): pass `per_step=K`. A step index past the last trained step uses
the last step's rates (online adaptation often runs more steps than meta-training did).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ._checks import check_real

__all__ = ["ElementwiseLR", "FixedLR", "KernelwiseLR", "LearnedLR", "ScalarLR"]


def _shapes(params: Mapping[str, Any], *, what: str) -> dict[str, torch.Size]:
    if not isinstance(params, Mapping) or len(params) == 0:
        raise ValueError(f"{what}: params must be a non-empty mapping name -> tensor/shape")
    out: dict[str, torch.Size] = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise TypeError(f"{what}: parameter names must be str, got {type(name).__name__}")
        if isinstance(value, Tensor):
            out[name] = value.shape
        elif isinstance(value, (torch.Size, tuple, list)):
            if not all(
                isinstance(d, numbers.Integral) and not isinstance(d, bool) and int(d) >= 0
                for d in value
            ):
                raise ValueError(
                    f"{what}: params[{name!r}] must be a shape of ints >= 0, got {value!r}"
                )
            out[name] = torch.Size(int(d) for d in value)
        else:
            raise TypeError(
                f"{what}: params[{name!r}] must be a Tensor or a shape, got {type(value).__name__}"
            )
    return out


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    return int(step)


def _check_per_step(per_step: int | None) -> None:
    if per_step is not None and (isinstance(per_step, bool) or not isinstance(per_step, int)):
        raise TypeError(f"per_step must be None or an int, got {per_step!r}")
    if per_step is not None and per_step < 1:
        raise ValueError(f"per_step must be >= 1, got {per_step}")


class LearnedLR(nn.Module):
    """Base class of inner-loop learning rates.

    A subclass stores, for each adapted parameter name, a rate tensor that broadcasts against the
    parameter. `forward(grads, step)` returns the scaled gradients `alpha ⊙ g` (Wang et al. 2020,
    eq. 5) that the inner loop subtracts from the parameters.
    """

    names: tuple[str, ...]
    per_step: int | None
    #: Whether the rates' shapes follow the parameters' (False: one scalar fits every shape).
    shape_bound: bool = True

    def __init__(self, shapes: Mapping[str, torch.Size], *, per_step: int | None) -> None:
        super().__init__()
        _check_per_step(per_step)
        self.names = tuple(shapes)
        self.shapes = dict(shapes)
        self.per_step = per_step
        self.rates = nn.ParameterList()

    def _rate_shape(self, shape: torch.Size) -> tuple[int, ...]:
        raise NotImplementedError

    def _add(self, shape: torch.Size, init: float) -> None:
        init = check_real("init", init, low=0.0)
        rate_shape = self._rate_shape(shape)
        if self.per_step is not None:
            rate_shape = (self.per_step, *rate_shape)
        self.rates.append(nn.Parameter(torch.full(rate_shape, float(init))))

    def rate(self, name: str, step: int = 0) -> Tensor:
        """The rate tensor for parameter `name` at inner step `step`, broadcastable to its shape."""
        try:
            index = self.names.index(name)
        except ValueError:
            raise KeyError(
                f"{type(self).__name__} has no learning rate for parameter {name!r}; "
                f"it knows {list(self.names)}"
            ) from None
        rate = self.rates[index]
        if self.per_step is not None:
            rate = rate[min(_check_step(step), self.per_step - 1)]
        ndim = len(self.shapes[name])
        return rate.reshape(tuple(rate.shape) + (1,) * (ndim - rate.dim()))

    def forward(self, grads: Mapping[str, Tensor], step: int = 0) -> dict[str, Tensor]:
        """Scaled gradients `{name: alpha_name(step) * grads[name]}`.

        Raises:
            ValueError: a gradient whose shape is not the one the rates were built for
                (a shape check, no host synchronisation); `ScalarLR` fits any shape.
        """
        if self.shape_bound:
            for name, g in grads.items():
                built = self.shapes.get(name)
                if built is not None and g.shape != built:
                    raise ValueError(
                        f"{type(self).__name__} was built for {name!r} of shape "
                        f"{tuple(built)}, got a gradient of shape {tuple(g.shape)}"
                    )
        return {name: self.rate(name, step) * g for name, g in grads.items()}

    def extra_repr(self) -> str:
        n = sum(p.numel() for p in self.parameters())
        return f"params={len(self.names)}, per_step={self.per_step}, rates={n}"


class ScalarLR(LearnedLR):
    """One learnable scalar learning rate shared by all adapted parameters (Li et al. 2017 style).

    Args:
        params: adapted parameters (name -> tensor or shape); only names and shapes are used.
        init: initial rate, a finite number >= 0.
        per_step: if an int K, one scalar per inner step (MAML++).
    """

    shape_bound = False

    def __init__(
        self, params: Mapping[str, Any], *, init: float = 1e-3, per_step: int | None = None
    ) -> None:
        super().__init__(_shapes(params, what="ScalarLR"), per_step=per_step)
        self._add(torch.Size([]), init)

    def _rate_shape(self, shape: torch.Size) -> tuple[int, ...]:
        return ()

    def rate(self, name: str, step: int = 0) -> Tensor:
        """The shared scalar rate at `step` (shape `[]`); `name` must be an adapted parameter."""
        if name not in self.shapes:
            raise KeyError(f"ScalarLR has no learning rate for parameter {name!r}")
        rate = self.rates[0]
        if self.per_step is not None:
            rate = rate[min(_check_step(step), self.per_step - 1)]
        return rate


class KernelwiseLR(LearnedLR):
    """Kernel-wise learnable learning rate (KLLR; Wang et al. 2020, eq. 5 and Sec. 3).

    One rate per output channel of each weight with two or more dimensions (conv `[C_out, C_in,
    kh, kw]`, linear `[C_out, C_in]`; dimension 0 is taken as the output channel), one rate per
    element of each 1-D parameter (bias, norm scale) and one for a 0-D parameter. The number of
    rates is therefore the sum of C_out over the adapted layers, weights plus biases.

    Args:
        params: adapted parameters (name -> tensor or shape).
        init: initial rate (finite, >= 0), 0.001 in Wang et al. 2020 (Sec. 4.2).
        per_step: if an int K, one set of rates per inner step (MAML++).
    """

    def __init__(
        self, params: Mapping[str, Any], *, init: float = 1e-3, per_step: int | None = None
    ) -> None:
        super().__init__(_shapes(params, what="KernelwiseLR"), per_step=per_step)
        for shape in self.shapes.values():
            self._add(shape, init)

    def _rate_shape(self, shape: torch.Size) -> tuple[int, ...]:
        return () if len(shape) == 0 else (int(shape[0]),)


class ElementwiseLR(LearnedLR):
    """Element-wise learnable learning rate (Meta-SGD, Li et al. 2017): one rate per weight.

    Args:
        params: adapted parameters (name -> tensor or shape).
        init: initial rate, a finite number >= 0.
        per_step: if an int K, one set of rates per inner step (MAML++).
    """

    def __init__(
        self, params: Mapping[str, Any], *, init: float = 1e-3, per_step: int | None = None
    ) -> None:
        super().__init__(_shapes(params, what="ElementwiseLR"), per_step=per_step)
        for shape in self.shapes.values():
            self._add(shape, init)

    def _rate_shape(self, shape: torch.Size) -> tuple[int, ...]:
        return tuple(int(s) for s in shape)


class FixedLR(nn.Module):
    """A constant learning rate for every parameter (plain MAML, no learnable parameters).

    Args:
        lr: the rate alpha, a finite number >= 0 (0 leaves the parameters unchanged).
    """

    def __init__(self, lr: float) -> None:
        super().__init__()
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise TypeError(f"lr must be a float, got {type(lr).__name__}")
        self.lr: float = check_real("lr", lr, low=0.0)
        # Non-persistent: follows ``.to(device)`` without changing the state_dict.
        self._rate: Tensor
        self.register_buffer("_rate", torch.tensor(self.lr), persistent=False)
        self.names: tuple[str, ...] | None = None  # accepts any name

    def rate(self, name: str, step: int = 0) -> Tensor:
        """The constant rate as a 0-D tensor (on the module's device)."""
        return self._rate

    def forward(self, grads: Mapping[str, Tensor], step: int = 0) -> dict[str, Tensor]:
        """Scaled gradients `{name: lr * grads[name]}`."""
        return {name: g * self.lr for name, g in grads.items()}

    def extra_repr(self) -> str:
        return f"lr={self.lr}"
