"""SORT-style tracker: batched Kalman motion, IoU cost, Hungarian matching, track store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ._block import _BlockKalman
from ._costs import iou_unchecked
from ._layout import StateLayout, check_positive_boxes, measurements_unchecked
from ._matching import hungarian_pairs_unchecked
from ._store import TrackState, TrackStore
from ._tracks import Tracks
from ._validate import check_embeddings, check_number, check_positive_int, check_vector


@dataclass(frozen=True)
class SortConfig:
    """Configuration of :class:`SortTracker`; defaults are SORT's (Bewley et al. 2016).

    Attributes:
        iou_threshold: minimum IoU between a predicted track box and a detection for a match
            (SORT: ``IOU_min = 0.3``).
        max_age: frames a track survives without a match (SORT: ``max_age = 1``).
        min_hits: matches after the birth frame before a track is reported (SORT:
            ``min_hits = 3``, counted like ``sort.py``'s ``hit_streak``).
        report_warmup: report every matched track during the first ``min_hits`` frames of a
            sequence, as ``sort.py`` does (``frame_count <= min_hits``).
        layout: Kalman state layout; SORT's 7-dim ``[x, y, s, r, vx, vy, vs]`` by default.
        backend: Hungarian backend, ``"lap"`` or ``"scipy"``.
    """

    iou_threshold: float = 0.3
    max_age: int = 1
    min_hits: int = 3
    report_warmup: bool = True
    layout: StateLayout = field(default_factory=StateLayout)
    backend: Literal["lap", "scipy"] = "lap"

    def __post_init__(self) -> None:
        check_number("iou_threshold", self.iou_threshold, low=0.0, high=1.0)
        check_positive_int("max_age", self.max_age, minimum=0)
        check_positive_int("min_hits", self.min_hits, minimum=0)
        if not isinstance(self.layout, StateLayout):
            raise ValueError(f"layout must be a StateLayout, got {type(self.layout).__name__}")
        if self.backend not in ("lap", "scipy"):
            raise ValueError(f"backend must be 'lap' or 'scipy', got {self.backend!r}")
        if not isinstance(self.report_warmup, bool):
            raise ValueError(f"report_warmup must be a bool, got {self.report_warmup!r}")


class SortTracker:
    """SORT (Bewley et al. 2016) composed from :mod:`assoc` parts.

    Each :meth:`update`: guard shrinking sizes and predict all tracks (the layout's Kalman
    filter in 2x2-block form, equal to :class:`BatchedKalmanFilter` and to one filterpy filter
    per track), cost ``1 - IoU(predicted, detections)``,
    :func:`hungarian_match` with threshold ``1 - iou_threshold``, Kalman update of matched
    tracks, one new track per unmatched detection, report, then remove tracks unmatched for
    more than ``max_age`` frames.

    Output rule (as ``sort.py``): a track is reported in a frame iff it was matched (or born)
    in that frame and is confirmed (``min_hits`` matches after birth), or the sequence is in its
    first ``min_hits`` frames and ``report_warmup`` is set. Reported boxes are the Kalman
    posterior, as in ``sort.py``. One difference: a confirmed track that misses frames and is
    matched again is reported at once (``sort.py`` waits for a new streak of ``min_hits``).

    Args:
        config: a :class:`SortConfig`; SORT's defaults if omitted.
    """

    def __init__(self, config: SortConfig | None = None) -> None:
        self.config = SortConfig() if config is None else config
        if not isinstance(self.config, SortConfig):
            raise ValueError(f"config must be a SortConfig, got {type(self.config).__name__}")
        self.reset()

    def reset(self) -> None:
        """Forget all tracks and restart ids at 1 (call between sequences)."""
        cfg = self.config
        # The store counts the birth detection as a hit, sort.py does not.
        self.store = TrackStore(min_hits=cfg.min_hits + 1, max_age=cfg.max_age, history=1)
        self.kalman = _BlockKalman(cfg.layout)
        self.frame_count = 0

    def update(
        self, boxes_xyxy: ArrayLike, scores: ArrayLike, embeddings: ArrayLike | None = None
    ) -> Tracks:
        """Consume one frame of detections and return the tracks to report for it.

        Args:
            boxes_xyxy: ``Array[M, 4]`` detections ``(x1, y1, x2, y2)`` with positive width and
                height; ``M = 0`` is fine.
            scores: ``Array[M]`` detection scores (reported with the matched tracks).
            embeddings: optional ``Array[M, D]``, stored with the tracks but unused by SORT.

        Returns:
            :class:`Tracks` reported this frame.
        """
        boxes = check_positive_boxes("boxes_xyxy", boxes_xyxy)
        score = check_vector("scores", scores, boxes.shape[0])
        emb = (
            None
            if embeddings is None
            else check_embeddings("embeddings", embeddings, rows=boxes.shape[0])
        )
        store = self.store
        store.check_embedding_consistency(emb)
        self.frame_count += 1
        kf = self.kalman
        z = measurements_unchecked(boxes, self.config.layout.measurement)

        kf.freeze_shrinking_sizes()
        kf.predict()
        predicted = kf.boxes_xyxy()
        if len(kf) and boxes.shape[0]:
            cost = 1.0 - iou_unchecked(predicted, boxes)
            rows, cols = hungarian_pairs_unchecked(
                cost, 1.0 - self.config.iou_threshold, self.config.backend
            )
        else:
            rows = cols = np.zeros(0, dtype=np.int64)
        kf.update(rows, z[cols])
        store.update_unchecked(rows, boxes[cols], score[cols], None if emb is None else emb[cols])
        free = np.ones(boxes.shape[0], dtype=bool)
        free[cols] = False
        unmatched = np.flatnonzero(free)
        kf.initiate(z[unmatched])
        store.spawn_unchecked(
            boxes[unmatched], score[unmatched], None if emb is None else emb[unmatched]
        )

        report = store.time_since_update == 0
        if not (self.config.report_warmup and self.frame_count <= self.config.min_hits):
            report &= store.states == TrackState.CONFIRMED
        tracks = Tracks._owned(store.ids[report], kf.boxes_xyxy()[report], store._scores[report, 0])
        keep = store.prune()
        if not store.removed_ids.size:
            return tracks
        kf.select(keep)
        return tracks
