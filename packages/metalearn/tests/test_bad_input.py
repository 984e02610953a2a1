"""Bad input to the public API: a one-line ValueError/TypeError naming the argument.

Before the api13 audit each case below was a raw error from deep inside torch (a broadcast
RuntimeError, ``'<' not supported``, ``could not convert string to float``, an
``AssertionError: Torch not compiled with CUDA enabled``, a pickle error) or a silently wrong
result: ``lr=nan`` / ``init=nan`` / ``epoch=nan`` gave NaN weights that an outer step wrote into
the model, ``lr=-1`` ascended the loss, an empty query batch gave a NaN meta-loss, float
identities were grouped as if they were ids, an unknown name in ``adapt_batched``'s ``params``
was returned "adapted" without ever reaching the model. The ``meta`` device stands in for a
second device (no GPU needed).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import metalearn as ml

NAN = float("nan")
META = torch.device("meta")


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(3, 2)


def _mse(out: Tensor, target: Tensor) -> Tensor:
    return ((out - target) ** 2).mean()


def _per_sample(out: Tensor, target: Tensor) -> Tensor:
    return ((out - target) ** 2).mean(-1)


X = torch.randn(5, 3)
Y = torch.randn(5, 2)
SUP = (X, Y)
EMPTY = (X[:0], Y[:0])
ON_META = (X.to(META), Y.to(META))
M = _model()
P = dict(M.named_parameters())
B_PARAMS = {k: v.detach()[None].expand(2, *v.shape).clone() for k, v in P.items()}
B_SUP = (torch.randn(2, 4, 3), torch.randn(2, 4, 2))
ADAPT = {"steps": 1, "lr": 0.1}
FEAT, TASK_FEATS, TASK_PARAMS = torch.randn(4), torch.randn(3, 4), {"w": torch.randn(3, 2, 2)}
IDS, FRAMES = torch.tensor([1, 1, 1, 2, 2, 2]), torch.tensor([0, 1, 2, 0, 1, 2])


def _learner() -> ml.MetaLearner:
    cfg = ml.MAMLConfig(inner_steps=1, schedule=ml.MultiStepSchedule(target=(0.5, 0.5)))
    return ml.MetaLearner(_model(), _mse, config=cfg)


def _buffer() -> ml.SupportBuffer:
    return ml.SupportBuffer.start((torch.randn(2, 1, 3), torch.randn(2, 1, 2)), capacity=4)


def _buffer_add(**kw: Any) -> None:
    sample = kw.pop("sample", (torch.randn(2, 3), torch.randn(2, 2)))
    mask = kw.pop("mask", torch.ones(2, dtype=torch.bool))
    _buffer().add(sample, mask, **kw)


CASES: list[tuple[str, Callable[[], Any]]] = [
    # learning rates: a float lr, FixedLR, learned-rate init, shapes and steps
    ("lr", lambda: ml.inner_loop(M, SUP, _mse, steps=1, lr=NAN)),
    ("lr", lambda: ml.inner_loop(M, SUP, _mse, steps=1, lr=float("inf"))),
    ("lr", lambda: ml.inner_loop(M, SUP, _mse, steps=1, lr=-0.1)),
    ("lr", lambda: ml.FixedLR(NAN)),
    ("lr", lambda: ml.FixedLR(-1.0)),
    ("lr", lambda: ml.MetaLearner(_model(), _mse, lr=NAN)),
    ("lr", lambda: ml.Adapter(M, _mse, lr=float("inf"))),
    ("lr", lambda: ml.adapt_batched(M, B_PARAMS, B_SUP, _per_sample, steps=1, lr=NAN)),
    ("init", lambda: ml.KernelwiseLR(P, init=NAN)),
    ("init", lambda: ml.ElementwiseLR(P, init=-1e-3)),
    ("init", lambda: ml.ScalarLR(P, init="0.1")),
    ("init", lambda: ml.KernelwiseLR(P, init=None)),
    ("params['w']", lambda: ml.ElementwiseLR({"w": (-1, 2)})),
    ("params['w']", lambda: ml.KernelwiseLR({"w": ("a", 2)})),
    ("step", lambda: ml.KernelwiseLR(P, per_step=2).rate("weight", -1)),
    ("step", lambda: ml.ScalarLR(P, per_step=2).rate("weight", "a")),
    ("step", lambda: ml.ElementwiseLR(P, per_step=2).rate("weight", NAN)),
    ("gradient of shape (4, 3)", lambda: ml.KernelwiseLR(P)({"weight": torch.zeros(4, 3)})),
    (
        "'weight' of shape (4, 3)",
        lambda: ml.inner_loop(
            M, SUP, _mse, lr=ml.ElementwiseLR({"weight": (4, 3)}), adapted=["weight"]
        ),
    ),
    # gradient_descent / inner_loop parameters and losses
    ("params", lambda: ml.gradient_descent(lambda p: torch.zeros(()), {}, steps=1, lr=0.1)),
    ("params", lambda: ml.gradient_descent(lambda p: torch.zeros(()), [X], steps=1, lr=0.1)),
    (
        "params['a']",
        lambda: ml.gradient_descent(lambda p: p["a"].sum(), {"a": X.numpy()}, steps=1, lr=0.1),
    ),
    (
        "params['a']",
        lambda: ml.gradient_descent(lambda p: p["a"].sum(), {"a": IDS}, steps=1, lr=0.1),
    ),
    (
        "scalar",
        lambda: ml.gradient_descent(lambda p: p["a"] * 2, {"a": torch.zeros(2)}, steps=1, lr=0.1),
    ),
    (
        "does not depend",
        lambda: ml.gradient_descent(lambda p: torch.ones(()), {"a": X}, steps=1, lr=0.1),
    ),
    (
        "params['weight']",
        lambda: ml.inner_loop(M, SUP, _mse, params={k: v.detach().numpy() for k, v in P.items()}),
    ),
    (
        "params['weight']",
        lambda: ml.inner_loop(M, SUP, _mse, params={k: v.long() for k, v in P.items()}),
    ),
    ("at_steps", lambda: _learner().query_losses([ml.Task(SUP, SUP)], at_steps=[1.5])),
    ("at_steps", lambda: _learner().query_losses([ml.Task(SUP, SUP)], at_steps=["a"])),
    ("params['weight']", lambda: ml.functional_forward(M, {"weight": X.numpy()}, X)),
    # multi-step weights, schedule, config
    ("epoch", lambda: ml.multi_step_weights(NAN, num_steps=4)),
    ("epoch", lambda: ml.multi_step_weights("1", num_steps=4)),
    ("epoch", lambda: ml.multi_step_weights(float("inf"), num_steps=4)),
    ("anneal_epochs", lambda: ml.multi_step_weights(1.0, num_steps=4, anneal_epochs=NAN)),
    ("anneal_epochs", lambda: ml.multi_step_weights(1.0, num_steps=4, anneal_epochs="a")),
    ("target", lambda: ml.multi_step_weights(20.0, num_steps=1, target=(NAN, 1.0))),
    ("target", lambda: ml.multi_step_weights(20.0, num_steps=1, target=(float("inf"), 1.0))),
    ("target", lambda: ml.multi_step_weights(20.0, num_steps=1, target="ab")),
    ("target", lambda: ml.multi_step_weights(20.0, num_steps=1, target=(0.0, 0.0))),
    ("device", lambda: ml.multi_step_weights(1.0, num_steps=2, device="gpu9")),
    ("device", lambda: ml.multi_step_weights(1.0, num_steps=2, device="cuda:63")),
    ("weights", lambda: ml.multi_step_loss(torch.ones(2), [0.5, 0.5])),
    ("losses", lambda: ml.multi_step_loss([], torch.ones(2))),
    ("losses[0]", lambda: ml.multi_step_loss([1.0, 2.0], torch.ones(2))),
    ("anneal_epochs", lambda: ml.MultiStepSchedule(anneal_epochs=NAN)),
    ("anneal_epochs", lambda: ml.MultiStepSchedule(anneal_epochs="a")),
    ("first_order_epochs", lambda: ml.MultiStepSchedule(first_order_epochs=NAN)),
    ("target", lambda: ml.MultiStepSchedule(target=(NAN,) * 5)),
    ("target", lambda: ml.MultiStepSchedule(target=(-1.0,) * 5)),
    ("target", lambda: ml.MultiStepSchedule(target="abcde")),
    ("last_only", lambda: ml.MultiStepSchedule(last_only="yes")),
    ("epoch", lambda: ml.MultiStepSchedule().first_order(NAN)),
    ("epoch", lambda: ml.MultiStepSchedule(last_only=True).weights(NAN, num_steps=2)),
    ("num_steps", lambda: ml.MultiStepSchedule(last_only=True).weights(0, num_steps=-1)),
    ("outer_lr", lambda: ml.MAMLConfig(outer_lr="a")),
    ("outer_lr", lambda: ml.MAMLConfig(outer_lr=None)),
    ("outer_lr", lambda: ml.MAMLConfig(outer_lr=float("inf"))),
    # MetaLearner arguments and tasks
    ("query_loss_fn", lambda: ml.MetaLearner(_model(), _mse, query_loss_fn=3)),
    ("optimizer", lambda: ml.MetaLearner(_model(), _mse, optimizer="adam")),
    ("epoch", lambda: _learner().step([ml.Task(SUP, SUP)], epoch=NAN)),
    ("epoch", lambda: _learner().meta_loss([ml.Task(SUP, SUP)], epoch="a")),
    ("tasks[0].query", lambda: _learner().step([ml.Task(SUP, EMPTY)])),
    ("tasks[0].query", lambda: _learner().step([ml.Task(SUP, None)])),
    ("tasks[0].query", lambda: _learner().step([ml.Task(SUP, X)])),
    ("tasks[0] is on meta", lambda: _learner().step([ml.Task(SUP, ON_META)])),
    ("tasks", lambda: ml.vmap_query_losses(M, P, [1, 2], _mse, steps=1, lr=0.1)),
    ("steps", lambda: ml.vmap_query_losses(M, P, ml.Task(SUP, SUP), _mse, steps=1.0, lr=0.1)),
    ("theta0", lambda: ml.vmap_query_losses(M, {}, ml.Task(SUP, SUP), _mse, steps=1, lr=0.1)),
    (
        "tasks is on meta",
        lambda: ml.vmap_query_losses(M, P, ml.Task(ON_META, ON_META), _mse, steps=1, lr=0.1),
    ),
    ("several devices", lambda: ml.stack_tasks([ml.Task(SUP, SUP), ml.Task(ON_META, SUP)])),
    # Adapter
    (
        "init['weight']",
        lambda: ml.Adapter(M, _mse, lr=0.1, init={k: v.detach().numpy() for k, v in P.items()}),
    ),
    (
        "init['weight']",
        lambda: ml.Adapter(M, _mse, lr=0.1, init={k: v.long() for k, v in P.items()}),
    ),
    ("init", lambda: ml.Adapter(M, _mse, lr=0.1).set_init(None)),
    ("inputs", lambda: ml.Adapter(M, _mse, lr=0.1)(X.to(META))),
    ("inputs", lambda: ml.Adapter(M, _mse, lr=0.1).add(X[0].numpy(), Y[0].numpy())),
    # adapt_batched and its support buffer
    (
        "'zzz'",
        lambda: ml.adapt_batched(M, {"zzz": B_PARAMS["weight"]}, B_SUP, _per_sample, **ADAPT),
    ),
    (
        "params['weight']",
        lambda: ml.adapt_batched(
            M, {k: v[:, None] for k, v in B_PARAMS.items()}, B_SUP, _per_sample, **ADAPT
        ),
    ),
    (
        "params['weight']",
        lambda: ml.adapt_batched(
            M, {k: v.long() for k, v in B_PARAMS.items()}, B_SUP, _per_sample, **ADAPT
        ),
    ),
    (
        "support is on meta",
        lambda: ml.adapt_batched(
            M, B_PARAMS, tuple(t.to(META) for t in B_SUP), _per_sample, **ADAPT
        ),
    ),
    (
        "weights is on meta",
        lambda: ml.adapt_batched(
            M, B_PARAMS, B_SUP, _per_sample, weights=torch.ones(2, 4, device=META), **ADAPT
        ),
    ),
    (
        "weights",
        lambda: ml.adapt_batched(
            M, B_PARAMS, B_SUP, _per_sample, weights=torch.ones(2, 4).numpy(), **ADAPT
        ),
    ),
    (
        "'weight' of shape (4, 3)",
        lambda: ml.adapt_batched(
            M,
            B_PARAMS,
            B_SUP,
            _per_sample,
            steps=1,
            lr=ml.KernelwiseLR({"weight": (4, 3), "bias": (4,)}),
        ),
    ),
    (
        "weights",
        lambda: ml.SupportBuffer.start(
            (torch.randn(2, 1, 3),), capacity=4, weights=torch.ones(2, 1).numpy()
        ),
    ),
    (
        "weights",
        lambda: ml.SupportBuffer.start(
            (torch.randn(2, 1, 3),), capacity=4, weights=torch.ones(2, 1, device=META)
        ),
    ),
    (
        "samples",
        lambda: ml.SupportBuffer.start(
            (torch.randn(2, 1, 3), torch.randn(2, 1, 2, device=META)), capacity=4
        ),
    ),
    ("weight", lambda: _buffer_add(weight="a")),
    ("weight", lambda: _buffer_add(weight=float("inf"))),
    ("weight", lambda: _buffer_add(weight=torch.full((2,), NAN))),
    ("weight", lambda: _buffer_add(weight=torch.ones(3))),
    ("mask is on meta", lambda: _buffer_add(mask=torch.ones(2, dtype=torch.bool, device=META))),
    (
        "sample is on meta",
        lambda: _buffer_add(sample=(torch.randn(2, 3, device=META), torch.randn(2, 2))),
    ),
    ("index", lambda: _buffer().select(torch.tensor([0.0]))),
    ("losses", lambda: ml.weighted_mean(torch.ones(2).numpy(), torch.ones(2))),
    ("weights on meta", lambda: ml.weighted_mean(torch.ones(2), torch.ones(2, device=META))),
    # similarity-weighted initialisation
    ("new_feature", lambda: ml.task_similarity(FEAT.numpy(), TASK_FEATS)),
    ("task_features", lambda: ml.task_similarity(FEAT, TASK_FEATS.tolist())),
    ("eps", lambda: ml.task_similarity(FEAT, TASK_FEATS, eps=NAN)),
    ("eps", lambda: ml.task_similarity(FEAT, TASK_FEATS, eps="a")),
    (
        "min_similarity",
        lambda: ml.similarity_weighted_init(FEAT, TASK_FEATS, TASK_PARAMS, min_similarity=NAN),
    ),
    (
        "min_similarity",
        lambda: ml.similarity_weighted_init(FEAT, TASK_FEATS, TASK_PARAMS, min_similarity="a"),
    ),
    (
        "task_params['w']",
        lambda: ml.similarity_weighted_init(FEAT, TASK_FEATS, {"w": TASK_PARAMS["w"].long()}),
    ),
    (
        "task_params['w']",
        lambda: ml.similarity_weighted_init(FEAT, TASK_FEATS, {"w": TASK_PARAMS["w"].numpy()}),
    ),
    (
        "task_params['w'] is on meta",
        lambda: ml.similarity_weighted_init(FEAT, TASK_FEATS, {"w": TASK_PARAMS["w"].to(META)}),
    ),
    ("task_params", lambda: ml.similarity_weighted_init(FEAT, TASK_FEATS, [])),
    ("task_params", lambda: ml.similarity_weighted_init(FEAT, TASK_FEATS, {})),
    (
        "fallback['w']",
        lambda: ml.similarity_weighted_init(
            FEAT, TASK_FEATS, TASK_PARAMS, fallback={"w": torch.zeros(2, 2).numpy()}
        ),
    ),
    (
        "fallback['w'] is on meta",
        lambda: ml.similarity_weighted_init(
            FEAT, TASK_FEATS, TASK_PARAMS, fallback={"w": torch.zeros(2, 2, device=META)}
        ),
    ),
    # task sampling
    ("identities", lambda: ml.identity_task_indices(IDS.float(), FRAMES, k=2, num_tasks=3)),
    ("frames", lambda: ml.identity_task_indices(IDS, FRAMES.float(), k=2, num_tasks=3)),
    ("identities", lambda: ml.identity_task_indices(IDS.bool(), FRAMES, k=1, num_tasks=3)),
    ("frames on meta", lambda: ml.identity_task_indices(IDS, FRAMES.to(META), k=2, num_tasks=3)),
    ("support_idx", lambda: ml.gather_task(SUP, torch.tensor([0.0, 1.0]), torch.tensor(2))),
    ("support_idx", lambda: ml.gather_task(SUP, [0, 1], 2)),
    ("weights", lambda: ml.average_state_dicts([M.state_dict()] * 2, weights=["a", "b"])),
    ("weights", lambda: ml.average_state_dicts([M.state_dict()] * 2, weights=[None, 1.0])),
]


def _id(case: tuple[str, Any]) -> str:
    return case[0].replace(" ", "_")


@pytest.mark.parametrize(
    ("name", "call"), CASES, ids=[f"{i}-{_id(c)}" for i, c in enumerate(CASES)]
)
def test_bad_input_is_a_one_line_error_naming_it(name: str, call: Callable[[], Any]) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value)
    assert name in message
    assert "\n" not in message


def _checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "ok.pt"
    ml.save_checkpoint(path, M, ml.KernelwiseLR(P))
    return path


def test_checkpoint_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    path = _checkpoint(tmp_path)
    data = path.read_bytes()
    (tmp_path / "garbage.pt").write_bytes(b"garbage")
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    for name in ("garbage.pt", "empty.pt", "truncated.pt"):
        with pytest.raises(ValueError, match=rf"{name}.*not a readable") as info:
            ml.load_checkpoint(tmp_path / name, _model())
        assert "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        ml.load_checkpoint(tmp_path / "missing.pt", _model())
    with pytest.raises(FileNotFoundError, match="not a file"):
        ml.load_checkpoint(tmp_path, _model())
    with pytest.raises(FileNotFoundError, match="folder"):
        ml.save_checkpoint(tmp_path / "no" / "x.pt", M)
    torch.save({"format": "trackkit-metalearn/1"}, tmp_path / "nomodel.pt")
    with pytest.raises(ValueError, match="no model"):
        ml.load_checkpoint(tmp_path / "nomodel.pt", _model())


def test_checkpoint_that_does_not_fit_is_one_line(tmp_path: Path) -> None:
    path = _checkpoint(tmp_path)
    with pytest.raises(ValueError, match=r"model state does not fit.*size mismatch") as info:
        ml.load_checkpoint(path, nn.Linear(4, 2))
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="lr state does not fit"):
        ml.load_checkpoint(path, _model(), ml.KernelwiseLR(P, per_step=2))
    for bad in (None, "model"):
        with pytest.raises(TypeError, match="model"):
            ml.load_checkpoint(path, bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="model"):
            ml.save_checkpoint(path, bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="map_location"):
        ml.load_checkpoint(path, _model(), map_location="gpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"map_location.*CUDA"):
            ml.load_checkpoint(path, _model(), map_location="cuda")
    assert os.path.getsize(path) > 0


def test_nan_meta_loss_raises_and_leaves_the_model_unchanged() -> None:
    learner = _learner()
    before = {k: v.detach().clone() for k, v in learner.model.state_dict().items()}
    rates = [r.detach().clone() for r in learner.lr.parameters()]
    bad = (X.clone(), Y.clone())
    bad[1][0, 0] = NAN
    for batching in ("loop", "vmap"):
        cfg = ml.MAMLConfig(
            inner_steps=1, schedule=ml.MultiStepSchedule(target=(0.5, 0.5)), batching=batching
        )
        learner = ml.MetaLearner(learner.model, _mse, config=cfg, lr=learner.lr)
        with pytest.raises(ValueError, match=r"meta-loss is nan.*model is unchanged"):
            learner.step([ml.Task(SUP, bad)])
        for k, v in learner.model.state_dict().items():
            assert torch.equal(v, before[k])
        for r, r0 in zip(learner.lr.parameters(), rates, strict=True):
            assert torch.equal(r, r0)
            assert r.grad is None
    # a valid step after the refused one trains as usual
    result = learner.step([ml.Task(SUP, SUP)])
    assert torch.isfinite(result.loss)
    assert not torch.equal(learner.model.weight, before["weight"])


def test_nan_data_propagates_to_the_adapted_weights() -> None:
    """Documented: tensor values are not read on the hot paths, so NaN in is NaN out."""
    nan_x = X.clone()
    nan_x[0, 0] = NAN
    thetas = ml.inner_loop(M, (nan_x, Y), _mse, steps=1, lr=0.1)
    assert not torch.isfinite(thetas[-1]["weight"]).all()
    sup = (B_SUP[0].clone(), B_SUP[1])
    sup[0][1, 0, 0] = NAN
    out = ml.adapt_batched(M, B_PARAMS, sup, _per_sample, steps=1, lr=0.1)
    assert torch.isfinite(out["weight"][0]).all()  # sequence 0 is untouched by sequence 1
    assert not torch.isfinite(out["weight"][1]).all()
    loss = ml.multi_step_loss(torch.tensor([NAN, 1.0]), torch.tensor([0.5, 0.5]))
    assert torch.isnan(loss)


def test_nan_feature_counts_as_dissimilar() -> None:
    """Documented: a NaN similarity is below min_similarity, so the fallback is used."""
    fallback = {"w": torch.full((2, 2), 7.0)}
    nan_feature = torch.full((4,), NAN)
    out = ml.similarity_weighted_init(nan_feature, TASK_FEATS, TASK_PARAMS, fallback=fallback)
    assert torch.equal(out["w"], fallback["w"])
    with pytest.raises(ValueError, match="sum to zero"):
        ml.similarity_weighted_init(nan_feature, TASK_FEATS, TASK_PARAMS)
    raw = ml.similarity_weighted_init(nan_feature, TASK_FEATS, TASK_PARAMS, min_similarity=None)
    assert torch.isnan(raw["w"]).all()


def test_documented_fallbacks() -> None:
    # B = 0 sequences: nothing to adapt, the empty params come back
    empty = {k: v[:0] for k, v in B_PARAMS.items()}
    out = ml.adapt_batched(M, empty, (B_SUP[0][:0], B_SUP[1][:0]), _per_sample, steps=2, lr=0.1)
    assert {k: tuple(v.shape) for k, v in out.items()} == {"weight": (0, 2, 3), "bias": (0, 2)}
    # T = 0 training tasks with a fallback: the fallback (was a reshape RuntimeError)
    fallback = {"w": torch.ones(2, 2)}
    none = ml.similarity_weighted_init(
        FEAT, TASK_FEATS[:0], {"w": TASK_PARAMS["w"][:0]}, fallback=fallback
    )
    assert torch.equal(none["w"], fallback["w"])
    # anneal_epochs=inf never anneals (uniform weights), first_order_epochs=inf stays first order
    w = ml.multi_step_weights(3.0, num_steps=4, anneal_epochs=float("inf"))
    assert torch.equal(w, torch.full((5,), 0.2))
    assert ml.MultiStepSchedule(first_order_epochs=float("inf")).first_order(1e9)
    # lr=0 is allowed: the parameters do not move
    thetas = ml.inner_loop(M, SUP, _mse, steps=2, lr=0.0)
    assert torch.equal(thetas[-1]["weight"], thetas[0]["weight"])


def test_valid_numbers_give_identical_results() -> None:
    import numpy as np

    a = ml.inner_loop(M, SUP, _mse, steps=2, lr=0.05)[-1]
    b = ml.inner_loop(M, SUP, _mse, steps=2, lr=np.float64(0.05))[-1]
    c = ml.inner_loop(M, SUP, _mse, steps=2, lr=ml.FixedLR(np.float32(0.05)))[-1]
    for k in a:
        assert torch.equal(a[k], b[k])
        assert torch.allclose(a[k], c[k])
    w1 = ml.multi_step_weights(5.0, num_steps=4)
    w2 = ml.multi_step_weights(
        np.float64(5.0), num_steps=4, target=list(ml.MultiStepSchedule().target)
    )
    assert torch.equal(w1, w2)
