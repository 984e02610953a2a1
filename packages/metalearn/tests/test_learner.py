"""MetaLearner: no mutation, no leakage between tasks, vmap == loop, learned rates train."""

from __future__ import annotations

import copy

import pytest
import torch
from _ml_models import ConvHead, head_batch, head_loss
from torch import nn

from metalearn import (
    KernelwiseLR,
    MAMLConfig,
    MetaLearner,
    MultiStepSchedule,
    Task,
    inner_loop,
)

UNIFORM = MultiStepSchedule(target=None)
CFG2 = MAMLConfig(inner_steps=2, schedule=UNIFORM)
ADAPTED = ["cls.weight", "cls.bias", "reg.weight", "reg.bias"]


def _tasks(n: int, seed: int = 0) -> list[Task]:
    return [Task(head_batch(3, seed + 2 * i), head_batch(2, seed + 2 * i + 1)) for i in range(n)]


def _grads(learner: MetaLearner) -> list[torch.Tensor]:
    return [
        p.grad.clone() if p.grad is not None else torch.zeros_like(p)
        for p in learner.meta_parameters()
    ]


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_inner_loop_never_mutates_the_module() -> None:
    torch.manual_seed(0)
    model = ConvHead()
    before = _state(model)
    ids = {n: id(p) for n, p in model.named_parameters()}
    thetas = inner_loop(model, head_batch(3, 0), head_loss, steps=3, lr=0.1, adapted=ADAPTED)
    assert len(thetas) == 4
    assert all(set(t) == set(ADAPTED) for t in thetas)
    assert not torch.equal(thetas[-1]["cls.weight"], thetas[0]["cls.weight"])
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    assert {n: id(p) for n, p in model.named_parameters()} == ids
    assert all(p.grad is None for p in model.parameters())


def test_frozen_parameters_stay_frozen_in_the_inner_loop() -> None:
    torch.manual_seed(0)
    model = ConvHead()
    thetas = inner_loop(model, head_batch(3, 0), head_loss, steps=2, lr=0.1, adapted=["cls.bias"])
    assert set(thetas[-1]) == {"cls.bias"}


def test_batch_gradient_is_mean_of_single_task_gradients() -> None:
    torch.manual_seed(0)
    tasks = _tasks(3)
    model = ConvHead()
    learner = MetaLearner(model, head_loss, adapted=ADAPTED, config=CFG2)
    learner.meta_loss(tasks, first_order=False).backward()
    together = _grads(learner)
    singles = []
    for t in tasks:
        learner.optimizer.zero_grad()
        learner.meta_loss([t], first_order=False).backward()
        singles.append(_grads(learner))
    for i, g in enumerate(together):
        torch.testing.assert_close(g, sum(s[i] for s in singles) / 3, rtol=1e-5, atol=1e-7)


def test_no_leakage_changing_one_task_leaves_the_other_tasks_losses() -> None:
    torch.manual_seed(0)
    tasks = _tasks(2)
    model = ConvHead()
    learner = MetaLearner(model, head_loss, adapted=ADAPTED, config=CFG2)
    a = learner.query_losses(tasks)
    other = Task(head_batch(3, 100), tasks[0].query)
    b = learner.query_losses([other, tasks[1]])
    assert not torch.allclose(a[0], b[0])
    torch.testing.assert_close(a[1], b[1], rtol=0, atol=0)


@pytest.mark.parametrize("first_order", [False, True])
def test_vmap_batching_equals_loop(first_order: bool) -> None:
    torch.manual_seed(0)
    tasks = _tasks(3)
    base = ConvHead()
    results = []
    for batching in ("loop", "vmap"):
        model = copy.deepcopy(base)
        cfg = MAMLConfig(inner_steps=3, batching=batching, schedule=UNIFORM)
        lr = KernelwiseLR({n: p for n, p in model.named_parameters() if n in ADAPTED}, init=0.05)
        learner = MetaLearner(model, head_loss, lr=lr, adapted=ADAPTED, config=cfg)
        losses = learner.query_losses(tasks, first_order=first_order)
        losses.sum().backward()
        results.append((losses.detach(), _grads(learner)))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    for g_loop, g_vmap in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(g_loop, g_vmap, rtol=1e-4, atol=1e-6)


def test_step_updates_initial_parameters_and_rates_and_reduces_loss() -> None:
    torch.manual_seed(0)
    tasks = _tasks(4)
    model = ConvHead()
    cfg = MAMLConfig(
        inner_steps=2, outer_lr=3e-2, schedule=MultiStepSchedule(target=(0.2, 0.3, 0.5))
    )
    learner = MetaLearner(model, head_loss, adapted=ADAPTED, config=cfg)
    rates0 = [p.detach().clone() for p in learner.lr.parameters()]
    body0 = model.body.weight.detach().clone()
    first = learner.step(tasks, epoch=0.0)
    assert first.first_order and first.query_losses.shape == (3,)
    for _ in range(8):
        last = learner.step(tasks, epoch=20.0)
    assert not last.first_order
    torch.testing.assert_close(last.weights, torch.tensor([0.2, 0.3, 0.5]))
    assert float(last.loss) < 0.8 * float(first.loss)
    assert not torch.equal(body0, model.body.weight)  # non-adapted params are meta-trained
    assert any(not torch.equal(a, b) for a, b in zip(rates0, learner.lr.parameters()))


def test_bad_inputs_give_clear_errors() -> None:
    model = ConvHead()
    with pytest.raises(ValueError, match="not parameters of the model"):
        inner_loop(model, head_batch(2, 0), head_loss, adapted=["cls.wieght"])
    empty = (torch.zeros(0, 4, 7, 7), (torch.zeros(0, 1, 7, 7), torch.zeros(0, 4, 7, 7)))
    with pytest.raises(ValueError, match="support is empty"):
        inner_loop(model, empty, head_loss)
    feats, targets = head_batch(2, 0)
    with pytest.raises(ValueError, match="device meta"):
        inner_loop(model, (feats.to("meta"), targets), head_loss)
    with pytest.raises(TypeError, match="pair"):
        inner_loop(model, feats, head_loss)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scalar"):
        inner_loop(model, (feats, targets), lambda o, t: o[0], steps=1)
    with pytest.raises(ValueError, match="steps"):
        inner_loop(model, (feats, targets), head_loss, steps=-1)
    with pytest.raises(ValueError, match="no learning rate"):
        lr = KernelwiseLR({"cls.weight": model.cls.weight})
        inner_loop(model, (feats, targets), head_loss, lr=lr, adapted=["cls.bias"])
    with pytest.raises(ValueError, match="batching"):
        MAMLConfig(batching="parallel")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inner_steps=1 needs 2"):
        MAMLConfig(inner_steps=1)
    with pytest.raises(ValueError, match="non-empty"):
        MetaLearner(model, head_loss).step([])


def test_vmap_on_an_unvmappable_model_names_the_fallback() -> None:
    model = nn.Sequential(nn.Conv2d(4, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(75, 1))

    def loss(o: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((o - y) ** 2).mean()

    tasks = [
        Task(
            (torch.randn(3, 4, 7, 7), torch.randn(3, 1)),
            (torch.randn(2, 4, 7, 7), torch.randn(2, 1)),
        )
        for _ in range(2)
    ]
    cfg = MAMLConfig(inner_steps=1, schedule=MultiStepSchedule(target=None), batching="vmap")
    with pytest.raises(RuntimeError, match="batching='loop'"):
        MetaLearner(model, loss, config=cfg).query_losses(tasks)
    loop = MAMLConfig(inner_steps=1, schedule=MultiStepSchedule(target=None))
    assert MetaLearner(model, loss, config=loop).query_losses(tasks).shape == (2, 2)


@pytest.mark.parametrize("batching", ["loop", "vmap"])
def test_zero_weight_steps_are_skipped_without_changing_the_gradient(batching: str) -> None:
    torch.manual_seed(0)
    tasks = _tasks(2)
    base = ConvHead()
    cfg = MAMLConfig(inner_steps=2, schedule=MultiStepSchedule(last_only=True), batching=batching)
    model = copy.deepcopy(base)
    learner = MetaLearner(model, head_loss, adapted=ADAPTED, config=cfg, lr=0.1)
    learner.optimizer = torch.optim.SGD(learner.meta_parameters(), lr=0.0)
    result = learner.step(tasks)
    assert bool(result.query_losses[:2].isnan().all()) and bool(result.query_losses[2].isfinite())
    stepped = _grads(learner)
    ref_model = copy.deepcopy(base)
    ref = MetaLearner(ref_model, head_loss, adapted=ADAPTED, config=cfg, lr=0.1)
    ref.query_losses(tasks, first_order=True)[:, -1].mean().backward()
    for a, b in zip(stepped, _grads(ref)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
