"""HOTA (Luiten et al., IJCV 2020): detection, association and localisation accuracy.

For each localisation threshold ``alpha`` in 0.05, 0.10, ..., 0.95 frames are matched by the
Hungarian algorithm maximising ``A(i, j) * IoU`` where ``A`` is the global soft association
(Jaccard) score of the two trajectories; matches with IoU >= alpha are TPs. Then
``DetA = TP / (TP + FN + FP)``, ``AssA = mean over TPs of TPA / (TPA + FNA + FPA)``,
``HOTA_alpha = sqrt(DetA * AssA)`` and the reported scores average over alpha.
Numbers equal TrackEval's ``HOTA``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from trackkit.eval._mot_prepare import MOTEvalInput

__all__ = ["HOTA_ALPHAS", "HOTAScores", "hota"]

#: Localisation thresholds 0.05:0.05:0.95 (19 values).
HOTA_ALPHAS: NDArray[np.float64] = np.arange(0.05, 0.99, 0.05)
_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class HOTAScores:
    """Per-alpha HOTA components ``[19]``; scalar summaries (means over alpha) are properties.

    Attributes:
        tp, fn, fp: detection counts per alpha.
        ass_a, ass_re, ass_pr: association accuracy / recall / precision per alpha (TP-weighted).
        loc_a: localisation accuracy (mean IoU of the TPs) per alpha.
    """

    tp: NDArray[np.float64]
    fn: NDArray[np.float64]
    fp: NDArray[np.float64]
    ass_a: NDArray[np.float64]
    ass_re: NDArray[np.float64]
    ass_pr: NDArray[np.float64]
    loc_a: NDArray[np.float64]

    @property
    def det_a_curve(self) -> NDArray[np.float64]:
        """DetA per alpha."""
        return self.tp / np.maximum(1.0, self.tp + self.fn + self.fp)

    @property
    def det_re_curve(self) -> NDArray[np.float64]:
        """DetRe per alpha."""
        return self.tp / np.maximum(1.0, self.tp + self.fn)

    @property
    def det_pr_curve(self) -> NDArray[np.float64]:
        """DetPr per alpha."""
        return self.tp / np.maximum(1.0, self.tp + self.fp)

    @property
    def hota_curve(self) -> NDArray[np.float64]:
        """HOTA per alpha: ``sqrt(DetA * AssA)``."""
        return np.sqrt(self.det_a_curve * self.ass_a)

    @property
    def hota(self) -> float:
        """HOTA averaged over alpha."""
        return float(self.hota_curve.mean())

    @property
    def det_a(self) -> float:
        """DetA averaged over alpha."""
        return float(self.det_a_curve.mean())

    @property
    def det_re(self) -> float:
        """DetRe averaged over alpha."""
        return float(self.det_re_curve.mean())

    @property
    def det_pr(self) -> float:
        """DetPr averaged over alpha."""
        return float(self.det_pr_curve.mean())

    @property
    def ass_a_mean(self) -> float:
        """AssA averaged over alpha."""
        return float(self.ass_a.mean())

    @property
    def ass_re_mean(self) -> float:
        """AssRe averaged over alpha."""
        return float(self.ass_re.mean())

    @property
    def ass_pr_mean(self) -> float:
        """AssPr averaged over alpha."""
        return float(self.ass_pr.mean())

    @property
    def loc_a_mean(self) -> float:
        """LocA averaged over alpha."""
        return float(self.loc_a.mean())

    @property
    def hota0(self) -> float:
        """HOTA at the lowest alpha (0.05), TrackEval's ``HOTA(0)``."""
        return float(self.hota_curve[0])

    @classmethod
    def combine(cls, items: Iterable[HOTAScores]) -> HOTAScores:
        """Combine sequences: counts add up, AssA/AssRe/AssPr/LocA are TP-weighted means."""
        parts = list(items)
        if not parts:
            raise ValueError("items is empty")
        tp = np.sum([p.tp for p in parts], axis=0)
        weight = np.maximum(1.0, tp)

        def weighted(name: str) -> NDArray[np.float64]:
            return np.sum([getattr(p, name) * p.tp for p in parts], axis=0) / weight

        loc = np.sum([p.loc_a * p.tp for p in parts], axis=0)
        return cls(
            tp=tp,
            fn=np.sum([p.fn for p in parts], axis=0),
            fp=np.sum([p.fp for p in parts], axis=0),
            ass_a=weighted("ass_a"),
            ass_re=weighted("ass_re"),
            ass_pr=weighted("ass_pr"),
            loc_a=np.maximum(1e-10, loc) / np.maximum(1e-10, tp),
        )


def hota(data: MOTEvalInput) -> HOTAScores:
    """HOTA components of one sequence."""
    n_alpha = HOTA_ALPHAS.size
    zeros = np.zeros(n_alpha)
    if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
        return HOTAScores(
            tp=zeros,
            fn=np.full(n_alpha, float(data.num_gt_dets if data.num_tracker_dets == 0 else 0)),
            fp=np.full(n_alpha, float(data.num_tracker_dets if data.num_gt_dets == 0 else 0)),
            ass_a=zeros,
            ass_re=zeros,
            ass_pr=zeros,
            loc_a=np.ones(n_alpha),
        )
    n_gt, n_tr = data.num_gt_ids, data.num_tracker_ids
    # Global soft association: per frame, each pair contributes IoU / (row sum + col sum - IoU).
    soft = np.zeros((n_gt, n_tr))
    gt_len = np.zeros((n_gt, 1))
    tr_len = np.zeros((1, n_tr))
    for gt_ids, tr_ids, sim in zip(data.gt_ids, data.tracker_ids, data.similarity):
        denom = sim.sum(axis=0)[None, :] + sim.sum(axis=1)[:, None] - sim
        share = np.where(denom > _EPS, sim / np.where(denom > _EPS, denom, 1.0), 0.0)
        soft[gt_ids[:, None], tr_ids[None, :]] += share
        gt_len[gt_ids] += 1
        tr_len[0, tr_ids] += 1
    alignment = soft / (gt_len + tr_len - soft)

    tp = np.zeros(n_alpha)
    fn = np.zeros(n_alpha)
    fp = np.zeros(n_alpha)
    loc = np.zeros(n_alpha)
    pair_keys: list[NDArray[np.int64]] = []  # one key per TP: (alpha, gt id, tracker id)
    for gt_ids, tr_ids, sim in zip(data.gt_ids, data.tracker_ids, data.similarity):
        if gt_ids.size == 0 or tr_ids.size == 0:
            fp += tr_ids.size
            fn += gt_ids.size
            continue
        score = alignment[gt_ids[:, None], tr_ids[None, :]] * sim
        rows, cols = linear_sum_assignment(score, maximize=True)
        matched_sim = sim[rows, cols]
        ok = matched_sim[None, :] >= HOTA_ALPHAS[:, None] - _EPS  # [alpha, matches]
        count = ok.sum(axis=1)
        tp += count
        fn += gt_ids.size - count
        fp += tr_ids.size - count
        loc += (ok * matched_sim[None, :]).sum(axis=1)
        a_idx, m_idx = np.nonzero(ok)
        pair_keys.append((a_idx * n_gt + gt_ids[rows[m_idx]]) * n_tr + tr_ids[cols[m_idx]])
    # TPA of every (alpha, gt, tracker) pair with at least one TP, kept sparse.
    keys, tpa = np.unique(np.concatenate(pair_keys or [np.zeros(0, np.int64)]), return_counts=True)
    a_of, rest = np.divmod(keys, n_gt * n_tr)
    g_of, t_of = np.divmod(rest, n_tr)
    tpa_f = tpa.astype(np.float64)
    g_len, t_len = gt_len[g_of, 0], tr_len[0, t_of]

    def per_alpha(values: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.bincount(a_of, weights=values, minlength=n_alpha).astype(np.float64)

    weight = np.maximum(1.0, tp)
    ass_a = per_alpha(tpa_f * tpa_f / np.maximum(1.0, g_len + t_len - tpa_f))
    ass_re = per_alpha(tpa_f * tpa_f / np.maximum(1.0, g_len))
    ass_pr = per_alpha(tpa_f * tpa_f / np.maximum(1.0, t_len))
    return HOTAScores(
        tp=tp,
        fn=fn,
        fp=fp,
        ass_a=ass_a / weight,
        ass_re=ass_re / weight,
        ass_pr=ass_pr / weight,
        loc_a=np.maximum(1e-10, loc) / np.maximum(1e-10, tp),
    )
