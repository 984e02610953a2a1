"""Stress test: every shipped tracker on valid but unusual sequences (robustness, not accuracy).

Every name of ``trackkit.registry.tracker_names()`` is built with its shipped defaults
(``make_tracker(name)``; RetinaTrack also with each of its other associations and its
``p6-640`` variant) and run through the Python API on transformed excerpts of real sequences
from the project data and on synthetic scenes:

- single-object (``init(frame, box)`` then ``update(frame)``): the first ``--frames`` frames of
  Crossing, Couple and ball1 unchanged, in grayscale (3-channel; single-channel ``H x W``
  arrays too), upscaled 2x (ball1: 1280x720), downscaled 0.5x, as mirrored negative-stride
  numpy views, cropped so that the target starts across the frame's corner, panned so that
  the target leaves the frame and returns, with an abrupt jump (the content moves by a third of
  the frame in one frame), with frames skipped, with a third of the frames blacked out
  (constant), and with a frame of another size mid-sequence; synthetic scenes with a tiny
  target (6x4 px), extreme aspect ratios (200x8 and 8x200), 48x36 frames, constant
  (textureless) frames and a box that is the whole frame;
- multi-object, trackers that detect on the frames (``retinatrack``, ``maml-mot``;
  ``track_frames(list of frames)``): the first ``--mot-frames`` frames of TUD-Campus
  unchanged, in grayscale (3- and 1-channel), resized to 320x240, 64x48, 1920x1080, a
  1920x270 strip and 270x480 (portrait), with a third of the frames black, as mirrored views;
  MOT17-04's real 1920x1080 frames, frames without any person (constant and textured), one
  person on a grey frame and a 1920x1080 mosaic of 160 people;
- multi-object on det.txt (``sort``, ``motion``, ``bytetrack``, ``ocsort``, ``botsort``,
  ``retinatrack-iou``; ``track(MOTSequence)``): TUD-Campus's detections unchanged and scaled
  to 64x48 and 1920x1080 frames, with frames without detections, with no detections at all,
  with 250 extra detections (random boxes and 60 exact duplicates) in one frame, with boxes
  partly outside the frame and 1-2 px boxes, and with scores outside [0, 1].

Pass means: no exception; every returned box finite with positive width and height and not
absurdly far from the frame (it must meet the frame grown by one frame size on every side);
an OpenCV tracker's ``(box, False)`` is its documented "lost" output. Inputs the API documents
as errors (single-channel frames, a frame size change mid-sequence) must raise a one-line
``ValueError``/``TypeError`` where expected, and a tracker may refuse at ``init`` an initial
box it cannot start on the same way: "rejected". Any error after ``init`` is a failure. Each
tracker runs in a subprocess, so a crash inside native code (or a hang, ``--timeout``) is
recorded as a failure of the case that was running. AUC (OTB success, absent frames and the
first frame excluded) and mean IoU are given where ground truth exists (for MOT: HOTA and
MOTA); ``ms`` is the mean ``update`` time (MOT: per frame) on a machine shared with other
processes: a rough guide only.

Run: ``python benchmarks/stress.py [--data ../shared/data] [--trackers NAME ...] [--jobs N]``
Writes docs/benchmarks/stress.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
OUT_MD = ROOT / "docs" / "benchmarks" / "stress.md"

#: Real single-object sequences the transformed cases start from (short, three sizes).
SOT_BASES: tuple[str, ...] = ("Crossing", "Couple", "ball1")
#: The real multi-object sequence with images, and the real 1920x1080 one.
MOT_BASE = "TUD-Campus"
MOT_HD = "MOT17-04-FRCNN-mini"
#: Extra registry configurations run like names of their own (option sets of ``retinatrack``).
EXTRA_CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    **{
        f"retinatrack[{a}]": ("retinatrack", {"association": a})
        for a in ("iou", "embedding", "sort", "iou+motion", "iou+embedding+motion")
    },
    "retinatrack[p6-640]": ("retinatrack", {"variant": "p6-640"}),
}
#: Frame-based multi-object trackers (the others associate det.txt).
FRAME_MOT = ("retinatrack", "maml-mot")
#: The multi-object cases the det.txt trackers run (the others differ only in their frames).
DET_CASES = (
    MOT_BASE,
    *(f"{MOT_BASE}/{x}" for x in ("64x48", "1920x1080", "det-gaps", "det-none", "det-250")),
    *(f"{MOT_BASE}/{x}" for x in ("det-edge", "det-scores")),
)


# ----------------------------------------------------------------------------------- cases
@dataclass
class SOTCase:
    """One single-object case: frames, ground truth (NaN = absent/unknown), initial box.

    ``reject_at``: index of the frame where the API documents a ``ValueError``/``TypeError``
    (0 = at ``init``), or ``None``.
    """

    name: str
    what: str
    frames: list[NDArray[np.uint8]]
    boxes: NDArray[np.float64]
    reject_at: int | None = None

    @property
    def init_box(self) -> NDArray[np.float64]:
        return self.boxes[0]


@dataclass
class MOTCase:
    """One multi-object case: frames (for the frame trackers) and/or det rows, optional gt."""

    name: str
    what: str
    num_frames: int
    size: tuple[int, int]  # (width, height)
    frames: list[NDArray[np.uint8]] | None = None
    det: Any = None  # trackkit.data.MOTRows
    gt: Any = None
    mot17: bool = False
    reject_at: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _resize(frame: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    shrink = size[0] < frame.shape[1]
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _gray3(frame: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def _shift(frame: NDArray[np.uint8], dx: float, dy: float = 0.0) -> NDArray[np.uint8]:
    """Content moved by ``(dx, dy)`` pixels; uncovered pixels black."""
    h, w = frame.shape[:2]
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _texture(rng: np.random.Generator, height: int, width: int) -> NDArray[np.uint8]:
    """Blurred colour noise (blobs a few pixels wide), mean 128."""
    noise = cv2.GaussianBlur(rng.normal(0.0, 1.0, (height, width, 3)), (0, 0), 2.0)
    return np.clip(128 + 60 * noise / noise.std(), 0, 255).astype(np.uint8)


def _absent_outside(boxes: NDArray[np.float64], w: int, h: int) -> NDArray[np.float64]:
    """Ground truth with boxes entirely outside the ``w x h`` frame set to NaN (absent)."""
    out = boxes.copy()
    x, y, bw, bh = out.T
    gone = (x >= w) | (y >= h) | (x + bw <= 0) | (y + bh <= 0)
    out[gone] = np.nan
    return out


def sot_cases(data: Path, n: int) -> list[SOTCase]:
    """Every single-object case (deterministic); real cases need ``data/sot``."""
    from trackkit.data import read_simple_sot, synthetic_sot_sequence

    cases: list[SOTCase] = []
    if (data / "sot").is_dir():
        ds = read_simple_sot(data / "sot", names=list(SOT_BASES))
        seqs = {name: ds[name] for name in SOT_BASES}

        def first(name: str, count: int = n) -> tuple[list[NDArray[np.uint8]], NDArray]:
            s = seqs[name]
            count = min(count, len(s))
            return [s[i] for i in range(count)], np.array(s.boxes_xywh[:count])

        def visible(name: str, what: str, frames: list[NDArray[np.uint8]], boxes: Any) -> None:
            """A case whose ground truth is absent where the box left the frame."""
            h, w = frames[0].shape[:2]
            cases.append(SOTCase(name, what, frames, _absent_outside(np.asarray(boxes), w, h)))

        for name in SOT_BASES:
            f, b = first(name)
            cases.append(SOTCase(f"{name}", "unchanged", f, b))
        f, b = first("Crossing")
        cases.append(SOTCase("Crossing/gray3", "grayscale, 3 channels", [_gray3(x) for x in f], b))
        gray1 = [cv2.cvtColor(x, cv2.COLOR_BGR2GRAY) for x in f]
        cases.append(SOTCase("Crossing/gray1", "grayscale H x W arrays", gray1, b, reject_at=0))
        f, b = first("ball1")
        h, w = f[0].shape[:2]
        up = [_resize(x, (2 * w, 2 * h)) for x in f]
        cases.append(SOTCase("ball1/up2x", f"upscaled 2x ({2 * w}x{2 * h})", up, b * 2.0))
        f, b = first("Couple")
        h, w = f[0].shape[:2]
        down = [_resize(x, (w // 2, h // 2)) for x in f]
        cases.append(
            SOTCase("Couple/down0.5x", f"downscaled 0.5x ({w // 2}x{h // 2})", down, b * 0.5)
        )
        mirrored = b.copy()
        mirrored[:, 0] = w - b[:, 0] - b[:, 2]
        views = [x[:, ::-1] for x in f]  # negative-stride views, not copies
        cases.append(
            SOTCase("Couple/mirror-view", "mirrored negative-stride views", views, mirrored)
        )
        # The target starts across the top-left corner: a quarter of it inside the frame.
        f, b = first("Crossing")
        x0 = int(b[0, 0] + b[0, 2] / 2)
        y0 = int(b[0, 1] + b[0, 3] / 2)
        corner = [np.ascontiguousarray(x[y0:, x0:]) for x in f]
        visible("Crossing/corner", "target starts across the corner", corner, b - [x0, y0, 0, 0])
        # Panned: the target leaves the frame (right) and comes back.
        f, b = first("Crossing")
        h, w = f[0].shape[:2]
        reach = w - b[:, 0].min() + 20.0  # at the turn the target is 20 px past the border
        t = np.arange(len(f))
        ramp = np.clip(np.minimum(t - 5, len(f) - 5 - t) / max(1, len(f) / 2 - 5), 0, 1)
        dx = ramp * reach
        pan = [_shift(x, d) for x, d in zip(f, dx)]
        pb = b + np.stack([dx, 0 * dx, 0 * dx, 0 * dx], axis=1)
        visible("Crossing/leave-return", "panned: target leaves and returns", pan, pb)
        # Abrupt jump: from the middle frame on, the content moves by a third of the width.
        f, b = first("Couple")
        h, w = f[0].shape[:2]
        step = w / 3.0 if b[0, 0] + b[0, 2] / 2 < w / 2 else -w / 3.0
        half = len(f) // 2
        jumped = [x if i < half else _shift(x, step) for i, x in enumerate(f)]
        jb = b.copy()
        jb[half:, 0] += step
        visible("Couple/jump", "content jumps w/3 mid-sequence", jumped, jb)
        # Frames skipped: the first half, then frames from 40 later on.
        s = seqs["Couple"]
        idx = [i for i in range(half)] + [i + 40 for i in range(half, n) if i + 40 < len(s)]
        cases.append(
            SOTCase(
                "Couple/skip40",
                "40 frames skipped mid-sequence",
                [s[i] for i in idx],
                np.array(s.boxes_xywh[idx]),
            )
        )
        # A third of the frames constant black (the target is absent there).
        f, b = first("ball1")
        lo, hi = len(f) // 3, 2 * len(f) // 3
        black = [np.zeros_like(x) if lo <= i < hi else x for i, x in enumerate(f)]
        bb = b.copy()
        bb[lo:hi] = np.nan
        cases.append(SOTCase("ball1/blackout", "frames 1/3-2/3 constant black", black, bb))
        # Another frame size mid-sequence (documented ValueError at that frame).
        f, b = first("Crossing", 15)
        h, w = f[0].shape[:2]
        resized = [x if i < 10 else _resize(x, (w * 3 // 4, h * 3 // 4)) for i, x in enumerate(f)]
        rb = b.copy()
        rb[10:] = np.nan
        cases.append(
            SOTCase(
                "Crossing/resize-mid", "frame size changes at frame 10", resized, rb, reject_at=10
            )
        )

    def synthetic(name: str, what: str, **kw: Any) -> SOTCase:
        s = synthetic_sot_sequence(
            length=n, scale_change=0.0, distractors=0, occlusion=0.0, seed=7, **kw
        )
        return SOTCase(name, what, [s[i] for i in range(len(s))], np.array(s.boxes_xywh))

    cases.append(synthetic("synth/tiny", "6x4 px target", target_size=(6.0, 4.0), target_speed=1.0))
    cases.append(
        synthetic("synth/wide", "200x8 target", image_size=(480, 240), target_size=(200.0, 8.0))
    )
    cases.append(
        synthetic("synth/tall", "8x200 target", image_size=(240, 320), target_size=(8.0, 200.0))
    )
    s = synthetic_sot_sequence(
        length=n, image_size=(48, 36), target_size=(12.0, 9.0), scale_change=0.0,
        distractors=0, occlusion=0.0, camera_speed=0.5, target_speed=1.0, seed=7,
    )  # fmt: skip
    cases.append(
        SOTCase("synth/48x36", "48x36 frames", [s[i] for i in range(n)], np.array(s.boxes_xywh))
    )
    flat = [np.full((240, 320, 3), 128, np.uint8) for _ in range(n)]
    fb = np.tile(np.array([[140.0, 100.0, 40.0, 30.0]]), (n, 1))
    cases.append(SOTCase("synth/constant", "constant grey frames", flat, fb))
    # The target is the whole frame (a panning texture): the box can only stay.
    rng = np.random.default_rng(3)
    tex = _texture(rng, 240, 400)
    whole = [np.ascontiguousarray(tex[:, t % 80 : t % 80 + 320]) for t in range(n)]
    wb = np.tile(np.array([[0.0, 0.0, 320.0, 240.0]]), (n, 1))
    cases.append(SOTCase("synth/whole-frame", "the box is the whole frame", whole, wb))
    return cases


def mot_cases(data: Path, n: int) -> list[MOTCase]:
    """Every multi-object case (deterministic); real cases need ``data/mot``."""
    from trackkit.data import MOTRows, read_motchallenge

    def rows_upto(rows: Any, count: int) -> Any:
        return rows.select(rows.frames < count)

    def scaled(rows: Any, sx: float, sy: float) -> Any:
        b = rows.boxes_xywh * np.array([sx, sy, sx, sy])
        return MOTRows(rows.frames, rows.ids, b, rows.confidences, rows.classes, rows.visibility)

    cases: list[MOTCase] = []
    if (data / "mot").is_dir():
        ds = read_motchallenge(data / "mot", names=[MOT_BASE, MOT_HD])
        s = ds[MOT_BASE]
        k = min(n, s.num_frames)
        f = [s.frames[i] for i in range(k)]
        gt, det = rows_upto(s.gt, k), rows_upto(s.det, k)
        w, h = s.image_size

        def add(
            name: str, what: str, frames: list[NDArray[np.uint8]], sx: float, sy: float, **kw: Any
        ) -> None:
            fh, fw = frames[0].shape[:2]
            cases.append(
                MOTCase(
                    name, what, k, (fw, fh), frames, scaled(det, sx, sy), scaled(gt, sx, sy), **kw
                )
            )

        add(MOT_BASE, "unchanged", f, 1, 1)
        add(f"{MOT_BASE}/gray3", "grayscale, 3 channels", [_gray3(x) for x in f], 1, 1)
        add(
            f"{MOT_BASE}/gray1",
            "grayscale H x W arrays",
            [cv2.cvtColor(x, cv2.COLOR_BGR2GRAY) for x in f],
            1,
            1,
            reject_at=0,
        )
        for tw, th in ((320, 240), (64, 48), (1920, 1080), (1920, 270)):
            add(
                f"{MOT_BASE}/{tw}x{th}",
                f"resized to {tw}x{th}",
                [_resize(x, (tw, th)) for x in f],
                tw / w,
                th / h,
            )
        add(
            f"{MOT_BASE}/270x480",
            "resized to 270x480 (portrait)",
            [_resize(x, (270, 480)) for x in f],
            270 / w,
            480 / h,
        )
        lo, hi = k // 3, 2 * k // 3
        black = [np.zeros_like(x) if lo <= i < hi else x for i, x in enumerate(f)]
        cases.append(
            MOTCase(
                f"{MOT_BASE}/blackout",
                "frames 1/3-2/3 black",
                k,
                (w, h),
                black,
                None,
                gt.select((gt.frames < lo) | (gt.frames >= hi)),
            )
        )
        mirrored = [x[:, ::-1] for x in f]
        mgt = scaled(gt, 1, 1)
        mgt.boxes_xywh[:, 0] = w - gt.boxes_xywh[:, 0] - gt.boxes_xywh[:, 2]
        cases.append(
            MOTCase(
                f"{MOT_BASE}/mirror-view",
                "mirrored negative-stride views",
                k,
                (w, h),
                mirrored,
                None,
                mgt,
            )
        )
        hd = ds[MOT_HD]
        cases.append(
            MOTCase(
                MOT_HD,
                "real 1920x1080 frames",
                hd.num_frames,
                hd.image_size,
                [hd.frames[i] for i in range(hd.num_frames)],
                None,
                hd.gt,
                mot17=True,
            )
        )
        # 160 people (ground-truth crops of TUD-Campus) on a 1920x1080 mosaic, drifting.
        crops = []
        for fr, b in zip(gt.frames, gt.boxes_xywh):
            x, y, bw, bh = (round(float(v)) for v in b)
            x, y = max(x, 0), max(y, 0)
            c = f[int(fr)][y : y + bh, x : x + bw]
            if c.shape[0] > 20 and c.shape[1] > 10:
                crops.append(cv2.resize(c, (96, 135)))
        if crops:
            # One person walking over a grey frame (MAML-MOT's support set has no negatives).
            one = []
            for t in range(min(k, 6)):
                canvas = np.full((480, 640, 3), 128, np.uint8)
                canvas[100:235, 50 + 20 * t : 146 + 20 * t] = crops[0]
                one.append(canvas)
            cases.append(MOTCase("one-person", "one person, grey frame", len(one), (640, 480), one))
            tiles = [crops[i % len(crops)] for i in range(160)]
            mosaic = np.vstack([np.hstack(tiles[r * 20 : (r + 1) * 20]) for r in range(8)])
            canvas = np.full((1080, 1920, 3), 90, np.uint8)
            canvas[:1080, :1920] = mosaic[:1080, :1920]
            crowd = [_shift(canvas, 2.0 * t, 1.0 * t) for t in range(min(k, 8))]
            cases.append(
                MOTCase("mosaic-160", "160 people, 1920x1080", len(crowd), (1920, 1080), crowd)
            )
        # det.txt-style stress on TUD-Campus's detections (frames not needed).
        rng = np.random.default_rng(0)
        gaps = det.select((det.frames < 3) | ((det.frames >= 8) & (det.frames < k - 2)))
        cases.append(
            MOTCase(
                f"{MOT_BASE}/det-gaps",
                "no detections on frames 4-8 and the last 2",
                k,
                (w, h),
                det=gaps,
                gt=gt,
            )
        )
        empty = det.select(np.zeros(len(det), bool))
        cases.append(
            MOTCase(f"{MOT_BASE}/det-none", "no detections at all", k, (w, h), det=empty, gt=gt)
        )
        crowd_rows = _crowd_detections(det, frame=min(5, k - 1), size=(w, h), rng=rng)
        cases.append(
            MOTCase(
                f"{MOT_BASE}/det-250",
                "250 extra detections in one frame",
                k,
                (w, h),
                det=crowd_rows,
                gt=gt,
            )
        )
        cases.append(
            MOTCase(
                f"{MOT_BASE}/det-edge",
                "boxes across the border, 1-2 px boxes",
                k,
                (w, h),
                det=_edge_detections(det, (w, h), rng),
                gt=gt,
            )
        )
        odd = MOTRows(
            det.frames,
            det.ids,
            det.boxes_xywh,
            det.confidences * 40.0 - 5.0,
            det.classes,
            det.visibility,
        )
        cases.append(
            MOTCase(
                f"{MOT_BASE}/det-scores",
                "scores x40 - 5 (outside [0, 1])",
                k,
                (w, h),
                det=odd,
                gt=gt,
            )
        )
    # No person at all: constant and textured frames.
    rng = np.random.default_rng(1)
    flat = [np.full((480, 640, 3), 128, np.uint8) for _ in range(min(n, 6))]
    cases.append(MOTCase("empty/constant", "constant grey frames", len(flat), (640, 480), flat))
    tex = [_texture(rng, 480, 640) for _ in range(min(n, 6))]
    cases.append(MOTCase("empty/texture", "random texture, no person", len(tex), (640, 480), tex))
    return cases


def _crowd_detections(
    det: Any, *, frame: int, size: tuple[int, int], rng: np.random.Generator
) -> Any:
    """``det`` plus 190 random boxes and 60 copies of one box in ``frame``."""
    from trackkit.data import MOTRows

    w, h = size
    bw = rng.uniform(8, 120, 190)
    bh = rng.uniform(16, 240, 190)
    boxes = np.stack([rng.uniform(0, w - 8, 190), rng.uniform(0, h - 16, 190), bw, bh], axis=1)
    dup = np.tile(np.array([[100.0, 100.0, 40.0, 90.0]]), (60, 1))
    extra = np.concatenate([boxes, dup])
    m = len(extra)
    add = MOTRows(
        np.full(m, frame),
        np.full(m, -1),
        extra,
        rng.uniform(0.5, 1.0, m),
        np.ones(m, np.int64),
        np.ones(m),
    )
    return MOTRows.concatenate([det, add])


def _edge_detections(det: Any, size: tuple[int, int], rng: np.random.Generator) -> Any:
    """``det`` with every box moved half across the nearest border and tiny boxes added."""
    from trackkit.data import MOTRows

    w, h = size
    b = det.boxes_xywh.copy()
    left = b[:, 0] + b[:, 2] / 2 < w / 2
    b[:, 0] = np.where(left, -b[:, 2] / 2, w - b[:, 2] / 2)
    frames = np.arange(int(det.frames.max()) + 1 if len(det) else 1)
    tiny = np.stack(
        [rng.uniform(0, w - 2, frames.size), rng.uniform(0, h - 2, frames.size)], axis=1
    )
    tiny = np.concatenate([tiny, np.tile([[1.0, 2.0]], (frames.size, 1))], axis=1)
    add = MOTRows(
        frames,
        np.full(frames.size, -1),
        tiny,
        np.full(frames.size, 0.9),
        np.ones(frames.size, np.int64),
        np.ones(frames.size),
    )
    return MOTRows.concatenate(
        [MOTRows(det.frames, det.ids, b, det.confidences, det.classes, det.visibility), add]
    )


# ----------------------------------------------------------------------------------- checks
def box_problem(box: Any, size: tuple[int, int]) -> str | None:
    """Why a returned ``x, y, w, h`` box fails the standard, or ``None`` if it passes.

    A box must be 4 finite numbers with positive width and height that meet the frame grown
    by one frame size on every side (``size = (width, height)``).
    """
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.shape != (4,):
        return f"box of shape {b.shape}"
    if not np.all(np.isfinite(b)):
        return f"non-finite box {b.tolist()}"
    if b[2] <= 0 or b[3] <= 0:
        return f"empty box {b.round(2).tolist()}"
    w, h = size
    if b[0] >= 2 * w or b[1] >= 2 * h or b[0] + b[2] <= -w or b[1] + b[3] <= -h:
        return f"box {b.round(1).tolist()} far outside the {w}x{h} frame"
    return None


def _outside(box: NDArray[np.float64], size: tuple[int, int]) -> bool:
    x, y, bw, bh = box
    return bool(x >= size[0] or y >= size[1] or x + bw <= 0 or y + bh <= 0)


def _one_line(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}"
    return text.splitlines()[0][:160] if text else type(err).__name__


def run_sot_case(tracker: Any, case: SOTCase) -> dict[str, Any]:
    """Track one case; the result row (status, timings, scores)."""
    from trackkit.eval import evaluate_sot

    frames = case.frames
    out = np.full((len(frames), 4), np.nan)
    out[0] = case.init_box
    seconds: list[float] = []
    lost = off = 0
    row: dict[str, Any] = {"case": case.name, "frames": len(frames)}
    t = 0
    try:
        tracker.init(frames[0], case.init_box.copy())
        for t in range(1, len(frames)):
            start = time.perf_counter()
            res = tracker.update(frames[t])
            seconds.append(time.perf_counter() - start)
            ok = True
            if isinstance(res, tuple) and len(res) == 2:
                res, ok = res
            lost += int(not bool(ok))
            fsize = (frames[t].shape[1], frames[t].shape[0])
            problem = box_problem(res, fsize)
            if problem:
                row.update(status="FAIL", error=f"frame {t}: {problem}")
                return row
            out[t] = np.asarray(res, dtype=np.float64).reshape(4)
            off += int(_outside(out[t], fsize))
        t = len(frames)
    except (ValueError, TypeError) as err:
        if t in (0, case.reject_at) and "\n" not in str(err):  # at init, or where documented
            row.update(status="rejected", error=_one_line(err))
        else:
            row.update(status="FAIL", error=f"frame {t}: {_one_line(err)}")
        return row
    except Exception as err:
        row.update(status="FAIL", error=f"frame {t}: {_one_line(err)}")
        return row
    if case.reject_at is not None:
        row["note"] = "accepted"
    row.update(status="ok", lost=lost, off=off)
    row["ms"] = 1000.0 * float(np.mean(seconds)) if seconds else float("nan")
    gt = case.boxes
    if case.reject_at is None and np.isfinite(gt[1:]).all(axis=1).any():
        sc = evaluate_sot(out, gt, ~np.isfinite(gt).all(axis=1), skip_first=True)
        row.update(auc=sc.auc, iou=sc.ao)
    return row


def run_mot_case(tracker: Any, case: MOTCase, frame_based: bool) -> dict[str, Any]:
    """Track one case with a frame tracker (``track_frames``) or a det.txt tracker."""
    from trackkit.data import MOTSequence
    from trackkit.eval import evaluate_mot

    row: dict[str, Any] = {"case": case.name, "frames": case.num_frames}
    start = time.perf_counter()
    try:
        if frame_based:
            rows, bad = tracker.track_frames(case.frames)
            if bad:
                row["note"] = f"skipped frames {bad}"
        else:
            seq = MOTSequence(case.name, case.num_frames, None, case.gt, case.det)
            rows, _ = tracker.track(seq)
    except (ValueError, TypeError) as err:
        msg = _one_line(err)
        expected = case.reject_at is not None and ("frame 0" in msg or "frames_bgr[0]" in msg)
        row.update(status="rejected" if expected else "FAIL", error=msg)
        return row
    except Exception as err:
        row.update(status="FAIL", error=_one_line(err))
        return row
    elapsed = time.perf_counter() - start
    for fr, b in zip(rows.frames, rows.boxes_xywh):
        problem = box_problem(b, case.size)
        if problem or not 0 <= fr < case.num_frames:
            row.update(status="FAIL", error=f"frame {int(fr)}: {problem or 'frame out of range'}")
            return row
    row.update(status="ok", ms=1000.0 * elapsed / case.num_frames, boxes=len(rows))
    row["ids"] = int(np.unique(rows.ids).size)
    if case.gt is not None and len(case.gt):
        sc = evaluate_mot(case.gt, rows, case.num_frames, mot17_preprocessing=case.mot17)
        row.update(hota=sc.hota.hota, mota=sc.clear.mota)
    return row


# ----------------------------------------------------------------------------------- workers
def build(name: str) -> Any:
    """The registry's tracker ``name`` (or an :data:`EXTRA_CONFIGS` entry) with its defaults."""
    from trackkit.registry import make_tracker

    if name in EXTRA_CONFIGS:
        base, options = EXTRA_CONFIGS[name]
        return make_tracker(base, **options)
    return make_tracker(name)


def kind_of(name: str) -> str:
    """``"sot"``, ``"mot-frames"`` or ``"mot-det"``."""
    from trackkit.registry import TRACKERS

    base = EXTRA_CONFIGS[name][0] if name in EXTRA_CONFIGS else name
    if TRACKERS[base].kind == "sot":
        return "sot"
    return "mot-frames" if base in FRAME_MOT else "mot-det"


def worker(name: str, data: Path, n_sot: int, n_mot: int, skip: set[str], out: Path) -> None:
    """Run every case of ``name`` not in ``skip``; one JSON line per event into ``out``."""
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    kind = kind_of(name)
    if kind == "sot":
        cases: list[Any] = sot_cases(data, n_sot)
    else:
        cases = [
            c
            for c in mot_cases(data, n_mot)
            if (c.frames is not None if kind == "mot-frames" else c.name in DET_CASES)
        ]
    tracker = build(name)
    with out.open("a") as fh:
        for case in cases:
            if case.name in skip:
                continue
            fh.write(json.dumps({"event": "start", "case": case.name}) + "\n")
            fh.flush()
            if kind == "sot":
                row = run_sot_case(tracker, case)
            else:
                row = run_mot_case(tracker, case, kind == "mot-frames")
            row["what"] = case.what
            fh.write(json.dumps({"event": "done", "row": row}, default=float) + "\n")
            fh.flush()
    close = getattr(tracker, "close", None)
    if callable(close):
        close()


def run_isolated(
    name: str, data: Path, n_sot: int, n_mot: int, timeout: float
) -> Iterator[dict[str, Any]]:
    """Rows of ``name`` from worker subprocesses; a case that kills or hangs its worker is a
    failure and the worker restarts after it."""
    done: set[str] = set()
    while True:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "events.jsonl"
            log.touch()
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                name,
                "--data",
                str(data),
                "--frames",
                str(n_sot),
                "--mot-frames",
                str(n_mot),
                "--events",
                str(log),
                "--skip",
                json.dumps(sorted(done)),
            ]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
                rc: int | str = proc.returncode
                tail = (proc.stderr or "").strip().splitlines()[-1:] or [""]
            except subprocess.TimeoutExpired:
                rc, tail = "timeout", [f"no result within {timeout:.0f} s"]
            started = None
            for line in log.read_text().splitlines():
                ev = json.loads(line)
                if ev["event"] == "start":
                    started = ev["case"]
                else:
                    started = None
                    done.add(ev["row"]["case"])
                    yield ev["row"]
        if rc == 0 and started is None:
            return
        if started is None:  # died before or between cases (e.g. while building)
            yield {"case": "(build)", "status": "FAIL", "error": f"worker exit {rc}: {tail[0]}"}
            return
        done.add(started)
        yield {"case": started, "status": "FAIL", "error": f"worker exit {rc}: {tail[0][:120]}"}


# ----------------------------------------------------------------------------------- report
def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def write_report(
    results: dict[str, list[dict[str, Any]]], args: argparse.Namespace, wall: float
) -> str:
    """The markdown report: a pass matrix per kind, then one detailed table per kind."""
    lines = [
        "# Stress test: every shipped tracker on unusual sequences",
        "",
        "Written by `python benchmarks/stress.py` (module docstring: cases and the pass rule). "
        f"{platform.processor() or platform.machine()}, torch and OpenCV on one thread, "
        f"{args.frames} frames per single-object case, {args.mot_frames} per multi-object "
        f"case; whole run {wall / 60:.1f} min wall time on a shared machine.",
        "",
        "Status: `ok` (every box finite, positive, near the frame), `rejected` (the documented "
        "one-line `ValueError`/`TypeError` for an input the API does not take: single-channel "
        "frames, a frame size change, or at `init` an initial box the tracker cannot start "
        "on), `FAIL` (anything else). `lost`: updates an OpenCV "
        "tracker reported lost (it then returns its last box); `off`: boxes entirely outside "
        "the frame. AUC and IoU (mean overlap) leave out the first frame and frames where the "
        "target is absent; `ms` is the mean time of one `update` (multi-object: per frame).",
        "",
    ]
    failures = [(n, r) for n, rows in results.items() for r in rows if r["status"] == "FAIL"]
    lines.append(
        f"**{sum(len(r) for r in results.values())} runs, {len(failures)} failures.**"
        if failures
        else f"**{sum(len(r) for r in results.values())} runs, no failures.**"
    )
    lines.append("")
    for title, kind, cols in (
        ("Single-object trackers", "sot", ("status", "ms", "auc", "iou", "lost", "off")),
        (
            "Multi-object trackers on frames",
            "mot-frames",
            ("status", "ms", "boxes", "ids", "hota", "mota"),
        ),
        (
            "Multi-object trackers on det.txt",
            "mot-det",
            ("status", "ms", "boxes", "ids", "hota", "mota"),
        ),
    ):
        names = [n for n in results if kind_of(n) == kind]
        if not names:
            continue
        cases = list(dict.fromkeys(r["case"] for n in names for r in results[n]))
        lines += [
            f"## {title}",
            "",
            "| case | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for c in cases:
            cells = []
            for n in names:
                r = next((x for x in results[n] if x["case"] == c), None)
                cells.append("" if r is None else r["status"])
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
        lines += ["", "<details><summary>Per tracker and case</summary>", ""]
        lines.append("| tracker | case | what | " + " | ".join(cols) + " | error / note |")
        lines.append("|---|---|---|" + "---|" * len(cols) + "---|")
        for n in names:
            for r in results[n]:
                vals = [_fmt(r.get(k), 1 if k == "ms" else 3) for k in cols]
                note = r.get("error") or r.get("note") or ""
                note = note.replace("|", "/")
                lines.append(
                    f"| {n} | {r['case']} | {r.get('what', '')} | "
                    + " | ".join(vals)
                    + f" | {note} |"
                )
        lines += ["", "</details>", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Run every tracker (or ``--trackers``) on every case and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(os.environ.get("TRACKKIT_DATA", ROOT / "../shared/data"))
    parser.add_argument(
        "--data", type=Path, default=default_data, help="data root (default: %(default)s)"
    )
    parser.add_argument(
        "--trackers", nargs="+", default=None, help="names (default: every shipped tracker)"
    )
    parser.add_argument(
        "--frames", type=int, default=40, help="frames per single-object case (default: 40)"
    )
    parser.add_argument(
        "--mot-frames", type=int, default=12, help="frames per multi-object case (default: 12)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="trackers run at once (default: 1)")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds per tracker worker (default: 900)"
    )
    parser.add_argument("--out-md", type=Path, default=OUT_MD, help="report (default: %(default)s)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--skip", default="[]", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(
            args.worker,
            args.data,
            args.frames,
            args.mot_frames,
            set(json.loads(args.skip)),
            args.events,
        )
        return
    from trackkit.registry import tracker_names

    names = args.trackers or [*tracker_names(), *EXTRA_CONFIGS]
    start = time.perf_counter()

    def run(name: str) -> list[dict[str, Any]]:
        t0 = time.perf_counter()
        rows = list(run_isolated(name, args.data, args.frames, args.mot_frames, args.timeout))
        for row in rows:
            if row["status"] != "ok":
                print(f"  {name} {row['case']}: {row['status']} {row.get('error', '')}", flush=True)
        bad = sum(r["status"] == "FAIL" for r in rows)
        print(
            f"{name}: {len(rows)} cases, {bad} failures, {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
        return rows

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = dict(zip(names, pool.map(run, names)))
    wall = time.perf_counter() - start
    text = write_report(results, args, wall)
    args.out_md.parent.mkdir(parents=True, exist_ok=True)
    args.out_md.write_text(text)
    print(f"wrote {args.out_md} ({wall / 60:.1f} min)")


if __name__ == "__main__":
    main()
