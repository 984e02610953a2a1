"""The TRAS transfer set: training sequences, teachers run once through the cached pool, chunks.

Dunnhofer et al. 2020, Sec. 4 ("Transfer Set"): teachers are run over the training videos, their
trajectories are filtered by ``IoU(b_t, g_t) > beta`` and split into 32-frame chunks. Our data is
tiny (a few thousand frames) and no OpenCV teacher keeps ``IoU > 0.5`` over a whole 140-frame
sequence often, so the filter is applied per chunk (``distill.trajectory_keep_mask`` on each
chunk's frames) instead of per video: a chunk is kept with the teachers that stay above
``beta`` on every frame of it, and a chunk no teacher keeps is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from distill import TeacherPool, chunk_indices, trajectory_keep_mask
from trackkit.data import ImageFiles, mot_track_sequences, read_simple_sot
from trackkit.data import Sequence as SotSequence
from trackkit.sot.tras import DEFAULT_TEACHERS, make_teachers
from trackkit.train._data import DEFAULT_HOLDOUT
from trackkit.train._select import VALIDATION_SEQUENCES

__all__ = [
    "TRASChunk",
    "TeacherRuns",
    "build_tras_chunks",
    "run_teachers",
    "tras_training_sequences",
]


def _trim_to_visible(seq: SotSequence) -> SotSequence | None:
    present = np.flatnonzero(~seq.absent & np.isfinite(seq.boxes_xywh).all(axis=1))
    if present.size == 0:
        return None
    return seq.subsequence(slice(int(present[0]), int(present[-1]) + 1))


def tras_training_sequences(
    data_root: str | Path | None,
    *,
    mot_root: str | Path | None = None,
    exclude: Sequence[str] = DEFAULT_HOLDOUT + VALIDATION_SEQUENCES,
    min_frames: int = 33,
) -> list[SotSequence]:
    """Training sequences of TRAS: ``data_root`` minus ``exclude`` plus MOT pedestrian identities.

    Every sequence starts at its first visible frame and ends at its last (MOT identities are
    cut to their own span); sequences shorter than ``min_frames`` are dropped. The default
    ``exclude`` is the held-out evaluation set and the validation set of ``trackkit.train``, so
    those are never trained on. Frames must be image files (the teacher cache hashes them).
    """
    seqs: list[SotSequence] = []
    held = set(exclude)
    if data_root is not None:
        seqs += [s for s in read_simple_sot(data_root) if s.name not in held]
    if mot_root is not None:
        seqs += [s for s in mot_track_sequences(mot_root) if s.meta["video"] not in held]
    out = []
    for s in seqs:
        trimmed = _trim_to_visible(s)
        if trimmed is None or len(trimmed) < min_frames:
            continue
        if not isinstance(trimmed.frames, ImageFiles):
            raise TypeError(f"sequence {s.name!r}: frames must be image files, not arrays")
        out.append(trimmed)
    if not out:
        raise ValueError("no TRAS training sequence (check the data root)")
    return out


@dataclass(frozen=True)
class TeacherRuns:
    """Teachers' outputs over one sequence (from the ``distill.TeacherPool`` cache).

    Attributes:
        sequence: the sequence name.
        teachers: teacher short names, in column order.
        boxes_xywh: ``[N, T, 4]`` teacher boxes (row 0 = the initial box).
        success: ``[N, T]`` the teachers' ok flags.
        fps: ``[N]`` teacher speed when it was run.
    """

    sequence: str
    teachers: tuple[str, ...]
    boxes_xywh: NDArray[np.float64]
    success: NDArray[np.bool_]
    fps: NDArray[np.float64]


def run_teachers(
    sequences: Sequence[SotSequence],
    *,
    cache_dir: str | Path,
    teachers: Sequence[str] = DEFAULT_TEACHERS,
    processes: int = 1,
    progress: bool = True,
) -> dict[str, TeacherRuns]:
    """Run (or reload from ``cache_dir``) every teacher over every sequence, once.

    Goes through ``distill.TeacherPool`` so that OpenCV runs only for sequences not cached yet;
    training replays the cached boxes and never re-runs OpenCV.
    """
    from tqdm.auto import tqdm

    names = tuple(teachers)
    out: dict[str, TeacherRuns] = {}
    for seq in tqdm(list(sequences), desc="teachers", unit="seq", disable=not progress):
        if not isinstance(seq.frames, ImageFiles):
            raise TypeError(f"sequence {seq.name!r}: frames must be image files")
        pool = TeacherPool(make_teachers(names), cache_dir=cache_dir, processes=processes)
        runs = pool.run(list(seq.frames.paths), seq.boxes_xywh[0], sequence=seq.name)
        traj = list(runs.values())
        out[seq.name] = TeacherRuns(
            seq.name,
            names,
            np.stack([t.boxes_xywh for t in traj]),
            np.stack([t.success for t in traj]),
            np.array([t.fps for t in traj]),
        )
    return out


@dataclass(frozen=True)
class TRASChunk:
    """One training episode source: ``L`` consecutive frames of a sequence.

    Attributes:
        sequence: index into the training sequences.
        frames: ``[L]`` frame indices.
        gt_xywh: ``[L, 4]`` ground truth.
        teacher_xywh: ``[K, L, 4]`` boxes of the ``K`` teachers kept for this chunk.
        teachers: names of those teachers.
    """

    sequence: int
    frames: NDArray[np.int64]
    gt_xywh: NDArray[np.float64]
    teacher_xywh: NDArray[np.float64]
    teachers: tuple[str, ...]


def build_tras_chunks(
    sequences: Sequence[SotSequence],
    runs: dict[str, TeacherRuns],
    *,
    beta: float = 0.5,
    chunk_length: int = 32,
    chunks_per_frame: float = 0.25,
    seed: int = 0,
) -> list[TRASChunk]:
    """Random 32-frame chunks (``distill.chunk_indices``) filtered per chunk by ``beta``.

    Each sequence of ``T`` frames gets ``ceil(chunks_per_frame * T)`` chunks at uniformly drawn
    starts (Dunnhofer et al. draw five per video); chunks with an absent target are dropped;
    each remaining chunk keeps the teachers whose trajectory passes
    ``distill.trajectory_keep_mask`` on the chunk (IoU > beta on every frame), and is dropped
    when none does.
    """
    rng = np.random.default_rng(seed)
    out: list[TRASChunk] = []
    for i, seq in enumerate(sequences):
        r = runs[seq.name]
        count = int(np.ceil(chunks_per_frame * len(seq)))
        idx = chunk_indices(len(seq), chunk_length=chunk_length, num_chunks=count, rng=rng)
        for frames in idx:
            gt = seq.boxes_xywh[frames]
            if not np.isfinite(gt).all():
                continue
            keep = trajectory_keep_mask(r.boxes_xywh[:, frames], gt, beta=beta)
            if not keep.any():
                continue
            out.append(
                TRASChunk(
                    i,
                    frames.astype(np.int64),
                    gt,
                    r.boxes_xywh[keep][:, frames],
                    tuple(n for n, k in zip(r.teachers, keep) if k),
                )
            )
    return out
