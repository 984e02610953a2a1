"""Fusion by value: pick among candidate boxes by their predicted values (TRAST/TRASFUST)."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ._boxes import box_iou_xywh_torch
from ._checks import check_floating, check_real, check_tensor

__all__ = ["FusionChoice", "average_agreeing", "fuse_by_value", "value_ranking_accuracy"]


class FusionChoice(NamedTuple):
    """Output of `fuse_by_value`: ``candidate_index``, ``boxes_xywh``, ``value`` and
    ``smoothed_values`` (the values the choice was made on; pass them back as
    ``previous_values`` in the next step to smooth over time)."""

    candidate_index: torch.Tensor
    boxes_xywh: torch.Tensor
    value: torch.Tensor
    smoothed_values: torch.Tensor


def fuse_by_value(
    candidate_boxes_xywh: torch.Tensor,
    values: torch.Tensor,
    *,
    valid: torch.Tensor | None = None,
    previous_index: torch.Tensor | None = None,
    margin: float = 0.0,
    previous_values: torch.Tensor | None = None,
    value_ema: float = 0.0,
    average_iou: float | None = None,
    average_temperature: float | None = None,
    validate: bool = True,
) -> FusionChoice:
    """Choose, per item, the candidate box with the highest predicted value.

    Dunnhofer et al. 2020, Sec. 3.5: TRASFUST outputs the teacher box with the highest state value
    ``v_t^(t) = s_v(s_t^(t))`` (eq. 8); TRAST compares the student's value with one teacher's
    and keeps the student's box when ``v_t >= v_t^(t)``. Ties go to the lowest index, so put the
    student at index 0 to get TRAST's rule.

    Hysteresis (not in the paper; ``previous_index=None`` or ``margin=0`` without a previous
    choice reproduces it exactly): with ``previous_index``, the previous choice is kept unless
    the best candidate's value exceeds the previous candidate's value by more than ``margin``.
    This damps flip-flopping between candidates of near-equal value. A previous choice that is
    no longer valid is dropped.

    Temporal smoothing (not in the paper; ``value_ema=0``, the default, reproduces the above bit
    for bit): the choice (argmax and hysteresis) is made on an exponential moving average of
    each candidate's value over the steps, ``s_t = value_ema * s_{t-1} + (1 - value_ema) *
    v_t``, with ``s_{t-1}`` given as ``previous_values`` (the previous step's
    ``smoothed_values``); without ``previous_values`` (the first step, a reset) ``s_t = v_t``.
    Every candidate's average is updated, valid or not (an invalid candidate is still never
    chosen). Per-step values are noisy; smoothing them commits the choice to candidates that
    are better over a stretch of frames.

    Args:
        candidate_boxes_xywh: ``Tensor[..., N, 4]`` candidate boxes.
        values: ``Tensor[..., N]`` predicted values (expected returns).
        valid: optional bool ``Tensor[..., N]``; invalid candidates (a teacher that lost its
            target) are never chosen. Every item needs at least one valid candidate.
        previous_index: optional long ``Tensor[...]``, the previous step's choice.
        margin: hysteresis margin ``>= 0``.
        previous_values: optional ``Tensor[..., N]``, the previous step's ``smoothed_values``
            (same shape and dtype as ``values``); ignored when ``value_ema == 0``.
        value_ema: weight of the past in the moving average, in ``[0, 1)``; 0 chooses on the
            current values alone.
        average_iou: ``None`` (output the chosen box) or the IoU threshold in ``(0, 1]`` above
            which candidates agree with the chosen one and are averaged with it.
        average_temperature: ``None`` (equal weights) or the softmax temperature ``> 0`` of the
            averaging weights; ignored when ``average_iou`` is ``None``.
        validate: check that every item has a valid candidate and that ``previous_index`` lies
            in ``[0, N)`` (``ValueError`` otherwise). These checks read tensor values on the
            host (a device-to-host synchronisation each on a GPU); ``validate=False`` skips them
            for a per-frame loop whose inputs are valid by construction (types, dtypes and
            shapes are still checked) and gives the same result. Unchecked, an item without a
            valid candidate gets candidate 0, and an out-of-range ``previous_index`` raises
            an indexing error or gives a meaningless choice.

    Returns:
        `FusionChoice` with ``candidate_index`` (long ``[...]``), the chosen ``boxes_xywh``
        ``[..., 4]`` (the averaged boxes with ``average_iou``), their (unsmoothed) ``value``
        ``[...]`` and the ``smoothed_values`` ``[..., N]`` the choice was made on (``values``
        itself when ``value_ema == 0`` or without ``previous_values``).
    """
    _check_candidates(candidate_boxes_xywh, values)
    if check_real(margin, "margin") < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if isinstance(value_ema, bool) or not isinstance(value_ema, (int, float)):
        raise TypeError(f"value_ema must be a number, got {type(value_ema).__name__}")
    if not 0.0 <= value_ema < 1.0:  # also rejects NaN
        raise ValueError(f"value_ema must lie in [0, 1), got {value_ema}")
    if average_iou is not None:
        _check_average(average_iou, average_temperature)
    smoothed = values
    if previous_values is not None and value_ema > 0:
        check_tensor(previous_values, "previous_values")
        if previous_values.shape != values.shape or previous_values.dtype != values.dtype:
            raise ValueError(
                f"previous_values must be a {values.dtype} tensor of shape "
                f"{tuple(values.shape)}, got {previous_values.dtype} "
                f"{tuple(previous_values.shape)}"
            )
        smoothed = previous_values * value_ema + values * (1.0 - value_ema)
    scores = smoothed
    if valid is not None:
        _check_valid(valid, values.shape)
        if validate and not bool(valid.any(dim=-1).all()):
            raise ValueError("valid: every item needs at least one valid candidate")
        scores = smoothed.masked_fill(~valid, float("-inf"))
    index = scores.argmax(dim=-1)  # first maximum on ties
    if previous_index is not None:
        check_tensor(previous_index, "previous_index")
        if previous_index.dtype != torch.long or previous_index.shape != values.shape[:-1]:
            raise ValueError(
                f"previous_index must be a long tensor of shape {tuple(values.shape[:-1])}, "
                f"got {previous_index.dtype} {tuple(previous_index.shape)}"
            )
        num = values.shape[-1]
        if validate and bool(((previous_index < 0) | (previous_index >= num)).any()):
            raise ValueError(f"previous_index must lie in [0, {num}), got {previous_index}")
        best = scores.gather(-1, index.unsqueeze(-1)).squeeze(-1)
        kept = scores.gather(-1, previous_index.unsqueeze(-1)).squeeze(-1)
        stay = torch.isfinite(kept) & (best <= kept + margin)
        index = torch.where(stay, previous_index, index)
    boxes = candidate_boxes_xywh.gather(
        -2, index[..., None, None].expand(*index.shape, 1, 4)
    ).squeeze(-2)
    value = values.gather(-1, index.unsqueeze(-1)).squeeze(-1)
    if average_iou is not None:
        boxes = _average(
            candidate_boxes_xywh, smoothed, index, valid, average_iou, average_temperature
        )
    return FusionChoice(index, boxes, value, smoothed)


def _check_candidates(candidate_boxes_xywh: torch.Tensor, values: torch.Tensor) -> None:
    """Floating ``[..., N, 4]`` boxes with floating ``[..., N]`` values, ``N >= 1``."""
    check_floating(candidate_boxes_xywh, "candidate_boxes_xywh")
    check_floating(values, "values")
    if candidate_boxes_xywh.dim() < 2 or candidate_boxes_xywh.shape[-1] != 4:
        raise ValueError(
            f"candidate_boxes_xywh must have shape [..., N, 4], got "
            f"{tuple(candidate_boxes_xywh.shape)}"
        )
    if values.shape != candidate_boxes_xywh.shape[:-1]:
        raise ValueError(
            f"values must have shape {tuple(candidate_boxes_xywh.shape[:-1])}, got "
            f"{tuple(values.shape)}"
        )
    if values.shape[-1] < 1:
        raise ValueError("there must be at least one candidate (N >= 1)")


def _check_valid(valid: torch.Tensor, shape: torch.Size) -> None:
    """``valid`` is a bool tensor of ``shape`` (the values' ``[..., N]``)."""
    check_tensor(valid, "valid")
    if valid.dtype != torch.bool or valid.shape != shape:
        raise ValueError(
            f"valid must be a bool tensor of shape {tuple(shape)}, got {valid.dtype} "
            f"{tuple(valid.shape)}"
        )


def _check_average(iou_threshold: float, temperature: float | None) -> None:
    for name, x in (("average_iou", iou_threshold), ("average_temperature", temperature)):
        if x is not None and (isinstance(x, bool) or not isinstance(x, (int, float))):
            raise TypeError(f"{name} must be a number, got {type(x).__name__}")
    if not 0.0 < iou_threshold <= 1.0:  # also rejects NaN
        raise ValueError(f"average_iou must lie in (0, 1], got {iou_threshold}")
    if temperature is not None and not temperature > 0:  # also rejects NaN
        raise ValueError(f"average_temperature must be > 0 (or None), got {temperature}")


def _average(
    boxes: torch.Tensor,
    values: torch.Tensor,
    index: torch.Tensor,
    valid: torch.Tensor | None,
    iou_threshold: float,
    temperature: float | None,
) -> torch.Tensor:
    chosen = boxes.gather(-2, index[..., None, None].expand(*index.shape, 1, 4))  # [..., 1, 4]
    iou = box_iou_xywh_torch(boxes, chosen)  # [..., N]; 0 for a NaN or empty box
    is_chosen = torch.arange(boxes.shape[-2], device=boxes.device) == index.unsqueeze(-1)
    agree = (iou >= iou_threshold) & torch.isfinite(boxes).all(dim=-1)
    if valid is not None:
        agree &= valid
    agree |= is_chosen  # the chosen box always counts, as without averaging
    if temperature is None or math.isinf(temperature):
        weights = agree.to(boxes.dtype)
    else:  # softmax of the values over the agreeing candidates (max-shifted by the softmax)
        logits = (values.to(boxes.dtype) / temperature).masked_fill(~agree, float("-inf"))
        weights = torch.softmax(logits, dim=-1)
        # a non-finite value among the agreeing candidates: equal weights for that item
        bad = ~torch.isfinite(weights).all(dim=-1, keepdim=True)
        weights = torch.where(bad, agree.to(boxes.dtype), weights)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    # non-agreeing boxes (possibly NaN) must not reach the sum: 0 * NaN is NaN
    summed = torch.where(agree.unsqueeze(-1), boxes, torch.zeros_like(boxes))
    return (weights.unsqueeze(-1) * summed).sum(dim=-2)


def average_agreeing(
    candidate_boxes_xywh: torch.Tensor,
    values: torch.Tensor,
    index: torch.Tensor,
    *,
    iou_threshold: float,
    temperature: float | None = None,
    valid: torch.Tensor | None = None,
    validate: bool = True,
) -> torch.Tensor:
    """The weighted mean of the chosen candidate box and the candidate boxes that agree with it.

    An extension of fusion by value (Dunnhofer et al. 2020, eq. 8, picks one box; this is not
    in the paper): when several candidates (teachers) overlap the chosen one strongly, their
    errors are partly independent and their mean is expected to lie closer to the target;
    a candidate that drifted away (IoU below the threshold) is left out, so with disagreeing
    candidates the output is the chosen box. `fuse_by_value` applies it with ``average_iou``.

    Candidate ``k`` takes part iff it is the chosen one (``index``), or it is valid, its box is
    finite and ``IoU(box_k, box_index) >= iou_threshold``. Weights: equal
    (``temperature=None``, the same as ``inf``) or ``softmax(values / temperature)`` over the
    taking-part candidates (equal weights for an item whose taking-part values are not all
    finite). The mean of ``x, y, w, h`` equals the mean of the corners. Without agreeing
    candidates the output is the chosen box exactly.

    Args:
        candidate_boxes_xywh: ``Tensor[..., N, 4]`` candidate boxes.
        values: ``Tensor[..., N]`` their values (used by the softmax weights only).
        index: long ``Tensor[...]``, the chosen candidate per item, in ``[0, N)``.
        iou_threshold: in ``(0, 1]``.
        temperature: ``None`` or ``> 0``.
        valid: optional bool ``Tensor[..., N]``; invalid candidates never take part (the
            chosen one always does).
        validate: check that ``index`` lies in ``[0, N)`` (reads it on the host; a
            device-to-host synchronisation on a GPU); ``False`` skips that check only.

    Returns:
        ``Tensor[..., 4]`` boxes in the dtype of ``candidate_boxes_xywh``.
    """
    _check_candidates(candidate_boxes_xywh, values)
    check_tensor(index, "index")
    shape = values.shape
    if index.dtype != torch.long or index.shape != shape[:-1]:
        raise ValueError(
            f"index must be a long tensor of shape {tuple(shape[:-1])}, got {index.dtype} "
            f"{tuple(index.shape)}"
        )
    if validate and bool(((index < 0) | (index >= shape[-1])).any()):
        raise ValueError(f"index must lie in [0, {shape[-1]}), got {index}")
    if valid is not None:
        _check_valid(valid, shape)
    _check_average(iou_threshold, temperature)
    return _average(candidate_boxes_xywh, values, index, valid, iou_threshold, temperature)


def value_ranking_accuracy(
    values: torch.Tensor, quality: torch.Tensor, *, min_gap: float = 0.1
) -> dict[str, float]:
    """How well predicted values rank candidates by their true quality (for `fuse_by_value`).

    Fusion by value (Dunnhofer et al. 2020, eq. 8) is only as good as the value's ordering of
    the candidates; this measures that ordering on data with ground truth.

    Args:
        values: ``Tensor[G, K, L]`` predicted values of ``K`` candidates at ``L`` steps of ``G``
            groups (e.g. windows).
        quality: ``Tensor[G, K, L]`` their true quality (e.g. IoU with the ground truth).
        min_gap: only candidate pairs of one step whose qualities differ by more than this
            are scored.

    Returns:
        ``pairwise``: the share of scored pairs the values order the same way as ``quality``
        (equal values count as wrong; NaN without scored pairs); ``pairs``: their number;
        ``pick_quality``: the mean quality of each step's highest-value candidate (eq. 8's
        choice, ties to the lowest index); ``oracle_quality``: of the best one;
        ``fixed_quality_k``: of always taking candidate ``k``.
    """
    check_tensor(values, "values")
    check_tensor(quality, "quality")
    if values.shape != quality.shape or values.dim() != 3:
        raise ValueError(
            "values and quality must both be [G, K, L], got "
            f"{tuple(values.shape)} and {tuple(quality.shape)}"
        )
    if values.numel() == 0:
        raise ValueError(f"values is empty (shape {tuple(values.shape)})")
    if not bool(torch.isfinite(values).all() & torch.isfinite(quality).all()):
        raise ValueError("values and quality must be finite (no NaN or inf)")
    v = values.detach().double()
    y = quality.detach().double()
    dv = v[:, :, None] - v[:, None, :]  # [G, K, K, L]
    dy = y[:, :, None] - y[:, None, :]
    k = v.shape[1]
    upper = torch.ones(k, k, dtype=torch.bool, device=v.device).triu(1)[None, :, :, None]
    pairs = (dy.abs() > min_gap) & upper
    correct = (dv * dy > 0) & pairs
    n = int(pairs.sum())
    pick = y.gather(1, v.argmax(dim=1, keepdim=True)).squeeze(1)
    out = {
        "pairwise": float(correct.sum()) / n if n else float("nan"),
        "pairs": float(n),
        "pick_quality": float(pick.mean()),
        "oracle_quality": float(y.max(dim=1).values.mean()),
    }
    for i in range(k):
        out[f"fixed_quality_{i}"] = float(y[:, i].mean())
    return out
