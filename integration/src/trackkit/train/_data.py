"""Training sequences for the instance detectors: real data minus held-out ones, plus synthetic."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trackkit.data import Sequence as SotSequence
from trackkit.data import read_motchallenge, read_simple_sot, synthetic_sot_sequence

__all__ = [
    "DEFAULT_HOLDOUT",
    "default_data_root",
    "default_mot_root",
    "mot_track_sequences",
    "synthetic_training_sequences",
    "training_sequences",
]

#: Sequences of ``../shared/data/sot`` never used for training: the evaluation set of
#: ``benchmarks/sot_maml.py`` (the six OTB-2015 sequences and VOT's ball1).
DEFAULT_HOLDOUT: tuple[str, ...] = (
    "Couple",
    "Crossing",
    "Diving",
    "Football1",
    "Human3_first199",
    "Man",
    "ball1",
)


def default_data_root() -> Path:
    """``$TRACKKIT_DATA/sot`` if set, else ``../shared/data/sot`` relative to the working dir."""
    env = os.environ.get("TRACKKIT_DATA")
    if env:
        return Path(env) / "sot"
    return Path("../shared/data/sot")


def default_mot_root() -> Path:
    """``$TRACKKIT_DATA/mot`` if set, else ``../shared/data/mot`` relative to the working dir."""
    env = os.environ.get("TRACKKIT_DATA")
    return (Path(env) if env else Path("../shared/data")) / "mot"


def mot_track_sequences(
    root: str | Path,
    *,
    min_visibility: float = 0.4,
    min_size: float = 12.0,
    min_frames: int = 4,
) -> list[SotSequence]:
    """Every ground-truth identity of the MOTChallenge sequences with images under ``root``.

    Each identity becomes one single-object sequence over its video's frames (the frames are
    shared, read lazily); frames where the identity is not annotated, is marked "ignore"
    (column 7 = 0), is not a pedestrian (MOT16/17 classes), is less than ``min_visibility``
    visible or smaller than ``min_size`` pixels are ``absent``. Identities with fewer than
    ``min_frames`` usable frames are dropped. ``meta["video"]`` names the video, so that
    training never pairs two identities of the same video as a negative (the other identity
    may be inside the crop). Sequences without images are skipped.
    """
    if min_frames < 1:
        raise ValueError(f"min_frames must be >= 1, got {min_frames}")
    out: list[SotSequence] = []
    ds = read_motchallenge(root)
    for video in ds:
        if video.frames is None or video.gt is None or len(video.gt) == 0:
            continue
        gt = video.gt
        b = gt.boxes_xywh
        usable = (
            (gt.confidences != 0)
            & (gt.classes == 1)
            & (gt.visibility >= min_visibility)
            & np.isfinite(b).all(axis=1)
            & (np.minimum(b[:, 2], b[:, 3]) >= min_size)
        )
        rows = gt.select(usable)
        for ident in np.unique(rows.ids):
            mine = rows.select(rows.ids == ident)
            frames = np.unique(mine.frames)
            if len(frames) < min_frames:
                continue
            boxes = np.full((video.num_frames, 4), np.nan)
            boxes[mine.frames] = mine.boxes_xywh
            absent = ~np.isfinite(boxes).all(axis=1)
            out.append(
                SotSequence(
                    f"{video.name}#{int(ident)}",
                    video.frames,
                    boxes,
                    absent,
                    meta={"video": video.name, "identity": int(ident), "source": "mot"},
                )
            )
    return out


def synthetic_training_sequences(
    count: int, *, length: int = 40, seed: int = 1000
) -> list[SotSequence]:
    """``count`` deterministic synthetic sequences with varied sizes and motions."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        w = float(rng.uniform(20, 70))
        h = float(w * rng.uniform(0.6, 1.6))
        h = min(h, 110.0)
        out.append(
            synthetic_sot_sequence(
                length=length,
                image_size=(320, 240),
                target_size=(w, h),
                seed=seed + i,
                scale_change=float(rng.uniform(0.0, 0.3)),
                distractors=int(rng.integers(0, 3)),
                occlusion=float(rng.uniform(0.0, 0.6)),
                target_speed=float(rng.uniform(1.0, 5.0)),
            )
        )
    return out


def training_sequences(
    data_root: str | Path | None,
    *,
    holdout: Sequence[str] = DEFAULT_HOLDOUT,
    synthetic: int = 24,
    mot_root: str | Path | None = None,
) -> tuple[list[SotSequence], list[str]]:
    """Real training sequences (everything in ``data_root`` except ``holdout``) and synthetic ones.

    Args:
        data_root: a folder in the simple layout (``<seq>/img``, ``groundtruth.txt``), or None
            for synthetic data only.
        holdout: sequence names excluded from training.
        synthetic: number of synthetic sequences to add.
        mot_root: optional MOTChallenge folder with images; every pedestrian identity becomes a
            training sequence (:func:`mot_track_sequences`). Videos named in ``holdout`` are
            skipped.

    Returns:
        ``(sequences, names_of_real_sequences_used)`` (MOT identities are named
        ``"<video>#<id>"``).
    """
    seqs: list[SotSequence] = []
    names: list[str] = []
    if data_root is not None:
        ds = read_simple_sot(data_root)
        held = set(holdout)
        for seq in ds:
            if seq.name in held:
                continue
            seqs.append(seq)
            names.append(seq.name)
    if mot_root is not None:
        held = set(holdout)
        for seq in mot_track_sequences(mot_root):
            if seq.meta["video"] in held:
                continue
            seqs.append(seq)
            names.append(seq.name)
    seqs += synthetic_training_sequences(synthetic)
    if not seqs:
        raise ValueError("no training sequences: give a data root or synthetic > 0")
    return seqs, names
