"""The shared training loop: resume equals an uninterrupted run, checkpoints, log, eval hook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from trackkit.train import TrainState, load_train_state, run_training

pytestmark = pytest.mark.usefixtures("one_thread")


def _recipe(seed: int = 0, lr: float = 0.05) -> tuple[TrainState, Any, nn.Module]:
    """A small noisy regression: numpy sampling, torch dropout (global RNG) and Adam state all
    influence the weights, so a resume that lost any of them would diverge."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.3), nn.Linear(8, 1))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    w = torch.tensor([[1.0], [-2.0], [0.5]])
    state = TrainState(
        modules={"net": net}, optimizers={"adam": opt}, rng=rng, config={"lr": lr, "steps": 0}
    )

    def step_fn(step: int) -> dict[str, Any]:
        x = torch.as_tensor(rng.normal(size=(16, 3)), dtype=torch.float32)
        loss = ((net(x) - x @ w) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach()), "tag": f"s{step}"}

    return state, step_fn, net


def _log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("cut", [1, 7, 12])
def test_resume_equals_uninterrupted(tmp_path: Path, cut: int) -> None:
    state, step_fn, straight = _recipe()
    res = run_training(step_fn, state, tmp_path / "a", steps=20, checkpoint_every=5, progress=False)
    assert res.finished and res.steps_done == 20 and state.step == 20

    state, step_fn, _ = _recipe()
    part = run_training(
        step_fn, state, tmp_path / "b", steps=20, checkpoint_every=5, stop_after=cut, progress=False
    )
    assert not part.finished and part.steps_done == cut
    # a fresh process: new objects (other initial weights), state restored from the file only
    state, step_fn, resumed = _recipe(seed=123)
    state.config["lr"] = 0.05
    run_training(
        step_fn,
        state,
        tmp_path / "b",
        steps=20,
        checkpoint_every=5,
        resume=tmp_path / "b" / "train_state.pt",
        progress=False,
    )
    for (n, p), (_, q) in zip(straight.named_parameters(), resumed.named_parameters()):
        assert torch.equal(p, q), n
    # the resumed log continues the interrupted one: same logged steps as the straight run
    steps_a = [r["step"] for r in _log(tmp_path / "a" / "log.jsonl")]
    steps_b = [r["step"] for r in _log(tmp_path / "b" / "log.jsonl")]
    assert steps_a == steps_b == [1, 11, 20]
    assert [r["loss"] for r in _log(tmp_path / "a" / "log.jsonl")] == [
        r["loss"] for r in _log(tmp_path / "b" / "log.jsonl")
    ]


def test_checkpoint_contents_and_weights_only(tmp_path: Path) -> None:
    state, step_fn, net = _recipe()
    state.extra["ema"] = torch.arange(3.0)
    run_training(step_fn, state, tmp_path, steps=6, checkpoint_every=4, progress=False)
    saved = torch.load(tmp_path / "train_state.pt", map_location="cpu", weights_only=True)
    assert saved["step"] == 6 and saved["config"] == {"lr": 0.05, "steps": 0}
    assert set(saved["modules"]) == {"net"} and set(saved["optimizers"]) == {"adam"}
    torch.testing.assert_close(saved["modules"]["net"]["0.weight"], net[0].weight.detach())
    torch.testing.assert_close(saved["extra"]["ema"], torch.arange(3.0))
    assert saved["elapsed_s"] > 0
    assert load_train_state(tmp_path / "train_state.pt")["step"] == 6
    assert not list(tmp_path.glob("*.tmp"))


def test_periodic_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trackkit.train import _loop

    saved_at: list[int] = []
    real = _loop._save
    monkeypatch.setattr(_loop, "_save", lambda p, s: (saved_at.append(s.step), real(p, s)))
    state, step_fn, _ = _recipe()
    run_training(step_fn, state, tmp_path, steps=11, checkpoint_every=4, progress=False)
    assert saved_at == [4, 8, 11]


def test_eval_hook_and_log_records(tmp_path: Path) -> None:
    state, step_fn, _ = _recipe()
    calls: list[int] = []

    def eval_fn(done: int) -> dict[str, float]:
        calls.append(done)
        return {"val": float(done)}

    run_training(
        step_fn,
        state,
        tmp_path,
        steps=7,
        log_every=3,
        eval_fn=eval_fn,
        eval_every=3,
        progress=False,
    )
    assert calls == [3, 6, 7]
    log = _log(tmp_path / "log.jsonl")
    assert [r["step"] for r in log if "loss" in r] == [1, 4, 7]
    assert [r["eval"]["val"] for r in log if "eval" in r] == [3.0, 6.0, 7.0]
    assert log[0]["tag"] == "s0" and "elapsed_s" in log[0]


def test_resume_with_other_config_is_refused(tmp_path: Path) -> None:
    state, step_fn, _ = _recipe()
    run_training(step_fn, state, tmp_path, steps=3, progress=False)
    state, step_fn, _ = _recipe(lr=0.1)
    with pytest.raises(ValueError, match=r"resume.*lr"):
        run_training(
            step_fn, state, tmp_path, steps=6, resume=tmp_path / "train_state.pt", progress=False
        )
    # a key named in may_change may differ
    state, step_fn, _ = _recipe()
    state.config["steps"] = 6
    res = run_training(
        step_fn, state, tmp_path, steps=6, resume=tmp_path / "train_state.pt", progress=False
    )
    assert res.finished and res.steps_done == 6
    # other modules than saved
    state, step_fn, _ = _recipe()
    state.modules["other"] = nn.Linear(1, 1)
    with pytest.raises(ValueError, match="modules"):
        run_training(
            step_fn, state, tmp_path, steps=6, resume=tmp_path / "train_state.pt", progress=False
        )
    with pytest.raises(FileNotFoundError, match="resume"):
        run_training(step_fn, state, tmp_path, steps=6, resume=tmp_path / "nope.pt")
    torch.save({"step": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a trackkit training state"):
        run_training(step_fn, state, tmp_path, steps=6, resume=tmp_path / "bad.pt")


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"steps": 3, "checkpoint_every": 0}, "checkpoint_every"),
        ({"steps": 3, "eval_every": 0}, "eval_every"),
        ({"steps": 3, "stop_after": -1}, "stop_after"),
    ],
)
def test_bad_arguments(tmp_path: Path, kw: dict, match: str) -> None:
    state, step_fn, _ = _recipe()
    with pytest.raises(ValueError, match=match):
        run_training(step_fn, state, tmp_path, progress=False, **kw)


def test_unserialisable_metric_or_config_is_a_clear_error(tmp_path: Path) -> None:
    state = TrainState()
    with pytest.raises(TypeError, match="JSON"):
        run_training(lambda s: {"x": object()}, state, tmp_path, steps=1, progress=False)
    state = TrainState(config={"path": Path("x")})
    with pytest.raises(TypeError, match="config must be JSON"):
        run_training(lambda s: {}, state, tmp_path, steps=1, progress=False)


def test_progress_bar_shows_running_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, step_fn, _ = _recipe()
    run_training(step_fn, state, tmp_path, steps=3, desc="toy")
    err = capsys.readouterr().err
    assert "toy" in err and "3/3" in err and "loss=" in err


def test_max_seconds_stops_and_saves_a_resumable_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter(float(i) for i in range(1000))
    monkeypatch.setattr("trackkit.train._loop.time.perf_counter", lambda: next(clock))
    net = nn.Linear(2, 1)
    state = TrainState(modules={"net": net}, config={"steps": 50})
    calls: list[int] = []

    def step_fn(step: int) -> dict[str, Any]:
        calls.append(step)
        return {"x": step}

    result = run_training(
        step_fn, state, tmp_path, steps=50, max_seconds=3.0, checkpoint_every=100, progress=False
    )
    # one clock tick per step after the start: elapsed reaches 3 s after the third step
    assert calls == [0, 1, 2]
    assert not result.finished and result.steps_done == 3
    assert load_train_state(result.state_path)["step"] == 3
    with pytest.raises(ValueError, match="max_seconds"):
        run_training(step_fn, TrainState(), tmp_path / "b", steps=2, max_seconds=0.0)


def _diverging(
    nan_at: int, key: str = "loss", *, poison: bool = True
) -> tuple[TrainState, Any, nn.Module]:
    """``_recipe`` whose step ``nan_at`` (0-based) reports a NaN ``key`` (and, with ``poison``,
    leaves NaN weights, as the update of a diverged step does)."""
    state, step_fn, net = _recipe()

    def bad_step(step: int) -> dict[str, Any]:
        metrics = step_fn(step)
        if step == nan_at and poison:
            with torch.no_grad():
                for p in net.parameters():
                    p.fill_(float("nan"))  # the update that produced the NaN loss
        if step == nan_at:
            metrics[key] = float("nan")
        return metrics

    return state, bad_step, net


@pytest.mark.parametrize("key", ["loss", "query_loss"])
def test_a_nan_loss_stops_before_saving_it(tmp_path: Path, key: str) -> None:
    from trackkit.train import NonFiniteLossError

    state, step_fn, _ = _diverging(nan_at=7, key=key)
    with pytest.raises(NonFiniteLossError, match=rf"step 8: non-finite {key}=nan.*holds step 5"):
        run_training(step_fn, state, tmp_path, steps=20, checkpoint_every=5, progress=False)
    saved = load_train_state(tmp_path / "train_state.pt")
    assert saved["step"] == 5
    assert all(torch.isfinite(v).all() for v in saved["modules"]["net"].values())
    last = _log(tmp_path / "log.jsonl")[-1]
    assert last["step"] == 8 and np.isnan(last[key])
    # the saved state resumes
    state, step_fn, net = _recipe(seed=9)
    run_training(
        step_fn,
        state,
        tmp_path,
        steps=20,
        checkpoint_every=5,
        resume=tmp_path / "train_state.pt",
        progress=False,
    )
    assert state.step == 20 and all(torch.isfinite(p).all() for p in net.parameters())


def test_a_nan_loss_before_any_checkpoint_says_so(tmp_path: Path) -> None:
    from trackkit.train import NonFiniteLossError

    state, step_fn, _ = _diverging(nan_at=1)
    with pytest.raises(NonFiniteLossError, match="no state was saved yet"):
        run_training(step_fn, state, tmp_path, steps=20, checkpoint_every=5, progress=False)
    assert not (tmp_path / "train_state.pt").exists()


def test_nan_in_other_metrics_or_with_the_guard_off_keeps_training(tmp_path: Path) -> None:
    state, step_fn, _ = _diverging(nan_at=3, key="ao", poison=False)  # not a loss
    assert run_training(step_fn, state, tmp_path / "a", steps=6, progress=False).finished
    state, step_fn, _ = _diverging(nan_at=3)
    res = run_training(
        step_fn, state, tmp_path / "b", steps=6, progress=False, stop_on_nonfinite=False
    )
    assert res.finished and np.isnan(_log(tmp_path / "b" / "log.jsonl")[-1]["loss"])
