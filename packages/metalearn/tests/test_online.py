"""Batched online adaptation: steps without a graph, adapt_batched (loop and vmap) and the tensor
support buffer, each against a slow, obvious reference."""

from __future__ import annotations

import pytest
import torch
from _ml_models import ConvHead
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor

from metalearn import (
    KernelwiseLR,
    SupportBuffer,
    adapt_batched,
    gradient_descent,
    weighted_mean,
)

ADAPTED = ["cls.weight", "cls.bias", "reg.weight", "reg.bias"]


def per_sample_loss(outputs: tuple[Tensor, Tensor], targets: tuple[Tensor, Tensor]) -> Tensor:
    """BCE on the score map plus masked L1 on the box map, one value per sample."""
    cls, reg = outputs
    cls_t, reg_t = targets
    bce = torch.nn.functional.binary_cross_entropy_with_logits(cls, cls_t, reduction="none")
    l1 = ((reg - reg_t).abs() * cls_t).flatten(1).sum(1)
    return bce.flatten(1).mean(1) + l1 / cls_t.flatten(1).sum(1).clamp(min=1.0)


def _setup(b: int = 3, n: int = 5, seed: int = 0):
    torch.manual_seed(seed)
    model = ConvHead()
    named = dict(model.named_parameters())
    lr = KernelwiseLR({k: named[k] for k in ADAPTED}, init=0.05)
    with torch.no_grad():
        for r in lr.rates:
            r.uniform_(0.01, 0.1)
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(b, n, 4, 7, 7, generator=g)
    cls_t = (torch.rand(b, n, 1, 7, 7, generator=g) > 0.8).float()
    reg_t = torch.rand(b, n, 4, 7, 7, generator=g)
    params = {
        k: (named[k].detach() + 0.1 * torch.randn(b, *named[k].shape, generator=g)) for k in ADAPTED
    }
    return model, lr, params, (feats, (cls_t, reg_t))


def _reference(model, lr, params, support, weights, steps):  # type: ignore[no-untyped-def]
    """Sequence by sequence, sample loop, plain autograd: the obvious implementation."""
    feats, (cls_t, reg_t) = support
    out = {k: [] for k in params}
    for i in range(feats.shape[0]):
        theta = {k: v[i].clone() for k, v in params.items()}
        for k in range(steps):
            leaves = {m: t.clone().requires_grad_(True) for m, t in theta.items()}
            num, den = 0.0, 0.0
            for j in range(feats.shape[1]):
                w = float(weights[i, j])
                if w == 0:
                    continue
                o = torch.func.functional_call(model, leaves, (feats[i, j : j + 1],))
                num = num + w * per_sample_loss(o, (cls_t[i, j : j + 1], reg_t[i, j : j + 1]))[0]
                den += w
            if den == 0:
                break
            loss = num / max(den, 1.0)
            grads = torch.autograd.grad(loss, list(leaves.values()))
            with torch.no_grad():
                theta = {
                    m: leaves[m].detach() - lr.rate(m, k) * g
                    for m, g in zip(leaves, grads, strict=True)
                }
        for m in theta:
            out[m].append(theta[m])
    return {m: torch.stack(v) for m, v in out.items()}


def test_gradient_descent_without_graph_matches_first_order_values_and_is_detached() -> None:
    model, lr, params, (feats, targets) = _setup(b=1)
    theta0 = {k: v[0] for k, v in params.items()}

    def loss(theta: dict[str, Tensor]) -> Tensor:
        out = torch.func.functional_call(model, theta, (feats[0],))
        return per_sample_loss(out, (targets[0][0], targets[1][0])).mean()

    fo = gradient_descent(loss, theta0, steps=3, lr=lr, first_order=True)
    ng = gradient_descent(loss, theta0, steps=3, lr=lr, track_graph=False)
    assert len(ng) == 4
    for a, b in zip(fo, ng, strict=True):
        for k in ADAPTED:
            torch.testing.assert_close(b[k], a[k].detach(), rtol=0, atol=0)
            assert not b[k].requires_grad and b[k].grad_fn is None
    assert all(p.grad is None for p in lr.parameters())


@pytest.mark.parametrize("batching", ["loop", "vmap"])
def test_adapt_batched_matches_the_per_sequence_reference(batching: str) -> None:
    model, lr, params, support = _setup()
    weights = torch.tensor(
        [[1.0, 1.0, 0.0, 1.0, 0.0], [2.0, 0.5, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0, 0.0]]
    )
    got = adapt_batched(
        model, params, support, per_sample_loss, steps=2, lr=lr, weights=weights, batching=batching
    )
    ref = _reference(model, lr, params, support, weights, 2)
    for k in ADAPTED:
        assert got[k].shape == params[k].shape and not got[k].requires_grad
        torch.testing.assert_close(got[k], ref[k], rtol=1e-5, atol=1e-6)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_adapt_batched_loop_equals_vmap_and_default_weights() -> None:
    model, lr, params, support = _setup(seed=1)
    loop = adapt_batched(model, params, support, per_sample_loss, steps=3, lr=lr)
    vmap = adapt_batched(model, params, support, per_sample_loss, steps=3, lr=lr, batching="vmap")
    ones = torch.ones(3, 5)
    ref = _reference(model, lr, params, support, ones, 3)
    for k in ADAPTED:
        torch.testing.assert_close(loop[k], vmap[k], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(loop[k], ref[k], rtol=1e-5, atol=1e-6)


def test_adapt_batched_empty_support_and_zero_steps_keep_the_weights() -> None:
    model, lr, params, support = _setup()
    zero = torch.zeros(3, 5)
    for batching in ("loop", "vmap"):
        out = adapt_batched(
            model, params, support, per_sample_loss, steps=2, lr=lr, weights=zero, batching=batching
        )
        for k in ADAPTED:
            torch.testing.assert_close(out[k], params[k], rtol=0, atol=0)
    out = adapt_batched(model, params, support, per_sample_loss, steps=0, lr=lr)
    assert all(torch.equal(out[k], params[k]) for k in ADAPTED)


def test_adapt_batched_rejects_bad_arguments() -> None:
    model, lr, params, support = _setup()
    with pytest.raises(ValueError, match="batching"):
        adapt_batched(model, params, support, per_sample_loss, steps=1, lr=lr, batching="pmap")
    with pytest.raises(ValueError, match="weights"):
        adapt_batched(
            model, params, support, per_sample_loss, steps=1, lr=lr, weights=torch.ones(3)
        )
    with pytest.raises(ValueError, match="steps"):
        adapt_batched(model, params, support, per_sample_loss, steps=-1, lr=lr)
    with pytest.raises(ValueError, match="one loss per sample"):
        adapt_batched(model, params, support, lambda o, t: o[0].sum(), steps=1, lr=lr)
    with pytest.raises(ValueError, match="leading"):
        adapt_batched(model, params, (support[0][:2], support[1]), per_sample_loss, steps=1, lr=lr)
    with pytest.raises(TypeError, match="pair"):
        adapt_batched(model, params, support[0], per_sample_loss, steps=1, lr=lr)


def test_weighted_mean() -> None:
    losses = torch.tensor([1.0, 2.0, 4.0])
    assert weighted_mean(losses, torch.tensor([1.0, 0.0, 1.0])).item() == pytest.approx(2.5)
    assert weighted_mean(losses, torch.tensor([0.25, 0.0, 0.25])).item() == pytest.approx(1.25)
    assert weighted_mean(losses, torch.zeros(3)).item() == 0.0
    with pytest.raises(ValueError, match="differ"):
        weighted_mean(losses, torch.ones(2))


def test_support_buffer_keeps_pinned_samples_fifo() -> None:
    feats = torch.arange(2, dtype=torch.float32).reshape(2, 1, 1).expand(2, 2, 1)
    buf = SupportBuffer.start((feats.clone(), {"box": torch.zeros(2, 2, 4)}), capacity=5)
    assert buf.valid.sum(1).tolist() == [2, 2] and buf.capacity == 5
    for i in range(7):
        mask = torch.tensor([True, i % 2 == 0])
        buf.add((torch.full((2, 1), 10.0 + i), {"box": torch.full((2, 4), float(i))}), mask)
    f, t = buf.samples
    # sequence 0: 7 samples cycled through 3 slots -> samples 4, 5, 6 remain; pinned kept
    assert f[0, :2].flatten().tolist() == [0.0, 0.0]
    assert sorted(f[0, 2:].flatten().tolist()) == [14.0, 15.0, 16.0]
    assert sorted(t["box"][0, 2:, 0].tolist()) == [4.0, 5.0, 6.0]
    assert buf.valid[0].all()
    # sequence 1: samples 0, 2, 4, 6 -> 2, 4, 6 remain
    assert f[1, :2].flatten().tolist() == [1.0, 1.0]
    assert sorted(f[1, 2:].flatten().tolist()) == [12.0, 14.0, 16.0]
    sub = buf.select(torch.tensor([1]))
    assert torch.equal(sub.samples[0][0], f[1]) and sub.n_pinned == 2
    sub.samples[0][0, 0] = -1.0  # a copy
    assert f[1, 0, 0].item() == 1.0


@given(
    masks=st.lists(st.lists(st.booleans(), min_size=2, max_size=2), min_size=0, max_size=20),
    capacity=st.integers(3, 6),
    weights=st.lists(st.floats(0.1, 3.0), min_size=20, max_size=20),
)
def test_support_buffer_matches_a_list_reference(
    masks: list[list[bool]], capacity: int, weights: list[float]
) -> None:
    n_pinned = 2
    first = torch.tensor([[[1.0], [2.0]], [[3.0], [4.0]]])
    buf = SupportBuffer.start(first, capacity=capacity, weights=torch.full((2, 2), 0.5))
    ref: list[list[tuple[float, float]]] = [[], []]  # unpinned (value, weight), oldest first
    for step, m in enumerate(masks):
        value = torch.tensor([[100.0 + step], [200.0 + step]])
        w = weights[step]
        buf.add(value, torch.tensor(m), weight=w)
        for i in range(2):
            if m[i]:
                ref[i].append((float(value[i, 0]), w))
                ref[i] = ref[i][-(capacity - n_pinned) :]
    for i in range(2):
        got = buf.samples[i, n_pinned:, 0][buf.valid[i, n_pinned:]]
        got_w = buf.weights[i, n_pinned:][buf.valid[i, n_pinned:]]
        pairs = sorted(zip(got.tolist(), got_w.tolist()))
        assert [v for v, _ in pairs] == [v for v, _ in sorted(ref[i])]
        assert [w for _, w in pairs] == pytest.approx([w for _, w in sorted(ref[i])])
        assert buf.samples[i, :n_pinned, 0].tolist() == first[i, :, 0].tolist()
        assert buf.weights[i, :n_pinned].tolist() == [0.5, 0.5]


def test_support_buffer_rejects_bad_input() -> None:
    feats = torch.zeros(2, 2, 3)
    with pytest.raises(ValueError, match="capacity"):
        SupportBuffer.start(feats, capacity=2)
    with pytest.raises(ValueError, match="leading"):
        SupportBuffer.start((feats, torch.zeros(2, 3, 4)), capacity=5)
    with pytest.raises(ValueError, match="weights"):
        SupportBuffer.start(feats, capacity=5, weights=torch.zeros(2, 2))
    buf = SupportBuffer.start(feats, capacity=5)
    with pytest.raises(ValueError, match="mask"):
        buf.add(torch.zeros(2, 3), torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="weight"):
        buf.add(torch.zeros(2, 3), torch.ones(2, dtype=torch.bool), weight=0.0)
    with pytest.raises(ValueError, match="fit"):
        buf.add(torch.zeros(2, 4), torch.ones(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="structure"):
        buf.add((torch.zeros(2, 3),), torch.ones(2, dtype=torch.bool))


def test_adapt_batched_differentiable_is_first_order_with_the_same_values() -> None:
    """``differentiable=True``: same adapted values as the graph-free path, and a first-order
    graph back to the initial weights (d theta_K / d theta_0 = I, so the gradient of
    ``sum(theta_K)`` is all ones) and to the learned rates."""
    model, lr, params, support = _setup(seed=2)
    leaves = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    plain = adapt_batched(model, leaves, support, per_sample_loss, steps=2, lr=lr)
    graph = adapt_batched(
        model, leaves, support, per_sample_loss, steps=2, lr=lr, differentiable=True
    )
    total = sum(graph[k].sum() for k in ADAPTED)
    grads = torch.autograd.grad(total, [leaves[k] for k in ADAPTED])
    for k, g in zip(ADAPTED, grads, strict=True):
        torch.testing.assert_close(graph[k].detach(), plain[k], rtol=1e-6, atol=1e-7)
        assert graph[k].requires_grad and not plain[k].requires_grad
        torch.testing.assert_close(g, torch.ones_like(g))
    rate_grads = torch.autograd.grad(
        sum(graph[k].sum() for k in ADAPTED), list(lr.parameters()), allow_unused=True
    )
    assert any(g is not None and bool(g.abs().sum() > 0) for g in rate_grads)
    with pytest.raises(ValueError, match="loop"):
        adapt_batched(
            model, params, support, per_sample_loss, steps=1, lr=lr, differentiable=True,
            batching="vmap",
        )  # fmt: skip
