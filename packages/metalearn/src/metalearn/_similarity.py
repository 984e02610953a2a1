"""Similarity-weighted initialisation of a new task (MAML-MOT, Chen and Deng 2024, eqs. 6-7).

A new identity's head is initialised as the average of the adapted parameters of the training
tasks, weighted by the cosine similarity between the new task's first feature and each training
task's support features: `theta_new = (1/lambda) sum_i gamma_i theta_i`, `lambda = sum_i gamma_i`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from ._checks import check_real, check_same_device, check_tensor
from ._tree import stack_trees

__all__ = ["similarity_weighted_init", "task_similarity"]


def task_similarity(new_feature: Tensor, task_features: Tensor, *, eps: float = 1e-8) -> Tensor:
    """gamma_i = Similarity(T_new, T_i) of Chen and Deng 2024, eq. 6.

    `gamma_i = sum_j <f_new, f_ij> / (sqrt(sum_j |f_new|^2) * sqrt(sum_j |f_ij|^2))` over the k
    support features `f_ij` of training task i, i.e. the cosine between `f_new` repeated k times
    and the concatenated support features (plain cosine similarity when k = 1).

    Args:
        new_feature: `Tensor[D]`, feature of the new task's first sample, or `Tensor[B, D]`
            for B new tasks at once (one batched computation, e.g. every track born in a frame).
        task_features: `Tensor[T, D]` (one feature per task) or `Tensor[T, k, D]`.
        eps: guards zero norms (a finite number > 0).

    Returns:
        `Tensor[T]` in [-1, 1] (`Tensor[B, T]` for a batch of new features). A NaN feature
        gives NaN similarities (values are not read here: no host synchronisation).
    """
    check_tensor("new_feature", new_feature)
    check_tensor("task_features", task_features)
    eps = check_real("eps", eps, low=0.0, low_open=True)
    if new_feature.dim() not in (1, 2):
        raise ValueError(
            f"new_feature must be Tensor[D] or Tensor[B, D], got shape {tuple(new_feature.shape)}"
        )
    d = new_feature.shape[-1]
    feats = task_features.unsqueeze(1) if task_features.dim() == 2 else task_features
    if feats.dim() != 3 or feats.shape[-1] != d:
        raise ValueError(
            f"task_features must be Tensor[T, D] or Tensor[T, k, D] with D={d},"
            f" got shape {tuple(task_features.shape)}"
        )
    if new_feature.device != feats.device:
        raise ValueError(
            f"new_feature is on {new_feature.device} but task_features on {feats.device}"
        )
    new = new_feature if new_feature.dim() == 2 else new_feature.unsqueeze(0)
    k = feats.shape[1]
    num = new @ feats.sum(dim=1).T  # Tensor[B, T]: sum_j <f_new, f_ij>
    den = torch.sqrt(k * new.pow(2).sum(dim=1, keepdim=True)) * feats.pow(2).sum(dim=(1, 2)).sqrt()
    gamma = num / den.clamp(min=eps)
    return gamma if new_feature.dim() == 2 else gamma[0]


def similarity_weighted_init(
    new_feature: Tensor,
    task_features: Tensor,
    task_params: Mapping[str, Tensor] | Sequence[Mapping[str, Tensor]],
    *,
    min_similarity: float | None = 0.0,
    fallback: Mapping[str, Tensor] | None = None,
) -> dict[str, Tensor]:
    """theta_new = sum_i gamma_i theta_i / sum_i gamma_i (Chen and Deng 2024, eqs. 6-7).

    Args:
        new_feature: `Tensor[D]`, the new task's first feature, or `Tensor[B, D]` for B new
            tasks initialised in one batched computation (no loop over tasks).
        task_features: `Tensor[T, D]` or `Tensor[T, k, D]`, training tasks' support features.
        task_params: adapted parameters of the T training tasks, either a dict of stacked
            `Tensor[T, ...]` or a sequence of T dicts.
        min_similarity: a finite number or None; similarities below this are set to zero
            before normalising (the paper normalises raw cosines, which can cancel to
            lambda ~ 0 when some are negative; the default 0.0 keeps only positively similar
            tasks). None uses the raw cosines.
        fallback: parameters (name -> `Tensor[...]`, e.g. the meta-learned initialisation)
            for a new task whose similarities sum to zero; without it such a task raises
            `ValueError`.

    Returns:
        Dict name -> `Tensor[...]` (`Tensor[B, ...]` for a batch of new features), usable as
        `Adapter(init=...)`, `inner_loop(params=...)` or `adapt_batched(params=...)`.

    A NaN similarity (a NaN feature) is below every `min_similarity`, so such a task counts
    as dissimilar to all training tasks: it gets `fallback` or the ValueError. With
    `min_similarity=None` it gives NaN parameters. With T = 0 training tasks every new task
    is degenerate in the same way.
    """
    if isinstance(task_params, Mapping):
        stacked = dict(task_params)
    elif isinstance(task_params, Sequence) and len(task_params) > 0:
        stacked = stack_trees(list(task_params))
    else:
        raise ValueError("task_params must be a dict of stacked tensors or a non-empty sequence")
    if not stacked:
        raise ValueError("task_params holds no parameters")
    if min_similarity is not None:
        min_similarity = check_real("min_similarity", min_similarity)
    for name, value in stacked.items():
        check_tensor(f"task_params[{name!r}]", value, floating=True)
        check_same_device(
            f"task_params[{name!r}]", value, task_features.device, other="task_features"
        )
    if fallback is not None:
        if not isinstance(fallback, Mapping):
            raise TypeError(f"fallback must be a mapping name -> tensor, got {type(fallback)}")
        for name, value in fallback.items():
            check_tensor(f"fallback[{name!r}]", value, floating=True)
            check_same_device(
                f"fallback[{name!r}]", value, task_features.device, other="task_features"
            )
    gamma = task_similarity(new_feature, task_features)
    batched = gamma.dim() == 2
    gamma = gamma if batched else gamma.unsqueeze(0)  # Tensor[B, T]
    t = gamma.shape[1]
    for name, value in stacked.items():
        if value.shape[:1] != (t,):
            raise ValueError(
                f"task_params[{name!r}] has leading size {tuple(value.shape[:1])}, "
                f"task_features has {t} tasks"
            )
    if fallback is not None:
        missing = sorted(set(stacked) - set(fallback))
        if missing:
            raise ValueError(f"fallback lacks parameters {missing}")
        for name, value in stacked.items():
            if tuple(fallback[name].shape) != tuple(value.shape[1:]):
                raise ValueError(
                    f"fallback[{name!r}] has shape {tuple(fallback[name].shape)}, the tasks' "
                    f"parameters {tuple(value.shape[1:])}"
                )
    if min_similarity is not None:
        gamma = torch.where(gamma >= min_similarity, gamma, torch.zeros_like(gamma))
    lam = gamma.sum(dim=1, keepdim=True)  # Tensor[B, 1]
    degenerate = lam.abs() <= 1e-12
    if fallback is None and bool(degenerate.any()):
        raise ValueError(
            "similarities sum to zero (no training task is similar enough); lower min_similarity, "
            "pass fallback= or fall back to the meta-learned initialisation"
        )
    w = gamma / torch.where(degenerate, torch.ones_like(lam), lam)  # Tensor[B, T]
    out = {}
    for name, value in stacked.items():
        mixed = (w.to(value) @ value.reshape(t, math.prod(value.shape[1:]))).reshape(
            (w.shape[0], *value.shape[1:])
        )
        if fallback is not None:
            keep = degenerate.reshape((-1,) + (1,) * (value.dim() - 1))
            mixed = torch.where(keep, fallback[name].to(mixed).expand_as(mixed), mixed)
        out[name] = mixed if batched else mixed[0]
    return out
