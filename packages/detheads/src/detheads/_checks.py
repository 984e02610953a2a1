"""Argument checks of the box ops, coders, decoders and anchor builders.

Every check reads Python numbers or tensor metadata (type, dtype, shape, device) only; none
reads a tensor's values, so none synchronises with a GPU and all are cheap on hot paths.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor


def check_real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    inf_ok: bool = False,
) -> float:
    """A real number (not bool, not NaN, finite unless ``inf_ok``) in ``[low, high]`` (``low``
    excluded with ``low_open``) -> float; TypeError for a non-number, ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not inf_ok):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if (low is not None and (number <= low if low_open else number < low)) or (
        high is not None and number > high
    ):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must lie in {'(' if low_open else '['}{lo}, {hi}], got {value!r}")
    return number


def check_int(name: str, value: object, *, minimum: int = 0) -> int:
    """An int (not bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_last_dim(name: str, value: object, size: int, *, floating: bool = False) -> Tensor:
    """A tensor ``Tensor[..., size]`` (floating with ``floating``), else a one-line error."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a Tensor[..., {size}], got {type(value).__name__}")
    if value.dim() == 0 or value.shape[-1] != size:
        raise ValueError(f"{name} must have shape [..., {size}], got {tuple(value.shape)}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got dtype {value.dtype}")
    return value


def check_same_device(*named: tuple[str, Tensor]) -> None:
    """ValueError naming the first tensor whose device differs from the first one's."""
    first_name, first = named[0]
    for name, t in named[1:]:
        if t.device != first.device:
            raise ValueError(f"{name} is on {t.device} but {first_name} on {first.device}")


def check_broadcast(*named: tuple[str, Tensor], skip_last: bool = False) -> None:
    """ValueError naming the tensors unless their shapes (without the last dimension with
    ``skip_last``) broadcast; metadata only."""
    try:
        torch.broadcast_shapes(*(t.shape[:-1] if skip_last else t.shape for _, t in named))
    except RuntimeError:
        shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in named)
        raise ValueError(f"shapes do not broadcast: {shapes}") from None


def check_reals(name: str, values: Any, *, low: float = 0.0, low_open: bool = True) -> list[float]:
    """A non-empty sequence of finite reals ``> low`` (``>= low`` without ``low_open``)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise TypeError(f"{name} must be a non-empty sequence of numbers, got {values!r}")
    return [check_real(f"{name}[{i}]", v, low=low, low_open=low_open) for i, v in enumerate(values)]


def check_device_arg(name: str, device: Any) -> None:
    """``None`` or a device this machine has; ValueError naming ``name`` otherwise."""
    if device is None:
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValueError(f"{name}={device!r} is not a device torch knows") from err
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            raise ValueError(f"{name}={device!r}: this machine has {count} CUDA device(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}={device!r}: MPS is not available on this machine")


def check_outputs(outputs: object, keys: Sequence[str]) -> None:
    """``outputs`` is a mapping holding floating tensors under every key of ``keys``."""
    if not isinstance(outputs, Mapping):
        raise TypeError(f"outputs must be a mapping name -> tensor, got {type(outputs).__name__}")
    missing = [k for k in keys if k not in outputs]
    if missing:
        raise ValueError(f"outputs lacks {missing}; it has {sorted(outputs)}")
    for k in keys:
        value = outputs[k]
        if not isinstance(value, Tensor) or not value.is_floating_point():
            got = value.dtype if isinstance(value, Tensor) else type(value).__name__
            raise TypeError(f"outputs[{k!r}] must be a floating tensor, got {got}")


def check_index_tensor(name: str, value: object) -> Tensor:
    """An integer tensor: TypeError for a non-tensor, ValueError for a float/bool/complex dtype
    (the existing contract of ``gt_labels``/``gt_ids``)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be an integer tensor, got {type(value).__name__}")
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer tensor, got dtype {value.dtype}")
    return value
