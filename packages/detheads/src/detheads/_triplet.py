"""BatchHard triplet loss with soft margin (Hermans et al. 2017; Lu et al. 2020 eq. 7)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import check_index_tensor, check_int, check_real, check_same_device
from ._losses import REDUCTIONS


def gather_identity_embeddings(
    embeddings: Tensor, identities: Tensor, clip_ids: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Flatten the anchors that carry an identity.

    Args:
        embeddings: ``Tensor[B, A, E]``; ``identities``: ``Tensor[B, A]`` long (-1 = none,
            ``assign_identities``); ``clip_ids``: ``Tensor[B]`` clip of each image (``None``:
            every image its own clip).

    Returns:
        ``(Tensor[M, E], Tensor[M] identities, Tensor[M] clips)`` for the M identified anchors.
    """
    check_index_tensor("identities", identities)
    if not isinstance(embeddings, Tensor):
        raise TypeError(f"embeddings must be a Tensor[B, A, E], got {type(embeddings).__name__}")
    check_same_device(("embeddings", embeddings), ("identities", identities))
    if identities.dim() != 2:
        raise ValueError(f"identities must be Tensor[B, A], got {tuple(identities.shape)}")
    b, a = identities.shape
    if embeddings.shape[:2] != (b, a):
        raise ValueError(
            f"embeddings {tuple(embeddings.shape)} and identities {tuple(identities.shape)} "
            "must share [B, A]"
        )
    if clip_ids is None:
        clip_ids = torch.arange(b, device=identities.device)
    check_index_tensor("clip_ids", clip_ids)
    check_same_device(("identities", identities), ("clip_ids", clip_ids))
    if clip_ids.shape != (b,):
        raise ValueError(f"clip_ids must be Tensor[{b}], got {tuple(clip_ids.shape)}")
    mask = identities >= 0
    clips = clip_ids[:, None].expand(b, a)
    return embeddings[mask], identities[mask], clips[mask]


def batch_hard_triplet_loss(
    embeddings: Tensor,
    identities: Tensor,
    clips: Tensor | None = None,
    *,
    margin: float = 0.1,
    num_samples: int | None = 64,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
    eps: float = 1e-12,
) -> Tensor:
    """BatchHard triplet loss with soft margin, Lu et al. 2020 eq. 7 (margin 0.1, 64 triplets).

    For each sampled anchor j: ``softplus(m + max_{p: t_p = t_j} D_jp - min_{l: t_l != t_j}
    D_jl)`` with non-squared Euclidean distances, positives and negatives searched among all
    ``M`` embeddings of the same clip (triplets never cross clips). The anchor itself is not its
    own positive; an anchor without another positive uses ``max_p D_jp = 0``; an anchor without
    a negative in its clip forms no triplet and is left out.

    Args:
        embeddings: ``Tensor[M, E]``; ``identities``: ``Tensor[M]`` ints; ``clips``:
            ``Tensor[M]`` ints (``None`` = one clip). See :func:`gather_identity_embeddings`.
        num_samples: anchors sampled uniformly without replacement (``generator``) when ``M``
            is larger (Lu et al. 2020: 64); ``None`` uses all.
        reduction: ``"mean"`` over formed triplets (0 if none), ``"sum"`` or ``"none"``
            (``Tensor[S]``, 0 for anchors without a triplet).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    check_real("margin", margin, low=0.0)
    check_real("eps", eps, low=0.0, low_open=True)
    if num_samples is not None:
        check_int("num_samples", num_samples, minimum=1)
    if not isinstance(embeddings, Tensor) or not embeddings.is_floating_point():
        got = embeddings.dtype if isinstance(embeddings, Tensor) else type(embeddings).__name__
        raise TypeError(f"embeddings must be a floating Tensor[M, E], got {got}")
    check_index_tensor("identities", identities)
    named = [("embeddings", embeddings), ("identities", identities)]
    if clips is not None:
        check_index_tensor("clips", clips)
        named.append(("clips", clips))
    check_same_device(*named)
    if embeddings.dim() != 2:
        raise ValueError(f"embeddings must be Tensor[M, E], got {tuple(embeddings.shape)}")
    m = embeddings.shape[0]
    if identities.shape != (m,):
        raise ValueError(f"identities must be Tensor[{m}], got {tuple(identities.shape)}")
    if clips is None:
        clips = torch.zeros_like(identities)
    if clips.shape != (m,):
        raise ValueError(f"clips must be Tensor[{m}], got {tuple(clips.shape)}")
    if num_samples is not None and num_samples < 1:
        raise ValueError(f"num_samples must be >= 1 or None, got {num_samples!r}")
    if m == 0:
        empty = embeddings.sum() * 0.0
        return empty if reduction != "none" else embeddings.new_zeros(0)
    if num_samples is not None and m > num_samples:
        dev = generator.device if generator is not None else embeddings.device
        anchors = torch.randperm(m, generator=generator, device=dev)[:num_samples]
        anchors = anchors.to(embeddings.device)
    else:
        anchors = torch.arange(m, device=embeddings.device)
    ea = embeddings[anchors]  # [S, E]
    # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b gives [S, M] without an [S, M, E] intermediate; float64
    # keeps the cancellation harmless for embeddings far from the origin.
    a64, b64 = ea.double(), embeddings.double()
    sq = a64.pow(2).sum(-1)[:, None] + b64.pow(2).sum(-1)[None, :] - 2.0 * a64 @ b64.T
    dist = torch.sqrt(sq.clamp(min=eps)).to(embeddings.dtype)
    same_clip = clips[anchors][:, None] == clips[None, :]
    same_id = identities[anchors][:, None] == identities[None, :]
    not_self = anchors[:, None] != torch.arange(m, device=embeddings.device)[None, :]
    pos = same_clip & same_id & not_self
    neg = same_clip & ~same_id
    hardest_pos = torch.where(pos, dist, torch.zeros_like(dist)).max(dim=1).values
    hardest_neg = torch.where(neg, dist, torch.full_like(dist, torch.inf)).min(dim=1).values
    has_neg = neg.any(dim=1)
    safe_neg = torch.where(has_neg, hardest_neg, torch.zeros_like(hardest_neg))
    per_anchor = F.softplus(margin + hardest_pos - safe_neg) * has_neg
    if reduction == "none":
        return per_anchor
    if reduction == "sum":
        return per_anchor.sum()
    return per_anchor.sum() / has_neg.sum().clamp(min=1)
