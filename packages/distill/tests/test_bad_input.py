"""Hyperparameters of the Hinton loss and value fusion: one-line errors naming them.

Before the api12 audit ``temperature=inf`` returned a NaN loss from finite logits, and a
string ``temperature``/``alpha``/``margin`` was a raw ``'>' not supported`` TypeError.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from distill import fuse_by_value, hinton_distillation_loss, soft_target_loss

S = torch.randn(4, 3)
T = torch.randn(4, 3)
Y = torch.tensor([0, 1, 2, 0])
BOXES = torch.tensor([[[0, 0, 10, 10.0], [1, 1, 10, 10], [20, 20, 5, 5]]])
VALUES = torch.tensor([[0.5, 0.4, 0.9]])

CASES = [
    ("temperature", lambda: hinton_distillation_loss(S, T, Y, temperature=float("inf"))),
    ("temperature", lambda: hinton_distillation_loss(S, T, Y, temperature="4")),
    ("temperature", lambda: soft_target_loss(S, T, temperature=float("nan"))),
    ("alpha", lambda: hinton_distillation_loss(S, T, Y, alpha="0.9")),
    ("alpha", lambda: hinton_distillation_loss(S, T, Y, alpha=None)),
    ("margin", lambda: fuse_by_value(BOXES, VALUES, margin="a")),
    ("margin", lambda: fuse_by_value(BOXES, VALUES, margin=float("inf"))),
]


@pytest.mark.parametrize(("name", "call"), CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_bad_hyperparameter_is_a_one_line_error(name: str, call: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert name in str(info.value)
    assert "\n" not in str(info.value)


def test_valid_hyperparameters_still_work() -> None:
    loss = hinton_distillation_loss(S, T, Y, temperature=4, alpha=1)
    assert torch.isfinite(loss)
    assert fuse_by_value(BOXES, VALUES, margin=0).candidate_index.tolist() == [2]


def _with_nan(t: torch.Tensor, index: tuple[int, ...]) -> torch.Tensor:
    out = t.clone()
    out[index] = float("nan")
    return out


def test_nan_logits_give_a_nan_loss_not_a_hidden_one() -> None:
    """Documented decision (as torch): NaN in the logits or actions is NaN out, never masked."""
    from distill import (
        detection_distillation_loss,
        feature_distillation_loss,
        masked_action_distillation_loss,
    )

    assert torch.isnan(soft_target_loss(_with_nan(S, (0, 0)), T))
    assert torch.isnan(soft_target_loss(S, _with_nan(T, (1, 1))))
    assert torch.isnan(hinton_distillation_loss(_with_nan(S, (0, 0)), T, Y))
    # alpha = 0 weighs the soft term by 0, but 0 * NaN stays NaN: the teacher's NaN shows
    assert torch.isnan(hinton_distillation_loss(S, _with_nan(T, (1, 1)), Y, alpha=0.0))
    assert torch.isnan(feature_distillation_loss(_with_nan(S, (2, 2)), T))
    actions, mask = torch.randn(2, 5, 4), torch.ones(2, 5)
    mask[0, 0] = 0.0  # a masked-out step still shows its NaN
    nan_actions = _with_nan(actions, (0, 0, 0))
    assert torch.isnan(masked_action_distillation_loss(nan_actions, torch.randn(2, 5, 4), mask))
    logits, boxes = torch.randn(1, 6, 2), torch.randn(1, 6, 4)
    result = detection_distillation_loss(_with_nan(logits, (0, 0, 0)), logits, boxes, boxes)
    assert torch.isnan(result.score) and torch.isfinite(result.box)
    # finite inputs stay finite
    assert torch.isfinite(hinton_distillation_loss(S, T, Y))
