"""Elementwise losses: bad tensors and hyperparameters are one-line errors naming them.

Before the api12 audit a string ``alpha`` was a raw ``'>=' not supported`` TypeError, a NaN
``gamma``/``beta`` gave a NaN loss from finite logits, an int64 target a deep torch error.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from detheads import huber_loss, sigmoid_focal_loss, smooth_l1_loss

L = torch.randn(6, 2)
T = (torch.rand(6, 2) > 0.5).float()

CASES = [
    ("alpha", lambda: sigmoid_focal_loss(L, T, alpha="a")),
    ("alpha", lambda: sigmoid_focal_loss(L, T, alpha=float("nan"))),
    ("gamma", lambda: sigmoid_focal_loss(L, T, gamma=float("nan"))),
    ("gamma", lambda: sigmoid_focal_loss(L, T, gamma=-1.0)),
    ("gamma", lambda: sigmoid_focal_loss(L, T, gamma=None)),
    ("target", lambda: sigmoid_focal_loss(L, T.long())),
    ("input", lambda: sigmoid_focal_loss(L.numpy(), T)),
    ("beta", lambda: smooth_l1_loss(L, T, beta=float("nan"))),
    ("beta", lambda: smooth_l1_loss(L, T, beta="0.1")),
    ("delta", lambda: huber_loss(L, T, delta=float("inf"))),
    ("target", lambda: huber_loss(L, None)),
    ("target on meta", lambda: huber_loss(L, T.to("meta"))),
]


@pytest.mark.parametrize(("name", "call"), CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_loss_bad_input_is_a_one_line_error(name: str, call: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert name in str(info.value)
    assert "\n" not in str(info.value)


def test_valid_hyperparameters_unchanged() -> None:
    import numpy as np

    a = sigmoid_focal_loss(L, T, alpha=0.25, gamma=2, reduction="sum")
    b = sigmoid_focal_loss(L, T, alpha=np.float32(0.25), gamma=2.0, reduction="sum")
    torch.testing.assert_close(a, b)
    assert torch.isfinite(smooth_l1_loss(L, T, beta=0)).all()
