"""Detection quality: average precision at an IoU threshold (PASCAL VOC all-point AP)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.eval._mot_prepare import iou_matrix_xywh

__all__ = ["DetectionAP", "detection_average_precision"]


@dataclass(frozen=True)
class DetectionAP:
    """Result of :func:`detection_average_precision`.

    Attributes:
        ap: area under the interpolated precision-recall curve (all points, Everingham et al.
            2010); 0 when there are no detections, NaN when there is no ground truth.
        precision, recall: the raw curve over detections sorted by decreasing score.
        scores: the detection scores in that order.
        num_gt: ground-truth boxes counted.
    """

    ap: float
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    scores: NDArray[np.float64]
    num_gt: int

    def recall_at_precision(self, precision: float) -> float:
        """Largest recall reached with at least this precision (0 if never)."""
        ok = self.precision >= precision
        return float(self.recall[ok].max()) if ok.any() else 0.0


def detection_average_precision(
    gt_xywh: Sequence[ArrayLike],
    det_xywh: Sequence[ArrayLike],
    det_scores: Sequence[ArrayLike],
    *,
    iou_threshold: float = 0.5,
) -> DetectionAP:
    """AP of one class over frames (all-point interpolated AP, Everingham et al. 2010).

    Detections of all frames are ranked by score (ties: earlier frame and row first); each,
    in that order, matches the still unmatched ground-truth box of its frame with the highest
    IoU if that IoU is at least ``iou_threshold`` (a true positive; COCO's matching rule),
    else it is a false positive.

    Args:
        gt_xywh: per frame ``[G_t, 4]`` ground-truth boxes (top-left, width, height).
        det_xywh: per frame ``[D_t, 4]`` detections; ``det_scores``: per frame ``[D_t]``.
        iou_threshold: 0.5 for AP@0.5.
    """
    if not len(gt_xywh) == len(det_xywh) == len(det_scores):
        raise ValueError(
            f"gt_xywh, det_xywh and det_scores need one entry per frame, got "
            f"{len(gt_xywh)}, {len(det_xywh)}, {len(det_scores)}"
        )
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
    gts = [np.asarray(g, dtype=np.float64).reshape(-1, 4) for g in gt_xywh]
    dets = [np.asarray(d, dtype=np.float64).reshape(-1, 4) for d in det_xywh]
    scs = [np.asarray(s, dtype=np.float64).reshape(-1) for s in det_scores]
    for t, (d, s) in enumerate(zip(dets, scs, strict=True)):
        if d.shape[0] != s.shape[0]:
            raise ValueError(f"frame {t}: {d.shape[0]} detections but {s.shape[0]} scores")
    num_gt = int(sum(g.shape[0] for g in gts))
    frame = np.concatenate([np.full(s.shape[0], t) for t, s in enumerate(scs)]).astype(np.int64)
    row = np.concatenate([np.arange(s.shape[0]) for s in scs]).astype(np.int64)
    score = np.concatenate(scs) if scs else np.zeros(0)
    order = np.lexsort((row, frame, -score))
    ious = [iou_matrix_xywh(d, g) for d, g in zip(dets, gts, strict=True)]
    taken = [np.zeros(g.shape[0], bool) for g in gts]
    tp = np.zeros(order.shape[0], bool)
    for k, i in enumerate(order):
        t, r = frame[i], row[i]
        if gts[t].shape[0] == 0:
            continue
        cand = np.where(taken[t], -1.0, ious[t][r])
        j = int(np.argmax(cand))
        if cand[j] >= iou_threshold:
            taken[t][j] = True
            tp[k] = True
    ctp = np.cumsum(tp)
    cfp = np.cumsum(~tp)
    precision = ctp / np.maximum(ctp + cfp, 1)
    recall = ctp / num_gt if num_gt else np.zeros_like(precision)
    if num_gt == 0:
        ap = float("nan")
    elif order.size == 0:
        ap = 0.0
    else:
        mrec = np.concatenate([[0.0], recall, [1.0]])
        mpre = np.concatenate([[0.0], precision, [0.0]])
        mpre = np.maximum.accumulate(mpre[::-1])[::-1]
        steps = np.flatnonzero(mrec[1:] != mrec[:-1])
        ap = float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))
    return DetectionAP(ap, precision, recall, score[order], num_gt)
