"""Model selection on validation data: the lost threshold of a trained instance detector.

Algorithm 1 of Wang et al. 2020 keeps the previous box when every score is below 0.1. A detector
trained briefly may be less confident than the paper's, so the threshold is chosen per checkpoint on
validation data (never on the held-out evaluation sequences) and stored in the checkpoint's
``meta["lost_threshold"]``, which :func:`trackkit.sot.tracker_config_for` applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

from trackkit.data import Sequence as SotSequence
from trackkit.data import read_simple_sot
from trackkit.eval import run_sot_benchmark
from trackkit.sot import InstanceDetector, InstanceTracker, tracker_config_for
from trackkit.train._data import synthetic_training_sequences

__all__ = [
    "SLT_VALIDATION_SEQUENCES",
    "VALIDATION_SEQUENCES",
    "choose_lost_threshold",
    "validation_sequences",
]

#: Training sequences of ``../shared/data/sot`` tracked for model selection (all their frames;
#: 40 of them were sampled for training), plus unseen synthetic sequences.
VALIDATION_SEQUENCES: tuple[str, ...] = (
    "dtb_Surfing06",
    "uav_person12_1",
    "uav_car10",
    "uav_bike1",
)

#: Validation sequences of sequence-level training (``trackkit train slt``,
#: ``benchmarks/slt.py``): :data:`VALIDATION_SEQUENCES` plus four more ``../shared/data/sot``
#: sequences taken out of SLT's training data (whole videos: no part of the same video stays in
#: training), so that a gain is measured on eight sequences rather than four. The base models'
#: MAML training sampled 40 frames of each; SLT never trains on them.
SLT_VALIDATION_SEQUENCES: tuple[str, ...] = (
    *VALIDATION_SEQUENCES,
    "uav_boat1",
    "uav_building4",
    "uav_person11",
    "uav_wakeboard5",
)


def validation_sequences(
    data_root: str | Path | None,
    *,
    names: Sequence[str] = VALIDATION_SEQUENCES,
    synthetic: int = 4,
    length: int = 60,
    seed: int = 5000,
) -> list[SotSequence]:
    """The validation set: ``names`` from ``data_root`` (if given) and ``synthetic`` unseen
    synthetic sequences (seeds ``seed ...``, disjoint from the training seeds 1000+)."""
    seqs: list[SotSequence] = []
    if data_root is not None:
        seqs += list(read_simple_sot(data_root, names=list(names)))
    if synthetic > 0:
        seqs += synthetic_training_sequences(synthetic, length=length, seed=seed)
    if not seqs:
        raise ValueError("no validation sequences: give a data root or synthetic > 0")
    return seqs


def choose_lost_threshold(
    detector: InstanceDetector,
    sequences: Sequence[SotSequence],
    *,
    thresholds: Sequence[float] = (0.1, 0.05, 0.025),
    tolerance: float = 0.002,
    progress: bool = False,
) -> tuple[float, dict[float, float]]:
    """Track ``sequences`` (no online update) once per threshold; return the largest threshold
    whose mean success AUC is within ``tolerance`` of the best, and every threshold's AUC."""
    if not thresholds:
        raise ValueError("thresholds is empty")
    if any(not 0.0 <= t <= 1.0 for t in thresholds):
        raise ValueError(f"thresholds must lie in [0, 1], got {list(thresholds)}")
    base = tracker_config_for(detector, online_update=False)
    aucs: dict[float, float] = {}
    for thr in thresholds:
        cfg = replace(base, postprocess=replace(base.postprocess, lost_threshold=float(thr)))
        result = run_sot_benchmark(
            partial(InstanceTracker, detector, config=cfg),
            sequences,
            name=f"lost threshold {thr}",
            progress=progress,
        )
        aucs[float(thr)] = float(result.mean.auc)
    best = max(aucs.values())
    chosen = max(t for t, v in aucs.items() if v >= best - tolerance)
    return chosen, aucs
