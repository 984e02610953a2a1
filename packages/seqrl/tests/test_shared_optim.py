"""The shared Adam/RAdam equals torch.optim step by step and is one optimiser across copies."""

import copy

import pytest
import torch

import seqrl


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
    ).double()


@pytest.mark.parametrize(
    ("name", "cls"), [("adam", torch.optim.Adam), ("radam", torch.optim.RAdam)]
)
def test_matches_torch_optim(name: str, cls: type) -> None:
    ours, ref = _net(), _net()
    params = list(ours.parameters())
    cfg = seqrl.OptimizerConfig(name=name, lr=1e-2, weight_decay=0.01)
    opt = seqrl.SharedOptimizer(params, cfg, seqrl.make_shared_state(params))
    ref_opt = cls(ref.parameters(), lr=1e-2, weight_decay=0.01)
    g = torch.Generator().manual_seed(1)
    for _ in range(25):  # RAdam switches from its warm-up to the rectified step at t = 6
        x = torch.randn(5, 3, generator=g, dtype=torch.float64)
        for net, o in ((ours, opt), (ref, ref_opt)):
            for p in net.parameters():
                p.grad = None
            (net(x) ** 2).sum().backward()
            o.step()
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


def test_state_is_shared_and_two_handles_are_one_optimiser() -> None:
    """Stepping alternately through two handles on the same state equals one optimiser."""
    net_a, net_b = _net(), _net()
    params_a = list(net_a.parameters())
    state = seqrl.make_shared_state(params_a)
    assert all(t.is_shared() for entry in state for t in entry.values())
    cfg = seqrl.OptimizerConfig(name="adam", lr=1e-2)
    h1 = seqrl.SharedOptimizer(params_a, cfg, state)
    h2 = seqrl.SharedOptimizer(params_a, cfg, state)
    single = seqrl.SharedOptimizer(
        list(net_b.parameters()), cfg, seqrl.make_shared_state(list(net_b.parameters()))
    )
    g = torch.Generator().manual_seed(2)
    for i in range(6):
        x = torch.randn(4, 3, generator=g, dtype=torch.float64)
        for net, o in ((net_a, h1 if i % 2 else h2), (net_b, single)):
            for p in net.parameters():
                p.grad = None
            net(x).sum().backward()
            o.step()
    assert float(state[0]["step"]) == 6.0
    for a, b in zip(net_a.parameters(), net_b.parameters()):
        torch.testing.assert_close(a, b)


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="optimizer name"):
        seqrl.OptimizerConfig(name="sgd")
    with pytest.raises(ValueError, match="lr"):
        seqrl.OptimizerConfig(lr=0.0)
    with pytest.raises(ValueError, match="betas"):
        seqrl.OptimizerConfig(betas=(0.9, 1.0))
    net = _net()
    with pytest.raises(ValueError, match="entries"):
        seqrl.SharedOptimizer(list(net.parameters()), seqrl.OptimizerConfig(), [])
    assert copy.deepcopy(seqrl.OptimizerConfig()) == seqrl.OptimizerConfig()
