"""seqrl speed: SCST loss + backward over score maps, and A3C throughput with 1 vs 2 workers.

Writes docs/benchmarks/seqrl.md. Every timing is a median of repeats, and each result is
reported as a ratio against a reference measured in the same run (the machine is shared and
noisy), with the absolute numbers alongside.

    python3 benchmarks/seqrl_speed.py [--repeats 7] [--episodes 300]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

import seqrl
from seqrl import toys

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "seqrl.md"
B, T, N = 8, 24, 33 * 33


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scst_reference(logits: torch.Tensor, r: torch.Tensor, r_greedy: torch.Tensor) -> None:
    """Obvious per-episode, per-frame loop: one score map at a time, scalars accumulated."""
    loss = logits.new_zeros(())
    for b in range(B):
        total = logits.new_zeros(())
        for t in range(T):
            x = torch.sigmoid(logits[b, t]).clamp(1e-6, 1 - 1e-6)
            p = torch.softmax(torch.log(x / (1 - x)), dim=0)
            n = int(torch.multinomial(p.detach(), 1))
            total = total + torch.log(p[n])
        loss = loss - (r[b] - r_greedy[b]) * total
    (loss / B).backward()


def scst_per_frame(logits: torch.Tensor, r: torch.Tensor, r_greedy: torch.Tensor) -> None:
    """seqrl as a tracker uses it: one batched [B, N] call per frame."""
    logps = []
    for t in range(T):
        lp = seqrl.score_map_log_probs(torch.sigmoid(logits[:, t]))
        _, logp = seqrl.select_candidates(lp, mode="sample")
        logps.append(logp)
    seqrl.scst_loss(torch.stack(logps, dim=1), r, r_greedy).backward()


def scst_flat(logits: torch.Tensor, r: torch.Tensor, r_greedy: torch.Tensor) -> None:
    """All B*T score maps in one call (when the maps are available up front)."""
    lp = seqrl.score_map_log_probs(torch.sigmoid(logits.reshape(B * T, N)))
    _, logp = seqrl.select_candidates(lp, mode="sample")
    seqrl.scst_loss(logp.reshape(B, T), r, r_greedy).backward()


def bench_scst(repeats: int) -> list[str]:
    torch.manual_seed(0)
    logits = torch.randn(B, T, N, requires_grad=True)
    r, r_greedy = torch.rand(B), torch.rand(B)
    rows = []
    ref = median_time(lambda: scst_reference(logits, r, r_greedy), repeats)
    for name, fn in (
        ("reference loop (per episode, per frame)", scst_reference),
        ("seqrl, one [B, N] call per frame", scst_per_frame),
        ("seqrl, one [B*T, N] call", scst_flat),
    ):
        t = (
            ref
            if fn is scst_reference
            else median_time(lambda f=fn: f(logits, r, r_greedy), repeats)
        )
        rows.append(f"| {name} | {t * 1e3:.2f} | {ref / t:.1f}x |")
    return rows


def bench_a3c(episodes: int, repeats: int) -> list[str]:
    def run(workers: int, multiprocess: bool) -> tuple[float, float, float]:
        cfg = seqrl.A3CConfig(
            num_workers=workers,
            episodes_per_worker=episodes,
            rl_loss_scale=1.0,
            optimizer=seqrl.OptimizerConfig(name="adam", lr=5e-4),
            multiprocess=multiprocess,
            timeout_s=600.0,
        )
        torch.manual_seed(0)
        res = seqrl.run_a3c(
            toys.MoveBoxActorCritic(), toys.make_move_box_env, toys.move_box_policy_step, cfg
        )
        steady = res.env_steps / max(w.busy_s for w in res.workers)
        per_cpu = res.env_steps / sum(w.cpu_s for w in res.workers)
        return steady, res.env_steps / res.elapsed_s, per_cpu

    modes = (
        ("single-process mode, 1 worker", 1, False),
        ("processes, 1 worker", 1, True),
        ("processes, 2 workers", 2, True),
    )
    samples: dict[str, list[tuple[float, float, float]]] = {m[0]: [] for m in modes}
    for _ in range(repeats):  # interleaved, so load bursts hit every mode alike
        for label, workers, multi in modes:
            samples[label].append(run(workers, multi))
    rows = []
    steady_of = {}
    for label, _, _ in modes:
        steady = statistics.median(s[0] for s in samples[label])
        wall = statistics.median(s[1] for s in samples[label])
        per_cpu = statistics.median(s[2] for s in samples[label])
        steady_of[label] = steady
        rows.append(f"| {label} | {steady:.0f} | {wall:.0f} | {per_cpu:.0f} |")
    ratio = steady_of["processes, 2 workers"] / steady_of["processes, 1 worker"]
    cpu_ratio = statistics.median(s[2] for s in samples["processes, 2 workers"]) / (
        statistics.median(s[2] for s in samples["processes, 1 worker"])
    )
    rows.append("")
    rows.append(
        f"2 workers / 1 worker (steady-state env steps/s): **{ratio:.2f}x**; per CPU-second: "
        f"{cpu_ratio:.2f}x (1.0 = no per-worker overhead from Hogwild)."
    )
    rows.append("")
    rows.append(_scheduler_note())
    return rows


def _scheduler_note() -> str:
    """Explain the wall-clock ratio: with autogroup scheduling, one session's processes share
    one fair share of a saturated machine, so a second worker cannot get more CPU."""
    flag = Path("/proc/sys/kernel/sched_autogroup_enabled")
    try:
        autogroup = flag.read_text().strip() == "1"
    except OSError:
        autogroup = False
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if autogroup:
        return (
            f"Note: the kernel schedules with autogroup (load average now {load:.1f} on "
            f"{os.cpu_count()} cores): all processes of this session share one fair CPU share, "
            "so when the machine is saturated by other sessions two workers cannot run faster "
            "than one; the per-CPU-second column is the load-independent measure."
        )
    return f"Load average now {load:.1f} on {os.cpu_count()} cores."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--a3c-repeats", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    scst_rows = bench_scst(args.repeats)
    a3c_rows = bench_a3c(args.episodes, args.a3c_repeats)
    text = "\n".join(
        [
            "# seqrl benchmark",
            "",
            "Produced by `python3 benchmarks/seqrl_speed.py`. "
            f"torch {torch.__version__}, {os.cpu_count()} CPU cores "
            f"({platform.processor() or platform.machine()}), one intra-op thread per process, "
            f"load average at start {load[0]:.1f} (a machine shared with other jobs: "
            "absolute numbers are noisy, ratios less so).",
            "",
            f"## SCST loss + backward, B={B} episodes x T={T} frames x N={N} candidates",
            "",
            f"Median of {args.repeats} repeats; sampling, eq. 5 log-probabilities, "
            "`scst_loss` and backward into the score logits.",
            "",
            "| implementation | ms | speed-up vs reference |",
            "|---|---|---|",
            *scst_rows,
            "",
            "## A3C throughput on `seqrl.toys.MoveBoxEnv`",
            "",
            f"{args.episodes} episodes (5 steps each) per worker, t_max=5, MLP actor-critic "
            f"(64 hidden), spawn start method; median of {args.a3c_repeats} runs. "
            "*Steady-state* = environment steps / the slowest worker's busy time (start-up "
            "excluded); *wall* includes spawning the worker processes; *per CPU-second* divides "
            "by the CPU time the workers actually got, which does not depend on the load. "
            "Modes are interleaved run by run.",
            "",
            "| mode | steady-state env steps/s | wall env steps/s | env steps per CPU-second |",
            "|---|---|---|---|",
            *a3c_rows,
            "",
        ]
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
