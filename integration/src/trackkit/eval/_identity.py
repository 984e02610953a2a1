"""Identity metrics IDF1 / IDP / IDR (Ristani et al., ECCV-W 2016), as in TrackEval.

Each ground-truth trajectory is assigned to at most one tracker trajectory, globally, so that
the number of identity-correct detections (IDTP: frames where the two overlap with
IoU >= ``threshold``) is maximal; everything else is an IDFN (gt) or IDFP (tracker).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from trackkit.eval._mot_prepare import MOTEvalInput

__all__ = ["IdentityScores", "identity_metrics"]


@dataclass(frozen=True)
class IdentityScores:
    """Identity counts; ``idf1``, ``idp``, ``idr`` are properties."""

    idtp: int
    idfn: int
    idfp: int

    @property
    def idf1(self) -> float:
        """IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN)."""
        return self.idtp / max(1.0, self.idtp + 0.5 * self.idfp + 0.5 * self.idfn)

    @property
    def idp(self) -> float:
        """Identity precision IDTP / (IDTP + IDFP)."""
        return self.idtp / max(1.0, self.idtp + self.idfp)

    @property
    def idr(self) -> float:
        """Identity recall IDTP / (IDTP + IDFN)."""
        return self.idtp / max(1.0, self.idtp + self.idfn)

    @classmethod
    def combine(cls, items: Iterable[IdentityScores]) -> IdentityScores:
        """Sum the counts of several sequences."""
        parts = list(items)
        return cls(
            idtp=sum(p.idtp for p in parts),
            idfn=sum(p.idfn for p in parts),
            idfp=sum(p.idfp for p in parts),
        )


def identity_metrics(data: MOTEvalInput, *, threshold: float = 0.5) -> IdentityScores:
    """IDTP / IDFN / IDFP of one sequence by a global bipartite assignment of trajectories."""
    if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
        return IdentityScores(idtp=0, idfn=data.num_gt_dets, idfp=data.num_tracker_dets)
    n_gt, n_tr = data.num_gt_ids, data.num_tracker_ids
    overlap = np.zeros((n_gt, n_tr))  # frames in which gt i and tracker j match
    gt_len = np.zeros(n_gt)
    tr_len = np.zeros(n_tr)
    for gt_ids, tr_ids, sim in zip(data.gt_ids, data.tracker_ids, data.similarity):
        rows, cols = np.nonzero(sim >= threshold)
        np.add.at(overlap, (gt_ids[rows], tr_ids[cols]), 1)
        gt_len[gt_ids] += 1
        tr_len[tr_ids] += 1
    # Assignment over gt + dummy-tracker columns and tracker + dummy-gt rows: pairing gt i with
    # tracker j costs the detections of both that are not shared; a gt (tracker) left alone
    # costs its whole length. Forbidden pairs cost "infinity".
    big = 1e10
    size = n_gt + n_tr
    cost = np.zeros((size, size))
    cost[:n_gt, :n_tr] = gt_len[:, None] + tr_len[None, :] - 2 * overlap
    cost[:n_gt, n_tr:] = big
    cost[np.arange(n_gt), n_tr + np.arange(n_gt)] = gt_len
    cost[n_gt:, :n_tr] = big
    cost[n_gt + np.arange(n_tr), np.arange(n_tr)] = tr_len
    rows, cols = linear_sum_assignment(cost)
    paired = (rows < n_gt) & (cols < n_tr)
    idtp = int(np.rint(overlap[rows[paired], cols[paired]].sum()))
    total_gt = int(gt_len.sum())
    total_tr = int(tr_len.sum())
    return IdentityScores(idtp=idtp, idfn=total_gt - idtp, idfp=total_tr - idtp)
