"""Speed and peak memory of one MAML meta-gradient step: metalearn vs the `higher` library.

Workload (issue 4): a small conv head (three 3x3 convs with 64 channels + a 1x1 output conv to
1 score + 4 box channels) on a 64-channel 33x33 feature map, 8 tasks of 3 support samples and 1
query sample, 4 inner steps with kernel-wise learned rates (KLLR, Wang et al. 2020), second order
and first order. One meta-step = inner loops of all tasks + query losses at theta_4 + backward to
the initial weights and the rates (no optimiser step).

Compared in the same run, on the same inputs:
- `metalearn loop`: `MetaLearner.step` with `batching="loop"` (backward per task);
- `metalearn vmap`: `MetaLearner.step` with `batching="vmap"` (all tasks vectorised);
  both with plain-MAML weights (loss at theta_4 only) and a no-op outer optimiser;
- `higher`: `higher.innerloop_ctx` + `DifferentiableSGD` with the same KLLR rates passed as
  per-parameter tensor learning rates (`override`); first order via a `grad_callback` that
  detaches the inner gradients (the same FOMAML computation).

Gradients are checked equal first. Timings: interleaved rounds, median per configuration.
Peak memory: each configuration runs one meta-step in a fresh subprocess; reported is the
peak RSS during that step minus the RSS before it (Linux `/proc`, CPU) or
`torch.cuda.max_memory_allocated` growth (CUDA).

Usage: python3 benchmarks/metalearn_speed.py [--repeats 5] [--threads 1] [--device cpu]
Writes docs/benchmarks/metalearn.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

import metalearn as ml

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "metalearn.md"
C, S, TASKS, N_SUPPORT, N_QUERY, STEPS = 64, 33, 8, 3, 1, 4


class Head(nn.Module):
    """Three 3x3 convs with 64 channels and a 1x1 output conv (1 score + 4 box channels)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(C, C, 3, padding=1)
        self.c2 = nn.Conv2d(C, C, 3, padding=1)
        self.c3 = nn.Conv2d(C, C, 3, padding=1)
        self.out = nn.Conv2d(C, 5, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.c1(x))
        x = torch.relu(self.c2(x))
        x = torch.relu(self.c3(x))
        return self.out(x)  # Tensor[B, 5, S, S]


def head_loss(out: Tensor, targets: tuple[Tensor, Tensor]) -> Tensor:
    cls_t, reg_t = targets
    bce = nn.functional.binary_cross_entropy_with_logits(out[:, :1], cls_t)
    l1 = ((out[:, 1:] - reg_t).abs() * cls_t).sum() / cls_t.sum().clamp(min=1.0)
    return bce + l1


def make_problem(device: str) -> tuple[Head, ml.KernelwiseLR, list[ml.Task]]:
    torch.manual_seed(0)
    model = Head().to(device)
    lr = ml.KernelwiseLR(dict(model.named_parameters()), init=1e-3).to(device)
    with torch.no_grad():
        for p in lr.parameters():
            p.uniform_(1e-3, 1e-2)
    g = torch.Generator().manual_seed(1)

    def batch(n: int) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        feats = torch.randn(n, C, S, S, generator=g)
        cls_t = torch.zeros(n, 1, S, S)
        cls_t[:, :, S // 2 - 2 : S // 2 + 3, S // 2 - 2 : S // 2 + 3] = 1.0
        reg_t = torch.rand(n, 4, S, S, generator=g)
        return feats.to(device), (cls_t.to(device), reg_t.to(device))

    tasks = [ml.Task(batch(N_SUPPORT), batch(N_QUERY)) for _ in range(TASKS)]
    return model, lr, tasks


def zero(model: nn.Module, lr: nn.Module) -> None:
    for p in [*model.parameters(), *lr.parameters()]:
        p.grad = None


def metalearn_step(
    batching: str, first_order: bool, loss: ml.LossFn = head_loss
) -> Callable[..., None]:
    cfg = ml.MAMLConfig(
        inner_steps=STEPS, schedule=ml.MultiStepSchedule(last_only=True), batching=batching
    )

    def run(model: Head, lr: ml.KernelwiseLR, tasks: list[ml.Task]) -> None:
        learner = ml.MetaLearner(model, loss, lr=lr, config=cfg, optimizer=_NO_OPT)
        learner.step(tasks, epoch=0.0 if first_order else cfg.schedule.first_order_epochs)

    return run


def higher_step(first_order: bool, loss: ml.LossFn = head_loss) -> Callable[..., None]:
    import higher

    def run(model: Head, lr: ml.KernelwiseLR, tasks: list[ml.Task]) -> None:
        names = [n for n, _ in model.named_parameters()]
        inner_opt = torch.optim.SGD([{"params": [p]} for p in model.parameters()], lr=1.0)
        callback = (lambda gs: [g.detach() for g in gs]) if first_order else None
        for t in tasks:
            with higher.innerloop_ctx(
                model, inner_opt, copy_initial_weights=False, track_higher_grads=True
            ) as (fmodel, diffopt):
                for k in range(STEPS):
                    support_loss = loss(fmodel(t.support[0]), t.support[1])
                    rates = [lr.rate(n, k) for n in names]
                    diffopt.step(support_loss, override={"lr": rates}, grad_callback=callback)
                query_loss = loss(fmodel(t.query[0]), t.query[1])
                (query_loss / len(tasks)).backward()

    return run


class _NoOpt(torch.optim.Optimizer):
    """Placeholder optimiser: the benchmark times the meta-gradient only."""

    def __init__(self) -> None:
        super().__init__([torch.zeros(1, requires_grad=True)], {})

    def step(self, closure=None):  # type: ignore[no-untyped-def, override]
        return None


_NO_OPT = _NoOpt()

CONFIGS: dict[str, Callable[[], Callable[..., None]]] = {
    "metalearn loop SO": lambda: metalearn_step("loop", False),
    "metalearn vmap SO": lambda: metalearn_step("vmap", False),
    "higher SO": lambda: higher_step(False),
    "metalearn loop FO": lambda: metalearn_step("loop", True),
    "metalearn vmap FO": lambda: metalearn_step("vmap", True),
    "higher FO": lambda: higher_step(True),
}


SMALL_TASKS = 25


def mse(out: Tensor, target: Tensor) -> Tensor:
    return ((out - target) ** 2).mean()


def make_small_problem() -> tuple[nn.Module, ml.KernelwiseLR, list[ml.Task]]:
    """Overhead-bound workload: sine-style MLP 1-40-40-1, 25 tasks of 10 support/10 query."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1)
    )
    lr = ml.KernelwiseLR(dict(model.named_parameters()), init=1e-2)
    g = torch.Generator().manual_seed(1)

    def batch() -> tuple[Tensor, Tensor]:
        return torch.randn(10, 1, generator=g), torch.randn(10, 1, generator=g)

    return model, lr, [ml.Task(batch(), batch()) for _ in range(SMALL_TASKS)]


SMALL_CONFIGS: dict[str, Callable[[], Callable[..., None]]] = {
    "metalearn loop SO": lambda: metalearn_step("loop", False, mse),
    "metalearn vmap SO": lambda: metalearn_step("vmap", False, mse),
    "higher SO": lambda: higher_step(False, mse),
}


def grads_of(name: str, device: str) -> list[Tensor]:
    model, lr, tasks = make_problem(device)
    CONFIGS[name]()(model, lr, tasks)
    return [p.grad.detach().clone() for p in [*model.parameters(), *lr.parameters()]]


def max_rel_diff(a: list[Tensor], b: list[Tensor]) -> float:
    return max(float((x - y).abs().max() / y.abs().max().clamp(min=1e-12)) for x, y in zip(a, b))


def _proc_status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_memory_child(name: str, device: str) -> None:
    model, lr, tasks = make_problem(device)
    step = CONFIGS[name]()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(model, lr, tasks)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        # Reset the peak-RSS watermark (Linux: "5" > clear_refs), then read VmHWM after the step.
        Path("/proc/self/clear_refs").write_text("5")
        base = _proc_status_kib("VmRSS")
        step(model, lr, tasks)
        peak = (_proc_status_kib("VmHWM") - base) * 1024
    print(json.dumps({"peak_bytes": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--peak-memory-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.peak_memory_child is not None:
        peak_memory_child(args.peak_memory_child, args.device)
        return

    import higher  # fails loudly if `higher` is missing: the comparison is the point

    # 1. gradients equal
    checks = []
    for order in ("SO", "FO"):
        ref = grads_of(f"higher {order}", args.device)
        for impl in ("loop", "vmap"):
            diff = max_rel_diff(grads_of(f"metalearn {impl} {order}", args.device), ref)
            checks.append((f"metalearn {impl} {order} vs higher {order}", diff))
            if diff > 1e-3:
                raise SystemExit(f"gradient mismatch: {impl} {order}: max rel diff {diff:.2e}")
    small_grads = {}
    for name, make in SMALL_CONFIGS.items():
        model, lr, tasks = make_small_problem()
        make()(model, lr, tasks)
        small_grads[name] = [
            p.grad.detach().clone() for p in [*model.parameters(), *lr.parameters()]
        ]
    for impl in ("loop", "vmap"):
        diff = max_rel_diff(small_grads[f"metalearn {impl} SO"], small_grads["higher SO"])
        checks.append((f"small MLP: metalearn {impl} SO vs higher SO", diff))
        if diff > 1e-3:
            raise SystemExit(f"gradient mismatch on the small model: {impl}: {diff:.2e}")
    so = grads_of("higher SO", args.device)
    fo = grads_of("higher FO", args.device)
    checks.append(("higher FO vs higher SO (must differ)", max_rel_diff(fo, so)))

    # 2. timings, interleaved rounds
    times: dict[str, list[float]] = {name: [] for name in CONFIGS}
    steps = {name: make() for name, make in CONFIGS.items()}
    problem = make_problem(args.device)
    for step in steps.values():  # warm-up
        zero(problem[0], problem[1])
        step(*problem)
    for _ in range(args.repeats):
        for name, step in steps.items():
            zero(problem[0], problem[1])
            if args.device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            step(*problem)
            if args.device == "cuda":
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(v) for name, v in times.items()}

    def round_ratio(num: str, den: str) -> float:
        """Median over rounds of the per-round ratio (neighbours in time share the load)."""
        return statistics.median(a / b for a, b in zip(times[num], times[den]))

    # 2b. the overhead-bound small workload (time only)
    small_times: dict[str, list[float]] = {name: [] for name in SMALL_CONFIGS}
    small_steps = {name: make() for name, make in SMALL_CONFIGS.items()}
    small = make_small_problem()
    for step in small_steps.values():
        step(*small)
    for _ in range(3 * args.repeats):
        for name, step in small_steps.items():
            zero(small[0], small[1])
            t0 = time.perf_counter()
            step(*small)
            small_times[name].append(time.perf_counter() - t0)
    small_med = {name: statistics.median(v) for name, v in small_times.items()}

    def small_ratio(num: str, den: str) -> float:
        return statistics.median(a / b for a, b in zip(small_times[num], small_times[den]))

    # 3. peak memory, one fresh process per configuration
    peak = {}
    for name in CONFIGS:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--peak-memory-child",
                name,
                "--device",
                args.device,
                "--threads",
                str(args.threads),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        peak[name] = json.loads(out.strip().splitlines()[-1])["peak_bytes"] / 2**20

    lines = [
        "# metalearn benchmark: one MAML meta-step vs `higher`",
        "",
        "Generated by `python3 benchmarks/metalearn_speed.py"
        f" --repeats {args.repeats} --threads {args.threads} --device {args.device}`.",
        "",
        f"Workload: conv head 3x conv3x3 {C} ch + 1x1 output conv, {C}x{S}x{S} feature map, "
        f"{TASKS} tasks x ({N_SUPPORT} support, {N_QUERY} query), {STEPS} inner steps, KLLR "
        "rates; meta-gradient to the initial weights and the rates (no optimiser step).",
        f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"higher {getattr(higher, '__version__', '0.2.1')}, {args.threads} torch thread(s), "
        "shared by other jobs (timings are noisy; ratios are measured in the same run, "
        "interleaved, medians).",
        "",
        "## Gradients checked equal",
        "",
        "| comparison | max relative difference |",
        "|---|---|",
        *[f"| {name} | {d:.2e} |" for name, d in checks],
        "",
        "## Time and peak memory",
        "",
        "| configuration | median s / meta-step | time ratio vs higher | peak memory (MiB) |",
        "|---|---|---|---|",
    ]
    for name in CONFIGS:
        order = name.split()[-1]
        ratio = round_ratio(name, f"higher {order}")
        lines.append(f"| {name} | {med[name]:.3f} | {ratio:.2f} | {peak[name]:.0f} |")
    lines += [
        "",
        "vmap vs loop (time ratio, < 1 means vmap is faster): "
        f"SO {round_ratio('metalearn vmap SO', 'metalearn loop SO'):.2f}, "
        f"FO {round_ratio('metalearn vmap FO', 'metalearn loop FO'):.2f}.",
        "",
        "Ratios are medians over rounds of per-round ratios (each round runs every configuration"
        " once, back to back), which cancels most of the machine's load bursts.",
        "",
        "## Small, overhead-bound model",
        "",
        f"MLP 1-40-40-1, {SMALL_TASKS} tasks x (10 support, 10 query), {STEPS} inner steps, KLLR,"
        f" second order, {3 * args.repeats} interleaved rounds:",
        "",
        "| configuration | median ms / meta-step | time ratio vs higher |",
        "|---|---|---|",
        *[
            f"| {name} | {1000 * small_med[name]:.1f} | {small_ratio(name, 'higher SO'):.2f} |"
            for name in SMALL_CONFIGS
        ],
        "",
        f"vmap vs loop: {small_ratio('metalearn vmap SO', 'metalearn loop SO'):.2f}.",
        "",
        "All times (s): "
        + "; ".join(f"{n}: " + ", ".join(f"{t:.3f}" for t in v) for n, v in times.items()),
        "",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
