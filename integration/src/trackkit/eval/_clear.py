"""CLEAR MOT metrics (Bernardin & Stiefelhagen 2008) with MOTChallenge's conventions.

Per frame, ground truth and tracker boxes are matched by the Hungarian algorithm on IoU, only
pairs with IoU >= ``threshold`` being allowed, and a pair that continues the previous frame's
match is preferred over any other (bonus of 1000), then the sum of IoU is maximised. An
identity switch is a matched gt whose tracker id differs from the one it was last matched to
(any number of frames earlier); a fragmentation is every restart of a gt's tracked stretch.
MT / ML: tracked in > 80 % / < 20 % of the gt's frames. Numbers equal TrackEval's ``CLEAR``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from trackkit.eval._mot_prepare import MOTEvalInput

__all__ = ["CLEARScores", "clear_mot"]

_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class CLEARScores:
    """CLEAR MOT counts of one sequence or a sum over sequences; ratios are properties.

    Attributes:
        tp, fn, fp: matched, missed and false tracker boxes.
        idsw: identity switches; frag: fragmentations.
        mt, pt, ml: mostly tracked / partly tracked / mostly lost ground-truth tracks.
        frames: number of frames; motp_sum: sum of IoU over matches.
    """

    tp: int
    fn: int
    fp: int
    idsw: int
    mt: int
    pt: int
    ml: int
    frag: int
    frames: int
    motp_sum: float

    @property
    def mota(self) -> float:
        """MOTA = 1 - (FN + FP + IDSW) / #gt."""
        return (self.tp - self.fp - self.idsw) / max(1.0, self.tp + self.fn)

    @property
    def moda(self) -> float:
        """MODA = 1 - (FN + FP) / #gt."""
        return (self.tp - self.fp) / max(1.0, self.tp + self.fn)

    @property
    def motp(self) -> float:
        """MOTP = mean IoU of the matches (TrackEval convention: higher is better)."""
        return self.motp_sum / max(1.0, self.tp)

    @property
    def recall(self) -> float:
        """TP / #gt."""
        return self.tp / max(1.0, self.tp + self.fn)

    @property
    def precision(self) -> float:
        """TP / #tracker boxes."""
        return self.tp / max(1.0, self.tp + self.fp)

    @property
    def num_gt_ids(self) -> int:
        """Number of ground-truth tracks."""
        return self.mt + self.pt + self.ml

    @classmethod
    def combine(cls, items: Iterable[CLEARScores]) -> CLEARScores:
        """Sum the counts of several sequences (ratios are recomputed from the sums)."""
        parts = list(items)
        counts = {f: int(sum(getattr(p, f) for p in parts)) for f in _INT_FIELDS}
        return cls(**counts, motp_sum=float(sum(p.motp_sum for p in parts)))


_INT_FIELDS = ("tp", "fn", "fp", "idsw", "mt", "pt", "ml", "frag", "frames")


def clear_mot(data: MOTEvalInput, *, threshold: float = 0.5) -> CLEARScores:
    """CLEAR MOT counts of one sequence (match IoU >= ``threshold``; 0.5 in MOTChallenge)."""
    n_gt = data.num_gt_ids
    frames = data.num_frames
    if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
        return CLEARScores(
            tp=0,
            fn=data.num_gt_dets,
            fp=data.num_tracker_dets,
            idsw=0,
            mt=0,
            pt=0,
            ml=n_gt if data.num_tracker_dets == 0 else 0,
            frag=0,
            frames=0,  # TrackEval leaves CLR_Frames at 0 for an empty side
            motp_sum=0.0,
        )
    seen = np.zeros(n_gt)  # frames in which each gt is present
    tracked = np.zeros(n_gt)  # frames in which each gt is matched
    starts = np.zeros(n_gt)  # how often a tracked stretch begins
    last_match = np.full(n_gt, -1, dtype=np.int64)  # last tracker id ever matched (for IDSW)
    prev_frame = np.full(n_gt, -1, dtype=np.int64)  # tracker id matched in the previous frame
    tp = fn = fp = idsw = 0
    motp_sum = 0.0
    for gt_ids, tr_ids, sim in zip(data.gt_ids, data.tracker_ids, data.similarity):
        seen[gt_ids] += 1
        if gt_ids.size == 0 or tr_ids.size == 0:
            # An empty side: count the misses / false boxes; who-was-tracked-last-frame is
            # left untouched (as in TrackEval), so a gap without tracker boxes is not a break.
            fp += tr_ids.size
            fn += gt_ids.size
            continue
        continuing = tr_ids[None, :] == prev_frame[gt_ids][:, None]
        score = np.where(sim >= threshold - _EPS, 1000.0 * continuing + sim, 0.0)
        rows, cols = linear_sum_assignment(score, maximize=True)
        ok = score[rows, cols] > _EPS
        rows, cols = rows[ok], cols[ok]
        m_gt, m_tr = gt_ids[rows], tr_ids[cols]
        before = last_match[m_gt]
        idsw += int(np.count_nonzero((before >= 0) & (before != m_tr)))
        tracked[m_gt] += 1
        was_tracked = prev_frame >= 0
        last_match[m_gt] = m_tr
        prev_frame[:] = -1
        prev_frame[m_gt] = m_tr
        starts += (~was_tracked) & (prev_frame >= 0)
        tp += rows.size
        fn += gt_ids.size - rows.size
        fp += tr_ids.size - rows.size
        motp_sum += float(sim[rows, cols].sum())
    present = seen > 0
    ratio = tracked[present] / seen[present]
    mt = int(np.count_nonzero(ratio > 0.8))
    pt = int(np.count_nonzero(ratio >= 0.2)) - mt
    return CLEARScores(
        tp=tp,
        fn=fn,
        fp=fp,
        idsw=idsw,
        mt=mt,
        pt=pt,
        ml=n_gt - mt - pt,
        frag=int(np.sum(starts[starts > 0] - 1)),
        frames=frames,
        motp_sum=motp_sum,
    )
