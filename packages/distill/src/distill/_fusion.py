"""Fusion by value: pick among candidate boxes by their predicted values (TRAST/TRASFUST)."""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._checks import check_floating, check_tensor

__all__ = ["FusionChoice", "fuse_by_value", "value_ranking_accuracy"]


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
        validate: check that every item has a valid candidate and that ``previous_index`` lies
            in ``[0, N)`` (``ValueError`` otherwise). These checks read tensor values on the
            host (a device-to-host synchronisation each on a GPU); ``validate=False`` skips them
            for a per-frame loop whose inputs are valid by construction (types, dtypes and
            shapes are still checked) and gives the same result. Unchecked, an item without a
            valid candidate gets candidate 0, and an out-of-range ``previous_index`` raises
            an indexing error or gives a meaningless choice.

    Returns:
        `FusionChoice` with ``candidate_index`` (long ``[...]``), the chosen ``boxes_xywh``
        ``[..., 4]``, their (unsmoothed) ``value`` ``[...]`` and the ``smoothed_values``
        ``[..., N]`` the choice was made on (``values`` itself when ``value_ema == 0`` or
        without ``previous_values``).
    """
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
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if isinstance(value_ema, bool) or not isinstance(value_ema, (int, float)):
        raise TypeError(f"value_ema must be a number, got {type(value_ema).__name__}")
    if not 0.0 <= value_ema < 1.0:  # also rejects NaN
        raise ValueError(f"value_ema must lie in [0, 1), got {value_ema}")
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
        check_tensor(valid, "valid")
        if valid.dtype != torch.bool or valid.shape != values.shape:
            raise ValueError(
                f"valid must be a bool tensor of shape {tuple(values.shape)}, got "
                f"{valid.dtype} {tuple(valid.shape)}"
            )
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
    return FusionChoice(index, boxes, value, smoothed)


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
