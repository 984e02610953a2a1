"""``trackkit mot``: association-only multi-object tracking from MOTChallenge detections."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from trackkit._cli._datasets import existing_dir
from trackkit.cli import CLIError
from trackkit.registry import TRACKERS, tracker_names

__all__ = ["register"]

EPILOG = """\
examples:
  # SORT on every sequence of a MOTChallenge folder, results + scores
  trackkit mot --data ../shared/data/mot15 --out runs/mot15

  # RetinaTrack-style association on one sequence, with an annotated video
  trackkit mot --data ../shared/data/mot/TUD-Campus --tracker retinatrack-iou --out runs/tud --video

--data is a MOTChallenge folder (<SEQ>/seqinfo.ini, <SEQ>/det/det.txt) or one sequence folder.
The tracks are written as MOTChallenge files OUT/<tracker>/<SEQ>.txt; sequences with
gt/gt.txt are scored (HOTA, MOTA, IDF1). Only association runs here: the boxes come from
det.txt, so no images are needed (except for --video).
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``trackkit mot``."""
    parser = subparsers.add_parser(
        "mot",
        help="track many objects from a MOTChallenge det.txt (SORT or RetinaTrack association)",
        description=textwrap.fill(
            "Multi-object tracking by association only: link the public detections of "
            "MOTChallenge sequences into tracks with the assoc library's SORT (Kalman + "
            "Hungarian on IoU) or RetinaTrack-style tracker (IoU only here, as det.txt has no "
            "embeddings).",
            80,
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", required=True, type=Path, help="MOTChallenge or sequence folder")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument(
        "--tracker",
        choices=tracker_names("mot"),
        default="sort",
        help="; ".join(f"{n}: {TRACKERS[n].help}" for n in tracker_names("mot"))
        + " (default sort)",
    )
    parser.add_argument("--sequences", nargs="+", default=None, metavar="SEQ", help="subset")
    parser.add_argument(
        "--min-score", type=float, default=0.0, help="drop detections scoring below this"
    )
    parser.add_argument(
        "--mot17", action="store_true", help="score with MOT16/17 class rules (needs classes)"
    )
    parser.add_argument(
        "--video", action="store_true", help="also write OUT/<tracker>/<SEQ>.mp4 (needs img1/)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from trackkit.data import AnnotatedVideoWriter, read_motchallenge, write_mot_rows
    from trackkit.eval import mot_results_table, run_mot_benchmark
    from trackkit.registry import make_tracker

    data = existing_dir(args.data, "data folder (--data)")
    names = args.sequences
    if (data / "seqinfo.ini").is_file():  # one sequence folder
        if names:
            raise CLIError("--sequences needs a folder of sequences, --data is one sequence")
        names, data = [data.name], data.parent
    try:
        dataset = read_motchallenge(data, names=names)
    except (FileNotFoundError, NotADirectoryError) as err:
        raise CLIError(f"{data} is not a MOTChallenge folder: {err}") from None
    tracker = make_tracker(args.tracker, min_score=args.min_score)
    out = args.out / args.tracker
    out.mkdir(parents=True, exist_ok=True)
    seqs = list(dataset)
    for seq in seqs:
        if seq.det is None:
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
            with AnnotatedVideoWriter(path, fps=seq.frame_rate or 25.0) as video:
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
