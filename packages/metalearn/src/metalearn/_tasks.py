"""A meta-learning task: a support batch to adapt on and a query batch to evaluate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from ._tree import stack_trees

__all__ = ["Task", "stack_tasks"]


class Task(NamedTuple):
    """One task `(support, query)`; each is a `Batch` `(inputs, targets)` with the batch on dim 0.

    Paper 000: support = 3 zoomed copies of one image, query (target set) = another image.
    Paper 001: support = k crops of one identity, query = one crop from another frame.
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
