"""Training sequences for the instance detectors: real data minus held-out ones, plus synthetic."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trackkit.data import Sequence as SotSequence
from trackkit.data import mot_track_sequences, read_simple_sot, synthetic_sot_sequence

__all__ = [
    "DEFAULT_HOLDOUT",
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
