"""Weight averaging of fine-tuned models ("model soups", Wortsman et al. 2022)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

__all__ = ["average_state_dicts"]


def average_state_dicts(
    states: Sequence[Mapping[str, Tensor]],
    weights: Sequence[float] | None = None,
) -> dict[str, Tensor]:
    """Parameter-wise weighted mean of state dicts of one architecture (a "model soup").

    Wortsman et al. 2022 ("Model soups: averaging weights of multiple fine-tuned models improves
    accuracy without increasing inference time", ICML 2022, the uniform soup of Sec. 2.1):
    models fine-tuned from one shared initialisation can be averaged element-wise,
    ``theta = sum_i w_i theta_i``, and the average usually scores at least as well as its
    members. This is that average over ``state_dict()``-like mappings (a module's parameters
    and buffers, a `LearnedLR`'s rates, ...).

    Floating-point tensors are averaged (accumulated in float64, returned in their own dtype
    on the first state's device); a tensor equal in every state is returned unchanged
    (bit-exact), so frozen parts of a fine-tuned model stay as they are. Integer and boolean
    tensors (e.g. BatchNorm's ``num_batches_tracked``) cannot be averaged and must be equal in
    every state.

    Args:
        states: two or more mappings with the same keys, each key's tensors of one shape and
            dtype across the states; no NaN or infinite values.
        weights: one non-negative weight per state, summing to 1 (within 1e-6); None (default):
            uniform, ``1 / len(states)``.

    Returns:
        A new dict (keys in the first state's order) of new tensors; the inputs are not changed.

    Raises:
        ValueError: fewer than two states; keys, shapes or dtypes that differ; non-finite
            values; unequal integer/boolean tensors; bad weights.
        TypeError: a state that is not a mapping of tensors.
    """
    if isinstance(states, Mapping) or not isinstance(states, Sequence):
        raise TypeError("states must be a sequence of state dicts (mappings of tensors)")
    if len(states) < 2:
        raise ValueError(f"states: need at least two state dicts to average, got {len(states)}")
    for i, s in enumerate(states):
        if not isinstance(s, Mapping):
            raise TypeError(f"states[{i}] is a {type(s).__name__}, not a mapping of tensors")
        for k, v in s.items():
            if not isinstance(v, Tensor):
                raise TypeError(f"states[{i}][{k!r}] is a {type(v).__name__}, not a tensor")
    w = _check_weights(weights, len(states))
    first = states[0]
    keys = list(first)
    for i, s in enumerate(states[1:], start=1):
        if set(s) != set(keys):
            missing = sorted(set(keys) - set(s))
            extra = sorted(set(s) - set(keys))
            raise ValueError(
                f"states[{i}] has other keys than states[0]: missing {missing}, extra {extra}"
            )
    out: dict[str, Tensor] = {}
    for k in keys:
        ref = first[k]
        tensors = [s[k].to(ref.device) for s in states]
        for i, t in enumerate(tensors[1:], start=1):
            if t.shape != ref.shape:
                raise ValueError(
                    f"states[{i}][{k!r}] has shape {tuple(t.shape)}, states[0] {tuple(ref.shape)}"
                )
            if t.dtype != ref.dtype:
                raise ValueError(f"states[{i}][{k!r}] has dtype {t.dtype}, states[0] {ref.dtype}")
        if ref.is_floating_point() or ref.is_complex():
            for i, t in enumerate(tensors):
                if not bool(torch.isfinite(t).all()):
                    raise ValueError(f"states[{i}][{k!r}] has NaN or infinite values")
        if all(torch.equal(ref, t) for t in tensors[1:]):
            out[k] = ref.detach().clone()
            continue
        if not (ref.is_floating_point() or ref.is_complex()):
            raise ValueError(
                f"{k!r} is a {ref.dtype} tensor that differs between the states; only "
                "floating-point tensors can be averaged"
            )
        acc_dtype = torch.complex128 if ref.is_complex() else torch.float64
        acc = torch.zeros(ref.shape, dtype=acc_dtype, device=ref.device)
        for wi, t in zip(w, tensors, strict=True):
            acc += wi * t.detach().to(acc_dtype)
        out[k] = acc.to(ref.dtype)
    return out


def _check_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
        raise TypeError("weights must be a sequence of numbers or None")
    if not all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in weights):
        raise TypeError(f"weights must be numbers, got {list(weights)!r}")
    w = [float(x) for x in weights]
    if len(w) != n:
        raise ValueError(f"weights: got {len(w)} weights for {n} states")
    if not all(math.isfinite(x) and x >= 0.0 for x in w):
        raise ValueError(f"weights must be finite and non-negative, got {w}")
    if abs(sum(w) - 1.0) > 1e-6:
        raise ValueError(f"weights must sum to 1, got {w} (sum {sum(w)})")
    return w
