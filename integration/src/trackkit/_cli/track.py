"""``trackkit track``: follow one object through a video or an image folder."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from trackkit._cli._datasets import set_torch_threads, sot_tracker_options
from trackkit.registry import make_tracker, tracker_names

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``track`` subcommand."""
    p = subparsers.add_parser(
        "track",
        help="track one object through a video file or an image folder",
        description=(
            "Track the object inside --init through a video (mp4, avi, ...) or a folder of "
            "images (sorted by name). Default tracker: FCOS-MAML with the shipped checkpoint "
            "(paper 000). Boxes are x,y,w,h in 0-based pixels (top-left corner, width, height)."
        ),
    )
    p.add_argument("source", type=Path, help="video file or image folder")
    p.add_argument(
        "--init", required=True, help="initial box x,y,w,h in the first frame (0-based pixels)"
    )
    p.add_argument(
        "--tracker",
        choices=tracker_names("sot"),
        default="fcos-maml",
        metavar="NAME",
        help=f"which tracker: {', '.join(tracker_names('sot'))} (default fcos-maml)",
    )
    p.add_argument("--out", type=Path, default=None, help="write an annotated video (.mp4)")
    p.add_argument(
        "--boxes", type=Path, default=None, help="write one 'x,y,w,h' line per frame (0-based)"
    )
    p.add_argument("--device", default="cpu", help="torch device for MAML trackers (cpu, cuda)")
    p.add_argument(
        "--checkpoint", type=Path, default=None, help="MAML trackers: a detector checkpoint"
    )
    p.add_argument(
        "--no-online-update", action="store_true", help="MAML trackers: first-frame adaptation only"
    )
    p.add_argument(
        "--teachers",
        default=None,
        help="trast/trasfust: comma-separated teachers (csrt, kcf, mil, medianflow, mosse, "
        "boosting); default csrt for trast, csrt,kcf,mil,medianflow for trasfust",
    )
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def parse_box(text: str) -> list[float]:
    """``"x,y,w,h"`` -> four floats (ValueError naming the option otherwise)."""
    parts = text.replace(" ", "").split(",")
    try:
        values = [float(v) for v in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise ValueError(f"--init must be four comma-separated numbers x,y,w,h, got {text!r}")
    return values


def _box_of(result: Any, previous: list[float]) -> list[float]:
    ok = True
    if isinstance(result, tuple) and len(result) == 2:
        result, ok = result
    box = [float(v) for v in list(result)]
    return box if ok else previous


def _run(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from trackkit.data import AnnotatedVideoWriter, open_frames

    set_torch_threads(args.threads)
    init = parse_box(args.init)
    frames = open_frames(args.source)
    n = len(frames) if args.max_frames is None else min(len(frames), args.max_frames)
    if n < 1:
        raise ValueError(f"{args.source}: no frames")
    tracker = make_tracker(
        args.tracker,
        **sot_tracker_options(
            args.tracker,
            device=args.device,
            online_update=not args.no_online_update,
            checkpoint=args.checkpoint,
            teachers=args.teachers,
        ),
    )
    fps_in = float(getattr(frames, "fps", 0.0)) or 25.0
    writer = AnnotatedVideoWriter(args.out, fps=fps_in) if args.out is not None else None
    boxes: list[list[float]] = []
    spent = 0.0
    try:
        for t in tqdm(range(n), desc=args.tracker, unit="frame", disable=args.no_progress):
            frame = frames[t]
            start = time.perf_counter()
            if t == 0:
                tracker.init(frame, np.asarray(init, dtype=np.float64))
                box = init
            else:
                box = _box_of(tracker.update(frame), boxes[-1])
                spent += time.perf_counter() - start
            boxes.append(box)
            if writer is not None:
                writer.write(frame, boxes_xywh=[box], label=f"{args.tracker} #{t}")
    finally:
        if writer is not None:
            writer.close()
    if args.boxes is not None:
        args.boxes.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(args.boxes, np.asarray(boxes), fmt="%.2f", delimiter=",")
    fps = (n - 1) / spent if spent > 0 else float("nan")
    print(f"tracked {n} frames with {args.tracker}: {fps:.1f} frames per second", file=sys.stderr)
    if args.out is not None:
        print(f"annotated video: {args.out}", file=sys.stderr)
    if args.boxes is not None:
        print(f"boxes: {args.boxes}", file=sys.stderr)
    return 0
