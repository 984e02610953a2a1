"""Online Adapter: buffer policy, equivalence with the functional inner loop, reset."""

from __future__ import annotations

import pytest
import torch
from _ml_models import ConvHead, head_batch, head_loss

from metalearn import Adapter, KernelwiseLR, batch_loss, inner_loop

ADAPTED = ["cls.weight", "cls.bias", "reg.weight", "reg.bias"]


def _adapter(capacity: int = 30) -> tuple[ConvHead, KernelwiseLR, Adapter]:
    torch.manual_seed(0)
    model = ConvHead()
    lr = KernelwiseLR({n: p for n, p in model.named_parameters() if n in ADAPTED}, init=0.05)
    with torch.no_grad():
        lr.rates[0].uniform_(0.01, 0.1)
    return model, lr, Adapter(model, head_loss, lr=lr, adapted=ADAPTED, capacity=capacity)


def test_adapt_equals_first_order_inner_loop_and_does_not_mutate() -> None:
    model, lr, adapter = _adapter()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    support = head_batch(4, 0)
    fast = adapter.adapt(support, steps=5)
    thetas = inner_loop(model, support, head_loss, steps=5, lr=lr, adapted=ADAPTED)
    for n in ADAPTED:
        torch.testing.assert_close(fast[n], thetas[-1][n].detach())
        assert not fast[n].requires_grad
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert all(p.grad is None for p in list(model.parameters()) + list(lr.parameters()))
    out = adapter(support[0])
    torch.testing.assert_close(out[0], torch.func.functional_call(model, fast, (support[0],))[0])


def test_adapt_lowers_support_loss_and_update_continues() -> None:
    model, _, adapter = _adapter()
    support = head_batch(4, 1)
    init_loss = batch_loss(model, {}, support, head_loss).item()
    adapter.adapt(support, steps=5)
    after = batch_loss(model, adapter.params(), support, head_loss).item()
    assert after < init_loss
    adapter.update(steps=1)
    assert batch_loss(model, adapter.params(), support, head_loss).item() < after


def test_buffer_keeps_first_sample_and_evicts_oldest_unpinned() -> None:
    _, _, adapter = _adapter(capacity=3)
    feats, targets = head_batch(6, 2)

    def sample(i: int):
        return feats[i], (targets[0][i], targets[1][i])

    for i in range(6):
        adapter.add(*sample(i))
    assert len(adapter) == 3
    inputs, _ = adapter.support()
    kept = [next(i for i in range(6) if torch.equal(inputs[j], feats[i])) for j in range(3)]
    assert kept == [0, 4, 5]  # first sample pinned, then the newest


def test_adapt_with_support_pins_it_and_reset_forgets() -> None:
    _, _, adapter = _adapter(capacity=4)
    adapter.adapt(head_batch(2, 3), steps=1)
    extra_feats, extra_t = head_batch(5, 4)
    adapter.add_batch(extra_feats, extra_t)
    inputs, _ = adapter.support()
    torch.testing.assert_close(inputs[:2], head_batch(2, 3)[0])
    torch.testing.assert_close(inputs[2:], extra_feats[3:])
    adapter.reset()
    assert len(adapter) == 0
    with pytest.raises(ValueError, match="empty"):
        adapter.update()
    for n in ADAPTED:
        torch.testing.assert_close(adapter.params()[n], dict(adapter.model.named_parameters())[n])


def test_full_of_pinned_samples_raises() -> None:
    _, _, adapter = _adapter(capacity=2)
    with pytest.raises(ValueError, match="pinned"):
        adapter.adapt(head_batch(3, 5), steps=1)


def test_custom_init_and_bad_inputs() -> None:
    model, lr, adapter = _adapter()
    zeros = {n: torch.zeros_like(p) for n, p in model.named_parameters() if n in ADAPTED}
    adapter.set_init(zeros)
    adapter.reset()
    assert float(adapter.params()["cls.weight"].abs().sum()) == 0.0
    with pytest.raises(ValueError, match="lacks"):
        adapter.set_init({"cls.weight": zeros["cls.weight"]})
    feats, targets = head_batch(1, 0)
    with pytest.raises(ValueError, match="device meta"):
        adapter.add(feats[0].to("meta"), (targets[0][0], targets[1][0]))
    meta_lr = KernelwiseLR({n: p for n, p in model.named_parameters() if n in ADAPTED}).to("meta")
    with pytest.raises(ValueError, match="lr: tensor on device meta"):
        Adapter(model, head_loss, lr=meta_lr, adapted=ADAPTED)
    with pytest.raises(ValueError, match="capacity"):
        Adapter(model, head_loss, lr=lr, adapted=ADAPTED, capacity=0)
    with pytest.raises(ValueError, match="not parameters"):
        Adapter(model, head_loss, lr=0.1, adapted=["head.weight"])
