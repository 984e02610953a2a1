"""Benchmark runner: any single-object tracker over a dataset, any MOT tracker over detections.

Single-object protocol (OPE, one-pass evaluation): ``tracker.init(frame0, box0_xywh)`` with
the first ground-truth box, then ``tracker.update(frame)`` for every later frame, returning
``box_xywh`` (or ``(box_xywh, ok)`` like the ``distill`` teachers; when ``ok`` is False the
previous box is reported). Boxes are 0-based ``xywh``; frames ``HxWx3`` uint8 BGR.

Multi-object protocol: a :class:`SequenceMOTTracker` tracks a whole sequence,
``tracker.track(sequence) -> (MOTRows, seconds)`` (``trackkit.mot.DetectionTracker`` runs an
``assoc`` tracker on the sequence's detection file); :class:`MOTTracker` is the frame-level
``assoc`` contract (``reset()``, then per frame ``update(boxes_xyxy[N, 4], scores[N],
embeddings=None)`` returning ``ids``, ``boxes_xyxy`` and ``scores``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from trackkit.data import MOTRows, MOTSequence, Sequence, write_mot_rows
from trackkit.eval._mot_metrics import MOTScores, evaluate_mot
from trackkit.eval._results_io import write_otb_results
from trackkit.eval._sot_metrics import SOTScores, evaluate_sot, mean_sot_scores

__all__ = [
    "BatchSOTTracker",
    "MOTBenchmarkResult",
    "MOTTracker",
    "SOTBenchmarkResult",
    "SOTRun",
    "SOTTracker",
    "SequenceMOTTracker",
    "run_mot_benchmark",
    "run_sot_batch",
    "run_sot_benchmark",
    "run_sot_sequence",
]


@runtime_checkable
class SOTTracker(Protocol):
    """A single-object tracker: ``init(frame, box_xywh)`` then ``update(frame) -> box_xywh``."""

    def init(self, frame: NDArray[np.uint8], box_xywh: NDArray[np.float64]) -> Any:
        """Start on the first frame with the initial box (0-based ``xywh``)."""

    def update(self, frame: NDArray[np.uint8]) -> Any:
        """Track the next frame: ``box_xywh`` or ``(box_xywh, ok)``."""


@runtime_checkable
class MOTTracker(Protocol):
    """A multi-object tracker over detections (the ``assoc`` tracker contract)."""

    def reset(self) -> None:
        """Forget every track (a new sequence starts)."""

    def update(
        self, boxes_xyxy: NDArray[np.float64], scores: NDArray[np.float64], embeddings: Any = None
    ) -> Any:
        """One frame's detections in; the reported tracks (``ids``, ``boxes_xyxy``,
        ``scores``) out."""


@runtime_checkable
class SequenceMOTTracker(Protocol):
    """A multi-object tracker of whole sequences: ``track(sequence) -> (tracks, seconds)``.

    ``tracks`` are MOT rows (0-based frames, ``xywh``); ``seconds`` is the time the tracker
    itself spent (what the runner reports as speed).
    """

    def track(self, sequence: MOTSequence) -> tuple[MOTRows, float]:
        """Track a whole sequence: ``(tracks, seconds spent tracking)``."""


def _as_box(result: Any, previous: NDArray[np.float64]) -> NDArray[np.float64]:
    ok = True
    if isinstance(result, tuple) and len(result) == 2 and np.ndim(result[0]) == 1:
        result, ok = result
    box = np.asarray(result, dtype=np.float64).reshape(-1)
    if box.shape != (4,):
        raise ValueError(f"tracker.update must return a box_xywh of 4 numbers, got {box.shape}")
    return box if bool(ok) else previous


@dataclass(frozen=True)
class SOTRun:
    """One tracked sequence: boxes ``[T, 4]`` (frame 0 = the init box), seconds per frame."""

    sequence: str
    boxes_xywh: NDArray[np.float64]
    seconds: NDArray[np.float64]
    scores: SOTScores

    @property
    def fps(self) -> float:
        """Frames per second of ``update`` (initialisation excluded)."""
        total = float(self.seconds[1:].sum())
        return (len(self.seconds) - 1) / total if total > 0 else float("nan")


def run_sot_sequence(
    tracker: SOTTracker,
    sequence: Sequence,
    *,
    absent_policy: str = "exclude",
    progress: bool = False,
) -> SOTRun:
    """Track one sequence from its first ground-truth box and score it."""
    if not isinstance(tracker, SOTTracker):
        raise TypeError(f"tracker must have init(frame, box) and update(frame), got {tracker!r}")
    n = len(sequence)
    init_box = sequence.boxes_xywh[0]
    if not np.all(np.isfinite(init_box)):
        raise ValueError(f"sequence {sequence.name!r} has no box in frame 0")
    boxes = np.empty((n, 4))
    seconds = np.zeros(n)
    frame = sequence[0]
    start = time.perf_counter()
    tracker.init(frame, init_box.copy())
    seconds[0] = time.perf_counter() - start
    boxes[0] = init_box
    frames: Iterable[int] = range(1, n)
    if progress:
        frames = tqdm(frames, desc=sequence.name, leave=False, unit="frame")
    for t in frames:
        frame = sequence[t]
        start = time.perf_counter()
        out = tracker.update(frame)
        seconds[t] = time.perf_counter() - start
        boxes[t] = _as_box(out, boxes[t - 1])
    scores = evaluate_sot(boxes, sequence.boxes_xywh, sequence.absent, absent_policy=absent_policy)
    return SOTRun(sequence.name, boxes, seconds, scores)


def tre_segments(sequence: Sequence, segments: int = 5, *, min_length: int = 20) -> list[Sequence]:
    """Temporal robustness evaluation (TRE, OTB-2013): the sequence restarted at several frames.

    Start frames are spread evenly over the first ``len - min_length`` frames (frame 0 always
    included); a start whose target is absent or whose box is not finite and non-empty moves
    forward to the next frame with a usable box. Each segment runs to the end of the sequence
    and is named ``"<name>@<start>"`` (0-based start frame); duplicates are dropped. Track the
    segments with :func:`run_sot_benchmark` and average over all of them, as OTB does.
    A sequence shorter than ``min_length`` frames gives itself alone.
    """
    if segments < 1:
        raise ValueError(f"segments must be >= 1, got {segments}")
    if min_length < 1:
        raise ValueError(f"min_length must be >= 1, got {min_length}")
    n = len(sequence)
    b = sequence.boxes_xywh
    usable = ~sequence.absent & np.isfinite(b).all(axis=1) & (b[:, 2] > 0) & (b[:, 3] > 0)
    if n == 0 or not usable[0]:
        raise ValueError(f"sequence {sequence.name!r} has no usable box in frame 0")
    last_start = n - min_length
    if last_start <= 0:
        return [sequence]
    wanted = np.linspace(0, last_start, segments).round().astype(np.int64)
    candidates = np.flatnonzero(usable[: last_start + 1])
    starts: list[int] = []
    for w in wanted:
        later = candidates[candidates >= w]
        if later.size and int(later[0]) not in starts:
            starts.append(int(later[0]))
    out = []
    for t in starts:
        seg = sequence.subsequence(slice(t, n))
        meta = {**seg.meta, "tre_start": t}
        out.append(
            Sequence(f"{sequence.name}@{t}", seg.frames, seg.boxes_xywh, seg.absent, meta=meta)
        )
    return out


@runtime_checkable
class BatchSOTTracker(Protocol):
    """A single-object tracker of ``B`` sequences in lock step (``InstanceTracker``):
    ``init_batch(frames, boxes_xywh[B, 4])``, then ``update_batch(frames) -> boxes[B, 4]``."""

    def init_batch(self, frames: list[NDArray[np.uint8]], boxes_xywh: NDArray[np.float64]) -> Any:
        """Start ``B`` sequences on their first frames with initial boxes ``[B, 4]``."""

    def update_batch(self, frames: list[NDArray[np.uint8]]) -> Any:
        """Track the next frame of every sequence: boxes ``[B, 4]``."""


def run_sot_batch(
    tracker: BatchSOTTracker,
    sequences: list[Sequence],
    *,
    absent_policy: str = "exclude",
    progress: bool = False,
) -> list[SOTRun]:
    """Track several sequences at once, one ``update_batch`` call (one batched forward) per
    frame, and score each.

    A sequence that has ended keeps being fed its last frame until the longest one ends (its
    extra outputs are dropped): the sequences' computations are independent, so its boxes are
    those of tracking it alone. Each frame's time is shared equally by the sequences still
    running.
    """
    if not isinstance(tracker, BatchSOTTracker):
        raise TypeError(
            f"tracker must have init_batch(frames, boxes) and update_batch(frames) to track "
            f"several sequences at once, got {tracker!r}"
        )
    if not sequences:
        raise ValueError("sequences is empty")
    lengths = [len(s) for s in sequences]
    init = np.stack([s.boxes_xywh[0] for s in sequences]).astype(np.float64)
    for s, box in zip(sequences, init):
        if not np.all(np.isfinite(box)):
            raise ValueError(f"sequence {s.name!r} has no box in frame 0")
    n_max = max(lengths)
    boxes = [np.empty((n, 4)) for n in lengths]
    seconds = [np.zeros(n) for n in lengths]
    last_frames = [s[0] for s in sequences]
    start = time.perf_counter()
    tracker.init_batch(list(last_frames), init.copy())
    spent = time.perf_counter() - start
    for i, b in enumerate(boxes):
        b[0] = init[i]
        seconds[i][0] = spent / len(sequences)
    frames: Iterable[int] = range(1, n_max)
    if progress:
        frames = tqdm(frames, desc=f"{len(sequences)} sequences", leave=False, unit="frame")
    for t in frames:
        running = [i for i, n in enumerate(lengths) if t < n]
        for i in running:
            last_frames[i] = sequences[i][t]
        start = time.perf_counter()
        out = np.asarray(tracker.update_batch(list(last_frames)), dtype=np.float64)
        spent = time.perf_counter() - start
        if out.shape != (len(sequences), 4):
            raise ValueError(
                f"tracker.update_batch must return [{len(sequences)}, 4] boxes, got {out.shape}"
            )
        for i in running:
            boxes[i][t] = out[i]
            seconds[i][t] = spent / len(running)
    return [
        SOTRun(
            s.name,
            b,
            sec,
            evaluate_sot(b, s.boxes_xywh, s.absent, absent_policy=absent_policy),
        )
        for s, b, sec in zip(sequences, boxes, seconds)
    ]


@dataclass(frozen=True)
class SOTBenchmarkResult:
    """A tracker's runs over a dataset, their mean scores and overall speed."""

    tracker: str
    runs: dict[str, SOTRun]
    mean: SOTScores

    @property
    def fps(self) -> float:
        """Frames per second over all ``update`` calls of all sequences."""
        frames = sum(len(r.seconds) - 1 for r in self.runs.values())
        total = sum(float(r.seconds[1:].sum()) for r in self.runs.values())
        return frames / total if total > 0 else float("nan")


def run_sot_benchmark(
    make_tracker: Callable[[], Any],
    sequences: Iterable[Sequence],
    *,
    name: str,
    results_dir: str | Path | None = None,
    absent_policy: str = "exclude",
    progress: bool = True,
    batch: int = 1,
) -> SOTBenchmarkResult:
    """Run a fresh tracker (``make_tracker()``) on every sequence, with tqdm progress bars
    over the sequences and over each sequence's frames.

    With ``batch > 1`` one tracker (a :class:`BatchSOTTracker`) tracks ``batch`` sequences at
    once (:func:`run_sot_batch`); the sequences are grouped by length (longest first) to waste
    little work on sequences that have ended, and the results are those of tracking each
    sequence alone. With ``results_dir`` the boxes are written as OTB-style result files
    ``<results_dir>/<name>/<sequence>.txt`` in the sequence's file coordinate base.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    seqs = list(sequences)
    if not seqs:
        raise ValueError("sequences is empty")
    runs: dict[str, SOTRun] = {}
    if batch == 1:
        groups = [[s] for s in seqs]
    else:
        by_length = sorted(seqs, key=lambda s: -len(s))
        groups = [by_length[i : i + batch] for i in range(0, len(by_length), batch)]
    bar = tqdm(total=len(seqs), desc=name, unit="seq", disable=not progress)
    try:
        for group in groups:
            bar.set_postfix_str(", ".join(s.name for s in group)[:60])
            if batch == 1:
                done = [
                    run_sot_sequence(
                        make_tracker(), group[0], absent_policy=absent_policy, progress=progress
                    )
                ]
            else:
                done = run_sot_batch(
                    make_tracker(), group, absent_policy=absent_policy, progress=progress
                )
            for seq, run in zip(group, done):
                runs[seq.name] = run
                if results_dir is not None:
                    base = int(seq.meta.get("coordinate_base_of_file", 0))
                    write_otb_results(
                        Path(results_dir) / name / f"{seq.name}.txt",
                        run.boxes_xywh,
                        coordinate_base=base,
                    )
            bar.update(len(group))
    finally:
        bar.close()
    runs = {s.name: runs[s.name] for s in seqs}  # in the order given
    return SOTBenchmarkResult(name, runs, mean_sot_scores(r.scores for r in runs.values()))


@dataclass(frozen=True)
class MOTBenchmarkResult:
    """Per-sequence and combined MOT scores of one tracker, with association time."""

    tracker: str
    scores: dict[str, MOTScores]
    combined: MOTScores
    seconds: dict[str, float]
    frames: dict[str, int] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """Frames per second of the tracker's ``update`` calls over all sequences."""
        total = sum(self.seconds.values())
        return sum(self.frames.values()) / total if total > 0 else float("nan")


def run_mot_benchmark(
    tracker: SequenceMOTTracker,
    sequences: Iterable[MOTSequence],
    *,
    name: str,
    results_dir: str | Path | None = None,
    mot17_preprocessing: bool = False,
    repeats: int = 1,
    progress: bool = True,
) -> MOTBenchmarkResult:
    """Track every sequence with ``tracker.track(sequence)`` and score it against its gt.

    ``repeats > 1`` runs each sequence several times and keeps the median time (the outputs
    of the repeats must be identical, which also checks that the tracker starts afresh). With
    ``results_dir`` the tracks are written as MOTChallenge files
    ``<results_dir>/<name>/<sequence>.txt``.
    """
    if not isinstance(tracker, SequenceMOTTracker):
        raise TypeError(
            f"tracker must have track(sequence) -> (tracks, seconds), got {tracker!r} "
            "(wrap an assoc tracker in trackkit.mot.DetectionTracker)"
        )
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    scores: dict[str, MOTScores] = {}
    seconds: dict[str, float] = {}
    frames: dict[str, int] = {}
    for seq in tqdm(list(sequences), desc=name, unit="seq", disable=not progress):
        if seq.gt is None:
            raise ValueError(f"sequence {seq.name!r} has no gt/gt.txt to be scored against")
        times = []
        tracks = None
        for _ in range(repeats):
            out, spent = tracker.track(seq)
            if tracks is not None and not np.array_equal(out.boxes_xywh, tracks.boxes_xywh):
                raise ValueError(f"{name}: repeated runs on {seq.name} differ (reset() broken?)")
            tracks = out
            times.append(spent)
        assert tracks is not None  # repeats >= 1
        seconds[seq.name] = float(np.median(times))
        frames[seq.name] = seq.num_frames
        scores[seq.name] = evaluate_mot(
            seq.gt, tracks, seq.num_frames, mot17_preprocessing=mot17_preprocessing
        )
        if results_dir is not None:
            write_mot_rows(Path(results_dir) / name / f"{seq.name}.txt", tracks)
    if not scores:
        raise ValueError("sequences is empty")
    return MOTBenchmarkResult(name, scores, MOTScores.combine(scores.values()), seconds, frames)
