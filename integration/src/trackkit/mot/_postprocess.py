"""Offline post-processing of a sequence's tracks (``assoc``'s functions on :class:`MOTRows`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import assoc
from trackkit.data import MOTRows, MOTSequence


def check_postprocess_options(
    interpolate: Any = None, min_track_length: Any = None, smooth: Any = None
) -> tuple[int, int, float]:
    """``(max_gap, min_length, tau0)`` of the three post-processing options (``None``: off,
    i.e. 0, 1 and 0.0); ``ValueError`` naming the option for a negative gap, a length below
    1, a non-integer gap or length, or a negative or non-finite ``smooth``."""
    gap = 0 if interpolate is None else interpolate
    length = 1 if min_track_length is None else min_track_length
    tau0 = 0.0 if smooth is None else smooth
    if isinstance(gap, bool) or not isinstance(gap, int | np.integer) or gap < 0:
        raise ValueError(f"interpolate must be an integer >= 0 (max gap in frames), got {gap!r}")
    if isinstance(length, bool) or not isinstance(length, int | np.integer) or length < 1:
        raise ValueError(f"min_track_length must be an integer >= 1, got {length!r}")
    if (
        isinstance(tau0, bool)
        or not isinstance(tau0, int | float | np.integer | np.floating)
        or not np.isfinite(tau0)
        or tau0 < 0
    ):
        raise ValueError(f"smooth must be a number >= 0 (tau0; 0 = off), got {tau0!r}")
    return int(gap), int(length), float(tau0)


def _is_off(gap: int, length: int, tau0: float) -> bool:
    return gap == 0 and length == 1 and tau0 == 0


def postprocess_rows(
    rows: MOTRows,
    *,
    interpolate: int | None = None,
    min_track_length: int | None = None,
    smooth: float | None = None,
) -> MOTRows:
    """Drop short tracks, fill short gaps, then smooth, on one sequence's rows (offline).

    :func:`assoc.drop_short_tracks` (tracks with fewer than ``min_track_length`` rows),
    :func:`assoc.interpolate_tracks` (gaps of at most ``interpolate`` missing frames filled
    linearly; Zhang et al. 2022, ByteTrack; Cao et al. 2023, OC-SORT), then
    :func:`assoc.smooth_tracks` with ``tau0 = smooth`` (Gaussian-process smoothing of each
    track's boxes, Du et al. 2023, StrongSORT's GSI). All need the whole sequence, so the
    result is offline.

    Args:
        rows: tracker rows (0-based frames, ``xywh`` boxes, ids, scores), one box per
            ``(id, frame)``.
        interpolate: largest gap to fill, in missing frames; ``None`` or 0: off.
        min_track_length: fewest reported boxes a kept track has; ``None`` or 1: off.
        smooth: ``tau0`` of the smoothing's length scale (``assoc.gsi_length_scale``; Du et
            al. use 10); ``None`` or 0: off.

    Returns:
        ``rows`` itself when all are off or nothing changes; otherwise new rows (ordered
        by frame when gaps were filled; filled rows get linearly interpolated scores;
        classes and visibility are reset to 1, as in any tracker output).

    Raises:
        ValueError: a bad option, or rows ``assoc.SequenceTracks`` rejects (a duplicate
            ``(id, frame)``, NaN or inverted boxes), with a one-line message.
    """
    gap, length, tau0 = check_postprocess_options(interpolate, min_track_length, smooth)
    if _is_off(gap, length, tau0):
        return rows
    seq = assoc.SequenceTracks(rows.frames, rows.ids, rows.boxes_xyxy, rows.confidences)
    out = assoc.postprocess_tracks(seq, max_gap=gap, min_length=length, smooth=tau0 or None)
    if out is seq:
        return rows
    b = out.boxes_xyxy
    return MOTRows(
        out.frames, out.ids, np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], 1), out.scores
    )


class PostProcessedTracker:
    """A sequence tracker whose tracks are post-processed by :func:`postprocess_rows`.

    Wraps any :class:`trackkit.eval.SequenceMOTTracker` (``track(sequence)``) and, when the
    wrapped tracker has it, ``track_frames(frames, ...)`` (videos / image folders). Everything
    else is the wrapped tracker's. Built by ``make_tracker(name, interpolate=G,
    min_track_length=N, smooth=TAU0)`` and the ``--interpolate`` / ``--min-track-length`` /
    ``--smooth`` options of ``trackkit mot`` and ``trackkit eval mot``.
    """

    def __init__(
        self,
        tracker: Any,
        *,
        interpolate: int | None = None,
        min_track_length: int | None = None,
        smooth: float | None = None,
    ) -> None:
        if not callable(getattr(tracker, "track", None)):
            raise TypeError(f"tracker must have track(sequence), got {type(tracker).__name__}")
        self.max_gap, self.min_length, self.smooth = check_postprocess_options(
            interpolate, min_track_length, smooth
        )
        self.tracker = tracker

    def __repr__(self) -> str:
        return (
            f"PostProcessedTracker({self.tracker!r}, interpolate={self.max_gap}, "
            f"min_track_length={self.min_length}, smooth={self.smooth:g})"
        )

    def __getattr__(self, name: str) -> Any:
        if name == "tracker":  # not yet set (copy, pickle)
            raise AttributeError(name)
        return getattr(self.tracker, name)

    def _post(self, rows: MOTRows) -> MOTRows:
        return postprocess_rows(
            rows, interpolate=self.max_gap, min_track_length=self.min_length, smooth=self.smooth
        )

    def track(self, sequence: MOTSequence) -> tuple[MOTRows, float]:
        """The wrapped tracker's ``track``, post-processed (the seconds are its own)."""
        rows, seconds = self.tracker.track(sequence)
        return self._post(rows), seconds


class PostProcessedFrameTracker(PostProcessedTracker):
    """:class:`PostProcessedTracker` of a detecting tracker (one with ``track_frames``).

    ``on_frame`` callbacks (the CLI's annotated video) still see the online, per-frame
    tracks; only the returned rows are post-processed.
    """

    def track_frames(self, frames: Any, **options: Any) -> tuple[MOTRows, list[int]]:
        """The wrapped tracker's ``track_frames``, post-processed."""
        rows, bad = self.tracker.track_frames(frames, **options)
        return self._post(rows), bad


def postprocessed(
    tracker: Any,
    *,
    interpolate: int | None = None,
    min_track_length: int | None = None,
    smooth: float | None = None,
) -> Any:
    """``tracker`` itself when all options are off, else the fitting wrapper."""
    gap, length, tau0 = check_postprocess_options(interpolate, min_track_length, smooth)
    if _is_off(gap, length, tau0):
        return tracker
    cls: Callable[..., Any] = (
        PostProcessedFrameTracker
        if callable(getattr(tracker, "track_frames", None))
        else PostProcessedTracker
    )
    return cls(tracker, interpolate=gap, min_track_length=length, smooth=tau0)
