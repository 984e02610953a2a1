"""``trackkit mot``: multi-object tracking of a video / image folder, or of MOTChallenge data."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any

from trackkit._cli._datasets import (
    add_association_argument,
    add_hysteresis_arguments,
    add_postprocess_arguments,
    add_threads_argument,
    add_tta_argument,
    existing_dir,
    mot_fallback_notes,
    open_mot_dataset,
    set_torch_threads,
    writable_dir,
    writable_file,
    writable_video,
)
from trackkit.cli import CLIError
from trackkit.registry import TRACKERS, tracker_names

__all__ = ["register"]

EPILOG = """\
examples:
  # RetinaTrack on any video or image folder: tracks as a MOTChallenge file + annotated video
  trackkit mot ../shared/data/videos/Megamind.avi --tracker retinatrack --out tracks.txt \\
      --video annotated.mp4

  # SORT on every sequence of a MOTChallenge folder, results + scores
  trackkit mot --data ../shared/data/mot15 --out runs/mot15

  # MAML-MOT (per-track meta-learned re-identification) on one sequence
  trackkit mot --data ../shared/data/mot/TUD-Campus --tracker maml-mot --out runs/tud

  # RetinaTrack-style association on one sequence, with an annotated video
  trackkit mot --data ../shared/data/mot/TUD-Campus --tracker retinatrack-iou --out runs/tud --video

With a VIDEO_OR_FOLDER, --out is the MOTChallenge result file and --video PATH an optional
annotated video; only trackers that detect on the frames (retinatrack, maml-mot) can do this.
--data is a MOTChallenge folder (<SEQ>/seqinfo.ini, <SEQ>/det/det.txt) or one sequence folder;
a sequence without seqinfo.ini takes its length from img1/ (else gt/det) and says so in a note.
The tracks are written as MOTChallenge files OUT/<tracker>/<SEQ>.txt; sequences with
gt/gt.txt are scored (HOTA, MOTA, IDF1). The det.txt trackers (sort, retinatrack-iou) need no
images (except for --video); retinatrack and maml-mot detect on img1/.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``trackkit mot``."""
    parser = subparsers.add_parser(
        "mot",
        help="track many objects: RetinaTrack / MAML-MOT on a video, or association of det.txt",
        description=textwrap.fill(
            "Multi-object tracking. On a video or image folder, a detecting tracker "
            "(retinatrack, maml-mot) finds and links the people itself. On MOTChallenge "
            "sequences (--data), the association trackers of the assoc library (SORT, "
            "ByteTrack/OC-SORT-style motion, RetinaTrack-style IoU) link the public "
            "detections of det.txt, and the detecting trackers run on img1/.",
            80,
            break_on_hyphens=False,
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "source",
        nargs="?",
        type=Path,
        default=None,
        metavar="VIDEO_OR_FOLDER",
        help="a video file or image folder to track (instead of --data)",
    )
    parser.add_argument(
        "--data", type=Path, default=None, metavar="DIR", help="MOTChallenge or sequence folder"
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="PATH",
        help="result file (VIDEO_OR_FOLDER) or output folder (--data); folders are created",
    )
    parser.add_argument(
        "--tracker",
        choices=tracker_names("mot"),
        default="sort",
        metavar="NAME",
        help="; ".join(f"{n}: {TRACKERS[n].help}" for n in tracker_names("mot"))
        + " (default sort)",
    )
    parser.add_argument(
        "--sequences",
        nargs="+",
        default=None,
        metavar="SEQ",
        help="only these sequences of --data (default: all)",
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=0.0,
        metavar="SCORE",
        help="drop detections scoring below this (default 0; -inf keeps all, nan is an error)",
    )
    parser.add_argument(
        "--mot17", action="store_true", help="score with MOT16/17 class rules (needs classes)"
    )
    parser.add_argument(
        "--video",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="also write an annotated video: PATH (.mp4, .avi, .mov, .mkv or .m4v) for "
        "VIDEO_OR_FOLDER, OUT/<tracker>/<SEQ>.mp4 with --data (needs img1/); frames of another "
        "size than the first are scaled to it (default: none)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="torch device of the detecting trackers, retinatrack and maml-mot (default cpu)",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="FILE",
        type=Path,
        default=None,
        help="retinatrack: a network checkpoint instead of the shipped one; maml-mot: a "
        "MAML-MOT checkpoint (trackkit train maml-mot)",
    )
    parser.add_argument(
        "--detector",
        metavar="FILE",
        type=Path,
        default=None,
        help="maml-mot: the RetinaTrack network it detects with (default the shipped one)",
    )
    parser.add_argument(
        "--init",
        choices=["weighted", "mean", "meta"],
        default=None,
        help="maml-mot: a new track's layer: similarity-weighted bank average (default, eqs. "
        "6-7), the bank's mean, or the meta-learned layer",
    )
    add_threads_argument(parser)
    parser.add_argument(
        "--input-width",
        type=int,
        default=None,
        help="retinatrack: resize frames to this width before the network (default the "
        "network's: 512 for the CPU-sized variant, 640 for --variant p6-640)",
    )
    parser.add_argument(
        "--variant",
        choices=["cpu", "p6-640", "accuracy"],
        default=None,
        help="retinatrack: cpu (default; the 512 px network) or p6-640 (the slower 640 px "
        "network with a P6 level and its own thresholds, docs/history/mot.md round 6; it tracked "
        "worse than the default on the validation sequence, HOTA 0.323 vs 0.412, so use it "
        "only for scenes with people taller than about 250 px at 512 px); accuracy: the "
        "deprecated name of p6-640",
    )
    add_association_argument(parser)
    add_hysteresis_arguments(parser)
    add_tta_argument(parser)
    parser.add_argument(
        "--skip-bad-frames",
        action="store_true",
        help="VIDEO_OR_FOLDER: track unreadable frames as frames without detections "
        "(default: stop with an error naming the frame)",
    )
    add_postprocess_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)


def _tracker_options(args: argparse.Namespace, *, progress: bool) -> dict[str, object]:
    from trackkit.registry import DEPRECATED_VARIANT, DEPRECATED_VARIANT_NOTE, tracker_options

    opts: dict[str, object] = {"min_score": args.min_score}
    accepted = tracker_options(args.tracker)
    if args.variant == DEPRECATED_VARIANT and "variant" in accepted:
        print(f"trackkit: note: {DEPRECATED_VARIANT_NOTE}", file=sys.stderr)
        args.variant = "p6-640"
    for name, value in (
        ("device", args.device),
        ("checkpoint", args.checkpoint),
        ("association", args.association),
        ("input_width", args.input_width),
        ("variant", args.variant),
        ("detector", args.detector),
        ("init", args.init),
        ("progress", progress or None),
        ("interpolate", args.interpolate),
        ("min_track_length", args.min_track_length),
        ("smooth", args.smooth),
        ("tta", args.tta),
        ("score", args.score),
        ("birth_score", args.birth_score),
        ("min_hits", args.min_hits),
    ):
        if value is None:
            continue
        if name not in accepted:
            if name == "progress":
                continue
            flag = name.replace("_", "-")
            raise CLIError(f"--{flag} does not apply to tracker {args.tracker!r}")
        opts[name] = value
    return opts


def _run_source(args: argparse.Namespace) -> int:
    from trackkit.data import AnnotatedVideoWriter, open_frames, write_mot_rows
    from trackkit.registry import make_tracker

    if args.data is not None or args.sequences:
        raise CLIError("give either VIDEO_OR_FOLDER or --data, not both")
    if args.out.is_dir():  # found before tracking, not after
        raise CLIError(f"--out {args.out} is a folder; with VIDEO_OR_FOLDER give a file name")
    if isinstance(args.video, str) and Path(args.video).is_dir():
        raise CLIError(f"--video {args.video} is a folder; give a file name (e.g. out.mp4)")
    writable_file(args.out, "--out")  # an unwritable place, also before tracking
    if isinstance(args.video, str):
        writable_video(args.video, "--video", make_parents=False)
    try:
        frames = open_frames(args.source)
    except (FileNotFoundError, ValueError) as err:
        raise CLIError(str(err)) from None
    tracker = make_tracker(args.tracker, **_tracker_options(args, progress=not args.no_progress))
    set_torch_threads(args.threads, if_loaded=True)
    if not hasattr(tracker, "track_frames"):
        raise CLIError(
            f"tracker {args.tracker!r} links det.txt detections and cannot track a video; "
            "use --tracker retinatrack or maml-mot"
        )
    video = None
    if args.video is not None:
        if args.video is True:
            raise CLIError("--video needs a PATH with VIDEO_OR_FOLDER (e.g. --video out.mp4)")
        fps = float(getattr(frames, "fps", 0.0) or 25.0)
        # a folder of mixed frame sizes: later frames are scaled to the first one's size
        video = AnnotatedVideoWriter(args.video, fps=fps, resize=True)

    def on_frame(t: int, frame: object, out: object) -> None:
        if video is None or frame is None:
            return
        video.write(
            frame,  # type: ignore[arg-type]
            _xywh(out.boxes_xyxy),  # type: ignore[attr-defined]
            ids=out.ids,  # type: ignore[attr-defined]
            scores=out.scores,  # type: ignore[attr-defined]
            label=f"{args.source.name} {t + 1}",
        )

    try:
        rows, bad = tracker.track_frames(
            frames, skip_bad_frames=args.skip_bad_frames, on_frame=on_frame
        )
    except ValueError as err:
        raise CLIError(f"{args.source}: {err} (--skip-bad-frames to go on)") from None
    finally:
        if video is not None:
            video.close()
    write_mot_rows(args.out, rows)
    n_tracks = len(set(rows.ids.tolist()))
    print(f"{len(frames)} frames, {n_tracks} tracks written to {args.out}")
    if bad:
        print(f"  {len(bad)} unreadable frame(s) tracked as empty: {bad[:10]}")
    if video is not None:
        print(f"  video written to {args.video}")
    return 0


def _xywh(b: object) -> Any:
    import numpy as np

    a = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([a[:, :2], a[:, 2:] - a[:, :2]], axis=1)


def _run(args: argparse.Namespace) -> int:
    from trackkit.data import AnnotatedVideoWriter, write_mot_rows
    from trackkit.eval import mot_results_table, run_mot_benchmark
    from trackkit.registry import make_tracker

    if args.min_score != args.min_score:  # NaN would drop every detection without a word
        raise CLIError("--min-score must be a number, got nan")
    set_torch_threads(args.threads, if_loaded=True)  # checks the value; torch is set later
    if args.source is not None:
        return _run_source(args)
    if args.data is None:
        raise CLIError("give a VIDEO_OR_FOLDER to track or --data (a MOTChallenge folder)")
    if isinstance(args.video, (str, Path)):
        raise CLIError("with --data, --video takes no PATH (videos go to OUT/<tracker>/)")
    existing_dir(args.data, "data folder (--data)")
    if args.out.exists() and not args.out.is_dir():
        raise CLIError(f"--out {args.out} is a file; with --data give a folder")
    writable_dir(args.out, "--out")
    dataset, data = open_mot_dataset(args.data, "--data", names=args.sequences)
    tracker = make_tracker(args.tracker, **_tracker_options(args, progress=False))
    set_torch_threads(args.threads, if_loaded=True)
    out = args.out / args.tracker
    out.mkdir(parents=True, exist_ok=True)
    seqs = list(dataset)
    mot_fallback_notes(seqs)
    detects = hasattr(tracker, "track_frames")
    for seq in seqs:
        if detects and seq.frames is None:
            raise CLIError(f"{data / seq.name}: no img1/ images for {args.tracker}")
        if not detects and seq.det is None:
            raise CLIError(f"{data / seq.name}: no det/det.txt with detections")
    scored = [s for s in seqs if s.gt is not None]
    unscored = [s for s in seqs if s.gt is None]
    if scored:
        result = run_mot_benchmark(
            tracker,
            scored,
            name=args.tracker,
            results_dir=args.out,
            mot17_preprocessing=args.mot17,
            progress=not args.no_progress,
        )
        print(mot_results_table([result]))
        for name, s in result.scores.items():
            print(
                f"  {name}: MOTA {s.clear.mota:.3f}  IDF1 {s.identity.idf1:.3f}  "
                f"HOTA {s.hota.hota:.3f}  IDSW {s.clear.idsw}"
            )
    for seq in unscored:
        tracks, _ = tracker.track(seq)
        write_mot_rows(out / f"{seq.name}.txt", tracks)
        print(f"  {seq.name}: {len(set(tracks.ids.tolist()))} tracks (no gt: not scored)")
    print(f"results written to {out}/")
    if args.video:
        for seq in seqs:
            if seq.frames is None:
                print(f"  {seq.name}: no images, no video")
                continue
            tracks, _ = tracker.track(seq)
            per_frame = tracks.split_by_frame(seq.num_frames)
            path = out / f"{seq.name}.mp4"
            with AnnotatedVideoWriter(path, fps=seq.frame_rate or 25.0, resize=True) as video:
                for t in range(seq.num_frames):
                    rows = per_frame[t]
                    video.write(
                        seq.frames[t],
                        tracks.boxes_xywh[rows],
                        ids=tracks.ids[rows],
                        scores=tracks.confidences[rows],
                        label=f"{seq.name} {t + 1}",
                    )
            print(f"  video written to {path}")
    return 0
