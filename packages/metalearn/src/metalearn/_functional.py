"""Functional evaluation of a module with substituted parameters, safe across threads.

``torch.func.functional_call`` evaluates a module with other parameter values by swapping them
into the module for the duration of the call and swapping the originals back afterwards. With
several threads on one module that is a race: another thread reading the module's parameters
during the call (e.g. to start its own adaptation from them) reads the swapped-in values, and
two interleaved calls can leave one call's values in the module for good (measured here: a
detector shared by two tracking threads kept one thread's adapted head weights).

:func:`functional_forward` never swaps anything in the caller's module: each thread evaluates a
structural copy of it (new module objects, the *same* parameter and buffer tensors), made on
the first call and remade when the module's tensors or train/eval modes change.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn
from torch.func import functional_call

__all__ = ["functional_forward"]

_LOCAL = threading.local()
_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def _state_key(model: nn.Module) -> tuple[Any, ...]:
    """What a structural copy must agree on: the tensors themselves and every train flag."""
    tensors = tuple(id(t) for t in (*model.parameters(), *model.buffers()))
    return tensors, tuple(m.training for m in model.modules())


def _thread_copy(model: nn.Module) -> nn.Module | None:
    """This thread's structural copy of ``model`` (None if the module cannot be copied)."""
    copies = getattr(_LOCAL, "copies", None)
    if copies is None:
        copies = _LOCAL.copies = weakref.WeakKeyDictionary()
    key = _state_key(model)
    entry = copies.get(model)
    if entry is not None and entry[1] == key:
        return entry[0]
    tensors = [*model.parameters(), *model.buffers()]
    memo: dict[int, Any] = {id(t): t for t in tensors}
    try:
        clone = copy.deepcopy(model, memo)
    except Exception:  # a module holding something deepcopy refuses (a lock, a file, ...)
        return None
    copies[model] = (clone, key)
    return clone


def _module_lock(module: nn.Module) -> threading.RLock:
    with _LOCKS_GUARD:
        lock = _LOCKS.get(module)
        if lock is None:
            lock = threading.RLock()
            _LOCKS[module] = lock
        return lock


def functional_forward(
    model: nn.Module,
    params: Mapping[str, Tensor],
    args: Any,
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """``torch.func.functional_call(model, params, args, kwargs)`` without touching ``model``.

    Every functional evaluation in `metalearn` (the inner loops, `adapt_batched`, `Adapter`)
    goes through this function, so several threads may adapt and run their own fast weights on
    one shared module while others read it: the call runs on this thread's structural copy of
    ``model`` (its own module objects holding the same parameter and buffer tensors, so
    gradients reach ``model``'s parameters and in-place buffer updates such as BatchNorm
    statistics land in ``model``'s buffers). The copy is remade when ``model``'s tensors are
    replaced (``.to()``, assigning a new parameter) or a train/eval flag changes; in-place
    changes (optimiser steps, ``load_state_dict``) are shared anyway. Hooks registered on
    ``model`` after the first call in a thread are not seen by that thread's copy. A module
    that cannot be deep-copied is evaluated in place under a per-module lock (concurrent calls
    serialised; readers of the module during a call may then see the swapped-in values).
    Works under ``torch.func.vmap`` / ``grad`` like ``functional_call``.

    Args:
        model: the module to evaluate.
        params: name -> tensor values replacing the module's (any subset of its parameters and
            buffers).
        args: positional input(s): a tuple of arguments, or one argument.
        kwargs: keyword arguments for the module's forward.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``, or a ``params`` value is not a tensor.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for name, value in params.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"params[{name!r}] must be a torch.Tensor, got {type(value).__name__}")
    kw = dict(kwargs) if kwargs else None
    clone = _thread_copy(model)
    if clone is not None:
        return functional_call(clone, dict(params), args, kw)
    with _module_lock(model):
        return functional_call(model, dict(params), args, kw)
