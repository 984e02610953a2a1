"""A3C runner: determinism, equality with a hand-written reference, multi-process learning,
per-worker loss hook, clean shutdown on errors, timeouts and Ctrl-C."""

import copy
import dataclasses
import functools
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

import seqrl
from seqrl import toys

POLICY = functools.partial(toys.move_box_policy_step, min_sigma=0.3)


def _config(**kw: object) -> seqrl.A3CConfig:
    base: dict = dict(
        num_workers=1,
        episodes_per_worker=20,
        t_max=3,  # < episode length 5: segments bootstrap from v_T mid-episode
        gamma=0.95,
        rl_loss_scale=1.0,
        value_coef=0.5,
        optimizer=seqrl.OptimizerConfig(name="adam", lr=1e-3),
        multiprocess=False,
        seed=3,
        timeout_s=120.0,
    )
    base.update(kw)
    return seqrl.A3CConfig(**base)


def _model() -> toys.MoveBoxActorCritic:
    torch.manual_seed(0)
    return toys.MoveBoxActorCritic(hidden=16)


def _flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def reference_a3c_one_worker(
    model: torch.nn.Module,
    cfg: seqrl.A3CConfig,
    env: toys.MoveBoxEnv | None = None,
    opt: torch.optim.Optimizer | None = None,
) -> torch.nn.Module:
    """The algorithm written out plainly: one worker, torch.optim.Adam, TD advantages."""
    torch.manual_seed(cfg.seed)
    local = copy.deepcopy(model)
    env = env if env is not None else toys.make_move_box_env(0, cfg.seed)
    opt = opt if opt is not None else torch.optim.Adam(model.parameters(), lr=cfg.optimizer.lr)
    for _ in range(cfg.episodes_per_worker):
        local.load_state_dict(model.state_dict())
        obs, done = env.reset(), False
        while not done:
            logps, values, rewards = [], [], []
            for _ in range(cfg.t_max):
                out, _ = POLICY(local, obs, None, sample=True)
                obs, r, done = env.step(out.action)
                logps.append(out.log_prob)
                values.append(out.value)
                rewards.append(r)
                if done:
                    break
            if done:
                v_next = 0.0
            else:
                with torch.no_grad():
                    v_next = float(POLICY(local, obs, None, sample=False)[0].value)
            ret, loss_pi, loss_v = v_next, 0.0, 0.0
            for t in reversed(range(len(rewards))):
                ret = rewards[t] + cfg.gamma * ret
                v_tp1 = float(values[t + 1].detach()) if t + 1 < len(values) else v_next
                advantage = rewards[t] + cfg.gamma * v_tp1 - float(values[t].detach())
                loss_pi = loss_pi - logps[t] * advantage
                loss_v = loss_v + 0.5 * (ret - values[t]) ** 2
            loss = cfg.rl_loss_scale * (loss_pi + cfg.value_coef * loss_v)
            local.zero_grad()
            loss.backward()
            for gp, lp in zip(model.parameters(), local.parameters()):
                gp.grad = lp.grad.clone()
            opt.step()
    return model


def _no_live_workers() -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not mp.active_children():
            return True
        time.sleep(0.1)
    return False


def test_single_process_is_deterministic_and_matches_the_reference() -> None:
    cfg = _config()
    runs = []
    for _ in range(2):
        model = _model()
        result = seqrl.run_a3c(model, toys.make_move_box_env, POLICY, cfg)
        runs.append(_flat(model))
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)
    assert result.env_steps == 20 * 5 and result.workers[0].updates == 20 * 2
    assert len(result.workers[0].episode_returns) == 20
    reference = _flat(reference_a3c_one_worker(_model(), cfg))
    assert not torch.equal(reference, _flat(_model()))  # training moved the weights
    torch.testing.assert_close(runs[0], reference, atol=1e-5, rtol=1e-5)


def test_single_process_leaves_the_callers_rng_alone() -> None:
    model = _model()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    seqrl.run_a3c(model, toys.make_move_box_env, POLICY, _config(episodes_per_worker=2))
    torch.testing.assert_close(torch.rand(3), expected)


def test_loss_hook_sees_every_worker_and_replaces_the_loss() -> None:
    seen: list[tuple[int, int]] = []

    def hook(worker_id: int, ac_loss: torch.Tensor, segment: seqrl.Segment) -> torch.Tensor:
        assert segment.worker_id == worker_id and 1 <= len(segment.steps) <= 3
        seen.append((worker_id, segment.episode))
        return toys.move_box_distill_hook(worker_id, ac_loss, segment)

    cfg = _config(num_workers=2, episodes_per_worker=3)
    result = seqrl.run_a3c(_model(), toys.make_move_box_env, POLICY, cfg, loss_hook=hook)
    assert {w for w, _ in seen} == {0, 1}
    assert len(seen) == sum(w.updates for w in result.workers) == 2 * 3 * 2
    # round-robin: the workers alternate segment by segment
    assert [w for w, _ in seen[:4]] == [0, 1, 0, 1]


def test_distillation_alone_learns_the_box_task() -> None:
    """Worker 0 with the distillation hook only (Dunnhofer et al. 2020's distilling student)."""
    model = _model()
    before = toys.evaluate_move_box(model)
    cfg = _config(episodes_per_worker=150, optimizer=seqrl.OptimizerConfig(name="adam", lr=1e-2))
    seqrl.run_a3c(model, toys.make_move_box_env, POLICY, cfg, loss_hook=toys.move_box_distill_hook)
    assert before < 0.4 < 0.85 < toys.evaluate_move_box(model)


def test_process_mode_with_one_worker_equals_single_process_mode() -> None:
    cfg = _config(episodes_per_worker=10, optimizer=seqrl.OptimizerConfig(name="radam", lr=1e-2))
    single = _model()
    seqrl.run_a3c(single, toys.make_move_box_env, POLICY, cfg)
    multi = _model()
    result = seqrl.run_a3c(
        multi, toys.make_move_box_env, POLICY, dataclasses.replace(cfg, multiprocess=True)
    )
    assert result.workers[0].updates == 20
    torch.testing.assert_close(_flat(multi), _flat(single), atol=1e-6, rtol=1e-6)
    assert _no_live_workers()


def test_two_workers_learn_to_move_the_box_onto_the_target() -> None:
    torch.manual_seed(0)
    model = toys.MoveBoxActorCritic()
    before = toys.evaluate_move_box(model)
    cfg = seqrl.A3CConfig(
        num_workers=2,
        episodes_per_worker=500,
        t_max=5,
        gamma=0.5,  # every step moves onto the target: short horizons cut the variance
        rl_loss_scale=1.0,
        value_coef=0.5,
        advantage="n_step",
        optimizer=seqrl.OptimizerConfig(name="adam", lr=5e-4),
        seed=0,
        timeout_s=240.0,
    )
    result = seqrl.run_a3c(model, toys.make_move_box_env, toys.move_box_policy_step, cfg)
    after = toys.evaluate_move_box(model)
    assert [w.updates for w in result.workers] == [500, 500]
    assert before < 0.3 and after > 0.7, (before, after)
    assert _no_live_workers()


def test_worker_error_stops_everything_with_its_traceback() -> None:
    bad_env = functools.partial(toys.make_move_box_env, reward="bogus")
    cfg = _config(num_workers=2, multiprocess=True)
    with pytest.raises(RuntimeError, match="reward must be"):
        seqrl.run_a3c(_model(), bad_env, POLICY, cfg)
    assert _no_live_workers()


def test_timeout_terminates_the_workers() -> None:
    cfg = _config(num_workers=2, multiprocess=True, episodes_per_worker=10**7, timeout_s=1.0)
    with pytest.raises(TimeoutError, match="timeout_s"):
        seqrl.run_a3c(_model(), toys.make_move_box_env, POLICY, cfg)
    assert _no_live_workers()


SCRIPT = """
import signal, sys, torch, seqrl
from seqrl import toys

# A terminal's Python turns Ctrl-C into KeyboardInterrupt. A launcher that ignores SIGINT (a
# shell's background job without job control, as in some CI runners) passes SIG_IGN on to this
# interpreter, which then keeps ignoring it: restore the terminal's behaviour. The spawned
# workers start from SIG_DFL again (exec resets a handled signal).
signal.signal(signal.SIGINT, signal.default_int_handler)

def make_env(worker_id, seed):  # says when a worker is past its start-up, inside its loop
    env = toys.make_move_box_env(worker_id, seed)
    print(f"worker {worker_id} ready", flush=True)
    return env

if __name__ == "__main__":
    cfg = seqrl.A3CConfig(num_workers=2, episodes_per_worker=10**7, rl_loss_scale=1.0,
                          optimizer=seqrl.OptimizerConfig(name="adam", lr=1e-3))
    print("starting", flush=True)
    seqrl.run_a3c(toys.MoveBoxActorCritic(8), make_env, toys.move_box_policy_step, cfg)
"""


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _describe(pgid: int) -> list[str]:
    """Command lines of the live members of a process group (for a hang's failure message)."""
    out = []
    for pid in _group_members(pgid):
        try:
            cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        out.append(f"{pid}: {cmd.decode(errors='replace')[:120]}")
    return out


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list process groups")
def test_ctrl_c_leaves_no_orphans(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a terminal job
    )
    lines: queue.Queue[str] = queue.Queue()
    errors: list[str] = []
    assert proc.stdout is not None and proc.stderr is not None
    stdout, stderr = proc.stdout, proc.stderr

    def forward_lines() -> None:
        for line in stdout:
            lines.put(line)

    readers = [  # drain both pipes so that no process of the group blocks on a full one
        threading.Thread(target=forward_lines, daemon=True),
        threading.Thread(target=lambda: errors.extend(stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        # Interrupt once both workers are past start-up, in their training loops (a Ctrl-C that
        # lands while a spawned child is still importing takes a different, start-up path).
        ready: list[str] = []
        deadline = time.monotonic() + 120
        while sum("ready" in x for x in ready) < 2 and time.monotonic() < deadline:
            try:
                ready.append(lines.get(timeout=0.5))
            except queue.Empty:
                pass
        assert sum("ready" in x for x in ready) == 2, f"workers never started: {ready}"
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit 60 s after Ctrl-C; group: {_describe(proc.pid)}")
        for reader in readers:
            reader.join(timeout=10)
        err = "".join(errors)
        assert proc.returncode != 0 and "KeyboardInterrupt" in err
        deadline = time.monotonic() + 10
        while _group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _group_members(proc.pid) == [], "orphaned worker processes"
    finally:
        if proc.poll() is None or _group_members(proc.pid):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="num_workers"):
        seqrl.A3CConfig(num_workers=0)
    with pytest.raises(ValueError, match="start_method"):
        seqrl.A3CConfig(start_method="thread")
    with pytest.raises(ValueError, match="gamma"):
        seqrl.A3CConfig(gamma=1.5)
    with pytest.raises(TypeError, match="optimizer"):
        seqrl.A3CConfig(optimizer="adam")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no parameters"):
        seqrl.run_a3c(torch.nn.Identity(), toys.make_move_box_env, POLICY, _config())
    with pytest.raises(TypeError, match="model"):
        seqrl.run_a3c("net", toys.make_move_box_env, POLICY, _config())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="policy_step"):
        seqrl.run_a3c(_model(), toys.make_move_box_env, None, _config())  # type: ignore[arg-type]

    def nan_env(worker_id: int, seed: int) -> toys.MoveBoxEnv:
        env = toys.MoveBoxEnv(seed)
        step = env.step
        env.step = lambda a: (step(a)[0], float("nan"), False)  # type: ignore[method-assign]
        return env

    with pytest.raises(ValueError, match="non-finite reward"):
        seqrl.run_a3c(_model(), nan_env, POLICY, _config())


def test_optimizer_state_continues_the_optimiser_across_rounds() -> None:
    """Two run_a3c rounds that pass optimizer_state on equal one torch.optim.Adam continued
    over both rounds (the environment continues; the runner re-seeds torch per call)."""
    cfg = _config(episodes_per_worker=6)
    env = toys.make_move_box_env(0, cfg.seed)

    def same_env(worker_id: int, seed: int) -> toys.MoveBoxEnv:
        return env

    model = _model()
    first = seqrl.run_a3c(model, same_env, POLICY, cfg)
    assert len(first.optimizer_state) == len(list(model.parameters()))
    assert float(first.optimizer_state[0]["step"]) == first.workers[0].updates
    second = seqrl.run_a3c(model, same_env, POLICY, cfg, optimizer_state=first.optimizer_state)
    assert float(second.optimizer_state[0]["step"]) == 2 * first.workers[0].updates
    ref = _model()
    ref_env = toys.make_move_box_env(0, cfg.seed)
    opt = torch.optim.Adam(ref.parameters(), lr=cfg.optimizer.lr)
    for _ in range(2):
        reference_a3c_one_worker(ref, cfg, ref_env, opt)
    torch.testing.assert_close(_flat(model), _flat(ref), atol=1e-5, rtol=1e-5)
    # Without the state the second round restarts the moments and ends elsewhere.
    restarted = _model()
    env = toys.make_move_box_env(0, cfg.seed)
    seqrl.run_a3c(restarted, same_env, POLICY, cfg)
    seqrl.run_a3c(restarted, same_env, POLICY, cfg)
    assert not torch.allclose(_flat(restarted), _flat(ref), atol=1e-5, rtol=1e-5)


def test_bad_optimizer_state() -> None:
    n = len(list(_model().parameters()))
    with pytest.raises(ValueError, match="optimizer_state has 0 entries"):
        seqrl.run_a3c(_model(), toys.make_move_box_env, POLICY, _config(), optimizer_state=[])
    bad = [{"step": torch.zeros(()), "exp_avg": torch.zeros(3), "exp_avg_sq": torch.zeros(3)}]
    with pytest.raises(ValueError, match="shape"):
        seqrl.run_a3c(_model(), toys.make_move_box_env, POLICY, _config(), optimizer_state=bad * n)
    with pytest.raises(ValueError, match="keys"):
        seqrl.run_a3c(_model(), toys.make_move_box_env, POLICY, _config(), optimizer_state=[{}] * n)
    with pytest.raises(TypeError, match="optimizer_state"):
        seqrl.run_a3c(_model(), toys.make_move_box_env, POLICY, _config(), optimizer_state="x")  # type: ignore[arg-type]
