"""Argument checks of the public API: every failure is one line naming the argument.

All checks here read Python scalars or tensor metadata (type, dtype, shape, device) only; none
reads a tensor's values, so none synchronises with a device.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ._tree import tree_leaves


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    low_open: bool = False,
    inf_ok: bool = False,
) -> float:
    """A real number (not bool, not NaN; infinite only with ``inf_ok``), ``>= low`` (``> low``
    with ``low_open``) -> float. TypeError for a non-number, ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    number = float(value)
    if math.isnan(number) or (math.isinf(number) and not inf_ok):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (number <= low if low_open else number < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {value!r}")
    return number


def check_int(name: str, value: Any, *, minimum: int = 0) -> int:
    """An int (not bool) ``>= minimum``; TypeError for a non-int, ValueError below the minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_tensor(name: str, value: Any, *, floating: bool = False) -> Tensor:
    """A torch tensor (a floating one with ``floating``), else TypeError naming ``name``."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    return value


def check_param_dict(name: str, params: Any) -> dict[str, Tensor]:
    """A non-empty mapping name -> floating tensor, all on one device."""
    if not isinstance(params, Mapping):
        raise TypeError(f"{name} must be a mapping name -> tensor, got {type(params).__name__}")
    if not params:
        raise ValueError(f"{name} is empty: give at least one parameter")
    out = {}
    for key, value in params.items():
        out[key] = check_tensor(f"{name}[{key!r}]", value, floating=True)
    devices = {t.device for t in out.values()}
    if len(devices) > 1:
        raise ValueError(f"{name}: tensors on several devices {sorted(map(str, devices))}")
    return out


def check_same_device(name: str, tree: Any, device: torch.device, *, other: str) -> None:
    """ValueError if a tensor leaf of ``tree`` is not on ``device`` (the device of ``other``)."""
    for t in tree_leaves(tree):
        if t.device != device:
            raise ValueError(f"{name} is on {t.device} but {other} is on {device}")


def check_device_arg(name: str, device: Any) -> torch.device | None:
    """``None`` or a device this machine has -> ``torch.device``; ValueError otherwise.

    A device string torch does not know, or a CUDA/MPS device that is not there, is a
    ValueError naming ``name`` (torch would raise deep inside the first allocation).
    """
    if device is None:
        return None
    if isinstance(device, bool) or not isinstance(device, (str, int, torch.device)):
        raise TypeError(f"{name} must be a torch.device, str or None, got {type(device).__name__}")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"{name}={device!r} is not a device torch knows") from err
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            raise ValueError(f"{name}={device!r}: this machine has {count} CUDA device(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}={device!r}: MPS is not available on this machine")
    return dev
