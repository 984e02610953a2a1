"""Mismatched shapes are one-line ValueErrors naming the tensors (was a torch RuntimeError
"The size of tensor a (2) must match the size of tensor b (3)" from inside the formula)."""

from __future__ import annotations

import pytest
import torch

from seqrl import apply_box_action, gaussian_log_prob

BOXES = torch.tensor([[0.0, 0.0, 10.0, 10.0]] * 3)


@pytest.mark.parametrize("rows", [0, 2])
def test_gaussian_log_prob_shapes_must_broadcast(rows: int) -> None:
    with pytest.raises(ValueError, match=r"actions \(\d, 4\), mu \(3, 4\)"):
        gaussian_log_prob(torch.zeros(rows, 4), torch.zeros(3, 4), torch.ones(3, 4))
    # broadcasting samples against one mean stays allowed
    out = gaussian_log_prob(torch.zeros(5, 3, 4), torch.zeros(3, 4), torch.ones(3, 4))
    assert out.shape == (5, 3)


@pytest.mark.parametrize("rows", [0, 2])
def test_apply_box_action_shapes_must_broadcast(rows: int) -> None:
    with pytest.raises(ValueError, match="boxes_xywh"):
        apply_box_action(torch.zeros(rows, 4), BOXES)
    assert apply_box_action(torch.zeros(3, 4), BOXES).shape == (3, 4)
