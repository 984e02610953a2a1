"""All MOTChallenge metrics of a tracker in one call: CLEAR MOT, identity and HOTA."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from trackkit.data import MOTRows
from trackkit.eval._clear import CLEARScores, clear_mot
from trackkit.eval._hota import HOTAScores, hota
from trackkit.eval._identity import IdentityScores, identity_metrics
from trackkit.eval._mot_prepare import prepare_mot_eval

__all__ = ["MOTScores", "evaluate_mot"]


@dataclass(frozen=True)
class MOTScores:
    """CLEAR MOT, identity and HOTA results of one sequence or of several combined."""

    clear: CLEARScores
    identity: IdentityScores
    hota: HOTAScores

    @classmethod
    def combine(cls, items: Iterable[MOTScores]) -> MOTScores:
        """Combine sequences the way TrackEval's ``COMBINED_SEQ`` row does."""
        parts = list(items)
        if not parts:
            raise ValueError("items is empty")
        return cls(
            clear=CLEARScores.combine(p.clear for p in parts),
            identity=IdentityScores.combine(p.identity for p in parts),
            hota=HOTAScores.combine(p.hota for p in parts),
        )

    def summary(self) -> dict[str, float]:
        """The headline numbers as a flat dict (ratios in [0, 1], counts as floats)."""
        c, i, h = self.clear, self.identity, self.hota
        return {
            "HOTA": h.hota,
            "DetA": h.det_a,
            "AssA": h.ass_a_mean,
            "LocA": h.loc_a_mean,
            "MOTA": c.mota,
            "MOTP": c.motp,
            "IDF1": i.idf1,
            "IDP": i.idp,
            "IDR": i.idr,
            "IDSW": float(c.idsw),
            "Frag": float(c.frag),
            "MT": float(c.mt),
            "PT": float(c.pt),
            "ML": float(c.ml),
            "FP": float(c.fp),
            "FN": float(c.fn),
            "TP": float(c.tp),
            "Recall": c.recall,
            "Precision": c.precision,
        }


def evaluate_mot(
    gt: MOTRows,
    tracks: MOTRows,
    num_frames: int,
    *,
    mot17_preprocessing: bool = False,
    threshold: float = 0.5,
) -> MOTScores:
    """Score tracker rows against ground truth for one sequence (MOTChallenge protocol).

    Args:
        gt: ground truth (``confidences`` = consider flag; ``classes`` used for MOT16/17).
        tracks: tracker output (0-based frames and boxes, as :class:`MOTRows`).
        num_frames: sequence length.
        mot17_preprocessing: MOT16/17/20 class handling (see :func:`prepare_mot_eval`);
            False for MOT15-style files.
        threshold: IoU needed for a CLEAR / identity match (0.5). HOTA uses its own alphas.
    """
    data = prepare_mot_eval(gt, tracks, num_frames, mot17_preprocessing=mot17_preprocessing)
    return MOTScores(
        clear=clear_mot(data, threshold=threshold),
        identity=identity_metrics(data, threshold=threshold),
        hota=hota(data),
    )
