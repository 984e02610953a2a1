"""``trackkit track``: follow one object through a video or an image folder."""

from __future__ import annotations

import argparse
import math
import re
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from trackkit._cli._datasets import (
    add_average_arguments,
    add_threads_argument,
    add_value_ema_argument,
    set_torch_threads,
    sot_tracker_options,
    writable_file,
    writable_video,
)
from trackkit.cli import CLIError
from trackkit.registry import make_tracker, tracker_names

__all__ = ["register"]

EPILOG = """\
examples:
  # FCOS-MAML on an image folder, annotated video and one box per frame
  trackkit track ../shared/data/sot/Crossing/img --init 204,150,17,50 --out crossing.mp4 \\
      --boxes crossing.txt

  # paste the first line of an OTB/UAV123 groundtruth.txt (1-based) as it is
  trackkit track ../shared/data/sot/Crossing/img --init 205,151,17,50 --init-base 1

  # OpenCV's CSRT instead, first 60 frames, no progress bar (works on a video file too)
  trackkit track ../shared/data/sot/Crossing/img --init 204,150,17,50 --tracker opencv-csrt \\
      --max-frames 60 --no-progress

--boxes files start with "# trackkit x,y,w,h coordinate_base=B" (B = --init-base), so
`trackkit eval sot --results` reads them back in the right base without options.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``track`` subcommand."""
    p = subparsers.add_parser(
        "track",
        help="track one object through a video file or an image folder",
        description=(
            textwrap.fill(
                "Track the object inside --init through a video (mp4, avi, ...) or a folder of "
                "images (jpg, png, bmp, tif, webp; in natural order, 2.jpg before 10.jpg; "
                "hidden files skipped). Default tracker: FCOS-MAML with the shipped checkpoint "
                "(Wang et al. 2020). Boxes are x,y,w,h: top-left corner, width, height, in 0-based "
                "pixels (the top-left pixel is 0,0) unless --init-base 1.",
                80,
                break_on_hyphens=False,
            )
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", type=Path, help="video file or image folder")
    p.add_argument(
        "--init",
        required=True,
        metavar="X,Y,W,H",
        help="initial box x,y,w,h in the first frame, 0-based pixels (see --init-base); "
        "commas, spaces or tabs between the numbers ('205 151 17 50', a pasted ground-truth "
        "line, in quotes); a box starting left of or above the frame may be written --init "
        "-20,-5,30,40",
    )
    p.add_argument(
        "--init-base",
        type=int,
        choices=[0, 1],
        default=0,
        help="coordinate base of --init and of the --boxes file: 0 (default; trackkit, VOT, "
        "GOT-10k) or 1 (a line pasted from an OTB/UAV123/LaSOT groundtruth.txt, top-left "
        "pixel 1,1)",
    )
    p.add_argument(
        "--tracker",
        choices=tracker_names("sot"),
        default="fcos-maml",
        metavar="NAME",
        help=f"which tracker: {', '.join(tracker_names('sot'))} (default fcos-maml)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="VIDEO",
        help="write an annotated video here (.mp4, .avi, .mov, .mkv or .m4v); its folder must "
        "exist (default: none)",
    )
    p.add_argument(
        "--boxes",
        type=Path,
        default=None,
        metavar="FILE",
        help="write one 'x,y,w,h' line per frame in the base of --init, after a header line "
        "naming that base; folders are created (default: none)",
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="torch device of the MAML and TRAS trackers (default cpu; cuda, cuda:1, ...)",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="FILE",
        help="MAML trackers: a detector checkpoint; tras/trast/trasfust: a student file "
        "(default: the tracker's shipped one; an error with the OpenCV trackers)",
    )
    p.add_argument(
        "--no-online-update", action="store_true", help="MAML trackers: first-frame adaptation only"
    )
    p.add_argument(
        "--teachers",
        default=None,
        metavar="LIST",
        help="trast/trasfust: comma-separated teachers (csrt, kcf, mil, medianflow, mosse, "
        "boosting, tld, and the deep retina-maml, fcos-maml); default csrt for trast; for "
        "trasfust the student's pool (the shipped student: csrt,retina-maml; a student "
        "without one: csrt,kcf,mil,medianflow)",
    )
    add_value_ema_argument(p)
    add_average_arguments(p)
    p.add_argument(
        "--max-frames",
        type=int,
        default=None,
        metavar="N",
        help="stop after this many frames (default: all)",
    )
    add_threads_argument(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


#: What separates the four numbers of ``--init``: commas, semicolons, spaces or tabs (a line
#: pasted from a ground-truth file), optionally inside brackets or parentheses.
_BOX_SEPARATORS = re.compile(r"[,;\s]+")


def parse_box(text: str) -> list[float]:
    """``"x,y,w,h"`` -> four floats (ValueError naming the option otherwise).

    The numbers may also be separated by semicolons, spaces or tabs (``"205\t151\t17\t50"``,
    pasted from a ground-truth file) and enclosed in ``[]`` or ``()``.
    """
    inner = text.strip()
    if inner[:1] + inner[-1:] in ("[]", "()"):
        inner = inner[1:-1]
    parts = [v for v in _BOX_SEPARATORS.split(inner.strip()) if v]
    try:
        values = [float(v) for v in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise ValueError(
            f"--init must be four numbers x,y,w,h (separated by commas, spaces or tabs), "
            f"got {text!r}"
        )
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"--init must be finite, got {text!r}")
    if values[2] <= 0 or values[3] <= 0:
        raise ValueError(f"--init must have positive width and height, got {text!r}")
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

    from trackkit._torchutil import resolve_device
    from trackkit.data import AnnotatedVideoWriter, open_frames
    from trackkit.eval import write_otb_results

    set_torch_threads(args.threads)
    init = parse_box(args.init)
    if args.max_frames is not None and args.max_frames < 1:
        raise CLIError(f"--max-frames must be >= 1, got {args.max_frames}")
    # found before tracking, not after: a folder, an unwritable place (the boxes file's
    # folders are created; the video's folder must exist)
    writable_video(args.out, "--out", make_parents=False)
    writable_file(args.boxes, "--boxes")
    takes = sot_tracker_options(
        args.tracker,
        device=args.device,
        checkpoint=args.checkpoint,
        value_ema=args.value_ema,
        average_iou=args.average_iou,
        average_temperature=args.average_temperature,
    )
    if args.value_ema is not None and "value_ema" not in takes:
        raise CLIError(f"--value-ema is for tras, trast and trasfust, not {args.tracker}")
    for flag, key in (
        ("--average-iou", "average_iou"),
        ("--average-temperature", "average_temperature"),
    ):
        if getattr(args, key) is not None and key not in takes:
            raise CLIError(f"{flag} is for tras, trast and trasfust, not {args.tracker}")
    if args.teachers is not None and "teachers" not in sot_tracker_options(
        args.tracker, teachers=args.teachers
    ):
        raise CLIError(f"--teachers is for trast and trasfust, not {args.tracker}")
    if args.checkpoint is not None and "checkpoint" not in takes:
        raise CLIError(
            f"--checkpoint is for the MAML trackers and tras/trast/trasfust; {args.tracker} has "
            "no checkpoint"
        )
    if "device" in takes:
        resolve_device(args.device)
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
            value_ema=args.value_ema,
            average_iou=args.average_iou,
            average_temperature=args.average_temperature,
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
                init0 = np.asarray(init, dtype=np.float64) - [args.init_base, args.init_base, 0, 0]
                tracker.init(frame, init0)
                box = init0.tolist()
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
        write_otb_results(args.boxes, np.asarray(boxes), coordinate_base=args.init_base)
    speed = f"{(n - 1) / spent:.1f} frames per second" if spent > 0 else "speed not measured"
    print(f"tracked {n} frame(s) with {args.tracker}: {speed}", file=sys.stderr)
    if args.out is not None:
        print(f"annotated video: {args.out}", file=sys.stderr)
    if args.boxes is not None:
        print(f"boxes: {args.boxes}", file=sys.stderr)
    return 0
