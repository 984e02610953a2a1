"""Record the boxes of the shipped FCOS-MAML and Retina-MAML for the regression test.

Run from the repository root (one thread, CPU)::

    python integration/tests/data/make_instance_boxes.py

It writes ``integration/tests/data/instance_boxes_<fingerprint>.npz``: for each shipped tracker
the boxes it gives on a synthetic sequence (always available) and on the first frames of three
real sequences of ``../shared/data/sot`` (one at a time and the three in lock step, batched).
The test ``integration/tests/test_sot_instance_regression.py`` reruns the same cases and
compares.

Tracking amplifies float rounding (a crop shifted by 1e-3 px can move a score map's argmax by
a cell), and torch picks its CPU kernels by instruction set and microarchitecture, so boxes are
reproducible to 1e-3 px only on CPUs with the same kernels: measured on the AVX-512 Xeon of
2026-12-01, the boxes of ``instance_boxes.npz`` are off by up to 21 px (mean IoU 0.85-0.96
with the recording). ``kernel_fingerprint()`` names a CPU's kernels (a digest of a few torch
ops on fixed inputs, independent of trackkit's code), and each recording is stored under it.
``instance_boxes.npz`` itself is the original recording, made with the code before the
adaptation and the losses moved into the ``metalearn`` and ``detheads`` libraries (issue 12),
on the machines of the sessions up to 2026-11-30 (fingerprint not recorded), so the test proved
the move kept the boxes; a fingerprinted recording was made with the code of its commit.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
LEGACY = HERE / "instance_boxes.npz"
DATA = Path(os.environ.get("TRACKKIT_DATA", ROOT / "../shared/data")) / "sot"
TRACKERS = ("fcos-maml", "retina-maml")
REAL = ("Crossing", "Couple", "ball1")
REAL_FRAMES = 30
SYNTHETIC_FRAMES = 40


def kernel_fingerprint() -> str:
    """A 12-hex-digit name of this CPU's float kernels for the ops the trackers run.

    Convolutions (strided, depthwise, pointwise, dilated) at two batch sizes, a linear layer,
    GroupNorm and a few pointwise functions on seeded inputs, hashed bit for bit. Two machines
    with the same fingerprint computed the same bits here; trackkit's code plays no part, so a
    change to the trackers cannot change the fingerprint (it changes the boxes).
    """
    import torch.nn.functional as F

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        digest = hashlib.sha256()
        with torch.no_grad():
            for batch in (1, 7):
                x = torch.randn(batch, 32, 33, 33, generator=g)
                w3 = torch.randn(32, 32, 3, 3, generator=g) * 0.05
                wd = torch.randn(32, 1, 3, 3, generator=g) * 0.2
                w1 = torch.randn(64, 32, 1, 1, generator=g) * 0.1
                y = F.relu6(F.conv2d(x, w3, stride=2, padding=1))
                y = F.conv2d(y, wd, padding=2, dilation=2, groups=32)
                y = F.conv2d(y, w1)
                y = F.group_norm(y, 8)
                z = F.linear(y.flatten(1)[:, :256], torch.randn(48, 256, generator=g) * 0.05)
                for out in (y, torch.sigmoid(y), torch.exp(-y.abs()), z, z.softmax(-1)):
                    digest.update(out.contiguous().numpy().tobytes())
    finally:
        torch.set_num_threads(threads)
    return digest.hexdigest()[:12]


def recording(fingerprint: str) -> Path:
    """The file of the recording made on CPUs with this kernel fingerprint."""
    return HERE / f"instance_boxes_{fingerprint}.npz"


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
    out = recording(kernel_fingerprint())
    np.savez_compressed(out, **arrays)
    print(f"wrote {out}: {sorted(arrays)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
