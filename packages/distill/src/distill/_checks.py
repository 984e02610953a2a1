"""Tensor argument checks shared by the losses."""

from __future__ import annotations

import math
import numbers

import torch

_REDUCTIONS = ("none", "mean", "sum")


def check_tensor(value: object, argument: str) -> torch.Tensor:
    """Raise TypeError unless ``value`` is a tensor."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{argument} must be a torch.Tensor, got {type(value).__name__}")
    return value


def check_floating(value: object, argument: str) -> torch.Tensor:
    """Raise TypeError unless ``value`` is a floating-point tensor."""
    tensor = check_tensor(value, argument)
    if not tensor.is_floating_point():
        raise TypeError(f"{argument} must be a floating-point tensor, got dtype {tensor.dtype}")
    return tensor


def check_real(value: object, argument: str) -> float:
    """Raise TypeError unless ``value`` is a real number (not bool), ValueError if not finite."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argument} must be a real number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{argument} must be finite, got {value!r}")
    return number


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise ValueError unless both tensors have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )


def check_reduction(reduction: str) -> str:
    """Raise ValueError unless ``reduction`` is 'none', 'mean' or 'sum'."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def reduce(per_item: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply a checked reduction."""
    if reduction == "none":
        return per_item
    if reduction == "sum":
        return per_item.sum()
    return per_item.mean()
