"""TRASFUST with the values smoothed over time before the choice (round 7 of docs/history/tras.md).

TRASFUST (Dunnhofer et al. 2020, eq. 8) picks the teacher whose state has the highest value.
``TRASTracker(value_ema=alpha)`` (``distill.fuse_by_value(value_ema=)``) makes that choice,
and the hysteresis margin, on each candidate's exponential moving average of the values
instead (not in the paper). The shipped student, value head, pool (``meta["fusion_pool"]``)
and margin (``meta["fusion_margin"]``) are kept; only ``alpha`` changes. Teachers replay their
cached runs (``trackkit.train.tras_replay_auc``; a reported failure replayed as one), so no
teacher runs again.

Two stages, following the rule committed in ``docs/history/tras.md`` before any measurement:

- ``--stage holdout``: the 9 held-out *training* sequences of the value fit
  (``meta["value_fit"]["holdout_sequences"]``): mean TRASFUST AUC at ``alpha = 0`` (the
  shipped fusion) and at every ``--alphas`` value; the best ``alpha`` (ties to 4 decimals: the
  smaller) passes if its AUC, to 4 decimals, is above the shipped fusion's. Also the pool's
  per-sequence and per-frame oracles there. Writes ``--json`` and the report.
- ``--stage eval``: only if the hold-out stage passed (read from ``--json``): TRASFUST at
  ``alpha = 0`` and at the chosen ``alpha`` on the 7 evaluation sequences
  (``trackkit.train.DEFAULT_HOLDOUT``), per sequence against the pool's per-sequence oracle.
  Refuses to run a second time on the same ``--json`` (the number is taken once).

Run: ``python benchmarks/tras_value_ema.py --stage holdout`` then, if it passed,
``python benchmarks/tras_value_ema.py --stage eval`` (both write
``docs/benchmarks/tras_value_ema.md``).

The stage machinery (``run_round``, ``replay_fusion``, ``oracles``) and the report writer
(``write_stage_report``) serve the later rounds over replayed runs too
(``benchmarks/tras_average.py``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trackkit.data import default_data_root, default_mot_root, read_simple_sot
from trackkit.eval import evaluate_sot, overlaps_xywh
from trackkit.sot.tras import load_student
from trackkit.train import DEFAULT_HOLDOUT, run_teachers, tras_replay_auc, tras_training_sequences

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks" / "tras_value_ema.md"


def choose_alpha(mean_auc: dict[float, float]) -> tuple[float, bool]:
    """The rule: the grid ``alpha`` (all keys but 0) with the highest mean AUC, ties (equal to
    4 decimals) to the smaller; it passes if its AUC to 4 decimals beats ``mean_auc[0.0]``'s."""
    if 0.0 not in mean_auc or len(mean_auc) < 2:
        raise ValueError(f"need alpha 0 and at least one grid value, got {sorted(mean_auc)}")
    grid = sorted(a for a in mean_auc if a != 0.0)
    best = max(grid, key=lambda a: (round(mean_auc[a], 4), -a))
    return best, round(mean_auc[best], 4) > round(mean_auc[0.0], 4)


def oracles(seqs: list[Any], runs: dict[str, Any], pool: tuple[str, ...]) -> dict[str, Any]:
    """Per-sequence AUC of each teacher alone, of the pool's per-sequence oracle (best teacher
    of the sequence) and per-frame oracle (the teacher box with the highest IoU each frame)."""
    out: dict[str, Any] = {"teachers": {t: {} for t in pool}, "sequence": {}, "frame": {}}
    for seq in seqs:
        r = runs[seq.name]
        cols = [r.teachers.index(t) for t in pool]
        for t, c in zip(pool, cols):
            auc = evaluate_sot(r.boxes_xywh[c], seq.boxes_xywh, seq.absent).auc
            out["teachers"][t][seq.name] = float(auc)
        out["sequence"][seq.name] = max(out["teachers"][t][seq.name] for t in pool)
        ious = np.stack([overlaps_xywh(r.boxes_xywh[c], seq.boxes_xywh) for c in cols])
        pick = np.asarray(cols)[np.nan_to_num(ious, nan=-1.0).argmax(axis=0)]
        boxes = r.boxes_xywh[pick, np.arange(len(seq))]
        out["frame"][seq.name] = float(evaluate_sot(boxes, seq.boxes_xywh, seq.absent).auc)
    return out


#: A round's settings: name -> (``tras_replay_auc`` options, fields recorded with its result).
Settings = dict[str, tuple[dict[str, float], dict[str, Any]]]


def replay_fusion(
    student: Any,
    seqs: list[Any],
    runs: dict[str, Any],
    pool: tuple[str, ...],
    settings: Settings,
    label: str = "{}",
) -> dict[str, Any]:
    """Mean and per-sequence TRASFUST AUC of each setting (``tras_replay_auc`` at the student's
    margin), with its recorded fields first; prints ``label.format(name)`` and the mean."""
    margin = float(student.meta.get("fusion_margin", 0.0))
    out = {}
    for name, (options, fields) in settings.items():
        t0 = time.perf_counter()
        aucs = tras_replay_auc(student, seqs, runs, pool, margin=margin, **options)
        out[name] = {
            **fields,
            "mean_auc": float(np.mean(aucs)),
            "per_sequence": {s.name: a for s, a in zip(seqs, aucs)},
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"{label.format(name)}: {np.mean(aucs):.4f} ({out[name]['seconds']} s)", flush=True)
    return out


def stage_table(stage: dict[str, Any], column: str = "{}") -> list[str]:
    """A stage's markdown table: per sequence, each setting (headed ``column.format(name)``),
    each teacher alone and the two oracles; then the means."""
    names = list(stage["fusion"])
    teachers = stage["oracles"]["teachers"]
    lines = [
        "| sequence | "
        + " | ".join(column.format(n) for n in names)
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


def write_stage_report(
    record: dict[str, Any], path: Path, title: str, intro: str, rule: str, column: str = "{}"
) -> None:
    """The markdown report of whatever stages ``record`` holds: ``title``, the setup and
    ``intro``, the hold-out table and the ``rule`` line, then the evaluation table if run."""
    h = record["holdout"]
    lines = [
        f"# {title}",
        "",
        f"Student: shipped; pool {' + '.join(record['pool'])}, margin {record['margin']:g}; "
        f"teachers replay their cached runs; success AUC. {intro}",
        "",
        "## Selection: 9 held-out training sequences",
        "",
        f"Generated by `{h['command']}` in {h['seconds']:.0f} s ({record['machine']}, 1 thread, "
        "2 shared cores).",
        "",
        *stage_table(h, column),
        "",
        rule,
    ]
    if "eval" in record:
        e = record["eval"]
        lines += [
            "",
            "## The single evaluation run: 7 evaluation sequences",
            "",
            f"Generated by `{e['command']}` in {e['seconds']:.0f} s.",
            "",
            *stage_table(e, column),
        ]
    path.write_text("\n".join(lines) + "\n")


def round_parser(doc: str, json_path: str, out: Path) -> argparse.ArgumentParser:
    """The command line ``run_round`` reads: ``--stage``, ``--data``, ``--teacher-cache``,
    ``--json`` (default ``json_path``) and ``--out`` (default ``out``); a round adds its grid."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--stage", choices=("holdout", "eval"), required=True)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sot"))
    parser.add_argument("--teacher-cache", type=Path, default=Path("runs/tras/teachers"))
    parser.add_argument("--json", type=Path, default=Path(json_path))
    parser.add_argument("--out", type=Path, default=out)
    return parser


def run_round(
    script: str,
    args: argparse.Namespace,
    holdout: Callable[[], tuple[Settings, str]],
    evaluation: Callable[[dict[str, Any]], Settings],
    decide: Callable[[dict[str, Any]], dict[str, Any]],
    write_report: Callable[[dict[str, Any], Path], None],
    label: str = "{}",
) -> int:
    """One stage of the round of ``benchmarks/<script>`` (``args`` from ``round_parser``):
    the shipped student and pool, the teachers' cached runs.

    ``holdout`` gives the hold-out grid and the options to add to the recorded command;
    ``evaluation`` the settings of the evaluation run from the record (or ``SystemExit`` where
    the rule forbids it); ``decide`` the rule's fields of the hold-out stage. Writes the
    record to ``args.json`` and ``write_report``'s report to ``args.out``, and prints it."""
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    student = load_student(None)
    pool = tuple(student.meta["fusion_pool"])
    command = f"python benchmarks/{script} --stage " + args.stage
    if args.stage == "holdout":
        held = student.meta["value_fit"]["holdout_sequences"]
        seqs = [
            s
            for s in tras_training_sequences(default_data_root(), mot_root=default_mot_root())
            if s.name in held
        ]
        if len(seqs) != 9:
            raise SystemExit(f"expected the 9 held-out sequences, got {[s.name for s in seqs]}")
        settings, options = holdout()
        command += options
        record: dict[str, Any] = {
            "pool": list(pool),
            "margin": float(student.meta.get("fusion_margin", 0.0)),
            "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        }
    else:
        record = json.loads(args.json.read_text())
        settings = evaluation(record)
        if "eval" in record:
            raise SystemExit(f"{args.json} already holds the single evaluation run")
        seqs = list(read_simple_sot(args.data, names=list(DEFAULT_HOLDOUT)))
    runs = run_teachers(seqs, cache_dir=args.teacher_cache, teachers=pool, progress=False)
    stage: dict[str, Any] = {
        "command": command,
        "sequences": [s.name for s in seqs],
        "oracles": oracles(seqs, runs, pool),
        "fusion": replay_fusion(student, seqs, runs, pool, settings, label),
    }
    if args.stage == "holdout":
        stage.update(decide(stage))
    stage["seconds"] = time.perf_counter() - t0
    record[args.stage] = stage
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=1))
    write_report(record, args.out)
    print(args.out.read_text())
    return 0


def write_report(record: dict[str, Any], path: Path) -> None:
    """The markdown report of whatever stages ``record`` holds."""
    h = record["holdout"]
    rule = (
        f"Rule (docs/history/tras.md, round 7): best grid alpha {h['chosen']} "
        f"({h['fusion'][str(h['chosen'])]['mean_auc']:.4f}) against the shipped fusion "
        f"{h['fusion']['0.0']['mean_auc']:.4f}: "
        + ("**passes**." if h["passes"] else "**fails** (no evaluation-sequence run).")
    )
    intro = (
        "alpha = weight of the past in the moving average of each candidate's value "
        "(0 = the shipped fusion)."
    )
    title = "TRASFUST with values smoothed over time (round 7 of docs/history/tras.md)"
    write_stage_report(record, path, title, intro, rule, column="TRASFUST alpha {}")


def _alphas(alphas: list[float]) -> Settings:
    return {str(a): ({"value_ema": a}, {}) for a in alphas}


def main() -> int:
    parser = round_parser(__doc__, "runs/tras7/value_ema.json", OUT)
    parser.add_argument("--alphas", default="0.5,0.8,0.95", help="the grid (holdout stage)")
    args = parser.parse_args()

    def holdout() -> tuple[Settings, str]:
        alphas = [0.0, *(float(a) for a in args.alphas.split(","))]
        return _alphas(alphas), f" --alphas {args.alphas}"

    def evaluation(record: dict[str, Any]) -> Settings:
        if not record["holdout"]["passes"]:
            raise SystemExit("the hold-out stage did not pass the rule: no evaluation run")
        return _alphas([0.0, float(record["holdout"]["chosen"])])

    def decide(stage: dict[str, Any]) -> dict[str, Any]:
        chosen, passes = choose_alpha({float(a): v["mean_auc"] for a, v in stage["fusion"].items()})
        return {"chosen": chosen, "passes": passes}

    return run_round(
        "tras_value_ema.py", args, holdout, evaluation, decide, write_report, label="alpha {}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
