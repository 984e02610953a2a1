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
