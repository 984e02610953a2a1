"""RetinaTrack-style tracker: IoU + embedding similarity, greedy matching, track history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ._block import _BlockKalman
from ._costs import cosine_similarity, iou_unchecked
from ._layout import StateLayout, check_positive_boxes, measurements_unchecked
from ._matching import greedy_match
from ._store import TrackState, TrackStore, reduce_by_owner
from ._tracks import Tracks
from ._validate import (
    FloatArray,
    check_boxes_xyxy,
    check_embeddings,
    check_number,
    check_positive_int,
    check_vector,
)


@dataclass(frozen=True)
class RetinaTrackConfig:
    """Configuration of :class:`RetinaTrackTracker` (Lu et al. 2020, sec. 3.5).

    Attributes:
        iou_weight: weight of the truncated IoU in the fused similarity (paper: uniform, 0.5).
        embedding_weight: weight of the embedding cosine similarity (paper: uniform, 0.5).
        iou_truncation: IoU below this counts as 0 (paper: 0.4).
        max_cosine_distance: matches with cosine distance above this are disallowed (the
            paper's ``1 - epsilon``; it gives no value, 0.5 is this library's choice).
        min_iou: without embeddings the tracker matches on IoU alone and needs at least this
            IoU (SORT's 0.3; the paper's IoU-only baseline).
        max_age: frames a track stays alive unmatched for re-identification (paper: 40).
        history: H, observations kept per track; a detection may match any of them (the paper
            does not give H; 8 is this library's choice).
        iou_source: which stored boxes the IoU term uses. ``"history"`` (the paper's reading,
            default): each of the H entries brings its own box and embedding, so a detection
            may overlap any of a track's H stored boxes. ``"latest"`` (this library's option):
            every entry uses the IoU with its track's newest box, so the fused similarity of a
            track is ``iou_weight * IoU_trunc(newest box) + embedding_weight * max cos`` over
            the H embeddings (gated entries left out); without embeddings, IoU with the newest
            box. Old boxes of a track that moved on then no longer claim a detection near
            where the track used to be. With ``motion`` the predicted box stays one more entry
            either way.
        min_hits: hits to confirm (paper: no tentative state, so 1).
        motion: this library's addition, ``None`` for the paper's tracker: a constant-velocity
            Kalman filter with this layout predicts every track, and a detection's IoU with
            a track is the best over its stored boxes *and* its predicted box. Without
            embeddings the stored boxes of a track lost for many frames no longer overlap a
            moving person, so the paper's IoU-only fallback (40-frame memory) matches by stale
            boxes; the prediction restores SORT-like motion. Detections then need positive
            width and height.
        birth_threshold: this library's addition, ``None`` (default) for the paper's tracker:
            score hysteresis (ByteTrack's ``new_track_threshold``, Zhang et al. 2022). Every
            detection passed to :meth:`RetinaTrackTracker.update` may continue a track, but
            an unmatched one starts a new track only if it scores at least this; the caller's
            own score filter is then the *low* threshold. Matching stays one greedy stage over
            all detections. A number in [0, 1].
    """

    iou_weight: float = 0.5
    embedding_weight: float = 0.5
    iou_truncation: float = 0.4
    max_cosine_distance: float = 0.5
    min_iou: float = 0.3
    max_age: int = 40
    history: int = 8
    min_hits: int = 1
    motion: StateLayout | None = field(default_factory=StateLayout.botsort)
    iou_source: Literal["history", "latest"] = "history"
    birth_threshold: float | None = None

    def __post_init__(self) -> None:
        for name in ("iou_weight", "embedding_weight"):
            check_number(name, getattr(self, name), low=0.0)
        for name in ("iou_truncation", "min_iou"):
            check_number(name, getattr(self, name), low=0.0, high=1.0)
        check_number("max_cosine_distance", self.max_cosine_distance, low=0.0, high=2.0)
        check_positive_int("max_age", self.max_age, minimum=0)
        check_positive_int("history", self.history)
        check_positive_int("min_hits", self.min_hits)
        if self.iou_source not in ("history", "latest"):
            raise ValueError(f"iou_source must be 'history' or 'latest', got {self.iou_source!r}")
        if self.motion is not None and not isinstance(self.motion, StateLayout):
            raise ValueError(
                f"motion must be a StateLayout or None, got {type(self.motion).__name__}"
            )
        birth = self.birth_threshold
        if birth is not None and (
            isinstance(birth, bool)
            or not isinstance(birth, (int, float, np.integer, np.floating))
            or not 0.0 <= birth <= 1.0
        ):
            raise ValueError(f"birth_threshold must be None or a number in [0, 1], got {birth!r}")


class RetinaTrackTracker:
    """RetinaTrack's tracking logic (Lu et al. 2020, sec. 3.5) composed from :mod:`assoc` parts.

    Each :meth:`update` compares every detection with each of the H most recent observations
    of every live track (lost ones included; ``iou_source="latest"``: the IoU term always with
    the track's newest box) by the fused similarity
    ``iou_weight * IoU_trunc + embedding_weight * cos``, disallows pairs whose cosine distance
    exceeds ``max_cosine_distance``, takes the best entry per track, runs
    :func:`greedy_match` (best first), appends matched observations to their tracks, starts a
    track for every unmatched detection (with ``birth_threshold``: every unmatched detection
    scoring at least that) and removes tracks unseen for more than ``max_age``
    frames. Without embeddings it matches on plain IoU (at least ``min_iou``).

    Output rule: tracks matched or born this frame that are confirmed (with the default
    ``min_hits = 1``: all of them); boxes and scores are the matched detections'. Online: a
    track with ``min_hits > 1`` is reported from the frame of its ``min_hits``-th consecutive
    hit on, never retroactively; until then it is TENTATIVE (still matched, and removed like
    any track after ``max_age`` unmatched frames).

    Args:
        config: a :class:`RetinaTrackConfig`; the paper's defaults if omitted.
    """

    def __init__(self, config: RetinaTrackConfig | None = None) -> None:
        self.config = RetinaTrackConfig() if config is None else config
        if not isinstance(self.config, RetinaTrackConfig):
            raise ValueError(
                f"config must be a RetinaTrackConfig, got {type(self.config).__name__}"
            )
        self.reset()

    def reset(self) -> None:
        """Forget all tracks and restart ids at 1 (call between sequences)."""
        cfg = self.config
        self.store = TrackStore(min_hits=cfg.min_hits, max_age=cfg.max_age, history=cfg.history)
        self.kalman = None if cfg.motion is None else _BlockKalman(cfg.motion)

    def _similarity(self, boxes_xyxy: FloatArray, embeddings: FloatArray | None) -> FloatArray:
        """``Array[T, M]`` similarity of live tracks to detections, ``-inf`` where disallowed."""
        cfg, store = self.config, self.store
        if len(store) == 0 or boxes_xyxy.shape[0] == 0:
            return np.full((len(store), boxes_xyxy.shape[0]), -np.inf)
        entries = store.history()
        if cfg.iou_source == "latest":
            # Every entry takes its track's newest box (lag 0) for the IoU term.
            iou = iou_unchecked(store.latest_boxes_xyxy(), boxes_xyxy)[entries.owner]  # [K, M]
        else:
            iou = iou_unchecked(entries.boxes_xyxy, boxes_xyxy)  # [K, M]
        if self.kalman is not None and embeddings is None:
            # IoU only: the predicted box alone (stored boxes of a moving track are stale).
            predicted = iou_unchecked(self.kalman.boxes_xyxy(), boxes_xyxy)  # [T, M]
            return np.where(predicted >= cfg.min_iou, predicted, -np.inf)
        if self.kalman is not None:
            # The predicted box counts as one more entry of each track (lag -1).
            predicted = iou_unchecked(self.kalman.boxes_xyxy(), boxes_xyxy)  # [T, M]
            iou = np.concatenate([iou, predicted])
            owner = np.concatenate([entries.owner, np.arange(len(store))])
            if entries.embeddings is not None:
                newest = entries.embeddings[entries.lag == 0]  # one per track, in row order
                entries = entries._replace(embeddings=np.concatenate([entries.embeddings, newest]))
            entries = entries._replace(owner=owner)
        if embeddings is None or entries.embeddings is None:
            per_entry = np.where(iou >= cfg.min_iou, iou, -np.inf)
        else:
            cos = cosine_similarity(entries.embeddings, embeddings)  # [K, M]
            truncated = np.where(iou < cfg.iou_truncation, 0.0, iou)
            fused = cfg.iou_weight * truncated + cfg.embedding_weight * cos
            per_entry = np.where(1.0 - cos <= cfg.max_cosine_distance, fused, -np.inf)
        return reduce_by_owner(per_entry, entries.owner, len(store), reduce="max")

    def update(
        self, boxes_xyxy: ArrayLike, scores: ArrayLike, embeddings: ArrayLike | None = None
    ) -> Tracks:
        """Consume one frame of detections and return the tracks to report for it.

        Args:
            boxes_xyxy: ``Array[M, 4]`` detections ``(x1, y1, x2, y2)``; ``M = 0`` is fine.
            scores: ``Array[M]`` detection scores (filter by score before calling, as the paper
                does; with ``birth_threshold`` they also decide which unmatched detections
                start tracks).
            embeddings: ``Array[M, D]`` detection embeddings, or ``None`` for IoU-only
                tracking. Pass them on every frame or on none until :meth:`reset`.

        Returns:
            :class:`Tracks` reported this frame.
        """
        boxes = (
            check_boxes_xyxy("boxes_xyxy", boxes_xyxy)
            if self.kalman is None
            else check_positive_boxes("boxes_xyxy", boxes_xyxy)
        )
        score = check_vector("scores", scores, boxes.shape[0])
        emb = (
            None
            if embeddings is None
            else check_embeddings("embeddings", embeddings, rows=boxes.shape[0])
        )
        store = self.store
        store.check_embedding_consistency(emb)
        kf = self.kalman
        if kf is not None:
            kf.freeze_shrinking_sizes()
            kf.predict()
        matches, _, unmatched = greedy_match(self._similarity(boxes, emb), maximize=True)
        if self.config.birth_threshold is not None:
            unmatched = unmatched[score[unmatched] >= self.config.birth_threshold]
        rows, cols = matches[:, 0], matches[:, 1]
        if kf is not None:
            layout = kf.layout
            kf.update(rows, measurements_unchecked(boxes[cols], layout.measurement))
            kf.initiate(measurements_unchecked(boxes[unmatched], layout.measurement))
        store.update_unchecked(rows, boxes[cols], score[cols], None if emb is None else emb[cols])
        store.spawn_unchecked(
            boxes[unmatched], score[unmatched], None if emb is None else emb[unmatched]
        )
        report = (store.time_since_update == 0) & (store.states == TrackState.CONFIRMED)
        tracks = Tracks._owned(store.ids[report], store._boxes[report, 0], store._scores[report, 0])
        keep = store.prune()
        if kf is not None and not keep.all():
            kf.select(keep)
        return tracks
