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
