"""Asynchronous advantage actor-critic (A3C) runner (Dunnhofer et al. 2020, Sec. 3.3 and Fig. 1).

A global model lives in shared memory. ``num_workers`` processes each own a local copy,
play episodes, and every ``t_max`` steps push the gradients of their segment loss into the
global model and step one shared optimiser (Hogwild: no lock). After every episode the local
copy is re-synchronised with the global weights. A deterministic single-process mode runs the
same workers round-robin (one segment each in turn) in the calling process.

Start method: ``"spawn"`` by default. ``fork`` after torch has started its intra-op thread pool
can deadlock a child (a forked OpenMP runtime), and is unavailable on macOS/Windows; spawn
costs one torch import per worker (about a second) and requires picklable arguments: the model
class, ``make_env``, ``policy_step`` and ``loss_hook`` must be importable module-level objects
(not defined in ``__main__`` of an interactive session or a test file).
"""

from __future__ import annotations

import copy
import math
import os
import queue as queue_mod
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.multiprocessing as mp
from torch import Tensor, nn

from ._a3c_types import ActorOutput, Environment, LossHook, PolicyStep, Segment, Transition
from ._checks import check_choice, check_int, check_positive
from ._returns import actor_critic_loss
from ._shared_optim import OptimizerConfig, SharedOptimizer, SharedState, make_shared_state

START_METHODS: tuple[str, ...] = ("spawn", "forkserver", "fork")


@dataclass(frozen=True)
class A3CConfig:
    """A3C runner settings (defaults from Dunnhofer et al. 2020, Sec. 4.1 "Implementation Details").

    Attributes:
        num_workers: parallel students W (paper: up to 24).
        episodes_per_worker: episodes each worker plays before it stops.
        t_max: steps between gradient pushes (paper: 5).
        gamma: discount (paper: 1).
        rl_loss_scale: multiplies ``L_pi + L_v`` (paper: 1e-3, to balance distillation).
        value_coef: weight of ``L_v`` inside the actor-critic loss (paper: 1).
        entropy_coef: entropy bonus weight (paper: none, 0).
        advantage: ``"td"`` (eq. 6 as printed) or ``"n_step"`` (classic A3C).
        max_grad_norm: clip each worker's gradient norm before the push (None = off).
        optimizer: the shared optimiser (paper: RAdam, lr 1e-6).
        multiprocess: False runs the deterministic single-process mode.
        start_method: ``"spawn"`` (default, see module doc), ``"forkserver"`` or ``"fork"``.
        seed: worker ``i`` seeds torch with ``seed + i`` and gets ``make_env(i, seed + i)``.
        timeout_s: wall-clock limit of a multi-process run (None = none); on expiry all
            workers are terminated and ``TimeoutError`` is raised.
    """

    num_workers: int = 2
    episodes_per_worker: int = 100
    t_max: int = 5
    gamma: float = 1.0
    rl_loss_scale: float = 1e-3
    value_coef: float = 1.0
    entropy_coef: float = 0.0
    advantage: str = "td"
    max_grad_norm: float | None = None
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    multiprocess: bool = True
    start_method: str = "spawn"
    seed: int = 0
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        check_int(self.num_workers, "num_workers", minimum=1)
        check_int(self.episodes_per_worker, "episodes_per_worker", minimum=1)
        check_int(self.t_max, "t_max", minimum=1)
        check_positive(self.gamma, "gamma", allow_zero=True)
        if self.gamma > 1:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        check_positive(self.rl_loss_scale, "rl_loss_scale", allow_zero=True)
        check_positive(self.value_coef, "value_coef", allow_zero=True)
        check_positive(self.entropy_coef, "entropy_coef", allow_zero=True)
        check_choice(self.advantage, "advantage", ("td", "n_step"))
        if self.max_grad_norm is not None:
            check_positive(self.max_grad_norm, "max_grad_norm")
        if not isinstance(self.optimizer, OptimizerConfig):
            raise TypeError(
                f"optimizer must be an OptimizerConfig, got {type(self.optimizer).__name__}"
            )
        check_choice(self.start_method, "start_method", START_METHODS)
        check_int(self.seed, "seed", minimum=0)
        if self.timeout_s is not None:
            check_positive(self.timeout_s, "timeout_s")


@dataclass(frozen=True)
class WorkerStats:
    """What one worker did: per-episode undiscounted returns, env steps, gradient pushes, and
    the wall-clock and CPU seconds it spent playing and learning (start-up excluded)."""

    worker_id: int
    episode_returns: tuple[float, ...]
    env_steps: int
    updates: int
    busy_s: float
    cpu_s: float


@dataclass(frozen=True)
class A3CResult:
    """Outcome of :func:`run_a3c`.

    Attributes:
        model: the trained global model (the one passed in, updated in place).
        workers: per-worker :class:`WorkerStats`, ordered by worker id.
        elapsed_s: wall-clock seconds of the training loop (process start-up included).
        optimizer_state: the shared optimiser's state after the run (per parameter ``step``,
            ``exp_avg``, ``exp_avg_sq``); pass it to the next :func:`run_a3c` call as
            ``optimizer_state`` to continue the same optimiser (runs in rounds, resuming).
    """

    model: nn.Module
    workers: tuple[WorkerStats, ...]
    elapsed_s: float
    optimizer_state: list[dict[str, Tensor]] = field(default_factory=list)

    @property
    def env_steps(self) -> int:
        """Environment steps over all workers."""
        return sum(w.env_steps for w in self.workers)


def _detach_tree(memory: Any) -> Any:
    if isinstance(memory, Tensor):
        return memory.detach()
    if isinstance(memory, tuple):
        return tuple(_detach_tree(m) for m in memory)
    if isinstance(memory, list):
        return [_detach_tree(m) for m in memory]
    if isinstance(memory, dict):
        return {k: _detach_tree(v) for k, v in memory.items()}
    return memory


def _check_output(out: Any) -> ActorOutput:
    if not isinstance(out, ActorOutput):
        raise TypeError(f"policy_step must return (ActorOutput, memory), got {type(out).__name__}")
    for name in ("action", "log_prob", "value"):
        if not isinstance(getattr(out, name), Tensor):
            raise TypeError(f"ActorOutput.{name} must be a Tensor")
    if out.log_prob.shape != out.value.shape:
        raise ValueError(
            f"ActorOutput.log_prob and .value must have the same shape, got "
            f"{tuple(out.log_prob.shape)} and {tuple(out.value.shape)}"
        )
    return out


class _Worker:
    """One student: local model, environment, and the segment loop (used by both modes)."""

    def __init__(
        self,
        worker_id: int,
        global_model: nn.Module,
        optimizer: SharedOptimizer,
        make_env: Callable[[int, int], Environment],
        policy_step: PolicyStep,
        config: A3CConfig,
        loss_hook: LossHook | None,
    ) -> None:
        self.worker_id = worker_id
        self.global_model = global_model
        self.global_params = list(global_model.parameters())
        self.local = copy.deepcopy(global_model)
        self.local_params = list(self.local.parameters())
        self.optimizer = optimizer
        self.env = make_env(worker_id, config.seed + worker_id)
        self.policy_step = policy_step
        self.config = config
        self.loss_hook = loss_hook
        self.episode = 0
        self.in_episode = False
        self.observation: Any = None
        self.memory: Any = None
        self.current_return = 0.0
        self.returns: list[float] = []
        self.env_steps = 0
        self.updates = 0
        self.busy_s = 0.0
        self.cpu_s = 0.0

    def finished(self) -> bool:
        return self.episode >= self.config.episodes_per_worker

    def stats(self) -> WorkerStats:
        return WorkerStats(
            self.worker_id,
            tuple(self.returns),
            self.env_steps,
            self.updates,
            self.busy_s,
            self.cpu_s,
        )

    def run_segment(self) -> None:
        start, cpu = time.perf_counter(), time.process_time()
        self._run_segment()
        self.busy_s += time.perf_counter() - start
        self.cpu_s += time.process_time() - cpu

    def _run_segment(self) -> None:
        cfg = self.config
        if not self.in_episode:
            self.local.load_state_dict(self.global_model.state_dict())  # sync per episode
            self.observation = self.env.reset()
            self.memory = None
            self.current_return = 0.0
            self.in_episode = True
        steps: list[Transition] = []
        terminal = False
        for _ in range(cfg.t_max):
            out, memory = self.policy_step(self.local, self.observation, self.memory, sample=True)
            out = _check_output(out)
            next_obs, reward, done = self.env.step(out.action.detach())
            r = float(reward)
            if not math.isfinite(r):
                raise ValueError(f"environment returned a non-finite reward {reward!r}")
            steps.append(Transition(self.observation, out, r))
            self.observation, self.memory = next_obs, memory
            self.env_steps += 1
            self.current_return += r
            if done:
                terminal = True
                break
        ref = steps[0].output.value
        if terminal:
            v_T = torch.zeros_like(ref).detach()
        else:
            with torch.no_grad():
                boot, _ = self.policy_step(self.local, self.observation, self.memory, sample=False)
            v_T = _check_output(boot).value.detach()
        log_prob_t = torch.stack([s.output.log_prob for s in steps], dim=-1)  # [..., T]
        v_t = torch.stack([s.output.value for s in steps], dim=-1)  # [..., T]
        r_t = torch.tensor([s.r_t for s in steps], dtype=v_t.dtype, device=v_t.device)
        r_t = r_t.expand_as(v_t)
        entropies = [s.output.entropy for s in steps]
        entropy_t = None
        if cfg.entropy_coef > 0 and all(e is not None for e in entropies):
            entropy_t = torch.stack([e for e in entropies if e is not None], dim=-1)
        ac = actor_critic_loss(
            log_prob_t,
            v_t,
            r_t,
            v_T,
            terminal=terminal,
            gamma=cfg.gamma,
            advantage="td" if cfg.advantage == "td" else "n_step",
            value_coef=cfg.value_coef,
            entropy_t=entropy_t,
            entropy_coef=cfg.entropy_coef,
        )
        loss = cfg.rl_loss_scale * ac.total
        if self.loss_hook is not None:
            segment = Segment(self.worker_id, self.episode, tuple(steps), terminal, v_T)
            loss = self.loss_hook(self.worker_id, loss, segment)
            if not isinstance(loss, Tensor) or loss.ndim != 0:
                raise TypeError("loss_hook must return a scalar Tensor")
        if not bool(torch.isfinite(loss.detach())):
            raise FloatingPointError(
                f"worker {self.worker_id}: non-finite loss in episode {self.episode}"
            )
        for p in self.local_params:
            p.grad = None
        if loss.requires_grad:
            loss.backward()
        if cfg.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.local_params, cfg.max_grad_norm)
        for gp, lp in zip(self.global_params, self.local_params):
            gp.grad = None if lp.grad is None else lp.grad.detach().clone()
        self.optimizer.step()  # Hogwild: writes the shared weights and shared moments
        self.updates += 1
        self.memory = _detach_tree(self.memory)
        if terminal:
            self.returns.append(self.current_return)
            self.episode += 1
            self.in_episode = False


def _worker_main(
    worker_id: int,
    global_model: nn.Module,
    shared_state: SharedState,
    make_env: Callable[[int, int], Environment],
    policy_step: PolicyStep,
    config: A3CConfig,
    loss_hook: LossHook | None,
    messages: Any,
) -> None:
    """Entry point of a worker process; reports ("done"|"error", worker_id, payload)."""
    try:
        torch.set_num_threads(1)  # W workers on few cores: intra-op threads only oversubscribe
        torch.manual_seed(config.seed + worker_id)
        params = list(global_model.parameters())
        optimizer = SharedOptimizer(params, config.optimizer, shared_state)
        worker = _Worker(
            worker_id, global_model, optimizer, make_env, policy_step, config, loss_hook
        )
        parent = os.getppid()
        while not worker.finished():
            worker.run_segment()
            if os.getppid() != parent:  # the parent was killed (SIGKILL skips its cleanup)
                return
        messages.put(("done", worker_id, worker.stats()))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent cleans up
        messages.put(("interrupted", worker_id, "KeyboardInterrupt"))
    except BaseException:
        messages.put(("error", worker_id, traceback.format_exc()))


def _shutdown(processes: Sequence[Any], grace_s: float = 5.0) -> None:
    """Terminate every live worker, then kill what survives; join all (no orphans)."""
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace_s
    for p in processes:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
    for p in processes:
        if p.is_alive():
            p.kill()
            p.join(timeout=grace_s)


def _run_single_process(
    model: nn.Module,
    state: SharedState,
    make_env: Callable[[int, int], Environment],
    policy_step: PolicyStep,
    config: A3CConfig,
    loss_hook: LossHook | None,
) -> tuple[WorkerStats, ...]:
    params = list(model.parameters())
    optimizer = SharedOptimizer(params, config.optimizer, state)
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG untouched
        workers: list[_Worker] = []
        rng_states: list[Tensor] = []
        for i in range(config.num_workers):
            torch.manual_seed(config.seed + i)  # same per-worker streams as the process mode
            workers.append(_Worker(i, model, optimizer, make_env, policy_step, config, loss_hook))
            rng_states.append(torch.get_rng_state())
        while not all(w.finished() for w in workers):
            for i, w in enumerate(workers):
                if w.finished():
                    continue
                torch.set_rng_state(rng_states[i])
                w.run_segment()
                rng_states[i] = torch.get_rng_state()
    return tuple(w.stats() for w in workers)


def _run_processes(
    model: nn.Module,
    state: SharedState,
    make_env: Callable[[int, int], Environment],
    policy_step: PolicyStep,
    config: A3CConfig,
    loss_hook: LossHook | None,
) -> tuple[WorkerStats, ...]:
    ctx = mp.get_context(config.start_method)
    messages = ctx.Queue()
    processes = [
        ctx.Process(  # type: ignore[attr-defined]
            target=_worker_main,
            args=(i, model, state, make_env, policy_step, config, loss_hook, messages),
            name=f"seqrl-a3c-worker-{i}",
            daemon=True,  # never outlive the parent
        )
        for i in range(config.num_workers)
    ]
    deadline = None if config.timeout_s is None else time.monotonic() + config.timeout_s
    stats: dict[int, WorkerStats] = {}
    try:
        for p in processes:
            p.start()
        silent_exit: dict[int, float] = {}
        while len(stats) < config.num_workers:
            try:
                message = messages.get(timeout=0.2)
            except queue_mod.Empty:
                message = None
            if message is None:
                now = time.monotonic()
                for i, p in enumerate(processes):
                    if i in stats or p.exitcode is None:
                        continue
                    # Exited without a message (killed, segfault): allow the queue a moment.
                    first = silent_exit.setdefault(i, now)
                    if p.exitcode != 0 or now - first > 5.0:
                        raise RuntimeError(
                            f"A3C worker {i} exited with code {p.exitcode} without reporting"
                        )
                if deadline is not None and now > deadline:
                    raise TimeoutError(
                        f"A3C run exceeded timeout_s={config.timeout_s}; workers terminated"
                    )
                continue
            kind, wid, payload = message
            if kind == "done":
                stats[wid] = payload
            elif kind == "interrupted":
                raise KeyboardInterrupt(f"A3C worker {wid} was interrupted")
            else:
                raise RuntimeError(f"A3C worker {wid} failed:\n{payload}")
        for p in processes:
            p.join(timeout=30.0)
    finally:
        _shutdown(processes)
        messages.cancel_join_thread()
        messages.close()
    return tuple(stats[i] for i in range(config.num_workers))


def run_a3c(
    model: nn.Module,
    make_env: Callable[[int, int], Environment],
    policy_step: PolicyStep,
    config: A3CConfig | None = None,
    *,
    loss_hook: LossHook | None = None,
    optimizer_state: Sequence[dict[str, Tensor]] | None = None,
) -> A3CResult:
    """Train ``model`` with A3C (Dunnhofer et al. 2020, Sec. 3.3; Mnih et al. 2016).

    Args:
        model: the global model (CPU). Its parameters are moved to shared memory and updated
            in place.
        make_env: ``make_env(worker_id, seed) -> Environment``; picklable for processes.
        policy_step: see :class:`PolicyStep`.
        config: :class:`A3CConfig`.
        loss_hook: optional per-worker loss, see :data:`LossHook` (Dunnhofer et al. 2020's
            distilling workers).
        optimizer_state: the ``optimizer_state`` of an earlier :class:`A3CResult` (or one
            loaded from a checkpoint) to continue that optimiser's moments and step counts;
            None starts a fresh optimiser. Copied into shared memory; the caller's tensors are
            not modified.

    Returns:
        :class:`A3CResult`.

    Raises:
        RuntimeError: a worker raised (its traceback is in the message) or died; all other
            workers are terminated first.
        TimeoutError: ``config.timeout_s`` expired.
        KeyboardInterrupt: Ctrl-C; workers are terminated and joined before it propagates.
    """
    cfg = config if config is not None else A3CConfig()
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    params = list(model.parameters())
    if not params:
        raise ValueError("model has no parameters")
    if any(p.device.type != "cpu" for p in params):
        raise ValueError(
            "run_a3c shares the global model through CPU shared memory; "
            f"model is on {params[0].device}"
        )
    for name, fn in (("make_env", make_env), ("policy_step", policy_step)):
        if not callable(fn):
            raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    if loss_hook is not None and not callable(loss_hook):
        raise TypeError(f"loss_hook must be callable, got {type(loss_hook).__name__}")
    model.share_memory()
    state = make_shared_state(params)
    if optimizer_state is not None:
        _load_optimizer_state(state, optimizer_state)
    start = time.perf_counter()
    runner = _run_processes if cfg.multiprocess else _run_single_process
    workers = runner(model, state, make_env, policy_step, cfg, loss_hook)
    return A3CResult(
        model=model,
        workers=workers,
        elapsed_s=time.perf_counter() - start,
        optimizer_state=[{k: v.detach().clone() for k, v in e.items()} for e in state],
    )


def _load_optimizer_state(state: SharedState, saved: Sequence[dict[str, Tensor]]) -> None:
    """Copy a saved optimiser state into the freshly allocated shared ``state`` (checked)."""
    if isinstance(saved, (str, bytes)) or not isinstance(saved, Sequence):
        raise TypeError(f"optimizer_state must be a list of dicts, got {type(saved).__name__}")
    if len(saved) != len(state):
        raise ValueError(
            f"optimizer_state has {len(saved)} entries, the model has {len(state)} parameters"
        )
    for i, (mine, theirs) in enumerate(zip(state, saved)):
        if not isinstance(theirs, dict) or set(theirs) != set(mine):
            raise ValueError(
                f"optimizer_state[{i}] must have the keys {sorted(mine)}, got "
                f"{sorted(theirs) if isinstance(theirs, dict) else type(theirs).__name__}"
            )
        for key, tensor in mine.items():
            value = theirs[key]
            if not isinstance(value, Tensor) or value.shape != tensor.shape:
                raise ValueError(
                    f"optimizer_state[{i}][{key!r}] must be a tensor of shape "
                    f"{tuple(tensor.shape)}, got "
                    f"{tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__}"
                )
            tensor.copy_(value.detach().to(tensor.dtype))
