"""TRAS, TRAST and TRASFUST (Dunnhofer et al. 2020) on sequences never used for training.

Sequences: the held-out evaluation set (``trackkit.train.DEFAULT_HOLDOUT``) and the validation
set (``VALIDATION_SEQUENCES``) of ``../shared/data/sot``; ``trackkit train tras`` excludes
both and the shipped student was not selected on them (the last round is shipped).

Rows: every teacher alone (its cached run, ``distill.TeacherPool``; OpenCV teachers and, when
named in a pool, trackkit's deep trackers ``retina-maml`` / ``fcos-maml``), the per-sequence
oracle (the best teacher of each sequence, by AUC) and the per-frame oracle (the teacher box
with the highest IoU in each frame) of the four OpenCV teachers, of the main TRASFUST pool and
of each ``--oracle-pools`` pool, TRAS, TRAST with each teacher, TRASFUST with several pools (paper
Table 3) and, where their students exist, the ablation objectives (Table 2). TRASFUST uses the
student's hysteresis margin (``meta["fusion_margin"]``, chosen on training sequences by
``trackkit train tras-value``) and its box averaging of agreeing teachers
(``meta["fusion_average_iou"]``, ``meta["fusion_average_temperature"]``, round 11 of
docs/history/tras.md; not in the paper); the main pool is also run without the averaging and with
margin 0 and no averaging (eq. 8 as printed).
TRAST/TRASFUST replay the teachers' cached runs (``distill.ReplayTeacher``; a frame the
teacher reported ``ok=False`` is replayed as a failure, so the tracker drops it as it would
live): the boxes are those of live teachers (MIL samples at random inside OpenCV, so a live MIL
run differs slightly). Speed: TRAS with one torch thread over all sequences; TRAST and TRASFUST
with live OpenCV teachers in threads on two sequences; teachers at the speed of their cached
run.

Run: ``python benchmarks/tras.py`` (writes ``docs/benchmarks/tras.md`` and
``docs/benchmarks/tras_success.png``).
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
from trackkit.eval import (
    SOTBenchmarkResult,
    SOTRun,
    evaluate_sot,
    mean_sot_scores,
    overlaps_xywh,
    plot_sot_results,
    run_sot_benchmark,
)
from trackkit.sot.tras import DEFAULT_TEACHERS, TRASTracker, load_student, parse_teachers
from trackkit.train import DEFAULT_HOLDOUT, VALIDATION_SEQUENCES, run_teachers, tras_replay_run

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks" / "tras.md"


def _result(name: str, runs: dict[str, SOTRun]) -> SOTBenchmarkResult:
    return SOTBenchmarkResult(name, runs, mean_sot_scores(r.scores for r in runs.values()))


def _boxes_run(seq, boxes: np.ndarray, fps: float) -> SOTRun:  # type: ignore[no-untyped-def]
    scores = evaluate_sot(boxes, seq.boxes_xywh, seq.absent)
    seconds = np.full(len(seq), 1.0 / fps if fps > 0 else 0.0)
    return SOTRun(seq.name, boxes, seconds, scores)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sot"))
    parser.add_argument("--student", type=Path, default=None, help="default: shipped student")
    parser.add_argument("--teacher-cache", type=Path, default=Path("runs/tras/teachers"))
    parser.add_argument("--ablation", type=Path, default=Path("runs/tras/ablation"))
    parser.add_argument("--speed-sequences", type=int, default=1)
    parser.add_argument(
        "--sequences",
        nargs="+",
        default=None,
        help="subset (default: the held-out set DEFAULT_HOLDOUT and VALIDATION_SEQUENCES)",
    )
    parser.add_argument(
        "--trast", default="csrt,kcf,mil,medianflow", help="TRAST teachers, one row each"
    )
    parser.add_argument(
        "--pools",
        default="csrt+kcf+mil+medianflow,csrt+kcf,csrt+mil,csrt+medianflow,kcf+medianflow",
        help="TRASFUST pools, one row each (the first is the main TRASFUST)",
    )
    parser.add_argument(
        "--oracle-pools",
        default="",
        help="extra teacher pools (csrt+retina-maml,...) with their own oracle rows",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    names = list(args.sequences or DEFAULT_HOLDOUT + VALIDATION_SEQUENCES)
    seqs = list(read_simple_sot(args.data, names=names))
    trast_names = args.trast.split(",") if args.trast else []
    pools = [tuple(p.split("+")) for p in args.pools.split(",")]
    oracle_pools = [tuple(p.split("+")) for p in args.oracle_pools.split(",") if p]
    used = [*DEFAULT_TEACHERS, *trast_names, *(t for p in (*pools, *oracle_pools) for t in p)]
    all_teachers = parse_teachers(used)
    runs = run_teachers(seqs, cache_dir=args.teacher_cache, teachers=all_teachers)
    student = load_student(args.student)
    rows: list[tuple[str, SOTBenchmarkResult, str]] = []

    # teachers alone and oracles
    per_teacher: dict[str, dict[str, SOTRun]] = {t: {} for t in all_teachers}
    for seq in seqs:
        r = runs[seq.name]
        for k, t in enumerate(r.teachers):
            per_teacher[t][seq.name] = _boxes_run(seq, r.boxes_xywh[k], float(r.fps[k]))
    for t in all_teachers:
        rows.append((f"teacher {t}", _result(t, per_teacher[t]), "cached run"))
    seq_oracles: dict[tuple[str, ...], SOTBenchmarkResult] = {}
    for pool in dict.fromkeys([tuple(DEFAULT_TEACHERS), pools[0], *oracle_pools]):
        seq_oracle: dict[str, SOTRun] = {}
        frame_oracle: dict[str, SOTRun] = {}
        for seq in seqs:
            r = runs[seq.name]
            best = max(pool, key=lambda t: per_teacher[t][seq.name].scores.auc)
            seq_oracle[seq.name] = per_teacher[best][seq.name]
            cols = [r.teachers.index(t) for t in pool]
            ious = np.stack([overlaps_xywh(r.boxes_xywh[c], seq.boxes_xywh) for c in cols])
            pick = np.asarray(cols)[np.nan_to_num(ious, nan=-1.0).argmax(axis=0)]
            boxes = r.boxes_xywh[pick, np.arange(len(seq))]
            frame_oracle[seq.name] = _boxes_run(seq, boxes, 0.0)
        tag = "" if pool == tuple(DEFAULT_TEACHERS) else f" ({'+'.join(pool)})"
        seq_oracles[pool] = _result(f"seq-oracle{tag}", seq_oracle)
        rows.append((f"per-sequence oracle{tag}", seq_oracles[pool], "best teacher per seq"))
        rows.append(
            (
                f"per-frame oracle{tag}",
                _result(f"frame-oracle{tag}", frame_oracle),
                "best teacher per frame",
            )
        )

    # the student
    tras = run_sot_benchmark(lambda: TRASTracker(student), seqs, name="TRAS", progress=False)
    rows.append(("TRAS", tras, "student alone, 1 thread"))
    trast_main = None
    for t in trast_names:
        res = _result(
            f"TRAST-{t}",
            {s.name: tras_replay_run(student, s, runs, [t], mode="trast") for s in seqs},
        )
        rows.append((f"TRAST ({t})", res, "replayed teacher"))
        if trast_main is None:
            trast_main = res
    fust_main = None
    for pool in pools:
        res = _result(
            f"TRASFUST-{'+'.join(pool)}",
            {s.name: tras_replay_run(student, s, runs, pool) for s in seqs},
        )
        margin = float(student.meta.get("fusion_margin", 0.0))
        tau = float(student.meta.get("fusion_average_iou") or 0.0)
        temp = student.meta.get("fusion_average_temperature")
        averaging = f", averaging tau {tau:g}" + (f" softmax T={temp:g}" if temp else "")
        note = f"replayed teachers, margin {margin:g}" + (averaging if tau > 0 else "")
        rows.append((f"TRASFUST ({'+'.join(pool)})", res, note))
        if fust_main is None:
            fust_main = res
            if tau > 0:  # the chosen teacher's box (round 10's fusion) for comparison
                res_box = _result(
                    f"TRASFUST-{'+'.join(pool)}-no-averaging",
                    {
                        s.name: tras_replay_run(student, s, runs, pool, average_iou=0.0)
                        for s in seqs
                    },
                )
                rows.append(
                    (
                        f"TRASFUST ({'+'.join(pool)}), no averaging",
                        res_box,
                        f"replayed teachers, margin {margin:g}",
                    )
                )
            if margin > 0 or tau > 0:  # the paper's rule (no hysteresis, no averaging)
                res0 = _result(
                    f"TRASFUST-{'+'.join(pool)}-margin0",
                    {
                        s.name: tras_replay_run(student, s, runs, pool, margin=0.0, average_iou=0.0)
                        for s in seqs
                    },
                )
                rows.append((f"TRASFUST ({'+'.join(pool)}), margin 0", res0, "paper's eq. 8"))

    # ablations (Table 2), when their students exist
    ablations: dict[str, SOTBenchmarkResult] = {}
    for objective in ("gt", "kd", "kd-gt", "kd-rl"):
        path = args.ablation / objective / "student.pt"
        if path.is_file():
            st = load_student(path)
            res = run_sot_benchmark(
                partial(TRASTracker, st), seqs, name=f"TRAS-{objective}", progress=False
            )
            rows.append((f"TRAS-{objective.upper()} (ablation)", res, str(path)))
            ablations[objective] = res

    # live speed of TRAST / TRASFUST (OpenCV teachers in threads)
    live: list[tuple[str, float]] = []
    speed_seqs = seqs[: args.speed_sequences]
    for name, mode, teachers in (
        ("TRAST (csrt), live", "trast", ["csrt"]),
        (f"TRASFUST ({'+'.join(pools[0])}), live", "trasfust", list(pools[0])),
    ):
        res = run_sot_benchmark(
            partial(TRASTracker, student, mode=mode, teachers=teachers),
            speed_seqs,
            name=name,
            progress=False,
        )
        live.append((name, res.fps))

    lines = [
        "# TRAS, TRAST, TRASFUST (Dunnhofer et al. 2020) on unseen sequences",
        "",
        f"Generated by `python benchmarks/tras.py {' '.join(sys.argv[1:])}` in "
        f"{time.perf_counter() - t_start:.0f} s "
        f"({platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread; "
        "the 2 cores were shared with other jobs, so speeds are indicative only).",
        "",
        f"Sequences ({len(seqs)}, {sum(len(s) for s in seqs)} frames, none used for training or "
        f"model selection): {', '.join(names)}.",
        f"Student: `{args.student or 'shipped'}` ({student.meta}).",
        "",
        "| tracker | AUC | precision@20px | FPS | note |",
        "|---|---|---|---|---|",
    ]
    for label, res, note in rows:
        fps = res.fps
        fps_s = (
            "-"
            if not np.isfinite(fps) or "oracle" in label or "TRAST" in label or "FUST" in label
            else f"{fps:.1f}"
        )
        lines.append(
            f"| {label} | {res.mean.auc:.3f} | {res.mean.precision:.3f} | {fps_s} | {note} |"
        )
    lines += [
        "",
        f"Live speed (OpenCV teachers in threads, first {len(speed_seqs)} sequences):",
        "",
    ]
    lines += [f"- {name}: {fps:.1f} FPS" for name, fps in live]
    best_teacher = max((r for l, r, _ in rows if l.startswith("teacher")), key=lambda r: r.mean.auc)
    oracle = seq_oracles[pools[0]]
    assert trast_main is not None and fust_main is not None
    checks = [
        (
            f"{fust_main.tracker} above the best single teacher",
            fust_main.mean.auc,
            best_teacher.mean.auc,
        ),
        (
            f"{fust_main.tracker} above the per-sequence oracle of its pool",
            fust_main.mean.auc,
            oracle.mean.auc,
        ),
        (f"{trast_main.tracker} above TRAS", trast_main.mean.auc, tras.mean.auc),
        ("TRAS at least 60 FPS", tras.fps, 60.0),
    ]
    if "kd-rl" in ablations:  # Table 2 at equal budget
        for other in ("gt", "kd"):
            if other in ablations:
                checks.append(
                    (
                        f"TRAS-KD-RL above TRAS-{other.upper()} (ablations, equal budget)",
                        ablations["kd-rl"].mean.auc,
                        ablations[other].mean.auc,
                    )
                )
    lines += ["", "## Targets", "", "| target | ours | reference | met |", "|---|---|---|---|"]
    for label, ours, ref in checks:
        lines.append(f"| {label} | {ours:.3f} | {ref:.3f} | {'yes' if ours > ref else 'no'} |")
    lines += ["", "## Per sequence (AUC)", ""]
    main_rows = [(l, r) for l, r, _ in rows]
    lines.append("| sequence | " + " | ".join(l for l, _ in main_rows) + " |")
    lines.append("|---" * (len(main_rows) + 1) + "|")
    for s in seqs:
        lines.append(
            f"| {s.name} | "
            + " | ".join(f"{r.runs[s.name].scores.auc:.3f}" for _, r in main_rows)
            + " |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    plot_sot_results(
        [r for l, r, _ in rows if "oracle" in l or l.startswith("teacher")]
        + [tras, trast_main, fust_main],
        args.out.with_name(args.out.stem + "_success.png"),
        title="TRAS family on unseen sequences",
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
