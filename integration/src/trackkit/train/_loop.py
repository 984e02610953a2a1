"""One training loop for every recipe: resumable state, checkpoints, a JSON-lines log, tqdm.

A recipe builds its modules and optimisers, then hands :func:`run_training` a *step function*
``step_fn(step) -> metrics`` that performs one optimisation step (``step`` counts from 0) and
returns a dict of JSON-serialisable metrics. The loop owns everything around it:

- the resumable state, :class:`TrainState`: the ``state_dict`` of every module and optimiser,
  the recipe's numpy ``Generator`` and torch's global RNG (CPU and, when present, CUDA), the
  step, the elapsed time, the recipe's configuration and any extra tensors; written every
  ``checkpoint_every`` steps and at the end as ``OUT/train_state.pt`` (atomically, loadable with
  ``torch.load(..., weights_only=True)``);
- ``resume=``: loads such a file into the already-built modules, optimisers and RNGs (the
  recipe's configuration must equal the saved one except for the keys in ``may_change``) and
  continues at the saved step, so that a resumed run ends with the weights of an uninterrupted
  one;
- ``OUT/log.jsonl``: one JSON object per logged step (``step`` counts from 1, ``elapsed_s``,
  the step's metrics) and per evaluation (``{"step", "eval": {...}}``);
- a tqdm bar over the steps whose postfix shows the running mean of the numeric metrics;
- an optional evaluation hook ``eval_fn(step) -> metrics`` every ``eval_every`` steps and after
  the last one.

Example::

    rng = np.random.default_rng(seed)
    state = TrainState(modules={"net": net}, optimizers={"adam": opt}, rng=rng,
                       config={"lr": 1e-3, "steps": 100})
    def step_fn(step):
        loss = ...; opt.zero_grad(); loss.backward(); opt.step()
        return {"loss": float(loss)}
    result = run_training(step_fn, state, out, steps=100, resume=args.resume)
    if result.finished: save_model(...)
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from trackkit._torchutil import load_checkpoint

__all__ = ["TrainResult", "TrainState", "load_train_state", "run_training"]

#: Format tag stored in every ``train_state.pt``.
STATE_FORMAT = "trackkit.train_state/1"

StepFn = Callable[[int], Mapping[str, Any]]
EvalFn = Callable[[int], Mapping[str, Any]]


@dataclass
class TrainState:
    """Everything a training run needs to continue exactly where it stopped.

    Attributes:
        modules: named modules whose ``state_dict`` is saved (e.g. a head and its learned
            inner rates).
        optimizers: named optimisers (their ``state_dict``).
        rng: the recipe's numpy generator (its bit-generator state is saved as JSON), or None.
        config: the recipe's configuration, JSON-serialisable; checked on resume.
        extra: further tensors or plain values to save (e.g. an EMA); restored on resume.
        step: steps done so far.
        elapsed_s: training wall time so far (over all resumed segments).
    """

    modules: dict[str, nn.Module] = field(default_factory=dict)
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    rng: np.random.Generator | None = None
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    elapsed_s: float = 0.0

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint dict (tensors, numbers, strings, lists and dicts only)."""
        out: dict[str, Any] = {
            "format": STATE_FORMAT,
            "step": int(self.step),
            "elapsed_s": float(self.elapsed_s),
            "config": json.loads(json.dumps(self.config)),
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "rng": None if self.rng is None else json.dumps(self.rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(),
            "extra": dict(self.extra),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            out["cuda_rng"] = torch.cuda.get_rng_state_all()
        return out

    def load_state_dict(
        self, state: Mapping[str, Any], *, may_change: Iterable[str] = ("steps",)
    ) -> None:
        """Restore a :meth:`state_dict` into this state's modules, optimisers and RNGs.

        Raises:
            ValueError: the file is not a training state, names other modules/optimisers, or
                its configuration differs from :attr:`config` in a key not in ``may_change``.
        """
        if state.get("format") != STATE_FORMAT:
            raise ValueError(
                f"resume: not a trackkit training state (format {state.get('format')!r}, "
                f"expected {STATE_FORMAT!r})"
            )
        keep = set(may_change)
        saved_cfg = {k: v for k, v in state["config"].items() if k not in keep}
        mine = {k: v for k, v in json.loads(json.dumps(self.config)).items() if k not in keep}
        if saved_cfg != mine:
            diff = sorted(k for k in set(saved_cfg) | set(mine) if saved_cfg.get(k) != mine.get(k))
            raise ValueError(
                f"resume: the checkpoint was trained with other options ({', '.join(diff)}: "
                f"{[saved_cfg.get(k) for k in diff]} there, {[mine.get(k) for k in diff]} "
                "now); resume with the same options"
            )
        for what, have, saved in (
            ("modules", self.modules, state["modules"]),
            ("optimizers", self.optimizers, state["optimizers"]),
        ):
            if set(have) != set(saved):
                raise ValueError(
                    f"resume: the checkpoint has {what} {sorted(saved)}, this run {sorted(have)}"
                )
        for k, m in self.modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        if self.rng is not None:
            if state["rng"] is None:
                raise ValueError("resume: the checkpoint has no numpy RNG state")
            self.rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.extra = dict(state.get("extra", {}))
        self.step = int(state["step"])
        self.elapsed_s = float(state["elapsed_s"])


def load_train_state(path: str | Path) -> dict[str, Any]:
    """Read a ``train_state.pt`` with ``weights_only=True`` (on the CPU); a truncated or corrupt
    file is a one-line ``ValueError`` naming it."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"resume: no training state at {p}")
    state: dict[str, Any] = load_checkpoint(p, what="training state (resume)")
    return state


def _save(path: Path, state: TrainState) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state.state_dict(), tmp)
    tmp.replace(path)


@dataclass(frozen=True)
class TrainResult:
    """What :func:`run_training` did.

    Attributes:
        steps_done: steps completed in total (over resumed segments).
        finished: True when all ``steps`` ran (False after ``stop_after``).
        elapsed_s: training wall time in total.
        last_metrics: the last step's metrics.
        state_path: the resumable state written at the end.
    """

    steps_done: int
    finished: bool
    elapsed_s: float
    last_metrics: dict[str, Any]
    state_path: Path


def _jsonable(v: Any) -> Any:
    if isinstance(v, (Tensor, np.ndarray, np.generic)):
        return v.tolist()
    raise TypeError(f"step metrics must be JSON-serialisable, got {type(v).__name__}")


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, Tensor) and v.numel() == 1:
        return float(v)
    return None


class NonFiniteLossError(ValueError):
    """A training step reported a NaN or infinite loss; the run stopped before saving it."""


def _nonfinite_losses(metrics: Mapping[str, Any]) -> list[str]:
    """``name=value`` of every loss metric (``loss`` or ``*_loss``) that is NaN or infinite."""
    bad = []
    for k, v in metrics.items():
        if k == "loss" or k.endswith("_loss"):
            x = _number(v)
            if x is not None and not math.isfinite(x):
                bad.append(f"{k}={x}")
    return bad


def run_training(
    step_fn: StepFn,
    state: TrainState,
    out_dir: str | Path,
    *,
    steps: int,
    resume: str | Path | None = None,
    may_change: Iterable[str] = ("steps", "checkpoint_every"),
    checkpoint_every: int = 50,
    log_every: int = 10,
    stop_after: int | None = None,
    max_seconds: float | None = None,
    eval_fn: EvalFn | None = None,
    eval_every: int | None = None,
    progress: bool = True,
    desc: str = "train",
    running_window: int = 20,
    stop_on_nonfinite: bool = True,
) -> TrainResult:
    """Run ``step_fn`` for steps ``state.step .. steps - 1`` with checkpoints, log and bar.

    Args:
        step_fn: one optimisation step; called with the 0-based step, returns its metrics
            (JSON-serialisable; numbers are also shown as running means on the bar).
        state: the run's modules, optimisers, RNG and configuration; restored from ``resume``
            first when given, updated in place (``state.step``, ``state.elapsed_s``).
        out_dir: folder for ``train_state.pt`` and ``log.jsonl`` (created; the log is appended
            to, so a resumed run continues it).
        steps: total number of steps of the run.
        resume: a ``train_state.pt`` to continue from.
        may_change: configuration keys allowed to differ on resume.
        checkpoint_every: steps between resumable checkpoints (one is also written at the end).
        log_every: log steps ``0, log_every, 2 * log_every, ...`` and the last one.
        stop_after: stop once this many steps are done in total (a time-boxed run).
        max_seconds: stop after the first step at which ``state.elapsed_s`` (training time
            over all resumed segments) reaches this; the state is saved there.
        eval_fn: evaluation hook called with the number of steps done; its metrics are logged
            as ``{"step": n, "eval": {...}}``.
        eval_every: steps between evaluations (None: only after the last step).
        progress: show the tqdm bar.
        desc: the bar's label.
        running_window: steps averaged for the bar's running metrics.
        stop_on_nonfinite: when a step's metric ``loss`` or ``*_loss`` is NaN or infinite, log
            that step, save nothing more and raise :class:`NonFiniteLossError` naming the
            metric and the step of the last saved state (the optimiser has already applied
            that step, so the in-memory weights are suspect; resume from ``train_state.pt``,
            e.g. with a lower learning rate). False: keep training (the bar's running means
            skip non-finite values; the log records them).

    Returns:
        a :class:`TrainResult`.

    Raises:
        NonFiniteLossError: a non-finite loss, with ``stop_on_nonfinite``.
    """
    for name, value in (
        ("steps", steps),
        ("checkpoint_every", checkpoint_every),
        ("log_every", log_every),
        ("running_window", running_window),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if eval_every is not None and (not isinstance(eval_every, int) or eval_every < 1):
        raise ValueError(f"eval_every must be an integer >= 1 or None, got {eval_every!r}")
    if stop_after is not None and (not isinstance(stop_after, int) or stop_after < 0):
        raise ValueError(f"stop_after must be an integer >= 0 or None, got {stop_after!r}")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0 or None, got {max_seconds!r}")
    try:
        json.dumps(state.config)
    except (TypeError, ValueError) as err:
        raise TypeError(f"state.config must be JSON-serialisable: {err}") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if resume is not None:
        state.load_state_dict(load_train_state(resume), may_change=may_change)
    state_path = out / "train_state.pt"
    last = steps if stop_after is None else min(steps, stop_after)
    saved_step = state.step if resume is not None else None
    elapsed0 = state.elapsed_s
    t0 = time.perf_counter()
    window: dict[str, deque[float]] = {}
    metrics: dict[str, Any] = {}
    bar = tqdm(total=steps, initial=min(state.step, steps), desc=desc, disable=not progress)
    try:
        with (out / "log.jsonl").open("a") as log:

            def write(record: Mapping[str, Any]) -> None:
                log.write(json.dumps(record, default=_jsonable) + "\n")
                log.flush()

            for step in range(state.step, last):
                metrics = dict(step_fn(step))
                state.step = step + 1
                state.elapsed_s = elapsed0 + time.perf_counter() - t0
                bad = _nonfinite_losses(metrics) if stop_on_nonfinite else []
                if bad:
                    write({"step": step + 1, "elapsed_s": round(state.elapsed_s, 1), **metrics})
                    kept = (
                        f"{state_path} holds step {saved_step}"
                        if saved_step is not None
                        else "no state was saved yet"
                    )
                    raise NonFiniteLossError(
                        f"training step {step + 1}: non-finite {', '.join(bad)}; stopped "
                        f"without saving it ({kept}; resume from it, e.g. with a lower "
                        "learning rate)"
                    )
                for k, v in metrics.items():
                    x = _number(v)
                    if x is not None and math.isfinite(x):
                        window.setdefault(k, deque(maxlen=running_window)).append(x)
                bar.update(1)
                if window:
                    bar.set_postfix(
                        {k: f"{sum(w) / len(w):.4g}" for k, w in window.items()}, refresh=False
                    )
                if step % log_every == 0 or step == steps - 1:
                    write({"step": step + 1, "elapsed_s": round(state.elapsed_s, 1), **metrics})
                if eval_fn is not None and (
                    (eval_every is not None and (step + 1) % eval_every == 0) or step + 1 == steps
                ):
                    write({"step": step + 1, "eval": dict(eval_fn(step + 1))})
                out_of_time = max_seconds is not None and state.elapsed_s >= max_seconds
                if (step + 1) % checkpoint_every == 0 or step + 1 == last or out_of_time:
                    _save(state_path, state)
                    saved_step = state.step
                if out_of_time:
                    break
            if state.step >= last and not state_path.exists():
                _save(state_path, state)
    finally:
        bar.close()
    return TrainResult(
        steps_done=state.step,
        finished=state.step >= steps,
        elapsed_s=state.elapsed_s,
        last_metrics=metrics,
        state_path=state_path,
    )
