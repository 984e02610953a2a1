"""The per-frame output of a tracker."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import FloatArray, IntArray, as_real_array, check_boxes_xyxy, check_finite


@dataclass(frozen=True)
class Tracks:
    """Tracks a tracker reports for one frame (arrays are read-only).

    Attributes:
        ids: ``Array[M]`` int64 track identities, unique, starting at 1, never reused until
            ``reset()``.
        boxes_xyxy: ``Array[M, 4]`` float64 boxes ``(x1, y1, x2, y2)``.
        scores: ``Array[M]`` float64 score of the detection each track matched this frame.
    """

    ids: IntArray
    boxes_xyxy: FloatArray
    scores: FloatArray

    def __post_init__(self) -> None:
        raw_ids = np.asarray(self.ids)
        if raw_ids.size and raw_ids.dtype.kind not in "iu":
            raise ValueError(f"ids must be integers, got dtype {raw_ids.dtype}")
        ids = np.array(raw_ids, dtype=np.int64).reshape(-1)
        boxes = check_boxes_xyxy("boxes_xyxy", self.boxes_xyxy).copy()
        scores = as_real_array("scores", self.scores).copy()
        if scores.ndim > 1:
            raise ValueError(f"scores must have shape (M,), got shape {scores.shape}")
        scores = scores.reshape(-1)
        check_finite("scores", scores)
        if not ids.shape[0] == boxes.shape[0] == scores.shape[0]:
            raise ValueError(
                f"ids, boxes_xyxy and scores must have equal length, got {ids.shape[0]}, "
                f"{boxes.shape[0]} and {scores.shape[0]}"
            )
        for name, array in (("ids", ids), ("boxes_xyxy", boxes), ("scores", scores)):
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def _owned(cls, ids: IntArray, boxes_xyxy: FloatArray, scores: FloatArray) -> Tracks:
        """Wrap fresh arrays of the right dtypes and shapes without copying (trackers' hot
        path; the caller gives up the arrays, which become read-only)."""
        tracks = object.__new__(cls)
        for name, array in (("ids", ids), ("boxes_xyxy", boxes_xyxy), ("scores", scores)):
            array.flags.writeable = False
            object.__setattr__(tracks, name, array)
        return tracks

    @classmethod
    def empty(cls) -> Tracks:
        """No tracks."""
        return cls(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))
