"""Meta-gradients against closed forms on linear regression, and finite differences.

Model `y = X w` with mean squared error. Support loss gradient `g_s(w) = A w - b` with
`A = 2/n X_s^T X_s`, `b = 2/n X_s^T y_s`. With a fixed rate a, `w_K = (I - aA)^K w_0 + ...`, so
`d w_K / d w_0 = (I - aA)^K` and the second-order meta-gradient of `L_q(w_K)` is
`(I - aA)^K g_q(w_K)`; the first-order one is `g_q(w_K)`. Everything runs on the `device`
fixture (CUDA when available).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from metalearn import (
    MAMLConfig,
    MetaLearner,
    MultiStepSchedule,
    ScalarLR,
    Task,
    batch_loss,
    inner_loop,
)

D = 3


def mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((out - target) ** 2).mean()


def _setup(seed: int, device: torch.device):
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(D, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, D, generator=g, dtype=torch.float64))
    xs = torch.randn(5, D, generator=g, dtype=torch.float64)
    ys = torch.randn(5, 1, generator=g, dtype=torch.float64)
    xq = torch.randn(4, D, generator=g, dtype=torch.float64)
    yq = torch.randn(4, 1, generator=g, dtype=torch.float64)
    return model.to(device), (xs.to(device), ys.to(device)), (xq.to(device), yq.to(device))


def _closed_form(model, support, query, a: float, k: int):
    xs, ys = support
    xq, yq = query
    w = model.weight.detach().reshape(D, 1).clone()
    A = 2.0 / xs.shape[0] * xs.T @ xs
    b = 2.0 / xs.shape[0] * xs.T @ ys
    ws = [w]
    for _ in range(k):
        w = w - a * (A @ w - b)
        ws.append(w)
    gq = [2.0 / xq.shape[0] * xq.T @ (xq @ wk - yq) for wk in ws]
    jac = [
        torch.linalg.matrix_power(torch.eye(D, dtype=torch.float64, device=A.device) - a * A, j)
        for j in range(k + 1)
    ]
    return ws, gq, jac


@pytest.mark.parametrize("k", [1, 3])
def test_second_order_meta_gradient_matches_closed_form(k: int, device: torch.device) -> None:
    model, support, query = _setup(0, device)
    a = 0.1
    thetas = inner_loop(model, support, mse, steps=k, lr=a, adapted=["weight"])
    loss = batch_loss(model, thetas[-1], query, mse)
    (grad,) = torch.autograd.grad(loss, [model.weight])
    ws, gq, jac = _closed_form(model, support, query, a, k)
    assert thetas[-1]["weight"].device == grad.device == ws[-1].device
    assert thetas[-1]["weight"].device.type == device.type
    torch.testing.assert_close(thetas[-1]["weight"].detach().reshape(D, 1), ws[-1])
    torch.testing.assert_close(grad.reshape(D, 1), jac[k] @ gq[k])


@pytest.mark.parametrize("k", [1, 3])
def test_first_order_matches_closed_form_and_differs_from_second_order(
    k: int, device: torch.device
) -> None:
    model, support, query = _setup(1, device)
    a = 0.1
    thetas = inner_loop(model, support, mse, steps=k, lr=a, first_order=True)
    (fo,) = torch.autograd.grad(batch_loss(model, thetas[-1], query, mse), [model.weight])
    _, gq, jac = _closed_form(model, support, query, a, k)
    torch.testing.assert_close(fo.reshape(D, 1), gq[k])
    so = jac[k] @ gq[k]
    assert (fo.reshape(D, 1) - so).norm() > 1e-2 * so.norm()


def test_second_order_equals_finite_differences_with_learned_rate(device: torch.device) -> None:
    model, support, query = _setup(2, device)
    lr = ScalarLR({"weight": model.weight}, init=0.05, per_step=3).double()
    with torch.no_grad():
        lr.rates[0].copy_(torch.tensor([0.05, 0.1, 0.02], dtype=torch.float64))

    def objective() -> torch.Tensor:
        thetas = inner_loop(model, support, mse, steps=3, lr=lr)
        return sum(batch_loss(model, t, query, mse) * (i + 1) for i, t in enumerate(thetas))

    params = [model.weight, lr.rates[0]]
    grads = torch.autograd.grad(objective(), params)
    eps = 1e-6
    for p, g in zip(params, grads):
        fd = torch.zeros_like(p)
        flat = p.data.view(-1)
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            up = objective().item()
            flat[i] = old - eps
            down = objective().item()
            flat[i] = old
            fd.view(-1)[i] = (up - down) / (2 * eps)
        torch.testing.assert_close(g, fd, rtol=1e-5, atol=1e-7)


def test_learned_scalar_rate_gradient_closed_form_one_step(device: torch.device) -> None:
    # dL_q(w0 - a g_s(w0)) / da = -g_q(w1) . g_s(w0)
    model, support, query = _setup(3, device)
    lr = ScalarLR({"weight": model.weight}, init=0.1).double()
    thetas = inner_loop(model, support, mse, steps=1, lr=lr)
    (ga,) = torch.autograd.grad(batch_loss(model, thetas[1], query, mse), [lr.rates[0]])
    xs, ys = support
    w0 = model.weight.detach().reshape(D, 1)
    gs = 2.0 / xs.shape[0] * xs.T @ (xs @ w0 - ys)
    _, gq, _ = _closed_form(model, support, query, 0.1, 1)
    torch.testing.assert_close(ga, -(gq[1] * gs).sum())


def test_multi_step_meta_loss_gradient_closed_form(device: torch.device) -> None:
    model, support, query = _setup(4, device)
    a, k = 0.1, 4
    target = (0.05, 0.10, 0.20, 0.30, 0.35)
    cfg = MAMLConfig(inner_steps=k, schedule=MultiStepSchedule(target=target, anneal_epochs=1.0))
    learner = MetaLearner(model, mse, lr=a, config=cfg)
    loss = learner.meta_loss([Task(support, query)], epoch=5.0, first_order=False)
    (grad,) = torch.autograd.grad(loss, [model.weight])
    _, gq, jac = _closed_form(model, support, query, a, k)
    expected = sum(t * (j @ g) for t, j, g in zip(target, jac, gq))
    torch.testing.assert_close(grad.reshape(D, 1), expected)


def test_schedule_uses_first_order_before_the_switch_epoch(device: torch.device) -> None:
    # FO multi-step gradient: sum_k gamma_k g_q(w_k), since d w_k / d w_0 = I.
    model, support, query = _setup(5, device)
    a, k = 0.1, 4
    cfg = MAMLConfig(inner_steps=k, schedule=MultiStepSchedule(first_order_epochs=2.0))
    learner = MetaLearner(model, mse, lr=a, config=cfg)
    (fo,) = torch.autograd.grad(
        learner.meta_loss([Task(support, query)], epoch=1.0), [model.weight]
    )
    (so,) = torch.autograd.grad(
        learner.meta_loss([Task(support, query)], epoch=2.0), [model.weight]
    )
    _, gq, jac = _closed_form(model, support, query, a, k)
    w1 = learner.config.schedule.weights(1.0, num_steps=k).double()
    w2 = learner.config.schedule.weights(2.0, num_steps=k).double()
    torch.testing.assert_close(fo.reshape(D, 1), sum(w * g for w, g in zip(w1, gq)))
    torch.testing.assert_close(so.reshape(D, 1), sum(w * (j @ g) for w, j, g in zip(w2, jac, gq)))
