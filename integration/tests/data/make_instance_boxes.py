"""Record the boxes of the shipped FCOS-MAML and Retina-MAML for the regression test.

Run from the repository root (one thread, CPU)::

    python integration/tests/data/make_instance_boxes.py

It writes ``integration/tests/data/instance_boxes.npz``: for each shipped tracker the boxes it
gives on a synthetic sequence (always available) and on the first frames of three real
sequences of ``../shared/data/sot`` (one at a time and the three in lock step, batched). The
test ``integration/tests/test_sot_instance_regression.py`` reruns the same cases and compares.
The fixture was recorded with the code before the adaptation and the losses moved into the
``metalearn`` and ``detheads`` libraries (issue 12), so the test proves the move kept the boxes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent / "instance_boxes.npz"
DATA = Path(os.environ.get("TRACKKIT_DATA", ROOT / "../shared/data")) / "sot"
TRACKERS = ("fcos-maml", "retina-maml")
REAL = ("Crossing", "Couple", "ball1")
REAL_FRAMES = 30
SYNTHETIC_FRAMES = 40


def synthetic_case() -> tuple[list[np.ndarray], np.ndarray]:
    """Frames and the initial box of the synthetic case (the demo's scene, shorter)."""
    from trackkit.data import synthetic_sot_sequence

    seq = synthetic_sot_sequence(
        length=SYNTHETIC_FRAMES,
        image_size=(480, 320),
        target_size=(56.0, 44.0),
        seed=7,
        scale_change=0.25,
        distractors=2,
        occlusion=0.5,
        target_speed=3.0,
    )
    return [seq[t] for t in range(len(seq))], np.asarray(seq.boxes_xywh[0], dtype=np.float64)


def real_cases() -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """The first ``REAL_FRAMES`` frames and the initial box of each real sequence."""
    from trackkit.data import read_simple_sot

    ds = read_simple_sot(DATA, names=list(REAL))
    out = {}
    for name in REAL:
        seq = ds[name]
        frames = [seq[t] for t in range(REAL_FRAMES)]
        out[name] = (frames, np.asarray(seq.boxes_xywh[0], dtype=np.float64))
    return out


def track(tracker_name: str, frames: list[np.ndarray], box: np.ndarray) -> np.ndarray:
    """Boxes ``float64[T, 4]`` of one shipped tracker on one sequence (frame 0: the init box)."""
    from trackkit.sot.instance import (
        InstanceTracker,
        load_detector,
        shipped_checkpoint,
        tracker_config_for,
    )

    det = load_detector(shipped_checkpoint(tracker_name), device="cpu")
    tracker = InstanceTracker(det, config=tracker_config_for(det), device="cpu")
    out = np.empty((len(frames), 4))
    out[0] = box
    tracker.init(frames[0], box)
    for t in range(1, len(frames)):
        out[t] = tracker.update(frames[t])
    return out


def track_batch(tracker_name: str, cases: list[tuple[list[np.ndarray], np.ndarray]]) -> np.ndarray:
    """Boxes ``float64[B, T, 4]`` of several equally long sequences tracked in lock step."""
    from trackkit.sot.instance import (
        InstanceTracker,
        load_detector,
        shipped_checkpoint,
        tracker_config_for,
    )

    det = load_detector(shipped_checkpoint(tracker_name), device="cpu")
    tracker = InstanceTracker(det, config=tracker_config_for(det), device="cpu")
    n = len(cases[0][0])
    out = np.empty((len(cases), n, 4))
    boxes = np.stack([c[1] for c in cases])
    out[:, 0] = boxes
    tracker.init_batch([c[0][0] for c in cases], boxes)
    for t in range(1, n):
        out[:, t] = tracker.update_batch([c[0][t] for c in cases])
    return out


def main() -> int:
    torch.set_num_threads(1)
    arrays: dict[str, np.ndarray] = {}
    frames, box = synthetic_case()
    for name in TRACKERS:
        arrays[f"{name}/synthetic"] = track(name, frames, box)
    if not DATA.is_dir():
        print(f"{DATA} not found: real sequences not recorded", file=sys.stderr)
        return 1
    real = real_cases()
    for name in TRACKERS:
        for seq_name, (frames, box) in real.items():
            arrays[f"{name}/{seq_name}"] = track(name, frames, box)
        arrays[f"{name}/batch"] = track_batch(name, list(real.values()))
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT}: {sorted(arrays)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
