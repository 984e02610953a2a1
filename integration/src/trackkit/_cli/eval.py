"""``trackkit eval sot`` and ``trackkit eval mot``: score tracker results like the benchmarks."""

from __future__ import annotations

import argparse
import functools
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trackkit._cli._datasets import (
    SOT_FORMAT_HELP,
    SOT_FORMATS,
    add_association_argument,
    add_average_arguments,
    add_hysteresis_arguments,
    add_postprocess_arguments,
    add_threads_argument,
    add_tta_argument,
    add_value_ema_argument,
    existing_dir,
    mot_fallback_notes,
    open_mot_dataset,
    open_sot_dataset,
    set_torch_threads,
    sot_tracker_options,
    writable_dir,
    writable_file,
)
from trackkit.cli import CLIError
from trackkit.registry import tracker_names, tracker_options

__all__ = ["register"]

SOT_EPILOG = """\
examples:
  # score saved results: one sub-folder per tracker, one <sequence>.txt per sequence
  trackkit eval sot --data ../shared/data/sot --results runs/sot --plot runs/sot/success.png

  # run registered trackers on the data, write their results, score them, plot
  trackkit eval sot --tracker fcos-maml retina-maml opencv-csrt --data ../shared/data/sot \\
      --sequences Couple Crossing --out runs/sot

  # FCOS-MAML on the GPU, 8 sequences at a time (one batched forward per frame)
  trackkit eval sot --tracker fcos-maml --data ../shared/data/sot --device cuda --batch 8 \\
      --out runs/sot

Result files are OTB-style: one "x,y,w,h" line per frame (comma, tab or space separated).
Files written by trackkit (track --boxes, eval sot --tracker --out) name their coordinate base in a
first line "# trackkit x,y,w,h coordinate_base=B" and are read in that base; files without it
are read in the dataset's base (1-based for OTB/UAV123/LaSOT, 0-based for VOT/GOT-10k/
TrackingNet) unless --results-base says otherwise. Frame 0 is the initialisation box; it is
scored like every frame unless --skip-first leaves it out.
"""

MOT_EPILOG = """\
examples:
  trackkit eval mot --tracker sort retinatrack-iou --data ../shared/data/mot15 --out runs/mot15
  trackkit eval mot --gt ../shared/data/mot15 --results runs/mot15/sort runs/mot15/retinatrack
  trackkit eval mot --gt ../shared/data/mot --results runs/mot17/sort --mot17 --per-sequence

--gt (or --data) is a MOTChallenge folder (<SEQ>/seqinfo.ini and <SEQ>/gt/gt.txt) or one
sequence folder (without seqinfo.ini: its length from img1/, else gt/det, with a note); every
--results folder holds MOTChallenge tracker files <SEQ>.txt ("frame,id,left,top,width,height,
score,..."). Only sequences with a result file are scored. --tracker runs registered
trackers first (on every sequence with gt) and writes OUT/<tracker>/<SEQ>.txt. Metrics: HOTA,
CLEAR MOT, IDF1, computed like TrackEval.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``trackkit eval`` with ``sot`` and ``mot``."""
    parser = subparsers.add_parser(
        "eval",
        help="score tracking results (single-object: AUC/precision; multi-object: HOTA/MOTA)",
        description="Score tracking results the way the benchmarks do.",
    )
    kinds = parser.add_subparsers(dest="kind", metavar="KIND")
    parser.set_defaults(func=lambda args: _missing_kind(parser))

    sot = kinds.add_parser(
        "sot",
        help="single-object results: success AUC, precision, normalised precision, AO",
        description=textwrap.fill(
            "Score single-object tracking results (OTB protocol: success AUC over overlap "
            "thresholds 0:0.05:1, precision at 20 px; plus normalised precision and GOT-10k's "
            "AO / SR@0.5).",
            80,
            break_on_hyphens=False,
        ),
        epilog=SOT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sot.add_argument(
        "--data", required=True, type=Path, metavar="DIR", help="dataset folder (see --format)"
    )
    sot.add_argument(
        "--format", default="simple", choices=sorted(SOT_FORMATS), help=SOT_FORMAT_HELP
    )
    sot.add_argument(
        "--results",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of result folders (one per tracker), or one tracker's folder of .txt files",
    )
    sot.add_argument(
        "--tracker",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"run registered trackers first: {', '.join(tracker_names('sot'))}; needs --out",
    )
    sot.add_argument(
        "--opencv",
        nargs="+",
        default=None,
        metavar="KIND",
        help="short for --tracker opencv-KIND ... (KCF, CSRT, MIL, MedianFlow, ...)",
    )
    sot.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where --tracker writes OUT/<tracker>/<sequence>.txt (and OUT/success.png); "
        "created if missing",
    )
    sot.add_argument(
        "--device", default="cpu", help="torch device of the deep trackers (default %(default)s)"
    )
    sot.add_argument(
        "--teachers",
        default=None,
        metavar="LIST",
        help="trast/trasfust: comma-separated teacher names, OpenCV or retina-maml / "
        "fcos-maml (default: csrt for trast; for trasfust the student's pool, "
        "csrt,retina-maml for the shipped student, else csrt,kcf,mil,medianflow)",
    )
    add_value_ema_argument(sot)
    add_average_arguments(sot)
    add_threads_argument(sot)
    sot.add_argument(
        "--batch",
        type=int,
        default=1,
        metavar="B",
        help="deep trackers: track this many sequences at once (one batched forward per frame; "
        "default %(default)s)",
    )
    sot.add_argument("--no-progress", action="store_true", help="no progress bars")
    sot.add_argument(
        "--sequences",
        nargs="+",
        default=None,
        metavar="NAME",
        help="score only these sequences of --data (default: all)",
    )
    sot.add_argument(
        "--absent",
        choices=["exclude", "otb"],
        default="exclude",
        help="frames without a visible target: exclude them (GOT-10k/LaSOT, default) or count "
        "them the OTB/UAV123 toolkit way",
    )
    sot.add_argument(
        "--results-base",
        choices=["auto", "0", "1"],
        default="auto",
        help="coordinate base of result files without a trackkit header (default auto: the "
        "dataset file's base); a header naming another base is an error",
    )
    sot.add_argument(
        "--coordinate-base",
        choices=["0", "1"],
        default=None,
        help="coordinate base of the dataset's ground-truth files (default: the format's, or "
        "manifest.json's for --format simple); needed for a simple folder without a manifest",
    )
    sot.add_argument(
        "--skip-first",
        action="store_true",
        help="leave frame 0 (the initialisation box, always exact) out of every score, as "
        "GOT-10k's toolkit does (default: scored, as pysot's OTB evaluation does)",
    )
    sot.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the success and precision plots here (.png added to a name without suffix; "
        "default: OUT/success.png with --tracker, else none)",
    )
    sot.add_argument(
        "--per-sequence", action="store_true", help="also print per-sequence AUC and precision"
    )
    sot.set_defaults(func=_eval_sot)

    mot = kinds.add_parser(
        "mot",
        help="multi-object results: HOTA, MOTA, IDF1, ID switches (TrackEval-equal)",
        description=textwrap.fill(
            "Score MOTChallenge-format tracker files against ground truth (CLEAR MOT, IDF1, "
            "HOTA), with the MOTChallenge rules as implemented by TrackEval.",
            80,
            break_on_hyphens=False,
        ),
        epilog=MOT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mot.add_argument(
        "--gt",
        "--data",
        dest="gt",
        required=True,
        type=Path,
        metavar="DIR",
        help="MOTChallenge folder with gt, or one sequence folder",
    )
    mot.add_argument(
        "--results",
        nargs="+",
        default=[],
        type=Path,
        metavar="DIR",
        help="one folder of <SEQ>.txt files per tracker (default: none, only --tracker)",
    )
    mot.add_argument(
        "--tracker",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"run registered trackers first: {', '.join(tracker_names('mot'))}; needs --out",
    )
    mot.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where --tracker writes OUT/<tracker>/<SEQ>.txt; created if missing",
    )
    mot.add_argument(
        "--min-score",
        type=float,
        default=0.0,
        metavar="SCORE",
        help="--tracker: drop detections scoring below this (default %(default)s)",
    )
    mot.add_argument(
        "--mot17",
        action="store_true",
        help="MOT16/17/20 rules: pedestrians only, matches to distractor classes ignored",
    )
    mot.add_argument(
        "--per-sequence", action="store_true", help="also print a table of each sequence"
    )
    mot.add_argument(
        "--device",
        default=None,
        help="--tracker: torch device of the detecting trackers, retinatrack and maml-mot "
        "(default cpu)",
    )
    add_threads_argument(mot)
    mot.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_association_argument(mot)
    add_hysteresis_arguments(mot)
    add_tta_argument(mot)
    add_postprocess_arguments(mot)
    mot.set_defaults(func=_eval_mot)


def _missing_kind(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _tracker_dirs(results: Path) -> dict[str, Path]:
    existing_dir(results, "results folder (--results)")
    if any(results.glob("*.txt")):
        return {results.name: results}
    dirs = {p.name: p for p in sorted(results.iterdir()) if p.is_dir() and any(p.glob("*.txt"))}
    if not dirs:
        raise CLIError(f"no result files (*.txt) in {results} or its sub-folders")
    return dirs


def _check_sot_outputs(args: argparse.Namespace, *, tracking: bool) -> None:
    """``--out`` (with --tracker) and the plot file can be written: checked before tracking."""
    if tracking:
        writable_dir(args.out, "--out")
    plot, flag = args.plot, "--plot"
    if plot is None and tracking:
        plot, flag = args.out / "success.png", "--out"
    if plot is None:
        return
    if plot.suffix:  # plot_sot_results adds .png to a name without suffix
        from matplotlib.backend_bases import FigureCanvasBase

        kinds = FigureCanvasBase.get_supported_filetypes()
        if plot.suffix[1:].lower() not in kinds:
            raise CLIError(
                f"{flag} {plot}: matplotlib cannot write {plot.suffix} files; choose from "
                f"{', '.join('.' + k for k in sorted(kinds))}"
            )
    elif not plot.is_dir():
        plot = plot.with_suffix(".png")
    writable_file(plot, flag)


def _eval_sot(args: argparse.Namespace) -> int:
    from trackkit.eval import (
        BatchSOTTracker,
        SOTBenchmarkResult,
        SOTRun,
        evaluate_sot,
        mean_sot_scores,
        plot_sot_results,
        read_otb_results,
        run_sot_benchmark,
        sot_results_table,
    )
    from trackkit.registry import make_tracker

    names = list(args.tracker or []) + [f"opencv-{k.lower()}" for k in args.opencv or []]
    if args.results is None and not names:
        raise CLIError("give --results (saved result files) and/or --tracker (run trackers)")
    if names and args.out is None:
        raise CLIError("--tracker needs --out (where to write the result files)")
    unknown = [n for n in names if n not in tracker_names("sot")]
    if unknown:
        raise CLIError(
            f"unknown tracker {unknown[0]!r}; choose from {', '.join(tracker_names('sot'))}"
        )
    if args.batch < 1:
        raise CLIError(f"--batch must be >= 1, got {args.batch}")
    _check_sot_outputs(args, tracking=bool(names))
    set_torch_threads(args.threads, if_loaded=True)  # checks the value; torch is set later
    dataset = open_sot_dataset(
        args.data, args.format, names=args.sequences, coordinate_base=args.coordinate_base
    )
    seqs = list(dataset)
    results: list[SOTBenchmarkResult] = []
    for name in names:
        options = sot_tracker_options(
            name,
            device=args.device,
            teachers=args.teachers,
            value_ema=args.value_ema,
            average_iou=args.average_iou,
            average_temperature=args.average_temperature,
        )
        make = functools.partial(make_tracker, name, **options)
        try:
            first = make()
        except ValueError as err:  # e.g. an OpenCV kind this OpenCV lacks
            raise CLIError(str(err)) from None
        set_torch_threads(args.threads, if_loaded=True)  # scoring alone needs no torch
        batched = args.batch > 1 and isinstance(first, BatchSOTTracker)
        if args.batch > 1 and not batched:
            print(f"{name}: tracks one sequence at a time (no batched tracking)")
        pending = [first]  # the probe is the first sequence's tracker

        def fresh(pending: list[Any] = pending, make: Callable[[], Any] = make) -> Any:
            return pending.pop() if pending else make()

        results.append(
            run_sot_benchmark(
                fresh,
                seqs,
                name=name,
                results_dir=args.out,
                absent_policy=args.absent,
                progress=not args.no_progress,
                batch=args.batch if batched else 1,
                skip_first=args.skip_first,
            )
        )
    if args.results is not None:
        for name, folder in _tracker_dirs(args.results).items():
            runs = {}
            missing = [s.name for s in seqs if not (folder / f"{s.name}.txt").is_file()]
            if missing:
                raise CLIError(
                    f"{folder}: no result file for {len(missing)} sequence(s), e.g. "
                    f"{missing[0]}.txt (use --sequences to score a subset)"
                )
            for s in seqs:
                boxes = read_otb_results(
                    folder / f"{s.name}.txt",
                    coordinate_base=None if args.results_base == "auto" else int(args.results_base),
                    fallback_base=int(s.meta.get("coordinate_base_of_file", 0)),
                )
                if len(boxes) != len(s):
                    raise CLIError(
                        f"{folder / (s.name + '.txt')}: {len(boxes)} boxes for {len(s)} frames"
                    )
                scores = evaluate_sot(
                    boxes,
                    s.boxes_xywh,
                    s.absent,
                    absent_policy=args.absent,
                    skip_first=args.skip_first,
                )
                runs[s.name] = SOTRun(s.name, boxes, np.full(len(s), np.nan), scores)
            results.append(
                SOTBenchmarkResult(name, runs, mean_sot_scores(r.scores for r in runs.values()))
            )
    first = "frame 0 left out" if args.skip_first else "frame 0 scored"
    print(f"{dataset.name}: {len(seqs)} sequences, absent frames: {args.absent}, {first}\n")
    print(sot_results_table(results))
    if args.per_sequence:
        print("\nAUC and precision@20px per sequence:")
        header = ["sequence"] + [f"{r.tracker} {k}" for r in results for k in ("AUC", "Prec")]
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for s in seqs:
            row = [s.name] + [
                f"{v:.3f}"
                for r in results
                for v in (r.runs[s.name].scores.auc, r.runs[s.name].scores.precision)
            ]
            print("| " + " | ".join(row) + " |")
    plot = args.plot
    if plot is None and names:
        plot = args.out / "success.png"
    if plot is not None:
        path = plot_sot_results(results, plot, title=dataset.name)
        print(f"\nplot written to {path}")
    return 0


def _note_other_classes(seqs: list[Any], *, mot17: bool) -> None:
    """Without ``--mot17``, say which ground truths have considered rows of classes other than
    pedestrian (MOT16/17/20 files): they are scored as targets then."""
    if mot17:
        return
    for seq in seqs:
        gt = seq.gt
        other = (gt.classes != 1) & (gt.confidences != 0)
        if other.any():
            kinds = sorted(set(gt.classes[other].tolist()))
            print(
                f"trackkit: note: {seq.name}: gt.txt has {int(other.sum())} considered row(s) of "
                f"class(es) {', '.join(map(str, kinds))} (not pedestrian); they are scored as "
                "targets unless --mot17",
                file=sys.stderr,
            )


def _eval_mot(args: argparse.Namespace) -> int:
    from trackkit.data import read_mot_rows
    from trackkit.eval import (
        MOTBenchmarkResult,
        MOTScores,
        evaluate_mot,
        mot_results_table,
        run_mot_benchmark,
    )
    from trackkit.registry import make_tracker

    existing_dir(args.gt, "ground-truth folder (--gt / --data)")
    set_torch_threads(args.threads, if_loaded=True)  # checks the value; torch is set later
    if not args.results and not args.tracker:
        raise CLIError("give --results (saved result files) and/or --tracker (run trackers)")
    if args.tracker and args.out is None:
        raise CLIError("--tracker needs --out (where to write the result files)")
    if args.tracker:
        writable_dir(args.out, "--out")
    dataset, _ = open_mot_dataset(args.gt, "--gt")
    results = []
    seqs = list(dataset)
    mot_fallback_notes(seqs)
    with_gt = [s for s in seqs if s.gt is not None]
    _note_other_classes(with_gt, mot17=args.mot17)
    if args.association is not None and not any(
        name in tracker_names("mot") and "association" in tracker_options(name)
        for name in args.tracker or []
    ):
        raise CLIError("--association applies only to --tracker retinatrack")
    if args.tta is not None and not any(
        name in tracker_names("mot") and "tta" in tracker_options(name)
        for name in args.tracker or []
    ):
        raise CLIError("--tta applies only to --tracker retinatrack")
    for key in ("score", "birth_score", "min_hits"):
        if getattr(args, key) is not None and not any(
            name in tracker_names("mot") and key in tracker_options(name)
            for name in args.tracker or []
        ):
            flag = "--" + key.replace("_", "-")
            raise CLIError(f"{flag} applies only to --tracker retinatrack")
    for name in args.tracker or []:
        if name not in tracker_names("mot"):
            raise CLIError(
                f"unknown tracker {name!r}; choose from {', '.join(tracker_names('mot'))}"
            )
        if not with_gt:
            raise CLIError(f"{args.gt}: no sequence with gt/gt.txt to score against")
        opts: dict[str, object] = {"min_score": args.min_score}
        if "progress" in tracker_options(name):
            opts["progress"] = not args.no_progress
        if args.device is not None:
            if "device" not in tracker_options(name):
                raise CLIError(f"--device does not apply to tracker {name!r}")
            opts["device"] = args.device
        if args.association is not None and "association" in tracker_options(name):
            opts["association"] = args.association
        if args.tta is not None and "tta" in tracker_options(name):
            opts["tta"] = args.tta
        for key in ("score", "birth_score", "min_hits"):
            if getattr(args, key) is not None and key in tracker_options(name):
                opts[key] = getattr(args, key)
        for key in ("interpolate", "min_track_length", "smooth"):
            if getattr(args, key) is not None:
                opts[key] = getattr(args, key)
        tracker = make_tracker(name, **opts)
        set_torch_threads(args.threads, if_loaded=True)
        result = run_mot_benchmark(
            tracker,
            with_gt,
            name=name,
            results_dir=args.out,
            mot17_preprocessing=args.mot17,
            progress=not args.no_progress,
        )
        results.append(result)
        print(f"{name}: {len(result.scores)} sequence(s): {', '.join(result.scores)}")
    for folder in args.results:
        existing_dir(folder, "results folder (--results)")
        scores: dict[str, MOTScores] = {}
        for seq in seqs:
            path = folder / f"{seq.name}.txt"
            if not path.is_file():
                continue
            if seq.gt is None:
                raise CLIError(f"{args.gt / seq.name}: no gt/gt.txt to score against")
            rows = read_mot_rows(path, num_frames=seq.num_frames)
            try:
                scores[seq.name] = evaluate_mot(
                    seq.gt, rows, seq.num_frames, mot17_preprocessing=args.mot17
                )
            except ValueError as err:  # e.g. an id twice in one frame: name the file
                raise CLIError(f"{path}: {err}") from None
        if not scores:
            raise CLIError(
                f"{folder}: no <SEQ>.txt for any sequence of {args.gt} "
                f"({', '.join(dataset.names[:4])}{', ...' if len(dataset) > 4 else ''})"
            )
        results.append(
            MOTBenchmarkResult(folder.name, scores, MOTScores.combine(scores.values()), {}, {})
        )
        print(f"{folder.name}: {len(scores)} sequence(s): {', '.join(scores)}")
    print()
    print(mot_results_table(results).replace("| nan |", "| - |"))
    if args.per_sequence:
        for r in results:
            per = [
                MOTBenchmarkResult(f"{r.tracker}/{name}", {name: s}, s, {}, {})
                for name, s in r.scores.items()
            ]
            print(f"\n{r.tracker} per sequence:")
            print(mot_results_table(per).replace("| nan |", "| - |"))
    return 0
