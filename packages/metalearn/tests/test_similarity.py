"""Similarity-weighted initialisation (Chen and Deng 2024, eqs. 6-7)."""

from __future__ import annotations

import math

import pytest
import torch

from metalearn import similarity_weighted_init, task_similarity


def test_eq6_hand_computed() -> None:
    new = torch.tensor([1.0, 0.0])
    feats = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])  # one task, k=2
    # sum_j <new, f_j> = 1; sqrt(2 * 1) * sqrt(1 + 4) = sqrt(10)
    torch.testing.assert_close(task_similarity(new, feats), torch.tensor([1 / math.sqrt(10)]))
    flat = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    expected = torch.tensor([1.0, 0.0, 1 / math.sqrt(2)])
    torch.testing.assert_close(task_similarity(new, flat), expected)


def test_weighted_average_and_identical_task() -> None:
    new = torch.tensor([1.0, 0.0, 0.0])
    feats = torch.tensor([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    params = [{"w": torch.full((2, 2), float(i))} for i in range(3)]
    out = similarity_weighted_init(new, feats, params)
    g = torch.tensor([1.0, 0.0, 1 / math.sqrt(2)])
    expected = (g / g.sum() * torch.tensor([0.0, 1.0, 2.0])).sum()
    torch.testing.assert_close(out["w"], torch.full((2, 2), float(expected)))
    only = similarity_weighted_init(
        new, feats[:2], {"w": torch.stack([p["w"] for p in params[:2]])}
    )
    torch.testing.assert_close(only["w"], params[0]["w"])


def test_negative_similarities_are_dropped_by_default_and_errors() -> None:
    new = torch.tensor([1.0, 0.0])
    feats = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    params = {"w": torch.tensor([[1.0], [5.0]])}
    torch.testing.assert_close(
        similarity_weighted_init(new, feats, params)["w"], torch.tensor([1.0])
    )
    with pytest.raises(ValueError, match="sum to zero"):
        similarity_weighted_init(new, feats, params, min_similarity=None)
    with pytest.raises(ValueError, match="leading size"):
        similarity_weighted_init(new, feats, {"w": torch.zeros(3, 1)})
    with pytest.raises(ValueError, match="D=2"):
        task_similarity(new, torch.zeros(2, 3))


def test_batched_new_features_equal_one_by_one() -> None:
    gen = torch.Generator().manual_seed(0)
    feats = torch.rand(5, 3, 4, generator=gen)  # 5 tasks, k=3, D=4 (non-negative: ReLU features)
    params = {"w": torch.randn(5, 2, 4, generator=gen), "b": torch.randn(5, 2, generator=gen)}
    new = torch.rand(6, 4, generator=gen)
    gamma = task_similarity(new, feats)
    assert gamma.shape == (6, 5)
    batched = similarity_weighted_init(new, feats, params)
    for i in range(6):
        torch.testing.assert_close(gamma[i], task_similarity(new[i], feats))
        one = similarity_weighted_init(new[i], feats, params)
        for name in params:
            torch.testing.assert_close(batched[name][i], one[name])


def test_fallback_for_tasks_without_similar_training_task() -> None:
    new = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    feats = torch.tensor([[1.0, 0.0], [2.0, 0.0]])  # orthogonal to the second new feature
    params = {"w": torch.tensor([[1.0], [4.0]])}
    fallback = {"w": torch.tensor([-7.0])}
    out = similarity_weighted_init(new, feats, params, fallback=fallback)
    torch.testing.assert_close(out["w"], torch.tensor([[2.5], [-7.0]]))  # (1*1 + 1*4) / 2
    with pytest.raises(ValueError, match="sum to zero"):
        similarity_weighted_init(new, feats, params)
    with pytest.raises(ValueError, match="fallback"):
        similarity_weighted_init(new, feats, params, fallback={"w": torch.zeros(2)})
    with pytest.raises(ValueError, match="Tensor\\[B, D\\]"):
        task_similarity(torch.zeros(1, 1, 2), feats)
