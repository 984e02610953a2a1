"""Input checks shared by the seqrl modules (errors name the argument and what arrived)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor


def as_float_tensor(value: Any, name: str) -> Tensor:
    """Convert a tensor / numpy array / sequence to a floating tensor, or raise TypeError."""
    if isinstance(value, Tensor):
        tensor = value
    elif isinstance(value, (np.ndarray, list, tuple, float, int, np.floating, np.integer)):
        try:
            tensor = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be numeric, got {type(value).__name__}") from exc
    else:
        raise TypeError(f"{name} must be a Tensor or numpy array, got {type(value).__name__}")
    if tensor.dtype == torch.bool or not (tensor.is_floating_point() or _is_int(tensor)):
        raise TypeError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    return tensor


def _is_int(tensor: Tensor) -> bool:
    return tensor.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def check_tensor(value: Any, name: str) -> Tensor:
    """Raise TypeError unless ``value`` is a floating torch tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got dtype {value.dtype}")
    return value


def check_finite(tensor: Tensor, name: str) -> None:
    """Raise ValueError if ``tensor`` holds NaN or infinity."""
    if not bool(torch.isfinite(tensor).all()):
        bad = int((~torch.isfinite(tensor)).sum())
        raise ValueError(f"{name} holds {bad} non-finite value(s) (NaN or inf)")


def check_nonempty(tensor: Tensor, name: str) -> None:
    """Raise ValueError if ``tensor`` has no elements."""
    if tensor.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(tensor.shape)})")


def check_ndim(tensor: Tensor, name: str, ndims: tuple[int, ...], layout: str) -> None:
    """Raise ValueError unless ``tensor.ndim`` is one of ``ndims`` (``layout`` names the shape)."""
    if tensor.ndim not in ndims:
        raise ValueError(f"{name} must have shape {layout}, got shape {tuple(tensor.shape)}")


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> None:
    """Raise TypeError/ValueError unless ``value`` is a finite positive real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    ok = value >= 0 if allow_zero else value > 0
    if not ok or not np.isfinite(value):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")


def check_int(value: int, name: str, *, minimum: int) -> None:
    """Raise TypeError/ValueError unless ``value`` is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def check_broadcast(*named: tuple[str, Tensor]) -> None:
    """Raise ValueError naming the tensors unless their shapes broadcast (metadata only)."""
    try:
        torch.broadcast_shapes(*(tensor.shape for _, tensor in named))
    except RuntimeError:
        shapes = ", ".join(f"{name} {tuple(tensor.shape)}" for name, tensor in named)
        raise ValueError(f"shapes do not broadcast: {shapes}") from None


def check_choice(value: str, name: str, choices: tuple[str, ...]) -> None:
    """Raise ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_same_device(*named: tuple[str, Any]) -> None:
    """Raise ValueError naming the tensors unless all of them share one device.

    Metadata only (no host synchronisation); arguments that are not tensors are skipped (their
    type is checked elsewhere). Call it before any check that reads values.
    """
    tensors = [(name, t) for name, t in named if isinstance(t, Tensor)]
    if len({t.device for _, t in tensors}) > 1:
        where = ", ".join(f"{name} on {t.device}" for name, t in tensors)
        raise ValueError(f"tensors must share one device, got {where}")
