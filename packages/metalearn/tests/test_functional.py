"""`functional_forward`: functional_call semantics, and safe when threads share a module."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn
from torch.func import functional_call

from metalearn import batch_loss, functional_forward, gradient_descent


def _params(k: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(k)
    return {"weight": torch.randn(3, 5, generator=g), "bias": torch.randn(3, generator=g)}


def test_equals_functional_call_and_leaves_the_module_alone() -> None:
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, 5)
    p = _params(1)
    torch.testing.assert_close(functional_forward(model, p, (x,)), x @ p["weight"].T + p["bias"])
    torch.testing.assert_close(functional_forward(model, p, x), functional_call(model, p, (x,)))
    # a subset of the parameters: the rest comes from the module
    out = functional_forward(model, {"bias": p["bias"]}, (x,))
    torch.testing.assert_close(out, x @ before["weight"].T + p["bias"])
    # keyword arguments reach forward
    bil = nn.Bilinear(2, 2, 1)
    a, b = torch.randn(3, 2), torch.randn(3, 2)
    torch.testing.assert_close(
        functional_forward(bil, {}, (), {"input1": a, "input2": b}), bil(a, b)
    )
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_works_under_vmap_and_grad() -> None:
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    stacked = {k: torch.stack([_params(i)[k] for i in range(4)]) for k in ("weight", "bias")}
    x = torch.randn(4, 2, 5)
    out = torch.func.vmap(lambda p, xi: functional_forward(model, p, (xi,)))(stacked, x)
    for i in range(4):
        p = _params(i)
        torch.testing.assert_close(out[i], x[i] @ p["weight"].T + p["bias"])
    g = torch.func.grad(lambda p: functional_forward(model, p, (x[0],)).sum())(_params(0))
    torch.testing.assert_close(g["bias"], torch.full((3,), 2.0))


def test_threads_sharing_a_module_each_get_their_own_weights() -> None:
    """Without the lock, concurrent ``functional_call`` swaps interleave: calls see another
    thread's weights and the module can keep a stranger's weights afterwards."""
    torch.set_num_threads(1)
    model = nn.Sequential(nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(8, 5)
    n_threads, calls = 4, 300  # three callers and a reader
    params = []
    for k in range(n_threads):
        g = torch.Generator().manual_seed(100 + k)
        params.append({n: torch.randn(v.shape, generator=g) for n, v in before.items()})
    want = [functional_call(model, p, (x,)) for p in params]
    errors: list[str] = []
    start = threading.Barrier(n_threads)

    def work(k: int) -> None:
        start.wait()
        for i in range(calls):
            out = functional_forward(model, params[k], (x,))
            if not torch.equal(out, want[k]):
                errors.append(f"thread {k} call {i}")
                return

    stop = threading.Event()

    def read() -> None:  # a reader of the shared module never sees another thread's weights
        start.wait()
        while not stop.is_set():
            if not all(torch.equal(v, before[k]) for k, v in model.state_dict().items()):
                errors.append("reader saw swapped weights")
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads - 1)]
    reader = threading.Thread(target=read)
    for t in [*threads, reader]:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    reader.join()
    assert not errors, errors[:4]
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_follows_changes_of_the_module() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    x = torch.randn(64, 4)
    p = {"0.bias": torch.zeros(4)}
    model.eval()
    torch.testing.assert_close(functional_forward(model, p, (x,)), x @ model[0].weight.T)
    model.train()  # dropout now active in the evaluation too
    assert (functional_forward(model, p, (x,)) == 0).float().mean() > 0.2
    model.eval()
    model[0].weight = nn.Parameter(torch.eye(4))  # a replaced parameter is seen
    torch.testing.assert_close(functional_forward(model, p, (x,)), x)
    with torch.no_grad():
        model[0].weight.mul_(2.0)  # so is an in-place change
    torch.testing.assert_close(functional_forward(model, p, (x,)), 2 * x)


def test_gradients_reach_the_modules_own_parameters() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x = torch.randn(5, 3)
    functional_forward(model, {"bias": torch.zeros(1)}, (x,)).sum().backward()
    assert model.weight.grad is not None
    torch.testing.assert_close(model.weight.grad, x.sum(0, keepdim=True))


class _Uncopyable(nn.Linear):
    def __deepcopy__(self, memo: dict) -> None:
        raise TypeError("no copies")


def test_a_module_that_cannot_be_copied_runs_in_place_under_a_lock() -> None:
    torch.manual_seed(0)
    model = _Uncopyable(3, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(4, 3)
    p = _params(2)
    p = {"weight": p["weight"][:2, :3], "bias": p["bias"][:2]}
    torch.testing.assert_close(functional_forward(model, p, (x,)), x @ p["weight"].T + p["bias"])
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_inner_loop_in_threads_matches_one_thread() -> None:
    """MAML inner loops of several threads on one shared module equal the sequential ones."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Linear(5, 1)
    xs = [torch.randn(16, 5) for _ in range(3)]
    ys = [torch.randn(16, 1) for _ in range(3)]

    def run(k: int) -> dict[str, torch.Tensor]:
        theta = {n: p.detach() for n, p in model.named_parameters()}
        steps = gradient_descent(
            lambda p: batch_loss(model, p, (xs[k], ys[k]), lambda o, t: ((o - t) ** 2).mean()),
            theta,
            steps=20,
            lr=0.1,
            track_graph=False,
        )
        return steps[-1]

    want = [run(k) for k in range(3)]
    got: dict[int, dict[str, torch.Tensor]] = {}
    threads = [threading.Thread(target=lambda k=k: got.__setitem__(k, run(k))) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(3):
        for n in want[k]:
            torch.testing.assert_close(got[k][n], want[k][n], rtol=0, atol=0)


def test_rejects_a_non_module() -> None:
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        functional_forward(lambda x: x, {}, (torch.ones(1),))  # type: ignore[arg-type]
