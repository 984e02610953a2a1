"""Categorical candidate policy over score maps (Kim et al. 2022, eqs. 5 and 10).

A tracker that picks one of ``N`` candidates (anchors, score-map positions) per frame becomes a
stochastic policy: ``p(n) = softmax(logit(x_n) / tau)`` for post-processed scores ``x_n`` in
(0, 1) (eq. 5, SiamRPN++/SiamAttn/TransT) or ``p(n) = softmax(y_n / tau)`` for raw scores
(eq. 10, TrDiMP). The sampling tracker draws ``n ~ p``; the argmax tracker takes the mode.
All functions work on batches ``Tensor[B, N]`` (flatten ``[B, H, W]`` maps first).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ._checks import (
    check_choice,
    check_finite,
    check_ndim,
    check_nonempty,
    check_positive,
    check_same_device,
    check_tensor,
)

ScoreTransform = Literal["logit", "raw"]
SelectMode = Literal["sample", "argmax"]

_TRANSFORMS: tuple[str, ...] = ("logit", "raw")
_MODES: tuple[str, ...] = ("sample", "argmax")


def _check_scores(scores: Tensor) -> None:
    check_tensor(scores, "scores")
    check_ndim(scores, "scores", (2,), "[B, N]")
    check_nonempty(scores, "scores")


def score_map_log_probs(
    scores: Tensor,
    *,
    transform: ScoreTransform = "logit",
    eps: float = 1e-6,
    temperature: float = 1.0,
) -> Tensor:
    """Log-probabilities of the candidate distribution over each score map.

    Args:
        scores: ``Tensor[B, N]`` candidate scores. With ``transform="logit"`` they must lie in
            [0, 1] (post-processed scores, Kim et al. 2022 eq. 5); they are clamped to
            ``[eps, 1 - eps]`` before the logit so 0 and 1 stay finite. With
            ``transform="raw"`` any finite real scores (eq. 10).
        transform: ``"logit"`` (eq. 5) or ``"raw"`` (eq. 10).
        eps: clamping margin for the logit (ours; the paper does not state one).
        temperature: divides the logits; 1.0 is the paper's distribution, smaller is greedier.
            0 is the limit: all mass on the first maximal candidate (log p = 0 there, -inf
            elsewhere, zero gradient), so the sampling tracker becomes the argmax tracker.

    Returns:
        ``Tensor[B, N]`` log p(n), differentiable w.r.t. ``scores``.
    """
    _check_scores(scores)
    check_choice(transform, "transform", _TRANSFORMS)
    check_positive(temperature, "temperature", allow_zero=True)
    check_positive(eps, "eps")
    if eps >= 0.5:
        raise ValueError(f"eps must be < 0.5, got {eps}")
    check_finite(scores, "scores")
    if transform == "logit":
        if bool(((scores < 0) | (scores > 1)).any()):
            raise ValueError(
                "scores must lie in [0, 1] for transform='logit' (Kim et al. 2022, eq. 5); got "
                f"range [{float(scores.min()):.4g}, {float(scores.max()):.4g}]; use transform='raw'"
            )
        x = scores.clamp(eps, 1.0 - eps)
        logits = torch.log(x) - torch.log1p(-x)
    else:
        logits = scores
    if temperature == 0:
        best = logits.detach().argmax(dim=-1, keepdim=True)
        hot = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, best, True)
        # ``logits * 0`` keeps the result attached to the graph (with zero gradient).
        return torch.where(hot, logits * 0.0, torch.full_like(logits, -torch.inf))
    return torch.log_softmax(logits / temperature, dim=-1)


def select_candidates(
    log_probs: Tensor, *, mode: SelectMode, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Choose one candidate per score map and return its log-probability.

    Args:
        log_probs: ``Tensor[B, N]`` from :func:`score_map_log_probs`.
        mode: ``"sample"`` (sampling tracker, n ~ p) or ``"argmax"`` (argmax tracker).
        generator: optional ``torch.Generator`` for sampling (reproducible runs).

    Returns:
        ``(indices Tensor[B] int64, log_prob Tensor[B])``; ``log_prob`` keeps the graph.
    """
    check_tensor(log_probs, "log_probs")
    check_ndim(log_probs, "log_probs", (2,), "[B, N]")
    check_nonempty(log_probs, "log_probs")
    check_choice(mode, "mode", _MODES)
    if mode == "argmax":
        indices = log_probs.detach().argmax(dim=-1)
    else:
        probs = log_probs.detach().exp()
        indices = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    return indices, candidate_log_prob(log_probs, indices)


def candidate_log_prob(log_probs: Tensor, indices: Tensor) -> Tensor:
    """Gather ``log p(n_b)`` for chosen indices.

    Args:
        log_probs: ``Tensor[B, N]``.
        indices: ``Tensor[B]`` integer candidate indices in [0, N).

    Returns:
        ``Tensor[B]``.
    """
    check_tensor(log_probs, "log_probs")
    check_ndim(log_probs, "log_probs", (2,), "[B, N]")
    if not isinstance(indices, Tensor) or indices.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"indices must be an integer Tensor[B], got {indices!r:.80}")
    check_same_device(("log_probs", log_probs), ("indices", indices))
    if indices.shape != log_probs.shape[:1]:
        raise ValueError(
            f"indices must have shape [B]={tuple(log_probs.shape[:1])}, got {tuple(indices.shape)}"
        )
    n = log_probs.shape[1]
    if indices.numel() and bool(((indices < 0) | (indices >= n)).any()):
        raise ValueError(
            f"indices must lie in [0, {n}), got range [{indices.min()}, {indices.max()}]"
        )
    return log_probs.gather(1, indices.long().unsqueeze(1)).squeeze(1)


def categorical_entropy(log_probs: Tensor) -> Tensor:
    """Entropy ``-sum_n p(n) log p(n)`` per distribution: ``Tensor[B, N] -> Tensor[B]``."""
    check_tensor(log_probs, "log_probs")
    check_ndim(log_probs, "log_probs", (2,), "[B, N]")
    p = log_probs.exp()
    # 0 * log 0 = 0: mask -inf entries explicitly so the product is not NaN.
    terms = torch.where(p > 0, p * log_probs, torch.zeros_like(p))
    return -terms.sum(dim=-1)
