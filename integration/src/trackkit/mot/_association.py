"""Association runs on detection files: an ``assoc``-style tracker fed one frame at a time."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from trackkit.data import MOTRows, MOTSequence
from trackkit.eval import MOTTracker, mot_update_columns

__all__ = ["DetectionTracker", "associate"]


def associate(
    tracker: MOTTracker,
    detections: MOTRows,
    num_frames: int,
    *,
    min_score: float = 0.0,
    embeddings: ArrayLike | None = None,
) -> tuple[MOTRows, float]:
    """Feed detections frame by frame; returns the tracker's rows and seconds spent in it.

    Args:
        tracker: a :class:`trackkit.eval.MOTTracker` (``reset()``, ``update(boxes_xyxy,
            scores, embeddings)``); ``reset()`` is called first.
        detections: detection rows (0-based frames and boxes).
        num_frames: sequence length; frames without detections are fed as empty arrays.
        min_score: detections scoring below this are dropped (``-inf`` keeps all; NaN raises
            ``ValueError``, since it would silently drop every detection).
        embeddings: optional ``[N, D]`` per detection row.

    A kept detection with zero or negative width or height is a ``ValueError`` naming its frame
    (the Kalman filters cannot start a track on it).

    Returns:
        ``(tracks, seconds)``: the reported tracks as MOT rows (0-based frames, ``xywh``) and
        the seconds spent in ``tracker.update`` alone.
    """
    if not isinstance(tracker, MOTTracker):
        raise TypeError(f"tracker must have reset() and update(boxes, scores), got {tracker!r}")
    if not isinstance(min_score, (int, float, np.floating, np.integer)) or np.isnan(min_score):
        raise ValueError(f"min_score must be a number, got {min_score!r}")
    emb = None if embeddings is None else np.asarray(embeddings, dtype=np.float64)
    if emb is not None and emb.shape[0] != len(detections):
        raise ValueError(f"embeddings has {emb.shape[0]} rows for {len(detections)} detections")
    keep = detections.confidences >= min_score
    det = detections.select(keep)
    empty = np.flatnonzero((det.boxes_xywh[:, 2] <= 0) | (det.boxes_xywh[:, 3] <= 0))
    if empty.size:
        i = int(empty[0])
        raise ValueError(
            f"{empty.size} detection(s) with zero or negative width or height, the first in "
            f"frame {int(det.frames[i]) + 1} (1-based): x,y,w,h {det.boxes_xywh[i].tolist()}; "
            "the association trackers need boxes of positive size (drop those rows)"
        )
    emb = None if emb is None else emb[keep]
    per_frame = det.split_by_frame(num_frames)
    boxes_xyxy = det.boxes_xyxy
    tracker.reset()
    parts: list[MOTRows] = []
    spent = 0.0
    for t in range(num_frames):
        idx = per_frame[t]
        start = time.perf_counter()
        out = tracker.update(
            boxes_xyxy[idx], det.confidences[idx], None if emb is None else emb[idx]
        )
        spent += time.perf_counter() - start
        ids, b, track_scores = mot_update_columns(out)  # assoc.Tracks or (ids, boxes, scores)
        if ids.size:
            xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
            parts.append(MOTRows(np.full(ids.size, t), ids, xywh, track_scores))
    return MOTRows.concatenate(parts), spent


class DetectionTracker:
    """A frame-level multi-object tracker run on each sequence's detection file (``det.txt``).

    Implements :class:`trackkit.eval.SequenceMOTTracker`: ``track(sequence)`` associates the
    sequence's public detections with :func:`associate`.

    Args:
        tracker: an ``assoc`` tracker (or anything with ``reset()``/``update(boxes_xyxy,
            scores, embeddings)``).
        min_score: detections scoring below this are dropped.
    """

    def __init__(self, tracker: Any, *, min_score: float = 0.0) -> None:
        if not isinstance(tracker, MOTTracker):
            raise TypeError(f"tracker must have reset() and update(boxes, scores), got {tracker!r}")
        if not np.isfinite(min_score):
            raise ValueError(f"min_score must be a finite number, got {min_score}")
        self.tracker = tracker
        self.min_score = float(min_score)

    def __repr__(self) -> str:
        return f"DetectionTracker({self.tracker!r}, min_score={self.min_score})"

    def track(self, sequence: MOTSequence) -> tuple[MOTRows, float]:
        """Associate ``sequence.det``; returns the tracks and the seconds spent in ``update``."""
        if sequence.det is None:
            raise ValueError(f"sequence {sequence.name!r} has no det/det.txt with detections")
        try:
            return associate(
                self.tracker, sequence.det, sequence.num_frames, min_score=self.min_score
            )
        except ValueError as err:
            raise ValueError(f"{sequence.name} det/det.txt: {err}") from None
