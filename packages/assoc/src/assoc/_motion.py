"""A Kalman tracker with ByteTrack, OC-SORT and BoT-SORT association mechanisms as options."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ._block import _BlockKalman
from ._costs import iou_unchecked
from ._gating import chi2_gating_threshold
from ._layout import (
    StateLayout,
    boxes_unchecked,
    check_positive_boxes,
    measurements_unchecked,
)
from ._matching import hungarian_pairs_unchecked
from ._store import TrackState, TrackStore
from ._tracks import Tracks
from ._validate import (
    FloatArray,
    IntArray,
    check_embeddings,
    check_number,
    check_positive_int,
    check_vector,
)

_EMPTY = np.zeros(0, dtype=np.int64)
_CONFIRMED = int(TrackState.CONFIRMED)
_TENTATIVE = int(TrackState.TENTATIVE)


def _unit_interval(name: str, value: float | None, *, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


@dataclass(frozen=True)
class MotionConfig:
    """Configuration of :class:`MotionTracker`; every mechanism is an option.

    The presets give each paper's defaults: :meth:`bytetrack`, :meth:`ocsort`,
    :meth:`botsort`; the plain constructor gives this library's default (chosen by
    leave-one-sequence-out on six MOT15 sequences, see ``docs/benchmarks/mot15.md``).

    Attributes:
        layout: Kalman state; BoT-SORT's ``[x, y, w, h]`` with box-relative noise
            (:meth:`StateLayout.botsort`) by default.
        high_threshold: detections scoring at least this are "high" (ByteTrack's
            ``track_thresh`` 0.6, Zhang et al. 2022, sec. 3); only they are matched in the first
            stage and may start tracks.
        low_threshold: detections scoring below this are dropped (ByteTrack: 0.1). Without
            ``two_stage`` the detections between both thresholds are dropped too.
        new_track_threshold: a high detection left unmatched starts a track if it scores at
            least this (ByteTrack: ``track_thresh + 0.1``).
        match_iou: first-stage minimum IoU between a predicted track and a detection
            (ByteTrack: ``match_thresh`` 0.8 on ``1 - IoU``, i.e. 0.2; OC-SORT / SORT: 0.3).
        fuse_score: first-stage similarity is ``IoU * score`` (ByteTrack's ``fuse_score`` on
            MOT17); the IoU threshold still applies to the plain IoU.
        two_stage: ByteTrack's second stage: tracks left unmatched that were matched in the
            previous frame are matched to the low-score detections, IoU at least
            ``second_iou`` (ByteTrack: 0.5). A low detection never starts a track.
        second_iou: minimum IoU of the second stage.
        momentum: OC-SORT's observation-centric momentum weight (Cao et al. 2023, eq. 6,
            ``lambda = 0.2``): a bonus ``momentum * score * (pi/2 - |theta|) / pi`` where
            ``theta`` is the angle between the track's observed direction of motion and the
            direction from its observation ``delta_t`` steps back to the detection. 0 disables.
        delta_t: OC-SORT's observation step for the momentum direction (3).
        recovery_iou: OC-SORT's observation-centric recovery (sec. 4.3): tracks still unmatched
            after the first stage(s) are matched to the remaining high detections by the IoU of
            their *last observed* box, at least this. ``None`` disables it (OC-SORT: 0.3).
        re_update: OC-SORT's observation-centric re-update (sec. 4.1, eq. 5): when a track is
            matched after a gap, the filter is rolled back to its last observation and re-run
            on a virtual trajectory interpolated linearly to the new detection, which corrects
            the velocity that drifted during the gap.
        lost_iou: stricter re-association of lost tracks: a track unmatched for one or more
            frames needs IoU at least ``max(match_iou, lost_iou)`` in the first stage. ``None``
            treats lost tracks like the others (the papers).
        lost_gate: chi-square gate for lost tracks (a probability, e.g. DeepSORT's 0.95): a track
            unmatched in the previous frame may take a detection only if the detection lies
            inside the gate of its predicted measurement distribution (squared Mahalanobis
            distance with ``S = H P H^T + R``; the covariance, and so the gate, grows with the
            time lost). Needs box-relative noise to be meaningful (see
            :class:`StateLayout`). ``None`` disables it (this library).
        lost_velocity_decay: velocity damping of lost tracks: before each prediction, a track
            unmatched in the previous frame has its velocity multiplied by this factor, so a
            lost track's predicted box slows down instead of drifting on a stale velocity
            (1 disables; this library).
        lost_last: match tracks seen in the previous frame first and lost tracks only to the
            high detections left over (DeepSORT's matching cascade, Wojke et al. 2017, reduced
            to two levels); with ``False`` all tracks compete in one assignment (the papers).
        max_age: frames a track is kept unmatched (ByteTrack's ``track_buffer`` 30; OC-SORT 30).
        memory_per_hit: memory that grows with evidence: a track is kept unmatched for at most
            ``memory_per_hit * hits`` frames (``hits``: its matches so far), capped by
            ``max_age``, so a short-lived track (often a false positive or a fragment) is
            dropped soon while a long-established one keeps the full memory. 0 disables (the
            papers: a fixed ``max_age``; this library).
        tentative_max_age: frames a not yet confirmed track is kept unmatched (ByteTrack: 0,
            an unconfirmed track dies on its first miss; OC-SORT: same as ``max_age``).
        min_hits: consecutive hits, birth included, before a track is reported (ByteTrack: 2,
            activated on its second match; OC-SORT: ``min_hits = 3`` updates after birth, so 4).
        reconfirm_hits: a confirmed track that missed frames is reported again only once it
            has this many consecutive matches since the gap (SORT's and OC-SORT's output rule,
            ``hit_streak >= min_hits`` with their ``min_hits = 3``); 0 or 1 reports it at its
            first match.
        report_warmup: report every matched track during the first ``min_hits`` frames of a
            sequence (ByteTrack activates first-frame tracks at once; OC-SORT reports while
            ``frame_count <= min_hits``).
        appearance_threshold: with embeddings, BoT-SORT's fusion (Aharon et al. 2022, eq. 13):
            appearance cost ``d = cosine_distance / 2`` (the minimum over the track's stored
            embeddings) counts only where ``d <= appearance_threshold`` (0.25) and IoU cost
            ``1 - IoU <= proximity_threshold`` (0.5); the first-stage cost is
            ``min(1 - IoU, d)``.
        proximity_threshold: see ``appearance_threshold``.
        history: observations kept per track (momentum needs ``delta_t + 1``; embeddings are
            matched against all of them).
        report: reported box, ``"kalman"`` (posterior, as the three papers) or ``"detection"``.
        backend: Hungarian backend, ``"lap"`` or ``"scipy"``.
    """

    layout: StateLayout = field(default_factory=StateLayout.deepsort)
    high_threshold: float = 0.6
    low_threshold: float = 0.1
    new_track_threshold: float = 0.8
    match_iou: float = 0.2
    fuse_score: bool = True
    two_stage: bool = True
    second_iou: float = 0.5
    momentum: float = 0.0
    delta_t: int = 3
    recovery_iou: float | None = None
    re_update: bool = True
    lost_iou: float | None = None
    lost_gate: float | None = None
    lost_velocity_decay: float = 1.0
    lost_last: bool = True
    max_age: int = 30
    memory_per_hit: float = 0.0
    tentative_max_age: int = 0
    min_hits: int = 2
    reconfirm_hits: int = 0
    report_warmup: bool = True
    appearance_threshold: float = 0.25
    proximity_threshold: float = 0.5
    history: int = 1
    report: Literal["kalman", "detection"] = "kalman"
    backend: Literal["lap", "scipy"] = "lap"

    def __post_init__(self) -> None:
        if not isinstance(self.layout, StateLayout):
            raise ValueError(f"layout must be a StateLayout, got {type(self.layout).__name__}")
        for name in (
            "high_threshold",
            "low_threshold",
            "new_track_threshold",
            "match_iou",
            "second_iou",
            "appearance_threshold",
            "proximity_threshold",
        ):
            _unit_interval(name, getattr(self, name))
        _unit_interval("recovery_iou", self.recovery_iou, none_ok=True)
        _unit_interval("lost_iou", self.lost_iou, none_ok=True)
        _unit_interval("lost_velocity_decay", self.lost_velocity_decay)
        if self.lost_gate is not None and not (
            isinstance(self.lost_gate, float) and 0.0 < self.lost_gate < 1.0
        ):
            raise ValueError(f"lost_gate must be a probability in (0, 1), got {self.lost_gate!r}")
        if self.low_threshold > self.high_threshold:
            raise ValueError(
                f"low_threshold must not exceed high_threshold, got {self.low_threshold} > "
                f"{self.high_threshold}"
            )
        check_number("memory_per_hit", self.memory_per_hit, low=0.0)
        check_number("momentum", self.momentum, low=0.0)
        check_positive_int("delta_t", self.delta_t)
        check_positive_int("max_age", self.max_age, minimum=0)
        check_positive_int("tentative_max_age", self.tentative_max_age, minimum=0)
        check_positive_int("min_hits", self.min_hits)
        check_positive_int("reconfirm_hits", self.reconfirm_hits, minimum=0)
        check_positive_int("history", self.history)
        if self.momentum > 0 and self.history < self.delta_t + 1:
            raise ValueError(
                f"history must be at least delta_t + 1 = {self.delta_t + 1} for the momentum, "
                f"got {self.history}"
            )
        for name in (
            "fuse_score",
            "two_stage",
            "re_update",
            "lost_last",
            "report_warmup",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.report not in ("kalman", "detection"):
            raise ValueError(f"report must be 'kalman' or 'detection', got {self.report!r}")
        if self.backend not in ("lap", "scipy"):
            raise ValueError(f"backend must be 'lap' or 'scipy', got {self.backend!r}")

    @classmethod
    def bytetrack(cls) -> MotionConfig:
        """ByteTrack (Zhang et al. 2022): DeepSORT's ``xyah`` filter, two stages, no OC parts."""
        return cls(
            layout=StateLayout.deepsort(),
            new_track_threshold=0.7,
            fuse_score=True,
            momentum=0.0,
            recovery_iou=None,
            re_update=False,
            lost_last=False,
            max_age=30,
            min_hits=2,
            history=1,
        )

    @classmethod
    def ocsort(cls) -> MotionConfig:
        """OC-SORT (Cao et al. 2023): SORT's filter, one stage at IoU 0.3, OCM, OCR and ORU.

        Single stage on the detections scoring at least ``det_thresh = 0.6`` (the authors'
        ``--track_thresh`` for MOT17/MOT20; lower ones are dropped, and every kept one may start
        a track); ``min_hits = 3`` updates after birth (4 hits with the birth), and after a gap
        a track is reported again once it has 3 consecutive updates (``hit_streak >=
        min_hits``, reset by a miss); ``max_age = 30``.
        """
        return cls(
            layout=StateLayout.sort(),
            high_threshold=0.6,
            low_threshold=0.1,
            new_track_threshold=0.6,
            match_iou=0.3,
            two_stage=False,
            momentum=0.2,
            delta_t=3,
            recovery_iou=0.3,
            re_update=True,
            fuse_score=False,
            lost_last=False,
            max_age=30,
            tentative_max_age=30,
            min_hits=4,
            reconfirm_hits=3,
            history=4,
        )

    @classmethod
    def botsort(cls) -> MotionConfig:
        """BoT-SORT (Aharon et al. 2022): ByteTrack's stages on the ``xywh`` filter.

        Camera motion is the ``camera_motion`` argument of :meth:`MotionTracker.update`;
        embeddings, if given, are fused as in eq. 13. ``new_track_threshold`` 0.7,
        ``match_thresh`` 0.8 (IoU 0.2), ``track_buffer`` 30.
        """
        return cls(
            layout=StateLayout.botsort(),
            new_track_threshold=0.7,
            fuse_score=True,
            momentum=0.0,
            recovery_iou=None,
            re_update=False,
            lost_last=False,
            max_age=30,
            min_hits=2,
            history=1,
        )

    def with_options(self, **changes: object) -> MotionConfig:
        """A copy with some fields changed (validated like the constructor)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def _check_affine(value: ArrayLike) -> FloatArray:
    matrix = np.asarray(value)
    if matrix.dtype.kind not in "iuf" or matrix.shape not in ((2, 3), (3, 3)):
        raise ValueError(
            f"camera_motion must be a real 2x3 (or 3x3) affine matrix, got dtype {matrix.dtype} "
            f"shape {matrix.shape}"
        )
    matrix = matrix.astype(np.float64)
    if not np.all(np.isfinite(matrix)):
        raise ValueError("camera_motion must be finite")
    if abs(np.linalg.det(matrix[:2, :2])) < 1e-9:
        raise ValueError("camera_motion must be invertible (its 2x2 part is singular)")
    return matrix[:2]


def _warp_boxes(boxes: FloatArray, affine: FloatArray) -> FloatArray:
    """Map xyxy boxes: centre by the affine, width and height by the mean linear scale."""
    scale = np.sqrt(abs(np.linalg.det(affine[:2, :2])))
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2.0
    half = (boxes[..., 2:] - boxes[..., :2]) / 2.0 * scale
    centre = centre @ affine[:, :2].T + affine[:, 2]
    return np.concatenate([centre - half, centre + half], axis=-1)


class MotionTracker:
    """Kalman tracker with ByteTrack's, OC-SORT's and BoT-SORT's mechanisms as options.

    Per :meth:`update` (each step only if its option is on, see :class:`MotionConfig`):

    1. camera-motion compensation: the caller's affine (previous frame to this frame, e.g.
       from ``trackkit.data.estimate_camera_motion``) moves every track's state, its saved
       state and stored boxes (BoT-SORT, Aharon et al. 2022, sec. 3.2);
    2. predict all tracks; split detections at ``high_threshold`` / ``low_threshold``;
    3. first stage: Hungarian on ``1 - IoU`` (times the score with ``fuse_score``), minus
       OC-SORT's momentum bonus, fused with embedding distance when given (BoT-SORT eq. 13);
       lost tracks need ``lost_iou``, and with ``lost_last`` only get the detections the
       tracks seen last frame left;
    4. OC-SORT's recovery on last observed boxes; ByteTrack's second stage on low detections;
    5. OC-SORT's re-update of tracks matched after a gap, Kalman update of the matched;
    6. births from unmatched high detections above ``new_track_threshold``; report
       confirmed tracks matched this frame; remove tracks past their age limits.

    The filter is the layout's constant-velocity Kalman filter held in 2x2-block form (equal
    to :class:`BatchedKalmanFilter`, faster at a few tracks). Camera motion moves the means
    exactly; covariances are scaled by the affine's mean scale (the rotation of the
    covariance, BoT-SORT's ``R P R^T``, is left out: it would couple the blocks, and frame to
    frame camera rotations are small).

    Args:
        config: a :class:`MotionConfig`; this library's default if omitted.
    """

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = MotionConfig() if config is None else config
        if not isinstance(self.config, MotionConfig):
            raise ValueError(f"config must be a MotionConfig, got {type(self.config).__name__}")
        self.reset()

    def reset(self) -> None:
        """Forget all tracks and restart ids at 1 (call between sequences)."""
        cfg = self.config
        self.store = TrackStore(
            min_hits=cfg.min_hits,
            max_age=max(cfg.max_age, cfg.tentative_max_age),
            history=cfg.history,
        )
        self.kalman = _BlockKalman(cfg.layout)
        self._saved = _BlockKalman(cfg.layout)  # filter state at each track's last observation
        self.frame_count = 0
        self._z = np.zeros((0, 4))
        self._gate_limit = (
            0.0 if cfg.lost_gate is None else chi2_gating_threshold(4, probability=cfg.lost_gate)
        )

    def state(self) -> tuple[FloatArray, FloatArray]:
        """``(mean[N, dim_x], covariance[N, dim_x, dim_x])`` of the live tracks' filters."""
        return self.kalman.full()

    # -- per-frame steps -------------------------------------------------------------------

    def _warp(self, affine: FloatArray) -> None:
        """Move every track's state, saved state and stored boxes by the camera motion."""
        if len(self.store) == 0:
            return
        linear, shift = affine[:, :2], affine[:, 2]
        scale = float(np.sqrt(abs(np.linalg.det(linear))))
        size = {"xysr": (scale**2, 1.0), "xyah": (1.0, scale), "cxcywh": (scale, scale)}
        factor = np.array([scale, scale, *size[self.config.layout.measurement]])
        for kf in (self.kalman, self._saved):
            kf.x[:, :2] = kf.x[:, :2] @ linear.T + shift
            kf.x[:, 2:] *= factor[2:]
            kf.v[:, :2] = kf.v[:, :2] @ linear.T
            kf.v[:, 2:] *= factor[2:]
            f2 = factor**2
            kf.pp *= f2
            kf.pv *= f2
            kf.vv *= f2
        self.store._boxes = _warp_boxes(self.store._boxes, affine)

    def _momentum_bonus(self, boxes: FloatArray, scores: FloatArray, rows: IntArray) -> FloatArray:
        """OC-SORT's velocity-direction consistency bonus ``Array[len(rows), M]``."""
        cfg, store = self.config, self.store
        count = store._count[rows]
        hist = store._boxes[rows]  # [T, H, 4], newest first
        idx = np.arange(rows.size)
        base = np.minimum(cfg.delta_t, count - 1)
        newest = hist[idx, 0]
        velocity = (newest[:, :2] + newest[:, 2:] - hist[idx, base, :2] - hist[idx, base, 2:]) / 2
        norm = np.sqrt(np.sum(velocity * velocity, axis=1))
        valid = (base > 0) & (norm > 1e-6)
        velocity = velocity / np.where(valid, norm, 1.0)[:, None]
        ref = hist[idx, np.minimum(cfg.delta_t - 1, count - 1)]
        anchor = (ref[:, :2] + ref[:, 2:]) / 2.0  # [T, 2]
        det_centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
        dx = det_centres[None, :, 0] - anchor[:, 0, None]  # [T, M]
        dy = det_centres[None, :, 1] - anchor[:, 1, None]
        dnorm = np.maximum(np.sqrt(dx * dx + dy * dy), 1e-6)
        cos = (dx * velocity[:, 0, None] + dy * velocity[:, 1, None]) / dnorm
        angle = np.arccos(np.clip(cos, -1.0, 1.0))
        bonus = (np.pi / 2.0 - angle) / np.pi * scores[None, :] * cfg.momentum
        return bonus * valid[:, None]

    def _first_stage(
        self,
        rows: IntArray,
        cols: IntArray,
        iou_all: FloatArray,
        boxes: FloatArray,
        scores: FloatArray,
        emb_distance: FloatArray | None,
    ) -> tuple[IntArray, IntArray]:
        """Match ``rows`` to ``cols`` on the first-stage cost; local indices of the matches.

        ``iou_all`` is the IoU of every predicted track box with every detection.
        """
        cfg = self.config
        iou = iou_all[rows][:, cols]
        allowed_gate = None
        if cfg.lost_gate is not None:
            lost = self.store.time_since_update[rows] > 0
            if lost.any():
                allowed_gate = self._inside_gate(rows, cols) | ~lost[:, None]
        if cfg.lost_iou is not None and cfg.lost_iou > cfg.match_iou:
            lost = self.store.time_since_update[rows] > 0
            required: FloatArray | float = np.where(lost, cfg.lost_iou, cfg.match_iou)[:, None]
        else:
            required = cfg.match_iou
        allowed = iou >= required
        if allowed_gate is not None:
            allowed &= allowed_gate
        cost = 1.0 - iou * scores[cols] if cfg.fuse_score else 1.0 - iou
        if emb_distance is not None:
            d = emb_distance[np.ix_(rows, cols)] / 2.0
            close = (d <= cfg.appearance_threshold) & (1.0 - iou <= cfg.proximity_threshold)
            cost = np.where(close, np.minimum(cost, d), cost)
            allowed |= close
        # ByteTrack / SORT: Hungarian with the cost limit 1 - match_iou (lapjv's cost_limit).
        limit = 1.0 - cfg.match_iou
        if cfg.momentum > 0:
            cost = cost - self._momentum_bonus(boxes[cols], scores[cols], rows)
            limit = 2.0  # OC-SORT: full assignment on -(IoU + bonus), then the IoU gate
        cost = np.where(allowed, cost, np.inf)
        return hungarian_pairs_unchecked(cost, limit, cfg.backend)

    def _inside_gate(self, rows: IntArray, cols: IntArray) -> np.ndarray:
        """``Array[len(rows), len(cols)]`` bool: detection inside the track's chi-square gate."""
        kf = self.kalman
        x = kf.state[rows, 0]
        r = kf.r * kf._scale2(x) if kf.scaled else kf.r
        s = kf.state[rows, 2] + r  # [T, 4] diagonal innovation covariance
        diff = self._z[cols][None, :, :] - x[:, None, :]  # [T, M, 4]
        d2 = np.sum(diff * diff / s[:, None, :], axis=2)
        return d2 <= self._gate_limit

    def _re_update(self, rows: IntArray, z_new: FloatArray, gaps: IntArray) -> None:
        """OC-SORT's ORU (Cao et al. 2023, eq. 5): replay the filter over a virtual path.

        Track ``rows[i]`` was last observed ``gaps[i]`` frames ago. Its filter restarts from the
        state saved at that observation and is predicted and updated on boxes interpolated
        linearly between the last observed box and the new detection, one per missed frame;
        a last prediction brings it to this frame, ready for the real update.
        """
        layout = self.config.layout
        order = np.argsort(-gaps, kind="stable")  # longest gap first: active rows are a prefix
        rows, gaps, z_new = rows[order], gaps[order], z_new[order]
        start = self.store._boxes[rows, 0]  # last observed boxes (camera-compensated)
        end = boxes_unchecked(z_new, layout.measurement)
        replay = _BlockKalman(layout)
        replay.state = self._saved.get(rows)
        longest = int(gaps[0])
        if longest > 1:
            # Every virtual observation at once: step k (1..longest-1) of track i is its
            # (k - offset_i)-th interpolated box; tracks with shorter gaps start later.
            offset = longest - gaps
            steps = np.arange(1, longest)
            local = np.maximum(steps[:, None] - offset[None, :], 0)  # [L-1, K]; 0: not started
            virtual = start + (local / gaps)[:, :, None] * (end - start)
            z_virtual = measurements_unchecked(virtual.reshape(-1, 4), layout.measurement)
            z_virtual = z_virtual.reshape(longest - 1, rows.size, 4)
            active = np.searchsorted(-gaps, -(longest - steps), side="left")  # gaps > L - k
            for k in range(longest - 1):
                st = replay.state[: active[k]]
                replay._freeze_block(st)
                replay._predict_block(st)
                replay._update_block(st, z_virtual[k, : active[k]])
        replay.freeze_shrinking_sizes()
        replay.predict()
        self.kalman.put(rows, replay.state)

    def update(
        self,
        boxes_xyxy: ArrayLike,
        scores: ArrayLike,
        embeddings: ArrayLike | None = None,
        *,
        camera_motion: ArrayLike | None = None,
    ) -> Tracks:
        """Consume one frame of detections and return the tracks to report for it.

        Args:
            boxes_xyxy: ``Array[M, 4]`` detections with positive width and height.
            scores: ``Array[M]`` detection scores in the scale of the thresholds (``[0, 1]``).
            embeddings: optional ``Array[M, D]`` appearance embeddings (on every frame or none
                until :meth:`reset`), fused with IoU in the first stage.
            camera_motion: optional ``2x3`` (or ``3x3``) affine mapping the previous frame's
                pixel coordinates to this frame's.

        Returns:
            :class:`Tracks` reported this frame.
        """
        cfg = self.config
        boxes = check_positive_boxes("boxes_xyxy", boxes_xyxy)
        score = check_vector("scores", scores, boxes.shape[0])
        emb = (
            None
            if embeddings is None
            else check_embeddings("embeddings", embeddings, rows=boxes.shape[0])
        )
        affine = None if camera_motion is None else _check_affine(camera_motion)
        store, kf = self.store, self.kalman
        store.check_embedding_consistency(emb)
        self.frame_count += 1
        if affine is not None:
            self._warp(affine)

        keep = score >= (cfg.low_threshold if cfg.two_stage else cfg.high_threshold)
        if not keep.all():
            boxes, score = boxes[keep], score[keep]
            emb = None if emb is None else emb[keep]
        z = measurements_unchecked(boxes, cfg.layout.measurement)
        self._z = z
        high = score >= cfg.high_threshold
        n = len(store)
        if cfg.lost_velocity_decay < 1.0 and n:
            kf.v[store.time_since_update > 0] *= cfg.lost_velocity_decay
        kf.freeze_shrinking_sizes()
        kf.predict()
        # One IoU matrix of all predicted tracks with all detections, sliced by every stage.
        iou_all = iou_unchecked(kf.boxes_xyxy(), boxes)
        emb_distance = None if emb is None or n == 0 else store.embedding_distance(emb)

        track_free = np.ones(n, dtype=bool)
        det_free = high.copy()  # free high detections; low ones are tracked in low_free
        match_rows: list[IntArray] = []
        match_cols: list[IntArray] = []

        def assign(rows: IntArray, cols: IntArray, pairs: tuple[IntArray, IntArray]) -> None:
            if pairs[0].size:
                r, c = rows[pairs[0]], cols[pairs[1]]
                track_free[r] = False
                det_free[c] = False
                match_rows.append(r)
                match_cols.append(c)

        seen = store.time_since_update == 0  # matched in the previous frame
        if n:
            pools = [np.flatnonzero(seen), np.flatnonzero(~seen)] if cfg.lost_last else [None]
            for pool in pools:
                rows = np.arange(n) if pool is None else pool
                cols = np.flatnonzero(det_free)
                if rows.size and cols.size:
                    pairs = self._first_stage(rows, cols, iou_all, boxes, score, emb_distance)
                    assign(rows, cols, pairs)
            if cfg.recovery_iou is not None:
                rows = np.flatnonzero(track_free)
                cols = np.flatnonzero(det_free)
                if rows.size and cols.size:
                    iou = iou_unchecked(store._boxes[rows, 0], boxes[cols])
                    limit = 1.0 - cfg.recovery_iou
                    assign(rows, cols, hungarian_pairs_unchecked(1.0 - iou, limit, cfg.backend))
            if cfg.two_stage:
                rows = np.flatnonzero(track_free & seen)
                cols = np.flatnonzero(~high)
                if rows.size and cols.size:
                    iou = iou_all[rows][:, cols]
                    pairs = hungarian_pairs_unchecked(1.0 - iou, 1.0 - cfg.second_iou, cfg.backend)
                    assign(rows, cols, pairs)

        if match_rows:
            rows = np.concatenate(match_rows)
            cols = np.concatenate(match_cols)
        else:
            rows = cols = _EMPTY
        if cfg.re_update and rows.size:
            gaps = store.time_since_update[rows] + 1
            late = gaps > 1
            if late.any():
                self._re_update(rows[late], z[cols[late]], gaps[late])
        kf.update(rows, z[cols])
        if cfg.re_update and rows.size:
            self._saved.put(rows, kf.get(rows))
        store.update_unchecked(rows, boxes[cols], score[cols], None if emb is None else emb[cols])

        born = np.flatnonzero(det_free & (score >= cfg.new_track_threshold))
        if born.size:
            kf.initiate(z[born])
            if cfg.re_update:
                self._saved.initiate(z[born])
            store.spawn_unchecked(boxes[born], score[born], None if emb is None else emb[born])

        fresh = store.time_since_update == 0
        report = fresh & (store.states == _CONFIRMED)
        if cfg.reconfirm_hits > 1:
            report &= store.hit_streak >= cfg.reconfirm_hits
        if cfg.report_warmup and self.frame_count <= cfg.min_hits:
            report = fresh
        out_boxes = kf.boxes_xyxy() if cfg.report == "kalman" else store._boxes[:, 0]
        tracks = Tracks._owned(store.ids[report], out_boxes[report], store._scores[report, 0])

        if len(store):
            tentative = store.states == _TENTATIVE
            limit_age = np.where(tentative, cfg.tentative_max_age, cfg.max_age)
            if cfg.memory_per_hit > 0:
                limit_age = np.minimum(limit_age, cfg.memory_per_hit * store.hits)
            alive = store.time_since_update <= limit_age
            if not alive.all():
                store.time_since_update[~alive] = store.max_age + 1  # prune() removes these
                keep_rows = store.prune()
                kf.select(keep_rows)
                if cfg.re_update:
                    self._saved.select(keep_rows)
        return tracks
