"""Tiny pytree helpers over tensors nested in tuples, lists and dicts (no private torch APIs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor


def tree_map(fn: Callable[[Tensor], Any], tree: Any) -> Any:
    """Apply `fn` to every tensor leaf of `tree` (tuple, list, dict, tensor; others unchanged)."""
    if isinstance(tree, Tensor):
        return fn(tree)
    if isinstance(tree, tuple):
        mapped = [tree_map(fn, t) for t in tree]
        return type(tree)(*mapped) if hasattr(tree, "_fields") else tuple(mapped)
    if isinstance(tree, list):
        return [tree_map(fn, t) for t in tree]
    if isinstance(tree, dict):
        return {k: tree_map(fn, v) for k, v in tree.items()}
    return tree


def tree_leaves(tree: Any) -> Iterator[Tensor]:
    """Yield every tensor leaf of `tree`."""
    if isinstance(tree, Tensor):
        yield tree
    elif isinstance(tree, (tuple, list)):
        for t in tree:
            yield from tree_leaves(t)
    elif isinstance(tree, dict):
        for v in tree.values():
            yield from tree_leaves(v)


def stack_trees(trees: Sequence[Any], *, dim: int = 0) -> Any:
    """Stack structurally identical pytrees leaf-wise with `torch.stack` along a new `dim`.

    Non-tensor leaves must be equal across the trees and are kept once.
    """
    if len(trees) == 0:
        raise ValueError("stack_trees: got an empty sequence of trees")
    first = trees[0]
    if isinstance(first, Tensor):
        if not all(isinstance(t, Tensor) for t in trees):
            raise TypeError("stack_trees: a tensor leaf is not a tensor in every tree")
        devices = {t.device for t in trees}
        if len(devices) != 1:
            raise ValueError(
                f"stack_trees: tensor leaves on several devices {sorted(map(str, devices))}"
            )
        shapes = {tuple(t.shape) for t in trees}
        if len(shapes) != 1:
            raise ValueError(
                f"stack_trees: tensor leaves have different shapes {sorted(shapes)}; "
                "pass a collate_fn that handles them"
            )
        return torch.stack(list(trees), dim=dim)
    if isinstance(first, (tuple, list)):
        if not all(isinstance(t, (tuple, list)) and len(t) == len(first) for t in trees):
            raise ValueError("stack_trees: trees have different structures")
        parts = [stack_trees([t[i] for t in trees], dim=dim) for i in range(len(first))]
        if isinstance(first, list):
            return parts
        return type(first)(*parts) if hasattr(first, "_fields") else tuple(parts)
    if isinstance(first, dict):
        if not all(isinstance(t, dict) and t.keys() == first.keys() for t in trees):
            raise ValueError("stack_trees: dict leaves have different keys")
        return {k: stack_trees([t[k] for t in trees], dim=dim) for k in first}
    return first


def leading_size(tree: Any, *, what: str) -> int:
    """The common size of dim 0 over all tensor leaves of `tree` (ValueError if none/mismatch)."""
    sizes = {t.shape[0] if t.dim() > 0 else -1 for t in tree_leaves(tree)}
    if not sizes:
        raise ValueError(f"{what}: contains no tensors")
    if -1 in sizes or len(sizes) != 1:
        raise ValueError(
            f"{what}: every tensor needs the same leading (batch) size, got sizes {sorted(sizes)}"
        )
    return sizes.pop()


def check_device(tree: Any, device: torch.device, *, what: str) -> None:
    """Raise ValueError if a tensor leaf of `tree` is not on `device`."""
    for t in tree_leaves(tree):
        if t.device != device:
            raise ValueError(
                f"{what}: tensor on device {t.device} but the parameters are on {device}"
            )
