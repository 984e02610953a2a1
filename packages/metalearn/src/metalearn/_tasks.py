"""A meta-learning task: a support batch to adapt on and a query batch to evaluate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ._tree import leading_size, stack_trees, tree_map

__all__ = ["Task", "gather_task", "identity_task_indices", "split_support_query", "stack_tasks"]


class Task(NamedTuple):
    """One task `(support, query)`; each is a `Batch` `(inputs, targets)` with the batch on dim 0.

    Wang et al. 2020: support = 3 zoomed copies of one image, query (target set) = another image.
    Chen and Deng 2024: support = k crops of one identity, query = one crop from another frame.
    """

    support: Any
    query: Any


def stack_tasks(tasks: Sequence[Task]) -> Task:
    """Stack tasks of identical shapes into one `Task` whose tensors gain a leading task dim T.

    This is the input layout of vmapped task batching (`MAMLConfig(batching="vmap")`).
    """
    if len(tasks) == 0:
        raise ValueError("stack_tasks: tasks is empty")
    for i, t in enumerate(tasks):
        if not isinstance(t, tuple) or len(t) != 2:
            raise TypeError(f"tasks[{i}] must be a Task(support, query), got {type(t).__name__}")
    return Task(
        support=stack_trees([t[0] for t in tasks]), query=stack_trees([t[1] for t in tasks])
    )


def split_support_query(
    batch: Any, n_support: int, *, generator: torch.Generator | None = None
) -> Task:
    """Randomly split one batch of samples into a `Task` with `n_support` support samples.

    Args:
        batch: `(inputs, targets)`, every tensor with the samples on dim 0 (N >= n_support + 1).
        n_support: support size; the remaining N - n_support samples form the query.
        generator: random generator (on CPU) for the permutation.
    """
    n = leading_size(batch, what="batch")
    if isinstance(n_support, bool) or not isinstance(n_support, int):
        raise TypeError(f"n_support must be an int, got {n_support!r}")
    if not 1 <= n_support < n:
        raise ValueError(f"n_support must be in [1, {n - 1}] for a batch of {n}, got {n_support}")
    perm = torch.randperm(n, generator=generator)
    s_idx, q_idx = perm[:n_support], perm[n_support:]
    return Task(
        support=tree_map(lambda t: t[s_idx.to(t.device)], batch),
        query=tree_map(lambda t: t[q_idx.to(t.device)], batch),
    )


def identity_task_indices(
    identities: Tensor,
    frames: Tensor,
    *,
    k: int,
    num_tasks: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample MAML-MOT tasks from detections of identities (Chen and Deng 2024, eq. 1).

    A task is one identity: its support set is `k` detections of that identity, its query is one
    detection of the same identity from a frame that appears in none of the support samples.
    Identities are drawn uniformly among those that admit such a task, then the query uniformly
    among that identity's admissible detections, then the support without replacement.

    Args:
        identities: `Tensor[N]` integer identity of each detection (make it unique per
            sequence, e.g. `seq_id * 100000 + track_id`); float and bool dtypes are rejected.
        frames: `Tensor[N]` integer frame index of each detection, on the same device.
        k: support size (Chen and Deng 2024: k crops).
        num_tasks: number of tasks T to sample (identities may repeat).
        generator: CPU random generator.

    Returns:
        `(support_idx, query_idx)`: `Tensor[T, k]` and `Tensor[T]` (int64) indices into the N
        detections. Gather samples with `gather_task`.
    """
    if not isinstance(identities, Tensor) or not isinstance(frames, Tensor):
        raise TypeError("identities and frames must be tensors")
    for name, given in (("identities", identities), ("frames", frames)):
        if given.is_floating_point() or given.is_complex() or given.dtype == torch.bool:
            raise TypeError(f"{name} must be an integer tensor, got dtype {given.dtype}")
    if identities.device != frames.device:
        raise ValueError(f"identities are on {identities.device} but frames on {frames.device}")
    if identities.dim() != 1 or identities.shape != frames.shape:
        raise ValueError(
            f"identities and frames must be 1-D of equal length, got {tuple(identities.shape)} "
            f"and {tuple(frames.shape)}"
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
        raise ValueError(f"num_tasks must be an int >= 1, got {num_tasks!r}")
    ids, fr = identities.cpu(), frames.cpu()
    # Group detections by identity (one sort), then per identity find the admissible queries:
    # detections with at least k detections of the same identity in other frames.
    order = torch.argsort(ids, stable=True)
    _, counts = torch.unique_consecutive(ids[order], return_counts=True)
    groups: list[tuple[Tensor, Tensor]] = []  # (members, admissible query indices)
    for members in torch.split(order, counts.tolist()):
        _, inverse, per_frame = torch.unique(fr[members], return_inverse=True, return_counts=True)
        n_other = members.numel() - per_frame[inverse]
        admissible = members[n_other >= k]
        if admissible.numel() > 0:
            groups.append((members, admissible))
    if not groups:
        raise ValueError(
            f"no identity has a detection with >= k={k} detections of itself in other frames"
        )
    support = torch.empty(num_tasks, k, dtype=torch.int64)
    query = torch.empty(num_tasks, dtype=torch.int64)
    pick = torch.randint(len(groups), (num_tasks,), generator=generator)
    for t, i in enumerate(pick.tolist()):
        members, admissible = groups[i]
        q = admissible[torch.randint(admissible.numel(), (1,), generator=generator)]
        others = members[fr[members] != fr[q]]
        support[t] = others[torch.randperm(others.numel(), generator=generator)[:k]]
        query[t] = q
    return support, query


def gather_task(samples: Any, support_idx: Tensor, query_idx: Tensor) -> Task:
    """Build a `Task` (or a stacked batch of tasks) by indexing a batch of samples.

    Args:
        samples: `(inputs, targets)` with all N samples on dim 0.
        support_idx: `Tensor[k]` (one task) or `Tensor[T, k]` (stacked tasks).
        query_idx: `Tensor[q]`, a scalar index (a query of one sample), or `Tensor[T]` /
            `Tensor[T, q]` for stacked tasks.
    """
    leading_size(samples, what="samples")
    for name, idx in (("support_idx", support_idx), ("query_idx", query_idx)):
        if not isinstance(idx, Tensor) or idx.is_floating_point() or idx.dtype == torch.bool:
            got = idx.dtype if isinstance(idx, Tensor) else type(idx).__name__
            raise TypeError(f"{name} must be an integer tensor, got {got}")
    if query_idx.dim() == support_idx.dim() - 1:
        query_idx = query_idx.unsqueeze(-1)
    return Task(
        support=tree_map(lambda t: t[support_idx.to(t.device)], samples),
        query=tree_map(lambda t: t[query_idx.to(t.device)], samples),
    )
