"""Elementwise losses: identities, hand values, torch references, reductions.

The focal-loss tests run on the ``device`` fixture (CUDA when available, else CPU).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from detheads import (
    centerness_bce_loss,
    centerness_l2_loss,
    giou_loss,
    huber_loss,
    iou_loss,
    l1_loss,
    normalize_by_positives,
    reduce_loss,
    sigmoid_focal_loss,
    smooth_l1_loss,
)


def test_focal_gamma0_no_alpha_equals_bce(device: torch.device) -> None:
    torch.manual_seed(0)
    x, t = torch.randn(50) * 4, (torch.rand(50) > 0.5).float()
    x, t = x.to(device), t.to(device)
    expected = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    assert torch.allclose(sigmoid_focal_loss(x, t, gamma=0.0, alpha=-1), expected, atol=1e-6)


def test_focal_hand_value_and_slow_reference(device: torch.device) -> None:
    x = torch.tensor([0.0, 2.0, -1.0], device=device)
    t = torch.tensor([1.0, 0.0, 1.0], device=device)
    got = sigmoid_focal_loss(x, t)  # alpha 0.25, gamma 2
    assert got.device == x.device
    ref = []
    for xi, ti in zip(x.tolist(), t.tolist(), strict=True):
        p = 1 / (1 + math.exp(-xi))
        pt = p if ti == 1 else 1 - p
        at = 0.25 if ti == 1 else 0.75
        ref.append(-at * (1 - pt) ** 2 * math.log(pt))
    assert torch.allclose(got, torch.tensor(ref, device=device), atol=1e-6)
    assert math.isclose(got[0].item(), 0.25 * 0.25 * math.log(2), rel_tol=1e-5)


def test_focal_extreme_logits_are_finite_and_second_order(device: torch.device) -> None:
    x = torch.tensor([-100.0, 100.0, 30.0], dtype=torch.float64, device=device, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64, device=device)
    loss = sigmoid_focal_loss(x, t, reduction="sum")
    assert torch.isfinite(loss)
    (g,) = torch.autograd.grad(loss, x, create_graph=True)
    assert torch.isfinite(g).all()
    y = torch.randn(6, dtype=torch.float64, device=device, requires_grad=True)
    tt = torch.rand(6, dtype=torch.float64, device=device)
    assert torch.autograd.gradgradcheck(lambda z: sigmoid_focal_loss(z, tt, reduction="sum"), (y,))


def test_regression_losses_match_torch() -> None:
    torch.manual_seed(1)
    a, b = torch.randn(40) * 2, torch.randn(40) * 2
    assert torch.allclose(
        smooth_l1_loss(a, b), F.smooth_l1_loss(a, b, beta=1 / 9, reduction="none")
    )
    assert torch.allclose(smooth_l1_loss(a, b, beta=0.0), (a - b).abs())
    assert torch.allclose(
        huber_loss(a, b, delta=0.7), F.huber_loss(a, b, delta=0.7, reduction="none")
    )
    assert torch.allclose(l1_loss(a, b, reduction="mean"), (a - b).abs().mean())


def test_iou_losses_hand_values() -> None:
    p = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    t = torch.tensor([[1.0, 0.0, 3.0, 2.0]])  # IoU = 2 / 6
    assert torch.allclose(iou_loss(p, t), torch.tensor([1 - 1 / 3]), atol=1e-6)
    assert torch.allclose(iou_loss(p, t, log=True), torch.tensor([math.log(3)]), atol=1e-6)
    assert torch.allclose(
        giou_loss(p, t), torch.tensor([1 - 1 / 3]), atol=1e-6
    )  # enclosing = union


def test_centerness_losses() -> None:
    x = torch.tensor([0.0, 1.0])
    t = torch.tensor([0.5, 0.0])
    s = torch.sigmoid(x)
    assert torch.allclose(centerness_l2_loss(x, t), (s - t) ** 2)
    assert torch.allclose(
        centerness_bce_loss(x, t), F.binary_cross_entropy_with_logits(x, t, reduction="none")
    )


def test_reduction_and_normalisation() -> None:
    x = torch.tensor([1.0, 2.0, 3.0])
    assert reduce_loss(x, "sum", torch.tensor([1.0, 0.0, 1.0])).item() == 4.0
    assert reduce_loss(x, "mean").item() == 2.0
    with pytest.raises(ValueError, match="reduction"):
        l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        sigmoid_focal_loss(x, x, reduction="batchmean")
    with pytest.raises(ValueError, match="differ"):
        l1_loss(x, x[:2])
    assert normalize_by_positives(torch.tensor(6.0), torch.tensor(0.0)).item() == 6.0
    assert normalize_by_positives(torch.tensor(6.0), 3).item() == 2.0
