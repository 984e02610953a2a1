"""Offline post-processing of finished tracks: gap interpolation and short-track removal.

A tracker's per-frame output (:class:`assoc.Tracks`) stacked over a sequence is a
:class:`SequenceTracks`: the same columns plus a frame index per row. Both functions work on
whole tracks at once (sorting, ``np.unique``, ``np.repeat``), never looping over boxes in
Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._tracks import Tracks
from ._validate import FloatArray, IntArray, as_real_array, check_boxes_xyxy, check_finite


def _check_int_column(name: str, value: Any) -> IntArray:
    array = as_real_array(name, value).reshape(-1) if np.ndim(value) else None
    if array is None:
        raise ValueError(f"{name} must be a 1-D integer array, got a scalar {value!r}")
    check_finite(name, array)
    if np.any(array != np.round(array)):
        raise ValueError(f"{name} must hold integers, got {array[array != np.round(array)][0]}")
    return np.asarray(value).reshape(-1).astype(np.int64)


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class SequenceTracks:
    """A tracker's output over a whole sequence: one row per reported box (arrays read-only).

    The per-frame :class:`Tracks` of a tracker stacked over frames (:meth:`from_frames`), the
    layout of a MOTChallenge result file with boxes in ``xyxy``.

    Attributes:
        frames: ``Array[N]`` int64 frame index of each row (any integer origin).
        ids: ``Array[N]`` int64 track identity of each row.
        boxes_xyxy: ``Array[N, 4]`` float64 finite boxes ``(x1, y1, x2, y2)``.
        scores: ``Array[N]`` float64 finite scores.

    Raises:
        ValueError: columns of different lengths, non-integer frames or ids, NaN / infinite /
            inverted boxes, NaN scores, or a duplicate ``(id, frame)`` pair (a track reports
            one box per frame); each message names the column.
    """

    frames: IntArray
    ids: IntArray
    boxes_xyxy: FloatArray
    scores: FloatArray

    def __post_init__(self) -> None:
        frames = _check_int_column("frames", self.frames)
        ids = _check_int_column("ids", self.ids)
        boxes = check_boxes_xyxy("boxes_xyxy", self.boxes_xyxy)
        scores = as_real_array("scores", self.scores)
        if scores.ndim != 1:
            raise ValueError(f"scores must have shape (N,), got shape {scores.shape}")
        check_finite("scores", scores)
        if not frames.shape[0] == ids.shape[0] == boxes.shape[0] == scores.shape[0]:
            raise ValueError(
                "frames, ids, boxes_xyxy and scores must have equal length, got "
                f"{frames.shape[0]}, {ids.shape[0]}, {boxes.shape[0]} and {scores.shape[0]}"
            )
        order = np.lexsort((frames, ids))
        same = (np.diff(ids[order]) == 0) & (np.diff(frames[order]) == 0)
        if np.any(same):
            row = int(order[int(np.flatnonzero(same)[0])])
            raise ValueError(
                f"duplicate (id, frame) row: id {int(ids[row])} appears more than once in "
                f"frame {int(frames[row])} (a track reports one box per frame)"
            )
        columns = {"frames": frames, "ids": ids, "boxes_xyxy": boxes, "scores": scores}
        for name, array in columns.items():
            array = np.array(array, copy=True)  # never freeze the caller's array
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @classmethod
    def empty(cls) -> SequenceTracks:
        """No rows."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))

    @classmethod
    def from_frames(cls, outputs: Sequence[Tracks], *, start: int = 0) -> SequenceTracks:
        """Stack a tracker's per-frame outputs; ``outputs[i]`` is frame ``start + i``."""
        outputs = list(outputs)
        for i, out in enumerate(outputs):
            if not isinstance(out, Tracks):
                raise TypeError(f"outputs[{i}] must be assoc.Tracks, got {type(out).__name__}")
        if not outputs:
            return cls.empty()
        sizes = np.array([len(o) for o in outputs], dtype=np.int64)
        frames = np.repeat(np.arange(start, start + len(outputs), dtype=np.int64), sizes)
        return cls(
            frames,
            np.concatenate([o.ids for o in outputs]),
            np.concatenate([o.boxes_xyxy for o in outputs]).reshape(-1, 4),
            np.concatenate([o.scores for o in outputs]),
        )

    def select(self, mask_or_index: Any) -> SequenceTracks:
        """Rows picked by a boolean mask or an index array (order kept)."""
        idx = np.asarray(mask_or_index)
        if idx.size == 0 and idx.dtype.kind not in "bi":
            idx = idx.astype(np.int64)  # an empty list picks no rows
        return SequenceTracks(
            self.frames[idx], self.ids[idx], self.boxes_xyxy[idx], self.scores[idx]
        )


def _check_tracks(tracks: Any) -> SequenceTracks:
    if not isinstance(tracks, SequenceTracks):
        raise TypeError(f"tracks must be assoc.SequenceTracks, got {type(tracks).__name__}")
    return tracks


def drop_short_tracks(tracks: SequenceTracks, *, min_length: int) -> SequenceTracks:
    """Remove every track with fewer than ``min_length`` rows (reported boxes).

    An offline filter on finished tracks: a detector's false positives rarely persist, so
    short fragments are mostly false tracks. Zhang et al. (2022, ByteTrack) use the same
    length test to decide which tracklets their offline interpolation touches; here short
    tracks are removed from the output. Counted on reported boxes only (run it before
    :func:`interpolate_tracks` so that filled frames do not count). Rows keep their order.
    Offline: a track's length is known only once it has ended.

    Args:
        tracks: the sequence's rows.
        min_length: integer >= 1; ``1`` keeps everything (the input is returned unchanged).

    Raises:
        TypeError: ``tracks`` is not a :class:`SequenceTracks`.
        ValueError: ``min_length`` is not an integer >= 1.
    """
    tracks = _check_tracks(tracks)
    min_length = _check_count("min_length", min_length, 1)
    if min_length == 1 or len(tracks) == 0:
        return tracks
    _, inverse, counts = np.unique(tracks.ids, return_inverse=True, return_counts=True)
    keep = counts[inverse.reshape(-1)] >= min_length
    return tracks if keep.all() else tracks.select(keep)


def interpolate_tracks(tracks: SequenceTracks, *, max_gap: int) -> SequenceTracks:
    """Fill each track's missing frames linearly when at most ``max_gap`` frames are missing.

    For two consecutive rows of a track at frames ``f1 < f2`` with ``1 <= f2 - f1 - 1 <=
    max_gap`` missing frames, every frame ``f1 < f < f2`` gets the box (and the score)
    ``a + (f - f1) / (f2 - f1) * (b - a)`` between the two rows ``a``, ``b`` (linear in
    ``xyxy``, hence also in ``xywh``). Nothing is extrapolated before a track's first or after
    its last row. This is the linear tracklet interpolation Zhang et al. (2022, ByteTrack)
    apply to finished tracks, which Cao et al. (2023, OC-SORT) also use on MOT17/MOT20:
    people hidden for a few frames are reported in between. It needs the row after the gap,
    so it is offline: a filled frame is known only when its track reappears, up to
    ``max_gap`` frames later, and in practice at the end of the sequence.

    Args:
        tracks: the sequence's rows (each ``(id, frame)`` at most once).
        max_gap: integer >= 0, the most missing frames a filled gap may have; ``0`` changes
            nothing (the input is returned unchanged).

    Returns:
        The input itself when no gap is filled (``max_gap = 0`` or no gap short enough);
        otherwise the rows ordered by frame (a stable sort: within a frame the input's rows
        keep their order and the filled rows follow them by increasing id).

    Raises:
        TypeError: ``tracks`` is not a :class:`SequenceTracks`.
        ValueError: ``max_gap`` is not an integer >= 0.
    """
    tracks = _check_tracks(tracks)
    max_gap = _check_count("max_gap", max_gap, 0)
    if max_gap == 0 or len(tracks) < 2:
        return tracks
    order = np.lexsort((tracks.frames, tracks.ids))
    ids, frames = tracks.ids[order], tracks.frames[order]
    missing = np.diff(frames) - 1
    fill = (ids[1:] == ids[:-1]) & (missing >= 1) & (missing <= max_gap)
    if not fill.any():
        return tracks
    left = order[:-1][fill]  # row before each filled gap
    right = order[1:][fill]  # row after it
    counts = missing[fill]
    first = np.cumsum(counts) - counts  # offset of each gap's first new row
    step = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(first, counts) + 1
    lo, hi = np.repeat(left, counts), np.repeat(right, counts)
    span = (tracks.frames[hi] - tracks.frames[lo]).astype(np.float64)
    alpha = step / span
    new_boxes = tracks.boxes_xyxy[lo] + alpha[:, None] * (
        tracks.boxes_xyxy[hi] - tracks.boxes_xyxy[lo]
    )
    new_scores = tracks.scores[lo] + alpha * (tracks.scores[hi] - tracks.scores[lo])
    new_frames = tracks.frames[lo] + step
    new_ids = tracks.ids[lo]
    # new rows ordered by (frame, id) so that each frame's filled rows follow its own rows
    new_order = np.lexsort((new_ids, new_frames))
    frames_all = np.concatenate([tracks.frames, new_frames[new_order]])
    out = np.argsort(frames_all, kind="stable")
    return SequenceTracks(
        frames_all[out],
        np.concatenate([tracks.ids, new_ids[new_order]])[out],
        np.concatenate([tracks.boxes_xyxy, new_boxes[new_order]])[out],
        np.concatenate([tracks.scores, new_scores[new_order]])[out],
    )


def postprocess_tracks(
    tracks: SequenceTracks, *, max_gap: int = 0, min_length: int = 1
) -> SequenceTracks:
    """:func:`drop_short_tracks` then :func:`interpolate_tracks` (defaults: both off).

    Short tracks are removed first, so a track's length counts the boxes the tracker
    reported, not the filled ones. With ``max_gap = 0`` and ``min_length = 1`` the input is
    returned unchanged.
    """
    kept = drop_short_tracks(tracks, min_length=min_length)
    return interpolate_tracks(kept, max_gap=max_gap)
