"""Turning MOTChallenge ground truth and tracker rows into per-frame matching inputs.

This reproduces the MOTChallenge evaluation protocol as implemented by TrackEval
(Luiten et al., "HOTA", IJCV 2020; ``MotChallenge2DBox``):

- similarity = box IoU (continuous area ``w*h``; boxes without area have IoU 0);
- MOT15 (``mot17_preprocessing=False``): ground-truth rows with a zero "consider" flag are
  dropped;
- MOT16/17/20 (``mot17_preprocessing=True``): in each frame tracker boxes are matched to *all*
  ground-truth boxes (Hungarian, IoU >= 0.5); tracker boxes matched to a distractor class
  (person on vehicle 2, static person 7, distractor 8, reflection 12) are removed; then only
  pedestrian (class 1) ground truth with consider != 0 is kept;
- ids are relabelled to ``0 .. K-1``; duplicate ids within a frame are an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

from assoc import iou_xywh
from trackkit.data import MOTRows

__all__ = ["MOT17_DISTRACTOR_CLASSES", "MOTEvalInput", "iou_matrix_xywh", "prepare_mot_eval"]

#: Classes whose matches are not counted in MOT16/17 (person on vehicle, static person,
#: distractor, reflection).
MOT17_DISTRACTOR_CLASSES: tuple[int, ...] = (2, 7, 8, 12)
_EPS = float(np.finfo(float).eps)


def iou_matrix_xywh(boxes_a: ArrayLike, boxes_b: ArrayLike) -> NDArray[np.float64]:
    """IoU ``[N, M]`` of ``xywh`` boxes; pairs involving a box without area score 0."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    return iou_xywh(a[:, None, :], b[None, :, :])


@dataclass(frozen=True)
class MOTEvalInput:
    """Per-frame ids and similarities of one sequence, ready for the MOT metrics.

    Attributes:
        gt_ids, tracker_ids: per frame, ``int64 [n_t]`` ids relabelled to ``0 .. K-1``.
        similarity: per frame, ``float64 [n_gt_t, n_tracker_t]`` IoU.
        num_gt_ids, num_tracker_ids: number of distinct ids kept.
        num_gt_dets, num_tracker_dets: number of rows kept.
    """

    gt_ids: list[NDArray[np.int64]]
    tracker_ids: list[NDArray[np.int64]]
    similarity: list[NDArray[np.float64]]
    num_gt_ids: int
    num_tracker_ids: int
    num_gt_dets: int
    num_tracker_dets: int

    @property
    def num_frames(self) -> int:
        """Number of frames (timesteps)."""
        return len(self.gt_ids)


def _relabel(ids_per_frame: list[NDArray[np.int64]]) -> tuple[list[NDArray[np.int64]], int]:
    if not ids_per_frame:
        return [], 0
    unique = np.unique(np.concatenate(ids_per_frame))
    return [np.searchsorted(unique, ids).astype(np.int64) for ids in ids_per_frame], int(
        unique.size
    )


def prepare_mot_eval(
    gt: MOTRows,
    tracks: MOTRows,
    num_frames: int,
    *,
    mot17_preprocessing: bool = False,
    distractor_classes: tuple[int, ...] = MOT17_DISTRACTOR_CLASSES,
    pedestrian_class: int = 1,
    match_threshold: float = 0.5,
) -> MOTEvalInput:
    """Build the matching input of one sequence (see the module docstring for the protocol).

    Args:
        gt: ground-truth rows (``confidences`` holds the consider flag).
        tracks: tracker output rows.
        num_frames: sequence length; every row's frame must be in ``0 .. num_frames-1``.
        mot17_preprocessing: apply the MOT16/17/20 class filtering (needs gt classes).
        distractor_classes, pedestrian_class: MOT17 class numbers.
        match_threshold: IoU for the distractor matching of the preprocessing.
    """
    if num_frames < 0:
        raise ValueError(f"num_frames must be >= 0, got {num_frames}")
    gt_rows = gt.split_by_frame(num_frames)
    tr_rows = tracks.split_by_frame(num_frames)
    gt_ids: list[NDArray[np.int64]] = []
    tr_ids: list[NDArray[np.int64]] = []
    sims: list[NDArray[np.float64]] = []
    for t in range(num_frames):
        g, r = gt_rows[t], tr_rows[t]
        for label, ids in (("ground truth", gt.ids[g]), ("tracker", tracks.ids[r])):
            if np.unique(ids).size != ids.size:
                raise ValueError(f"{label} has a repeated id in frame {t + 1} (1-based)")
        sim = iou_matrix_xywh(gt.boxes_xywh[g], tracks.boxes_xywh[r])
        keep_tr = np.ones(r.size, dtype=bool)
        if mot17_preprocessing:
            if g.size and r.size:
                scores = np.where(sim < match_threshold - _EPS, 0.0, sim)
                rows, cols = linear_sum_assignment(-scores)
                ok = scores[rows, cols] > _EPS
                rows, cols = rows[ok], cols[ok]
                keep_tr[cols[np.isin(gt.classes[g][rows], distractor_classes)]] = False
            keep_gt = (gt.confidences[g] != 0) & (gt.classes[g] == pedestrian_class)
        else:
            keep_gt = gt.confidences[g] != 0
        gt_ids.append(gt.ids[g][keep_gt])
        tr_ids.append(tracks.ids[r][keep_tr])
        sims.append(sim[keep_gt][:, keep_tr])
    gt_rel, n_gt = _relabel(gt_ids)
    tr_rel, n_tr = _relabel(tr_ids)
    return MOTEvalInput(
        gt_ids=gt_rel,
        tracker_ids=tr_rel,
        similarity=sims,
        num_gt_ids=n_gt,
        num_tracker_ids=n_tr,
        num_gt_dets=int(sum(x.size for x in gt_rel)),
        num_tracker_dets=int(sum(x.size for x in tr_rel)),
    )
