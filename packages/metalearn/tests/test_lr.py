"""Learned learning-rate modules: shapes, counts, per-step indexing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metalearn import ElementwiseLR, FixedLR, KernelwiseLR, ScalarLR, inner_loop


def _params() -> dict[str, torch.Tensor]:
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 5, 1), nn.Linear(5, 2))
    return dict(m.named_parameters())


def test_kernelwise_count_is_sum_of_output_channels() -> None:
    params = _params()
    lr = KernelwiseLR(params)
    # weights: 8 + 5 + 2 output channels; biases: 8 + 5 + 2 elements
    assert sum(p.numel() for p in lr.parameters()) == 2 * (8 + 5 + 2)
    assert all(torch.all(p == torch.tensor(1e-3)) for p in lr.parameters())
    assert lr.rate("0.weight").shape == (8, 1, 1, 1)
    assert lr.rate("3.weight").shape == (2, 1)
    assert lr.rate("0.bias").shape == (8,)
    per_step = KernelwiseLR(params, per_step=4)
    assert sum(p.numel() for p in per_step.parameters()) == 4 * 2 * (8 + 5 + 2)


def test_elementwise_and_scalar_counts() -> None:
    params = _params()
    total = sum(p.numel() for p in params.values())
    assert sum(p.numel() for p in ElementwiseLR(params).parameters()) == total
    assert sum(p.numel() for p in ScalarLR(params).parameters()) == 1
    assert sum(p.numel() for p in ScalarLR(params, per_step=3).parameters()) == 3


def test_kernelwise_scales_each_output_channel() -> None:
    params = _params()
    lr = KernelwiseLR(params)
    with torch.no_grad():
        lr.rates[0].copy_(torch.arange(8.0))
    g = torch.ones_like(params["0.weight"])
    out = lr({"0.weight": g})["0.weight"]
    expected = torch.arange(8.0).view(8, 1, 1, 1).expand_as(g)
    torch.testing.assert_close(out, expected)


def test_per_step_rates_are_used_per_step_and_clamped() -> None:
    w = nn.Parameter(torch.zeros(2))
    lr = ScalarLR({"w": w}, per_step=2)
    with torch.no_grad():
        lr.rates[0].copy_(torch.tensor([1.0, 10.0]))
    g = {"w": torch.ones(2)}
    assert float(lr(g, 0)["w"][0].detach()) == 1.0
    assert float(lr(g, 1)["w"][0].detach()) == 10.0
    assert float(lr(g, 7)["w"][0].detach()) == 10.0  # past the trained steps: last step's rate


def test_per_step_rates_inside_inner_loop() -> None:
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    lr = ScalarLR(dict(model.named_parameters()), per_step=2)
    with torch.no_grad():
        lr.rates[0].copy_(torch.tensor([0.5, 0.25]))
    x, y = torch.ones(1, 1), torch.ones(1, 1)

    def loss(o: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return ((o - t) ** 2).mean() / 2  # gradient = w - 1

    thetas = inner_loop(model, (x, y), loss, steps=2, lr=lr)
    # w1 = 0 - 0.5 (0 - 1) = 0.5 ; w2 = 0.5 - 0.25 (0.5 - 1) = 0.625
    assert thetas[1]["weight"].item() == pytest.approx(0.5)
    assert thetas[2]["weight"].item() == pytest.approx(0.625)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        KernelwiseLR({})
    with pytest.raises(TypeError, match="Tensor or a shape"):
        KernelwiseLR({"w": 3})
    with pytest.raises(ValueError, match="per_step"):
        ScalarLR({"w": torch.zeros(1)}, per_step=0)
    with pytest.raises(KeyError, match="nope"):
        KernelwiseLR({"w": torch.zeros(2, 2)}).rate("nope")
    with pytest.raises(TypeError, match="lr must be a float"):
        FixedLR("0.1")  # type: ignore[arg-type]
