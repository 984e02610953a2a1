"""Track store: identities, lifecycle and the H most recent observations of every live track."""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._costs import cosine_distance, iou_matrix
from ._validate import (
    FloatArray,
    IntArray,
    as_real_array,
    check_boxes_xyxy,
    check_embeddings,
    check_positive_int,
    check_vector,
)


class TrackState(IntEnum):
    """Lifecycle state of a live track (removed tracks leave the store)."""

    TENTATIVE = 0
    CONFIRMED = 1
    LOST = 2


_CONFIRMED = int(TrackState.CONFIRMED)
_LOST = int(TrackState.LOST)


class History(NamedTuple):
    """The stored observations of all live tracks, flattened to ``K`` entries.

    Attributes:
        boxes_xyxy: ``Array[K, 4]``.
        scores: ``Array[K]``.
        embeddings: ``Array[K, D]`` or ``None`` if the store holds no embeddings.
        owner: ``Array[K]`` int64 row (index into the store's live tracks) of each entry.
        lag: ``Array[K]`` int64, 0 for a track's newest entry, 1 for the one before, ...
    """

    boxes_xyxy: FloatArray
    scores: FloatArray
    embeddings: FloatArray | None
    owner: IntArray
    lag: IntArray


def reduce_by_owner(
    values: ArrayLike,
    owner: ArrayLike,
    num_rows: int,
    *,
    reduce: Literal["max", "min"] = "max",
) -> FloatArray:
    """Reduce ``Array[K, M]`` per-entry values to ``Array[num_rows, M]`` per-track values.

    Used to match detections against any of a track's H stored observations: the similarity of
    a track is the best similarity of its entries. Rows without entries get ``-inf`` (``max``)
    or ``+inf`` (``min``), which the matchers treat as forbidden.

    Args:
        values: ``Array[K, M]`` one row per history entry.
        owner: ``Array[K]`` row index in ``[0, num_rows)`` owning each entry.
        num_rows: number of tracks.
        reduce: ``"max"`` for similarities, ``"min"`` for costs.
    """
    if reduce not in ("max", "min"):
        raise ValueError(f"reduce must be 'max' or 'min', got {reduce!r}")
    matrix = as_real_array("values", values)
    rows = np.asarray(owner)
    if matrix.ndim != 2:
        raise ValueError(f"values must have shape (K, M), got shape {matrix.shape}")
    if np.isnan(matrix).any():
        raise ValueError("values must not hold NaN")
    if rows.shape != (matrix.shape[0],) or (rows.size and rows.dtype.kind not in "iu"):
        raise ValueError(f"owner must be an int array of shape ({matrix.shape[0]},), got {rows!r}")
    num_rows = check_positive_int("num_rows", num_rows, minimum=0)
    if rows.size and (rows.min() < 0 or rows.max() >= num_rows):
        raise ValueError(f"owner entries must lie in [0, {num_rows}), got {rows.tolist()}")
    fill = -np.inf if reduce == "max" else np.inf
    out = np.full((num_rows, matrix.shape[1]), fill)
    ufunc = np.maximum if reduce == "max" else np.minimum
    ufunc.at(out, rows.astype(np.int64), matrix)
    return out


class TrackStore:
    """Live tracks with identities, lifecycle and their H most recent observations.

    Lifecycle per frame (:meth:`update`): a matched track gets a hit; a track with
    ``min_hits`` consecutive hits (its birth detection counts) becomes CONFIRMED; a confirmed
    track that misses a frame becomes LOST and is CONFIRMED again when matched; any track not
    matched for more than ``max_age`` consecutive frames is removed by :meth:`prune`
    (RetinaTrack, Lu et al. 2020, sec. 3.5: "dead if it has not been reidentified in over 40
    frames"). A TENTATIVE track that misses stays TENTATIVE with its streak reset.

    Rows are live tracks in birth order; :meth:`prune` returns the keep mask so parallel
    per-track arrays (a :class:`assoc.BatchedKalmanFilter`) can be pruned alike.

    Args:
        min_hits: consecutive hits, birth included, to confirm a track (1: at birth).
        max_age: frames a track may go unmatched before it is removed (RetinaTrack: 40).
        history: H, the number of most recent (box, embedding, score) entries kept per track.
    """

    def __init__(self, *, min_hits: int = 1, max_age: int = 40, history: int = 8) -> None:
        self.min_hits = check_positive_int("min_hits", min_hits)
        self.max_age = check_positive_int("max_age", max_age, minimum=0)
        self.history_size = check_positive_int("history", history)
        self.reset()

    def reset(self) -> None:
        """Forget every track; identities restart at 1."""
        h = self.history_size
        self._next_id = 1
        self.ids: IntArray = np.zeros(0, dtype=np.int64)
        self.states: NDArray[np.int8] = np.zeros(0, dtype=np.int8)
        self.hits: IntArray = np.zeros(0, dtype=np.int64)
        self.hit_streak: IntArray = np.zeros(0, dtype=np.int64)
        self.age: IntArray = np.zeros(0, dtype=np.int64)
        self.time_since_update: IntArray = np.zeros(0, dtype=np.int64)
        self._count: IntArray = np.zeros(0, dtype=np.int64)
        self._boxes: FloatArray = np.zeros((0, h, 4))
        self._scores: FloatArray = np.zeros((0, h))
        self._embeddings: FloatArray | None = None
        self.removed_ids: IntArray = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def has_embeddings(self) -> bool:
        """Whether the store keeps embeddings (fixed by the first tracks stored)."""
        return self._embeddings is not None

    def check_embedding_consistency(self, embeddings: FloatArray | None) -> None:
        """Raise ValueError unless ``embeddings`` suit the live tracks.

        While tracks live, embeddings must be given iff the tracks were built with them, with
        the same dimension ``D``.
        """
        if len(self) == 0:
            return
        if embeddings is None:
            if self._embeddings is not None:
                raise ValueError(
                    "embeddings must be given on every frame or on none (until reset): got None "
                    "but the live tracks keep embeddings"
                )
            return
        if self._embeddings is None:
            raise ValueError(
                "embeddings must be given on every frame or on none (until reset): got an array "
                "but the live tracks were built without embeddings"
            )
        if embeddings.shape[1] != self._embeddings.shape[2]:
            raise ValueError(
                f"embeddings must have dimension {self._embeddings.shape[2]} like the live "
                f"tracks', got shape {embeddings.shape}"
            )

    def _check_observations(
        self, count: int, boxes_xyxy: Any, scores: Any, embeddings: Any
    ) -> tuple[FloatArray, FloatArray, FloatArray | None]:
        boxes = check_boxes_xyxy("boxes_xyxy", boxes_xyxy)
        if boxes.shape[0] != count:
            raise ValueError(f"boxes_xyxy must have {count} rows, got shape {boxes.shape}")
        score = check_vector("scores", scores, count)
        emb = None if embeddings is None else check_embeddings("embeddings", embeddings, rows=count)
        self.check_embedding_consistency(emb)
        return boxes, score, emb

    def spawn(
        self, boxes_xyxy: ArrayLike, scores: ArrayLike, embeddings: ArrayLike | None = None
    ) -> IntArray:
        """Start one new track per observation and return their new ids (``Array[K]`` int64).

        Args:
            boxes_xyxy: ``Array[K, 4]`` boxes.
            scores: ``Array[K]`` detection scores.
            embeddings: ``Array[K, D]`` or ``None``; the first spawn decides whether the store
                keeps embeddings.
        """
        count = int(np.shape(boxes_xyxy)[0]) if np.ndim(boxes_xyxy) >= 1 else -1
        boxes, score, emb = self._check_observations(count, boxes_xyxy, scores, embeddings)
        return self.spawn_unchecked(boxes, score, emb)

    def spawn_unchecked(
        self, boxes: FloatArray, score: FloatArray, emb: FloatArray | None
    ) -> IntArray:
        """:meth:`spawn` on validated, consistent observations (trackers' hot path)."""
        k, h = boxes.shape[0], self.history_size
        if k == 0 and len(self):
            return np.zeros(0, dtype=np.int64)
        new_ids = np.arange(self._next_id, self._next_id + k, dtype=np.int64)
        self._next_id += k
        state = TrackState.CONFIRMED if self.min_hits <= 1 else TrackState.TENTATIVE
        ones = np.ones(k, dtype=np.int64)
        self.ids = np.concatenate([self.ids, new_ids])
        self.states = np.concatenate([self.states, np.full(k, state, dtype=np.int8)])
        self.hits = np.concatenate([self.hits, ones])
        self.hit_streak = np.concatenate([self.hit_streak, ones])
        self.age = np.concatenate([self.age, 0 * ones])
        self.time_since_update = np.concatenate([self.time_since_update, 0 * ones])
        self._count = np.concatenate([self._count, ones])
        boxes_h = np.zeros((k, h, 4))
        boxes_h[:, 0] = boxes
        scores_h = np.zeros((k, h))
        scores_h[:, 0] = score
        self._boxes = np.concatenate([self._boxes, boxes_h])
        self._scores = np.concatenate([self._scores, scores_h])
        if emb is not None:
            emb_h = np.zeros((k, h, emb.shape[1]))
            emb_h[:, 0] = emb
            if self._embeddings is None or self._embeddings.shape[0] == 0:
                self._embeddings = emb_h
            else:
                self._embeddings = np.concatenate([self._embeddings, emb_h])
        elif len(self) == k:  # the store was empty: it now keeps no embeddings
            self._embeddings = None
        return new_ids

    def update(
        self,
        rows: ArrayLike,
        boxes_xyxy: ArrayLike,
        scores: ArrayLike,
        embeddings: ArrayLike | None = None,
    ) -> None:
        """Advance one frame: tracks ``rows`` matched these observations, all others missed.

        Args:
            rows: ``Array[K]`` distinct row indices of matched tracks.
            boxes_xyxy: ``Array[K, 4]`` matched boxes (pushed to the history, newest first).
            scores: ``Array[K]`` matched detection scores.
            embeddings: ``Array[K, D]`` matched embeddings, required iff the store keeps them.
        """
        index = np.asarray(rows)
        if index.shape == (0,):
            index = index.astype(np.int64)
        if index.ndim != 1 or index.dtype.kind not in "iu":
            raise ValueError(f"rows must be a 1-D integer array, got {index!r}")
        index = index.astype(np.int64)
        if np.any((index < 0) | (index >= len(self))) or np.unique(index).size != index.size:
            raise ValueError(
                f"rows must be distinct rows in [0, {len(self)}), got {index.tolist()}"
            )
        if embeddings is None and self._embeddings is not None and index.size == 0:
            embeddings = np.zeros((0, self._embeddings.shape[2]))
        boxes, score, emb = self._check_observations(index.size, boxes_xyxy, scores, embeddings)
        self.update_unchecked(index, boxes, score, emb)

    def update_unchecked(
        self, index: IntArray, boxes: FloatArray, score: FloatArray, emb: FloatArray | None
    ) -> None:
        """:meth:`update` on validated distinct rows and consistent observations (hot path)."""
        matched = np.zeros(len(self), dtype=bool)
        matched[index] = True
        self.age += 1
        # Misses: one more frame unmatched, streak reset, a confirmed track becomes LOST.
        self.time_since_update += 1
        self.hit_streak = np.where(matched, self.hit_streak + 1, 0)
        states = self.states
        states[~matched & (states == _CONFIRMED)] = _LOST
        # Hits.
        self.time_since_update[index] = 0
        self.hits[index] += 1
        confirm = matched & ((self.hit_streak >= self.min_hits) | (states == _LOST))
        states[confirm] = _CONFIRMED
        if index.size == 0:
            return
        if self.history_size == 1:  # no shift needed
            self._boxes[index, 0] = boxes
            self._scores[index, 0] = score
            if emb is not None and self._embeddings is not None:
                self._embeddings[index, 0] = emb
            return
        self._boxes[index] = np.concatenate([boxes[:, None], self._boxes[index, :-1]], axis=1)
        self._scores[index] = np.concatenate([score[:, None], self._scores[index, :-1]], axis=1)
        if emb is not None and self._embeddings is not None:
            self._embeddings[index] = np.concatenate(
                [emb[:, None], self._embeddings[index, :-1]], axis=1
            )
        self._count[index] = np.minimum(self._count[index] + 1, self.history_size)

    def prune(self) -> NDArray[np.bool_]:
        """Remove tracks unmatched for more than ``max_age`` frames; return the keep mask."""
        keep = self.time_since_update <= self.max_age
        self.removed_ids = self.ids[~keep]
        if not self.removed_ids.size:
            return keep
        self.ids = self.ids[keep]
        self.states = self.states[keep]
        self.hits = self.hits[keep]
        self.hit_streak = self.hit_streak[keep]
        self.age = self.age[keep]
        self.time_since_update = self.time_since_update[keep]
        self._count = self._count[keep]
        self._boxes = self._boxes[keep]
        self._scores = self._scores[keep]
        if self._embeddings is not None:
            self._embeddings = self._embeddings[keep]
        return keep

    def latest_boxes_xyxy(self) -> FloatArray:
        """``Array[T, 4]`` the newest stored box of every live track."""
        return self._boxes[:, 0].copy()

    def latest_scores(self) -> FloatArray:
        """``Array[T]`` the newest stored score of every live track."""
        return self._scores[:, 0].copy()

    def history(self) -> History:
        """All stored entries of the live tracks, newest first within each track."""
        filled = np.arange(self.history_size)[None, :] < self._count[:, None]  # [T, H]
        owner, lag = np.nonzero(filled)
        embeddings = None if self._embeddings is None else self._embeddings[owner, lag]
        return History(
            self._boxes[owner, lag],
            self._scores[owner, lag],
            embeddings,
            owner.astype(np.int64),
            lag.astype(np.int64),
        )

    def box_iou(
        self, boxes_xyxy: ArrayLike, *, source: Literal["history", "latest"] = "history"
    ) -> FloatArray:
        """IoU of detections with each track: the maximum over its H stored boxes.

        The box counterpart of :meth:`embedding_distance` (the "any of the last H
        observations" association of Lu et al. 2020, applied to boxes).

        Args:
            boxes_xyxy: ``Array[M, 4]`` detection boxes ``(x1, y1, x2, y2)``.
            source: ``"history"`` (default): the maximum over the H stored boxes;
                ``"latest"``: the IoU with each track's newest box only (as
                ``RetinaTrackConfig.iou_source``).

        Returns:
            ``Array[T, M]`` in ``[0, 1]``.

        Raises:
            ValueError: boxes that are not ``[M, 4]``, not finite, or with ``x2 < x1`` /
                ``y2 < y1`` (from :func:`iou_matrix`); an unknown ``source``.
        """
        if source == "latest":
            return iou_matrix(self._boxes[:, 0], boxes_xyxy)
        if source != "history":
            raise ValueError(f"source must be 'history' or 'latest', got {source!r}")
        filled = np.arange(self.history_size)[None, :] < self._count[:, None]  # [T, H]
        owner, lag = np.nonzero(filled)
        iou = iou_matrix(self._boxes[owner, lag], boxes_xyxy)
        return reduce_by_owner(iou, owner, len(self), reduce="max")

    def embedding_distance(self, embeddings: ArrayLike) -> FloatArray:
        """Cosine distance of detections to each track: the minimum over its H embeddings.

        Args:
            embeddings: ``Array[M, D]`` detection embeddings.

        Returns:
            ``Array[T, M]``; ``+inf`` rows for tracks without entries never occur (every live
            track has at least its birth entry).
        """
        if self._embeddings is None:
            raise ValueError("embeddings cannot be matched: the store keeps no embeddings")
        filled = np.arange(self.history_size)[None, :] < self._count[:, None]  # [T, H]
        owner, lag = np.nonzero(filled)
        distance = cosine_distance(self._embeddings[owner, lag], embeddings)
        return reduce_by_owner(distance, owner, len(self), reduce="min")
