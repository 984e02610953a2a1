"""Feature distillation and the 1x1 adapter."""

from __future__ import annotations

import pytest
import torch

from distill import FeatureAdapter, feature_distillation_loss


def test_hand_value_without_adapter() -> None:
    student = torch.zeros(1, 2, 1, 2)
    teacher = torch.tensor([[[[1.0, 2.0]], [[0.0, -1.0]]]])
    torch.testing.assert_close(feature_distillation_loss(student, teacher), torch.tensor(1.5))


def test_adapter_maps_channels_and_receives_gradient() -> None:
    torch.manual_seed(0)
    adapter = FeatureAdapter(3, 5)
    student = torch.randn(2, 3, 4, 4, requires_grad=True)
    teacher = torch.randn(2, 5, 4, 4, requires_grad=True)
    loss = feature_distillation_loss(student, teacher, adapter=adapter)
    manual = (adapter.conv(student) - teacher).pow(2).mean()
    torch.testing.assert_close(loss, manual)
    loss.backward()
    assert adapter.conv.weight.grad is not None and student.grad is not None
    assert teacher.grad is None  # teacher features are targets


def test_identity_adapter_gives_zero_loss() -> None:
    adapter = FeatureAdapter(4, 4, dtype=torch.float64)
    with torch.no_grad():
        adapter.conv.weight.copy_(torch.eye(4, dtype=torch.float64)[:, :, None, None])
        adapter.conv.bias.zero_()
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    assert float(feature_distillation_loss(x, x.clone(), adapter=adapter).detach()) == 0.0


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="pass adapter"):
        feature_distillation_loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 5, 2, 2))
    with pytest.raises(ValueError, match="after the adapter"):
        feature_distillation_loss(
            torch.zeros(1, 3, 2, 2), torch.zeros(1, 5, 4, 4), adapter=FeatureAdapter(3, 5)
        )
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        FeatureAdapter(3, 5)(torch.zeros(1, 4, 2, 2))
    with pytest.raises(ValueError, match="channel counts"):
        FeatureAdapter(0, 5)
