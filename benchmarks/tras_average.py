"""TRASFUST with the boxes of agreeing teachers averaged (round 11 of docs/tras.md).

TRASFUST (Dunnhofer et al. 2020, eq. 8) outputs the box of the teacher whose state has the
highest value. ``TRASTracker(average_iou=tau, average_temperature=T)``
(``distill.fuse_by_value(average_iou=, average_temperature=)``, not in the paper) outputs the
mean of that box and every other valid teacher box with IoU >= ``tau`` with it, weighted
equally or by a softmax of the values at temperature ``T``. The shipped student, value head,
pool (``meta["fusion_pool"]``) and margin (``meta["fusion_margin"]``) are kept. Teachers replay
their cached runs (``trackkit.train.tras_replay_auc``), so no teacher runs again.

Two stages, following the rule committed in ``docs/tras.md`` before any measurement:

- ``--stage holdout``: the 9 held-out *training* sequences of the value fit
  (``meta["value_fit"]["holdout_sequences"]``): mean TRASFUST AUC with averaging off and at
  every grid setting (``--taus`` x equal / softmax at ``--temperature``). Candidate: the best
  grid setting (ties to 4 decimals: equal weights first, then the larger ``tau``); chosen iff
  it beats ``off`` by at least ``--min-gain`` (0.005). Writes ``--json`` and the report.
- ``--stage eval``: once (refuses a second run on the same ``--json``): ``off`` and the
  chosen setting (or the candidate, reported as not chosen) on the 7 evaluation sequences
  (``trackkit.train.DEFAULT_HOLDOUT``), per sequence against the pool's oracles.

Run: ``python benchmarks/tras_average.py --stage holdout`` then
``python benchmarks/tras_average.py --stage eval`` (both write
``docs/benchmarks/tras_round11.md``).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trackkit.data import default_data_root, default_mot_root, read_simple_sot
from trackkit.sot.tras import load_student
from trackkit.train import DEFAULT_HOLDOUT, run_teachers, tras_replay_auc, tras_training_sequences

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tras_value_ema import oracles

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks" / "tras_round11.md"
OFF = "off"


def setting_name(tau: float, temperature: float | None) -> str:
    """``"tau 0.5, equal"`` / ``"tau 0.5, softmax T=0.1"``."""
    return f"tau {tau:g}, " + ("equal" if temperature is None else f"softmax T={temperature:g}")


def grid(taus: list[float], temperature: float) -> dict[str, tuple[float, float | None]]:
    """The settings of the rule: ``off`` then every ``tau`` with equal and softmax weights."""
    out: dict[str, tuple[float, float | None]] = {OFF: (0.0, None)}
    for tau in taus:
        for temp in (None, temperature):
            out[setting_name(tau, temp)] = (tau, temp)
    return out


def choose_setting(
    mean_auc: dict[str, float], settings: dict[str, tuple[float, float | None]], min_gain: float
) -> tuple[str, bool]:
    """The rule: the grid setting (all but ``off``) with the highest mean AUC, ties (equal to 4
    decimals) to equal weights, then to the larger ``tau``; chosen iff its AUC minus ``off``'s
    is at least ``min_gain``."""
    if OFF not in mean_auc or len(mean_auc) < 2:
        raise ValueError(f"need {OFF!r} and at least one grid setting, got {sorted(mean_auc)}")
    names = [n for n in mean_auc if n != OFF]
    best = max(
        names,
        key=lambda n: (round(mean_auc[n], 4), settings[n][1] is None, settings[n][0]),
    )
    return best, mean_auc[best] - mean_auc[OFF] >= min_gain - 1e-12


def _fusion(
    student: Any,
    seqs: list[Any],
    runs: dict[str, Any],
    pool: tuple[str, ...],
    settings: dict[str, tuple[float, float | None]],
) -> dict[str, Any]:
    margin = float(student.meta.get("fusion_margin", 0.0))
    out = {}
    for name, (tau, temp) in settings.items():
        t0 = time.perf_counter()
        aucs = tras_replay_auc(
            student,
            seqs,
            runs,
            pool,
            margin=margin,
            average_iou=tau,
            average_temperature=math.inf if temp is None else temp,
        )
        out[name] = {
            "average_iou": tau,
            "average_temperature": temp,
            "mean_auc": float(np.mean(aucs)),
            "per_sequence": {s.name: a for s, a in zip(seqs, aucs)},
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"{name}: {np.mean(aucs):.4f} ({out[name]['seconds']} s)", flush=True)
    return out


def _table(stage: dict[str, Any]) -> list[str]:
    names = list(stage["fusion"])
    teachers = stage["oracles"]["teachers"]
    lines = [
        "| sequence | "
        + " | ".join(names)
        + " | "
        + " | ".join(f"{t} alone" for t in teachers)
        + " | per-sequence oracle | per-frame oracle |",
        "|---" * (3 + len(names) + len(teachers)) + "|",
    ]
    for seq in stage["sequences"]:
        lines.append(
            f"| {seq} | "
            + " | ".join(f"{stage['fusion'][n]['per_sequence'][seq]:.3f}" for n in names)
            + " | "
            + " | ".join(f"{v[seq]:.3f}" for v in teachers.values())
            + f" | {stage['oracles']['sequence'][seq]:.3f}"
            + f" | {stage['oracles']['frame'][seq]:.3f} |"
        )
    orc = stage["oracles"]
    mean = {k: float(np.mean(list(orc[k].values()))) for k in ("sequence", "frame")}
    lines.append(
        "| **mean** | "
        + " | ".join(f"**{stage['fusion'][n]['mean_auc']:.3f}**" for n in names)
        + " | "
        + " | ".join(f"{np.mean(list(v.values())):.3f}" for v in teachers.values())
        + f" | {mean['sequence']:.3f} | {mean['frame']:.3f} |"
    )
    return lines


def write_report(record: dict[str, Any], path: Path) -> None:
    """The markdown report of whatever stages ``record`` holds."""
    h = record["holdout"]
    off = h["fusion"][OFF]["mean_auc"]
    cand = h["candidate"]
    lines = [
        "# TRASFUST with the boxes of agreeing teachers averaged (round 11 of docs/tras.md)",
        "",
        f"Student: shipped; pool {' + '.join(record['pool'])}, margin {record['margin']:g}; "
        "teachers replay their cached runs; success AUC. `off` = the shipped fusion (the chosen "
        "teacher's box); `tau X` = the mean of the chosen box and the valid teacher boxes with "
        "IoU >= X with it, equal or value-softmax weights (not in the paper).",
        "",
        "## Selection: 9 held-out training sequences",
        "",
        f"Generated by `{h['command']}` in {h['seconds']:.0f} s ({record['machine']}, 1 thread, "
        "2 shared cores).",
        "",
        *_table(h),
        "",
        f"Rule (docs/tras.md, round 11): candidate `{cand}` "
        f"({h['fusion'][cand]['mean_auc']:.4f}) against `off` {off:.4f} "
        f"(gain {h['fusion'][cand]['mean_auc'] - off:+.4f}, needed >= {h['min_gain']:g}): "
        + ("**chosen**." if h["chosen"] else "**not chosen**."),
    ]
    if "eval" in record:
        e = record["eval"]
        lines += [
            "",
            "## The single evaluation run: 7 evaluation sequences",
            "",
            f"Generated by `{e['command']}` in {e['seconds']:.0f} s.",
            "",
            *_table(e),
        ]
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=("holdout", "eval"), required=True)
    parser.add_argument("--taus", default="0.5,0.6,0.7,0.8", help="the grid (holdout stage)")
    parser.add_argument("--temperature", type=float, default=0.1, help="of the softmax weights")
    parser.add_argument("--min-gain", type=float, default=0.005, help="over off, to be chosen")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sot"))
    parser.add_argument("--teacher-cache", type=Path, default=Path("runs/tras/teachers"))
    parser.add_argument("--json", type=Path, default=Path("runs/tras11/average.json"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    student = load_student(None)
    pool = tuple(student.meta["fusion_pool"])
    command = "python benchmarks/tras_average.py --stage " + args.stage
    if args.stage == "holdout":
        held = student.meta["value_fit"]["holdout_sequences"]
        seqs = [
            s
            for s in tras_training_sequences(default_data_root(), mot_root=default_mot_root())
            if s.name in held
        ]
        if len(seqs) != 9:
            raise SystemExit(f"expected the 9 held-out sequences, got {[s.name for s in seqs]}")
        taus = [float(t) for t in args.taus.split(",")]
        settings = grid(taus, args.temperature)
        command += f" --taus {args.taus} --temperature {args.temperature:g}"
        record: dict[str, Any] = {
            "pool": list(pool),
            "margin": float(student.meta.get("fusion_margin", 0.0)),
            "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        }
    else:
        record = json.loads(args.json.read_text())
        if "eval" in record:
            raise SystemExit(f"{args.json} already holds the single evaluation run")
        seqs = list(read_simple_sot(args.data, names=list(DEFAULT_HOLDOUT)))
        h = record["holdout"]["fusion"]
        cand = record["holdout"]["candidate"]
        settings = {
            OFF: (0.0, None),
            cand: (h[cand]["average_iou"], h[cand]["average_temperature"]),
        }
    runs = run_teachers(seqs, cache_dir=args.teacher_cache, teachers=pool, progress=False)
    stage: dict[str, Any] = {
        "command": command,
        "sequences": [s.name for s in seqs],
        "oracles": oracles(seqs, runs, pool),
        "fusion": _fusion(student, seqs, runs, pool, settings),
    }
    if args.stage == "holdout":
        mean = {n: v["mean_auc"] for n, v in stage["fusion"].items()}
        cand, chosen = choose_setting(mean, settings, args.min_gain)
        stage.update(candidate=cand, chosen=chosen, min_gain=args.min_gain)
    stage["seconds"] = time.perf_counter() - t0
    record[args.stage] = stage
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=1))
    write_report(record, args.out)
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
