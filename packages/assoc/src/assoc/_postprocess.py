"""Offline post-processing of finished tracks: gap interpolation, short-track removal and
Gaussian-process smoothing.

A tracker's per-frame output (:class:`assoc.Tracks`) stacked over a sequence is a
:class:`SequenceTracks`: the same columns plus a frame index per row. Interpolation and
short-track removal work on all tracks at once (sorting, ``np.unique``, ``np.repeat``);
smoothing does one linear solve per track. None loops over boxes in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._tracks import Tracks
from ._validate import (
    FloatArray,
    IntArray,
    _describe,
    as_real_array,
    check_boxes_xyxy,
    check_finite,
)


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
        n = self.frames.shape[0]
        if idx.dtype.kind == "b":
            if idx.shape != (n,):
                raise ValueError(
                    f"mask_or_index as a bool mask must have shape ({n},), got {idx.shape}"
                )
        elif idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise ValueError(
                f"mask_or_index must be a bool mask of shape ({n},) or a 1-D int index array, "
                f"got {_describe(mask_or_index)}"
            )
        elif idx.size and (idx.min() < -n or idx.max() >= n):
            raise ValueError(f"mask_or_index entries must lie in [-{n}, {n}), got {idx.tolist()}")
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


def _check_positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


#: Smallest length scale (frames) that :func:`gsi_length_scale` derives from ``tau0``.
MIN_LENGTH_SCALE = 0.5


def gsi_length_scale(tau0: float, length: Any) -> FloatArray:
    """The RBF length scale of a track of ``length`` rows: ``tau0 * ln(tau0**3 / length)``.

    Du et al. (2023, StrongSORT, Gaussian-smoothed interpolation) tie the length scale to
    the track's length so that short tracks are smoothed more and long ones less (a long
    track holds enough boxes to follow its real turns). Clipped to ``[0.5, tau0**2]``
    frames: at half a frame the kernel matrix's smallest eigenvalue is about 0.73, so with
    the small default ``noise`` of :func:`smooth_tracks` a box moves by less than 0.02 % of
    its distance from the track's line (the track is left as it is), and the upper bound
    keeps a short track of a small ``tau0`` from being flattened.

    Args:
        tau0: positive number, the scale parameter (Du et al. use 10).
        length: number of rows of each track (int or array of ints >= 1).

    Returns:
        ``Array[...]`` float64 length scales in frames, the shape of ``length``.

    Raises:
        ValueError: ``tau0`` is not a positive finite number, or a length below 1.
    """
    tau0 = _check_positive_float("tau0", tau0)
    n = as_real_array("length", length)
    if n.size and (not np.all(np.isfinite(n)) or np.any(n < 1)):
        raise ValueError(f"length must be >= 1 rows, got {n.min() if n.size else n!r}")
    scale = tau0 * np.log(tau0**3 / n)
    return np.clip(scale, MIN_LENGTH_SCALE, max(MIN_LENGTH_SCALE, tau0**2))


def smooth_tracks(
    tracks: SequenceTracks,
    *,
    tau0: float | None = None,
    length_scale: float | None = None,
    noise: float = 1e-4,
) -> SequenceTracks:
    """Smooth each track's boxes over time by Gaussian-process regression (offline).

    The Gaussian-smoothed interpolation (GSI) of Du et al. (2023, StrongSORT): each
    coordinate ``c`` of a track's boxes, in ``(center x, center y, width, height)``, is
    modelled as ``c(t) = m(t) + f(t) + e``, with ``f`` a Gaussian process with the RBF kernel
    ``k(t, t') = exp(-(t - t')**2 / (2 l**2))`` over the frame index ``t`` and ``e`` white
    noise of variance ``noise`` (relative to the kernel's unit variance), and replaced by
    the posterior mean at its own frames::

        c_smooth = m + K (K + noise I)^-1 (c - m) = c - noise (K + noise I)^-1 (c - m)

    (one linear solve per track for the four coordinates). The prior mean ``m`` is the
    track's least-squares straight line in time (Du et al. use a zero mean), so a box at
    rest or moving at constant velocity is kept exactly and only the wobble around the line
    is smoothed: the detector's jitter and anything faster than about ``l`` frames. The
    length scale ``l`` is ``length_scale``, or :func:`gsi_length_scale` of ``tau0`` and the
    track's number of rows (shorter tracks are smoothed more). Run it after
    :func:`interpolate_tracks` (Du et al. smooth the linearly interpolated tracks); gaps
    left unfilled are handled by the kernel over the real frame indices. Widths and heights
    are clipped at 0. Ids, frames, scores and row order are kept; tracks of one or two rows
    are a straight line and are returned as they are. Offline: a track is smoothed once it
    has ended.

    Args:
        tracks: the sequence's rows.
        tau0: the length-scale parameter of :func:`gsi_length_scale` (positive; Du et al.
            use 10); give either this or ``length_scale``.
        length_scale: a fixed length scale in frames for every track (positive).
        noise: observation-noise variance relative to the kernel's (positive; default
            1e-4: a near-interpolating GP, whose smoothing comes from the RBF kernel's
            fast-decaying spectrum, removing motion faster than about ``l`` frames;
            larger values smooth more).

    Returns:
        The input itself when it has no track of three or more rows; otherwise the same
        rows with smoothed boxes.

    Raises:
        TypeError: ``tracks`` is not a :class:`SequenceTracks`.
        ValueError: neither or both of ``tau0`` and ``length_scale``, or one of them or
            ``noise`` not a positive finite number.
    """
    tracks = _check_tracks(tracks)
    if (tau0 is None) == (length_scale is None):
        raise ValueError("give exactly one of tau0 and length_scale")
    if tau0 is not None:
        tau0 = _check_positive_float("tau0", tau0)
    if length_scale is not None:
        length_scale = _check_positive_float("length_scale", length_scale)
    noise = _check_positive_float("noise", noise)
    if len(tracks) < 3:
        return tracks
    order = np.lexsort((tracks.frames, tracks.ids))
    ids = tracks.ids[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    counts = np.diff(np.r_[starts, len(ids)])
    if counts.max() < 3:
        return tracks
    b = tracks.boxes_xyxy[order]
    xywh = np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], axis=1)
    times = tracks.frames[order].astype(np.float64)
    if length_scale is not None:
        scales = np.full(counts.shape, length_scale)
    else:
        assert tau0 is not None
        scales = gsi_length_scale(tau0, counts)
    out = xywh.copy()
    for start, n, scale in zip(starts, counts, scales, strict=True):
        if n < 3:
            continue
        rows = slice(int(start), int(start + n))
        t, y = times[rows], xywh[rows]
        tc = t - t.mean()
        slope = (tc @ (y - y.mean(axis=0))) / (tc @ tc)
        resid = y - y.mean(axis=0) - tc[:, None] * slope[None, :]
        gram = np.exp(-0.5 * ((t[:, None] - t[None, :]) / scale) ** 2)
        gram[np.diag_indices(int(n))] += noise
        out[rows] = y - noise * np.linalg.solve(gram, resid)
    out[:, 2:] = np.maximum(out[:, 2:], 0.0)
    boxes = np.empty_like(out)
    boxes[:, :2] = out[:, :2] - out[:, 2:] / 2
    boxes[:, 2:] = out[:, :2] + out[:, 2:] / 2
    smoothed = np.empty_like(boxes)
    smoothed[order] = boxes
    return SequenceTracks(tracks.frames, tracks.ids, smoothed, tracks.scores)


def postprocess_tracks(
    tracks: SequenceTracks,
    *,
    max_gap: int = 0,
    min_length: int = 1,
    smooth: float | None = None,
) -> SequenceTracks:
    """:func:`drop_short_tracks`, :func:`interpolate_tracks`, then :func:`smooth_tracks`.

    Short tracks are removed first, so a track's length counts the boxes the tracker
    reported, not the filled ones; the filled tracks are then smoothed (Gaussian-smoothed
    interpolation, Du et al. 2023) with ``smooth`` as ``tau0`` and the default noise. With
    the defaults (``max_gap = 0``, ``min_length = 1``, ``smooth`` ``None`` or 0: all off)
    the input is returned unchanged.

    Raises:
        ValueError: a bad option (``smooth`` must be ``None``, 0 or a positive number).
    """
    if smooth is not None and (
        isinstance(smooth, bool)
        or not isinstance(smooth, int | float | np.integer | np.floating)
        or not np.isfinite(smooth)
        or smooth < 0
    ):
        raise ValueError(f"smooth must be None, 0 (off) or a positive tau0, got {smooth!r}")
    kept = drop_short_tracks(tracks, min_length=min_length)
    filled = interpolate_tracks(kept, max_gap=max_gap)
    if smooth is None or smooth == 0:
        return filled
    return smooth_tracks(filled, tau0=float(smooth))
