"""Similarity-weighted initialisation of a new task (MAML-MOT, Chen and Deng 2024, eqs. 6-7).

A new identity's head is initialised as the average of the adapted parameters of the training
tasks, weighted by the cosine similarity between the new task's first feature and each training
task's support features: `theta_new = (1/lambda) sum_i gamma_i theta_i`, `lambda = sum_i gamma_i`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ._tree import stack_trees

__all__ = ["similarity_weighted_init", "task_similarity"]


def task_similarity(new_feature: Tensor, task_features: Tensor, *, eps: float = 1e-8) -> Tensor:
    """gamma_i = Similarity(T_new, T_i) of Chen and Deng 2024, eq. 6.

    `gamma_i = sum_j <f_new, f_ij> / (sqrt(sum_j |f_new|^2) * sqrt(sum_j |f_ij|^2))` over the k
    support features `f_ij` of training task i, i.e. the cosine between `f_new` repeated k times
    and the concatenated support features (plain cosine similarity when k = 1).

    Args:
        new_feature: `Tensor[D]`, feature of the new task's first sample.
        task_features: `Tensor[T, D]` (one feature per task) or `Tensor[T, k, D]`.
        eps: guards zero norms.

    Returns:
        `Tensor[T]` in [-1, 1].
    """
    if new_feature.dim() != 1:
        raise ValueError(f"new_feature must be Tensor[D], got shape {tuple(new_feature.shape)}")
    feats = task_features.unsqueeze(1) if task_features.dim() == 2 else task_features
    if feats.dim() != 3 or feats.shape[-1] != new_feature.shape[0]:
        raise ValueError(
            f"task_features must be Tensor[T, D] or Tensor[T, k, D] with D={new_feature.shape[0]},"
            f" got shape {tuple(task_features.shape)}"
        )
    if new_feature.device != feats.device:
        raise ValueError(
            f"new_feature is on {new_feature.device} but task_features on {feats.device}"
        )
    k = feats.shape[1]
    num = (feats * new_feature).sum(dim=(1, 2))  # Tensor[T]
    den = torch.sqrt(k * new_feature.pow(2).sum()) * feats.pow(2).sum(dim=(1, 2)).sqrt()
    return num / den.clamp(min=eps)


def similarity_weighted_init(
    new_feature: Tensor,
    task_features: Tensor,
    task_params: Mapping[str, Tensor] | Sequence[Mapping[str, Tensor]],
    *,
    min_similarity: float | None = 0.0,
) -> dict[str, Tensor]:
    """theta_new = sum_i gamma_i theta_i / sum_i gamma_i (Chen and Deng 2024, eqs. 6-7).

    Args:
        new_feature: `Tensor[D]`, the new task's first feature.
        task_features: `Tensor[T, D]` or `Tensor[T, k, D]`, training tasks' support features.
        task_params: adapted parameters of the T training tasks, either a dict of stacked
            `Tensor[T, ...]` or a sequence of T dicts.
        min_similarity: similarities below this are set to zero before normalising (the paper
            normalises raw cosines, which can cancel to lambda ~ 0 when some are negative; the
            default 0.0 keeps only positively similar tasks). None uses the raw cosines.

    Returns:
        Dict name -> `Tensor[...]`, usable as `Adapter(init=...)` or `inner_loop(params=...)`.
    """
    stacked = (
        dict(task_params) if isinstance(task_params, Mapping) else stack_trees(list(task_params))
    )
    gamma = task_similarity(new_feature, task_features)
    t = gamma.shape[0]
    for name, value in stacked.items():
        if value.shape[:1] != (t,):
            raise ValueError(
                f"task_params[{name!r}] has leading size {tuple(value.shape[:1])}, "
                f"task_features has {t} tasks"
            )
    if min_similarity is not None:
        gamma = torch.where(gamma >= min_similarity, gamma, torch.zeros_like(gamma))
    lam = gamma.sum()
    if not bool(lam.abs() > 1e-12):
        raise ValueError(
            "similarities sum to zero (no training task is similar enough); lower min_similarity "
            "or fall back to the meta-learned initialisation"
        )
    w = gamma / lam
    return {
        name: (w.to(value).reshape((t,) + (1,) * (value.dim() - 1)) * value).sum(dim=0)
        for name, value in stacked.items()
    }
