"""TRAS's Table 2 ablations (Dunnhofer et al. 2020) over several training seeds, TRAS alone.

Each ``--seed-dirs`` entry ``SEED=FOLDER`` names a folder with one student per objective,
``FOLDER/<objective>/student.pt`` (``trackkit train tras --objective <objective> --seed SEED
--out FOLDER/<objective>``). Every student tracks alone (no teachers, one torch thread) on the
held-out evaluation sequences (``trackkit.train.DEFAULT_HOLDOUT`` by default), which no
training or model selection saw. Reported: per objective and seed the success AUC and
precision@20px, the mean over seeds and the seed-to-seed spread (max - min), and for TRAS
(``kd-rl``) against each other objective the mean difference, the per-seed differences, and
whether the difference is *resolved*: the same sign for every seed and larger than the larger
of the two objectives' seed spreads (the rule fixed in ``docs/history/tras.md`` before
measuring). An objective missing for some seed gets no mean.

Any number of seeds (at least two for a comparison). Run: ``python
benchmarks/tras_ablation_seeds.py --seed-dirs 0=runs/tras/ablation 1=runs/tras5/seed1
2=runs/tras8/seed2`` (writes ``docs/benchmarks/tras_ablation_seeds.md``).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from trackkit.data import read_simple_sot
from trackkit.eval import SOTBenchmarkResult, run_sot_benchmark
from trackkit.sot.tras import TRASTracker, load_student
from trackkit.train import DEFAULT_HOLDOUT

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks" / "tras_ablation_seeds.md"
OBJECTIVES = ("gt", "kd", "kd-gt", "kd-rl")


def parse_seed_dirs(items: list[str]) -> dict[int, Path]:
    """``["0=path", "1=path"]`` -> ``{0: Path("path"), 1: Path("path")}``."""
    out: dict[int, Path] = {}
    for item in items:
        seed, sep, folder = item.partition("=")
        if not sep or not seed.strip().lstrip("-").isdigit() or not folder:
            raise ValueError(f"--seed-dirs entries must be SEED=FOLDER, got {item!r}")
        if int(seed) in out:
            raise ValueError(f"--seed-dirs names seed {seed} twice")
        out[int(seed)] = Path(folder)
    if not out:
        raise ValueError("--seed-dirs is empty")
    return out


def compare(
    ours: dict[int, float], other: dict[int, float]
) -> tuple[float, dict[int, float], bool, bool]:
    """TRAS against another objective over the seeds both have.

    Returns the difference of the means (ours - other), the per-seed differences, whether all
    per-seed differences have the sign of the mean difference, and whether the difference is
    *resolved*: that sign agreement and ``abs(mean difference)`` larger than the larger of the
    two objectives' seed spreads (max - min over seeds). Needs at least two common seeds.
    """
    seeds = sorted(set(ours) & set(other))
    if len(seeds) < 2:
        raise ValueError(f"need at least two common seeds, got {seeds}")
    diffs = {s: ours[s] - other[s] for s in seeds}
    mean_diff = float(np.mean([ours[s] for s in seeds]) - np.mean([other[s] for s in seeds]))
    same_sign = all(np.sign(d) == np.sign(mean_diff) and d != 0 for d in diffs.values())
    spread = max(
        max(ours[s] for s in seeds) - min(ours[s] for s in seeds),
        max(other[s] for s in seeds) - min(other[s] for s in seeds),
    )
    return mean_diff, diffs, same_sign, same_sign and abs(mean_diff) > spread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sot"))
    parser.add_argument(
        "--seed-dirs", nargs="+", required=True, help="SEED=FOLDER with FOLDER/<objective>/"
    )
    parser.add_argument("--sequences", nargs="+", default=None, help="default: DEFAULT_HOLDOUT")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    seed_dirs = parse_seed_dirs(args.seed_dirs)
    names = list(args.sequences or DEFAULT_HOLDOUT)
    seqs = list(read_simple_sot(args.data, names=names))

    results: dict[str, dict[int, SOTBenchmarkResult]] = {o: {} for o in OBJECTIVES}
    metas: dict[tuple[str, int], dict] = {}
    missing: list[str] = []
    for objective in OBJECTIVES:
        for seed, folder in seed_dirs.items():
            path = folder / objective / "student.pt"
            if not path.is_file():
                missing.append(f"{objective} seed {seed} ({path})")
                continue
            st = load_student(path)
            metas[objective, seed] = st.meta
            results[objective][seed] = run_sot_benchmark(
                partial(TRASTracker, st), seqs, name=f"TRAS-{objective}-s{seed}", progress=False
            )
            res = results[objective][seed]
            print(f"{objective} seed {seed}: AUC {res.mean.auc:.3f}", flush=True)

    seeds = sorted(seed_dirs)
    auc = {o: {s: r.mean.auc for s, r in results[o].items()} for o in OBJECTIVES}
    lines = [
        "# TRAS Table 2 ablations over training seeds (Dunnhofer et al. 2020), TRAS alone",
        "",
        f"Generated by `python benchmarks/tras_ablation_seeds.py {' '.join(sys.argv[1:])}` in "
        f"{time.perf_counter() - t_start:.0f} s "
        f"({platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread; "
        "the 2 cores were shared with other jobs, so speeds are indicative only).",
        "",
        f"Sequences ({len(seqs)}, {sum(len(s) for s in seqs)} frames, none used for training or "
        f"model selection): {', '.join(names)}. Students: "
        + "; ".join(f"seed {s}: `{seed_dirs[s]}/<objective>/student.pt`" for s in seeds)
        + ".",
        "",
        "| objective | "
        + " | ".join(f"AUC seed {s}" for s in seeds)
        + " | mean AUC | spread | "
        + " | ".join(f"prec@20 seed {s}" for s in seeds)
        + " | "
        + " | ".join(f"FPS seed {s}" for s in seeds)
        + " |",
        "|---" * (3 + 3 * len(seeds)) + "|",
    ]
    for o in OBJECTIVES:
        row = results[o]
        complete = len(row) == len(seeds)
        vals = [row[s].mean.auc for s in seeds if s in row]
        lines.append(
            f"| TRAS-{o.upper()} | "
            + " | ".join(f"{row[s].mean.auc:.3f}" if s in row else "missing" for s in seeds)
            + f" | {np.mean(vals):.3f}" * complete
            + " | -" * (not complete)
            + f" | {max(vals) - min(vals):.3f}" * complete
            + " | -" * (not complete)
            + " | "
            + " | ".join(f"{row[s].mean.precision:.3f}" if s in row else "-" for s in seeds)
            + " | "
            + " | ".join(f"{row[s].fps:.1f}" if s in row else "-" for s in seeds)
            + " |"
        )
    if missing:
        lines += ["", "Missing students (no mean reported): " + "; ".join(missing) + "."]

    lines += [
        "",
        "## Table 2 target: TRAS (KD-RL) above the other objectives",
        "",
        "Resolved = the per-seed differences all have the mean difference's sign and "
        "abs(mean difference) is larger than the larger of the two objectives' seed spreads.",
        "",
        "| comparison | mean difference | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | same sign every seed | KD-RL mean higher | resolved |",
        "|---" * (5 + len(seeds)) + "|",
    ]
    for other in ("gt", "kd", "kd-gt"):
        label = f"TRAS-KD-RL - TRAS-{other.upper()}"
        if len(auc["kd-rl"]) < len(seeds) or len(auc[other]) < len(seeds) or len(seeds) < 2:
            lines.append(f"| {label} | missing |" + " - |" * (len(seeds) + 3))
            continue
        mean_diff, diffs, same_sign, resolved = compare(auc["kd-rl"], auc[other])
        lines.append(
            f"| {label} | {mean_diff:+.3f} | "
            + " | ".join(f"{diffs[s]:+.3f}" for s in seeds)
            + f" | {'yes' if same_sign else 'no'} | {'yes' if mean_diff > 0 else 'no'}"
            + f" | {'yes' if resolved else 'no'} |"
        )

    lines += ["", "## Training (from each student file's meta)", ""]
    lines += [
        "| objective | seed | warm-start best epoch | held-out window IoU | A3C seconds |",
        "|---|---|---|---|---|",
    ]
    for o in OBJECTIVES:
        for s in seeds:
            if (o, s) in metas:
                m = metas[o, s]
                ws = m.get("warm_start", {})
                lines.append(
                    f"| {o} | {s} | {ws.get('best_epoch', '-')} | "
                    f"{ws.get('best_holdout_iou', '-')} | {m.get('train_seconds', '-')} |"
                )

    cols = [(o, s) for o in OBJECTIVES for s in seeds if s in results[o]]
    lines += ["", "## Per sequence (AUC)", ""]
    lines.append("| sequence | " + " | ".join(f"{o.upper()} s{s}" for o, s in cols) + " |")
    lines.append("|---" * (len(cols) + 1) + "|")
    for seq in seqs:
        lines.append(
            f"| {seq.name} | "
            + " | ".join(f"{results[o][s].runs[seq.name].scores.auc:.3f}" for o, s in cols)
            + " |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
