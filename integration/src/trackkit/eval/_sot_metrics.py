"""Single-object tracking metrics: OTB success/precision, normalised precision, GOT-10k AO/SR.

Boxes are ``xywh`` arrays ``[T, 4]`` in one coordinate frame (metrics are translation
invariant, so 0- and 1-based boxes give the same numbers if both sides use the same base).
Overlap is the continuous-area IoU of the OTB toolkit (``calcRectInt``: area ``w * h``).

Frames without a usable ground-truth box (NaN, or width/height <= 0: an absent target or an
unlabelled frame) are handled by ``absent_policy``:

- ``"exclude"`` (GOT-10k, LaSOT and TrackingNet toolkits, pytracking): such frames are left
  out of every average.
- ``"otb"`` (OTB-2015 / UAV123 MATLAB toolkits, pysot ``OPEBenchmark``): they stay in the
  denominator with overlap ``-1`` and centre error ``-1``, so they count as failures in the
  success curve and - the toolkits' quirk - as hits in the precision curve.

A prediction that is NaN or has no area scores overlap 0 and infinite centre error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assoc import iou_xywh

__all__ = [
    "NORM_PRECISION_THRESHOLDS",
    "OVERLAP_THRESHOLDS",
    "PRECISION_THRESHOLDS",
    "SOTScores",
    "center_errors",
    "evaluate_sot",
    "mean_sot_scores",
    "normalized_center_errors",
    "overlaps_xywh",
    "precision_curve",
    "success_curve",
]

#: OTB overlap thresholds 0:0.05:1 (21 values).
OVERLAP_THRESHOLDS: NDArray[np.float64] = np.linspace(0.0, 1.0, 21)
#: OTB centre-error thresholds 0:1:50 pixels (precision is read at 20 px).
PRECISION_THRESHOLDS: NDArray[np.float64] = np.arange(0, 51, dtype=np.float64)
#: Normalised-precision thresholds 0:0.01:0.5 (TrackingNet/LaSOT; read at 0.2).
NORM_PRECISION_THRESHOLDS: NDArray[np.float64] = np.arange(0, 51, dtype=np.float64) / 100.0

_POLICIES = ("exclude", "otb")


def _boxes(boxes: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape [T, 4], got {arr.shape}")
    return arr


def _pair(pred: ArrayLike, gt: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    p, g = _boxes(pred, "pred_xywh"), _boxes(gt, "gt_xywh")
    if p.shape != g.shape:
        raise ValueError(f"pred_xywh {p.shape} and gt_xywh {g.shape} differ in length")
    return p, g


def _valid(boxes: NDArray[np.float64]) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


def overlaps_xywh(pred_xywh: ArrayLike, gt_xywh: ArrayLike) -> NDArray[np.float64]:
    """Per-frame IoU ``[T]`` of two box arrays ``[T, 4]``; invalid boxes give NaN (gt) / 0."""
    p, g = _pair(pred_xywh, gt_xywh)
    pv, gv = _valid(p), _valid(g)
    out = np.full(p.shape[0], np.nan)
    both = pv & gv
    iou = iou_xywh(p[both], g[both])
    out[both] = np.clip(iou, 0.0, 1.0)  # rounding can push identical boxes past 1
    out[gv & ~pv] = 0.0
    return out


def center_errors(pred_xywh: ArrayLike, gt_xywh: ArrayLike) -> NDArray[np.float64]:
    """Per-frame distance ``[T]`` of box centres in pixels; NaN gt -> NaN, bad pred -> inf."""
    p, g = _pair(pred_xywh, gt_xywh)
    d = np.linalg.norm((p[:, :2] + p[:, 2:] / 2) - (g[:, :2] + g[:, 2:] / 2), axis=1)
    d[~_valid(p)] = np.inf
    d[~_valid(g)] = np.nan
    return d


def normalized_center_errors(pred_xywh: ArrayLike, gt_xywh: ArrayLike) -> NDArray[np.float64]:
    """Centre distance, each axis divided by the gt box size (TrackingNet, Müller 2018)."""
    p, g = _pair(pred_xywh, gt_xywh)
    gv = _valid(g)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = ((p[:, :2] + p[:, 2:] / 2) - (g[:, :2] + g[:, 2:] / 2)) / g[:, 2:]
    d = np.linalg.norm(diff, axis=1)
    d[~_valid(p)] = np.inf
    d[~gv] = np.nan
    return d


def success_curve(
    overlaps: ArrayLike, *, thresholds: ArrayLike = OVERLAP_THRESHOLDS
) -> NDArray[np.float64]:
    """Fraction of frames with overlap ``> threshold`` for each threshold (OTB uses ``>``).

    ``overlaps`` is ``[T]``; frames to leave out must already be removed (``-1`` entries, the
    OTB convention for unusable ground truth, count as failures). Empty input gives NaN.
    """
    o = np.asarray(overlaps, dtype=np.float64).reshape(-1)
    th = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if o.size == 0:
        return np.full(th.shape, np.nan)
    return (o[:, None] > th[None, :]).mean(axis=0)


def precision_curve(
    errors: ArrayLike, *, thresholds: ArrayLike = PRECISION_THRESHOLDS
) -> NDArray[np.float64]:
    """Fraction of frames with centre error ``<= threshold`` for each threshold (OTB)."""
    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    th = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    if e.size == 0:
        return np.full(th.shape, np.nan)
    return (e[:, None] <= th[None, :]).mean(axis=0)


@dataclass(frozen=True)
class SOTScores:
    """Scores of one sequence (or their mean over sequences, see :func:`mean_sot_scores`).

    Attributes:
        auc: area under the success curve = mean success over ``OVERLAP_THRESHOLDS`` (OTB).
        precision: precision at 20 px (OTB).
        norm_precision: normalised precision at 0.2 (TrackingNet/LaSOT).
        norm_precision_auc: mean of the normalised-precision curve over 0:0.01:0.5.
        ao: average overlap (GOT-10k).
        sr50, sr75: success rates at overlap > 0.5 and > 0.75 (GOT-10k).
        success: success curve ``[21]``; precisions: curve ``[51]`` over 0..50 px;
        norm_precisions: curve ``[51]`` over 0..0.5.
        frames: number of frames that entered the averages.
    """

    auc: float
    precision: float
    norm_precision: float
    norm_precision_auc: float
    ao: float
    sr50: float
    sr75: float
    success: NDArray[np.float64]
    precisions: NDArray[np.float64]
    norm_precisions: NDArray[np.float64]
    frames: int


def evaluate_sot(
    pred_xywh: ArrayLike,
    gt_xywh: ArrayLike,
    absent: ArrayLike | None = None,
    *,
    absent_policy: str = "exclude",
    skip_first: bool = False,
) -> SOTScores:
    """Score one tracked sequence.

    Args:
        pred_xywh: predicted boxes ``[T, 4]``.
        gt_xywh: ground truth ``[T, 4]`` (NaN rows = no usable box).
        absent: optional ``bool [T]``; True frames are treated like unusable ground truth.
        absent_policy: ``"exclude"`` or ``"otb"`` (see the module docstring).
        skip_first: leave out frame 0, the initialisation frame (GOT-10k protocol).

    Raises:
        ValueError: mismatched shapes, an unknown policy, or a ground-truth box with a
            negative width or height in a frame not marked absent (an annotation error that
            would otherwise be scored silently as an unusable frame).
    """
    if absent_policy not in _POLICIES:
        raise ValueError(f"absent_policy must be one of {_POLICIES}, got {absent_policy!r}")
    p, g = _pair(pred_xywh, gt_xywh)
    usable = _valid(g)
    if absent is not None:
        a = np.asarray(absent, dtype=bool).reshape(-1)
        if a.shape[0] != g.shape[0]:
            raise ValueError(f"absent has {a.shape[0]} entries for {g.shape[0]} frames")
        usable &= ~a
    else:
        a = np.zeros(g.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):
        negative = np.isfinite(g).all(axis=1) & ((g[:, 2] < 0) | (g[:, 3] < 0)) & ~a
    if negative.any():
        i = int(np.flatnonzero(negative)[0])
        raise ValueError(
            f"gt_xywh[{i}] = {g[i].tolist()} has a negative width or height "
            f"({int(negative.sum())} such frame(s)); mark absent frames with NaN or absent="
        )
    keep = np.ones(g.shape[0], dtype=bool)
    if skip_first:
        keep[0] = False
    iou = overlaps_xywh(p, g)
    err = center_errors(p, g)
    nerr = normalized_center_errors(p, g)
    if absent_policy == "exclude":
        sel = keep & usable
        iou, err, nerr = iou[sel], err[sel], nerr[sel]
    else:
        iou = np.where(usable, iou, -1.0)[keep]
        err = np.where(usable, err, -1.0)[keep]
        nerr = np.where(usable, nerr, -1.0)[keep]
    success = success_curve(iou)
    precisions = precision_curve(err)
    norm_precisions = precision_curve(nerr, thresholds=NORM_PRECISION_THRESHOLDS)
    if iou.size:
        ao = float(np.clip(iou, 0, None).mean())
        sr50 = float((iou > 0.5).mean())
        sr75 = float((iou > 0.75).mean())
    else:
        ao = sr50 = sr75 = float("nan")
    return SOTScores(
        auc=float(success.mean()),
        precision=float(precisions[20]),
        norm_precision=float(norm_precisions[20]),
        norm_precision_auc=float(norm_precisions.mean()),
        ao=ao,
        sr50=sr50,
        sr75=sr75,
        success=success,
        precisions=precisions,
        norm_precisions=norm_precisions,
        frames=int(iou.size),
    )


def mean_sot_scores(scores: Iterable[SOTScores]) -> SOTScores:
    """Average per-sequence scores with equal weight per sequence (OTB, GOT-10k, LaSOT).

    Curves are averaged first and the scalars read off the averaged curves, as the toolkits do.
    """
    items = list(scores)
    if not items:
        raise ValueError("scores is empty")
    success = np.mean([s.success for s in items], axis=0)
    precisions = np.mean([s.precisions for s in items], axis=0)
    norm_precisions = np.mean([s.norm_precisions for s in items], axis=0)
    return SOTScores(
        auc=float(success.mean()),
        precision=float(precisions[20]),
        norm_precision=float(norm_precisions[20]),
        norm_precision_auc=float(norm_precisions.mean()),
        ao=float(np.mean([s.ao for s in items])),
        sr50=float(np.mean([s.sr50 for s in items])),
        sr75=float(np.mean([s.sr75 for s in items])),
        success=success,
        precisions=precisions,
        norm_precisions=norm_precisions,
        frames=int(sum(s.frames for s in items)),
    )
