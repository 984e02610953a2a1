"""``trackkit demo``: the main job on an embedded default, start to finish.

Generates a deterministic synthetic sequence (a textured target with distractors and an
occluder over a moving textured background), tracks it with the shipped FCOS-MAML model,
writes the annotated video (ground truth thin green, FCOS-MAML thick red) and prints the success
AUC and precision.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from trackkit._cli._datasets import set_torch_threads, writable_file, writable_video

__all__ = ["register", "run_demo"]

EPILOG = """\
examples:
  trackkit demo                                    # writes trackkit_demo.mp4, prints the AUC
  trackkit demo --out runs/demo.mp4 --frame-png runs/demo.png --tracker retina-maml
  trackkit demo --length 60 --seed 3 --threads 1   # a shorter, different scene
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="track a synthetic sequence with the shipped FCOS-MAML and print the success AUC",
        description=(
            "Generate a synthetic sequence, track it with the shipped FCOS-MAML model\n(Wang "
            "et al. 2020), write the annotated video and print success AUC,\nprecision@20px "
            "and speed."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("trackkit_demo.mp4"),
        metavar="VIDEO",
        help="annotated video path (.mp4, .avi, .mov, .mkv or .m4v), folders created "
        "(default %(default)s)",
    )
    p.add_argument(
        "--frame-png",
        type=Path,
        default=None,
        metavar="FILE",
        help="also save one frame (two thirds in) as PNG (default: none)",
    )
    p.add_argument("--length", type=int, default=120, help="frames (default %(default)s)")
    p.add_argument("--seed", type=int, default=7, help="scene seed (default %(default)s)")
    p.add_argument(
        "--tracker",
        choices=["fcos-maml", "retina-maml"],
        default="fcos-maml",
        help="shipped instance tracker (default %(default)s)",
    )
    p.add_argument("--device", default="cpu", help="torch device (default cpu; cuda, cuda:1, ...)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="torch CPU threads (default 1, as for `trackkit track`: faster on a shared 2-core "
        "machine, and the printed AUC is the documented one; 0 = torch's default). Other "
        "thread counts change float rounding, which tracking can amplify (2 threads: AUC 0.727).",
    )
    p.set_defaults(func=_run)


def run_demo(
    *,
    out: Path,
    length: int = 120,
    seed: int = 7,
    tracker_name: str = "fcos-maml",
    device: str = "cpu",
    frame_png: Path | None = None,
) -> dict[str, float]:
    """Run the demo; returns ``{"auc", "precision", "fps", "frames"}``."""
    import cv2
    import numpy as np

    from trackkit.data import AnnotatedVideoWriter, draw_boxes, synthetic_sot_sequence
    from trackkit.eval import evaluate_sot
    from trackkit.registry import make_tracker

    seq = synthetic_sot_sequence(
        length=length,
        image_size=(480, 320),
        target_size=(56.0, 44.0),
        seed=seed,
        scale_change=0.25,
        distractors=2,
        occlusion=0.5,
        target_speed=3.0,
    )
    tracker = make_tracker(tracker_name, device=device)
    boxes = np.empty((len(seq), 4))
    boxes[0] = seq.boxes_xywh[0]
    tracker.init(seq[0], seq.boxes_xywh[0])
    start = time.perf_counter()
    for t in range(1, len(seq)):
        boxes[t] = tracker.update(seq[t])
    spent = time.perf_counter() - start
    scores = evaluate_sot(boxes, seq.boxes_xywh, seq.absent)
    out.parent.mkdir(parents=True, exist_ok=True)
    png_frame = None
    with AnnotatedVideoWriter(out, fps=20.0) as video:
        for t in range(len(seq)):
            img = draw_boxes(seq[t], [seq.boxes_xywh[t]], color=(0, 200, 0), thickness=1)
            img = draw_boxes(
                img, [boxes[t]], color=(0, 0, 255), thickness=2, label=f"{tracker_name} #{t}"
            )
            video.write(img)
            if t == (2 * len(seq)) // 3:
                png_frame = img
    if frame_png is not None and png_frame is not None:
        frame_png.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(frame_png), png_frame):  # OpenCV returns False, raises nothing
            raise OSError(f"cannot write the frame PNG {frame_png}")
    return {
        "auc": float(scores.auc),
        "precision": float(scores.precision),
        "fps": (len(seq) - 1) / spent if spent > 0 else float("nan"),
        "frames": float(len(seq)),
    }


def _run(args: argparse.Namespace) -> int:

    set_torch_threads(args.threads)
    if args.length < 2:
        raise ValueError(f"--length must be >= 2, got {args.length}")
    writable_video(args.out, "--out")  # before tracking, not after
    writable_file(args.frame_png, "--frame-png")
    if args.frame_png is not None:
        import cv2

        if not cv2.haveImageWriter(str(args.frame_png)):  # else cv2.error after tracking
            raise ValueError(
                f"--frame-png {args.frame_png}: OpenCV cannot write an image of that name; "
                "give a .png file name"
            )
    res = run_demo(
        out=args.out,
        length=args.length,
        seed=args.seed,
        tracker_name=args.tracker,
        device=args.device,
        frame_png=args.frame_png,
    )
    print(
        f"{args.tracker} on a synthetic sequence ({int(res['frames'])} frames, seed {args.seed}): "
        f"success AUC {res['auc']:.3f}, precision@20px {res['precision']:.3f}, "
        f"{res['fps']:.1f} frames per second"
    )
    print(f"annotated video: {args.out.resolve()}", file=sys.stderr)
    return 0
