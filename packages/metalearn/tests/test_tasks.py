"""Task utilities: support/query splits and MAML-MOT identity tasks (Chen and Deng 2024)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from metalearn import Task, gather_task, identity_task_indices, split_support_query, stack_tasks


def test_split_support_query_is_a_partition() -> None:
    x = torch.arange(10.0).unsqueeze(1)
    y = torch.arange(10) * 2
    task = split_support_query((x, y), 3, generator=torch.Generator().manual_seed(0))
    assert task.support[0].shape == (3, 1) and task.query[0].shape == (7, 1)
    seen = torch.cat([task.support[0][:, 0], task.query[0][:, 0]]).sort().values
    torch.testing.assert_close(seen, x[:, 0])
    torch.testing.assert_close(task.support[1], task.support[0][:, 0].long() * 2)
    with pytest.raises(ValueError, match="n_support"):
        split_support_query((x, y), 10)


@settings(max_examples=40)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5)), min_size=1, max_size=40),
    st.integers(1, 3),
    st.integers(0, 2**16),
)
def test_identity_tasks_properties(dets: list[tuple[int, int]], k: int, seed: int) -> None:
    ids = torch.tensor([d[0] for d in dets])
    frames = torch.tensor([d[1] for d in dets])
    admissible = any(
        int(((ids == ids[q]) & (frames != frames[q])).sum()) >= k for q in range(len(dets))
    )
    if not admissible:
        with pytest.raises(ValueError, match="no identity"):
            identity_task_indices(ids, frames, k=k, num_tasks=2)
        return
    g = torch.Generator().manual_seed(seed)
    s, q = identity_task_indices(ids, frames, k=k, num_tasks=5, generator=g)
    assert s.shape == (5, k) and q.shape == (5,)
    for t in range(5):
        assert bool((ids[s[t]] == ids[q[t]]).all())  # one identity per task
        assert bool((frames[s[t]] != frames[q[t]]).all())  # query from another frame
        assert len(set(s[t].tolist())) == k  # support without replacement


def test_gather_task_single_and_stacked() -> None:
    feats = torch.arange(12.0).reshape(6, 2)
    labels = torch.arange(6)
    s, q = identity_task_indices(
        torch.tensor([0, 0, 0, 1, 1, 1]), torch.tensor([0, 1, 2, 0, 1, 2]), k=2, num_tasks=3
    )
    stacked = gather_task((feats, labels), s, q)
    assert stacked.support[0].shape == (3, 2, 2) and stacked.query[0].shape == (3, 1, 2)
    one = gather_task((feats, labels), s[0], q[0])
    assert one.support[0].shape == (2, 2) and one.query[0].shape == (1, 2)
    same = stack_tasks([gather_task((feats, labels), s[i], q[i]) for i in range(3)])
    torch.testing.assert_close(same.support[0], stacked.support[0])
    assert isinstance(same, Task)
