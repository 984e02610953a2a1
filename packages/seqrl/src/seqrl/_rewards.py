"""Rewards from per-frame IoU arrays (so seqrl needs no box library).

* :func:`average_overlap` - the episode reward of Kim et al. 2022 (AO, mean IoU over the episode).
* :func:`success_rate` - fraction of frames with IoU above a threshold (GOT-10k SR).
* :func:`quantised_iou_reward` - Dunnhofer et al. 2020 eq. 2: ``2 * floor_0.05(IoU) - 1`` if IoU >=
  0.5, else -1, per frame.

Inputs are ``Tensor[T]`` or ``Tensor[B, T]`` (numpy arrays are accepted and converted);
per-episode rewards come back as ``Tensor[]`` / ``Tensor[B]``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._checks import as_float_tensor, check_finite, check_ndim, check_nonempty, check_positive


def _ious(ious: Any, name: str = "ious") -> Tensor:
    t = as_float_tensor(ious, name)
    check_ndim(t, name, (1, 2), "[T] or [B, T]")
    check_nonempty(t, name)
    check_finite(t, name)
    if bool(((t < 0) | (t > 1)).any()):
        raise ValueError(
            f"{name} must lie in [0, 1], got range [{float(t.min()):.4g}, {float(t.max()):.4g}]"
        )
    return t


def _mask(mask: Any, like: Tensor) -> Tensor:
    if not isinstance(mask, Tensor):
        mask = torch.as_tensor(mask)
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor, got dtype {mask.dtype}")
    if mask.shape != like.shape:
        raise ValueError(
            f"mask must have the shape of ious {tuple(like.shape)}, got {tuple(mask.shape)}"
        )
    if bool((mask.sum(dim=-1) == 0).any()):
        raise ValueError("mask selects no frame in at least one episode (empty episode)")
    return mask.to(like.device)


def average_overlap(ious: Any, *, mask: Any = None) -> Tensor:
    """Average overlap (AO) of each episode, the reward of Kim et al. 2022 (Sec. 4.1).

    Args:
        ious: ``[T]`` or ``[B, T]`` per-frame IoU in [0, 1].
        mask: optional bool array of the same shape; frames where it is False are ignored
            (e.g. padding of shorter episodes).

    Returns:
        ``Tensor[]`` or ``Tensor[B]`` mean IoU over the (masked) frames.
    """
    t = _ious(ious)
    if mask is None:
        return t.mean(dim=-1)
    m = _mask(mask, t)
    return (t * m).sum(dim=-1) / m.sum(dim=-1)


def success_rate(ious: Any, *, threshold: float = 0.5, mask: Any = None) -> Tensor:
    """Fraction of frames with ``IoU >= threshold`` (GOT-10k SR_0.5 by default).

    Args:
        ious: ``[T]`` or ``[B, T]`` per-frame IoU in [0, 1].
        threshold: overlap threshold in (0, 1].
        mask: optional bool array of the same shape selecting the frames that count.

    Returns:
        ``Tensor[]`` or ``Tensor[B]``.
    """
    t = _ious(ious)
    check_positive(threshold, "threshold")
    if threshold > 1:
        raise ValueError(f"threshold must be <= 1, got {threshold}")
    hit = (t >= threshold).to(t.dtype)
    if mask is None:
        return hit.mean(dim=-1)
    m = _mask(mask, t)
    return (hit * m).sum(dim=-1) / m.sum(dim=-1)


def quantised_iou_reward(ious: Any, *, step: float = 0.05, threshold: float = 0.5) -> Tensor:
    """Per-frame reward of Dunnhofer et al. 2020, eq. 2.

    ``r_t = 2 * floor_step(IoU_t) - 1`` if ``IoU_t >= threshold`` else ``-1``, where
    ``floor_step`` floors to a multiple of ``step`` (0.05 in the paper). A relative tolerance of
    1e-9 guards the floor against binary rounding (``floor_0.05(0.7)`` is 0.7, not 0.65).

    Args:
        ious: ``[T]`` or ``[B, T]`` per-frame IoU in [0, 1].
        step: quantisation step.
        threshold: IoU below which the reward is -1.

    Returns:
        Rewards of the same shape in [-1, 1].
    """
    t = _ious(ious)
    check_positive(step, "step")
    check_positive(threshold, "threshold", allow_zero=True)
    floored = torch.floor(t / step + 1e-9) * step
    floored = torch.minimum(floored, torch.ones_like(floored))
    reward = 2.0 * floored - 1.0
    out = torch.where(t >= threshold, reward, torch.full_like(t, -1.0))
    return out
