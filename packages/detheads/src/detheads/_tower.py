"""Shared pieces of the heads: conv towers, input normalisation, output flattening."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

HEAD_NORMS = ("none", "gn")


def check_head_norm(norm: str) -> None:
    """Raise ValueError unless ``norm`` is ``"none"`` or ``"gn"``."""
    if norm not in HEAD_NORMS:
        raise ValueError(f"norm must be one of {HEAD_NORMS}, got {norm!r}")


def conv_tower(
    in_channels: int, channels: int, num_convs: int, *, norm: str, groups: int = 1
) -> nn.Sequential:
    """``num_convs`` x (3x3 conv, [GroupNorm], ReLU); weights N(0, 0.01), biases 0 (RetinaNet).

    With ``groups > 1`` every conv is grouped and GroupNorm uses ``groups * gcd(32, C/groups)``
    groups, so no normalisation group straddles two conv groups.
    """
    layers: list[nn.Module] = []
    cin = in_channels
    for _ in range(num_convs):
        conv = nn.Conv2d(cin, channels, 3, padding=1, groups=groups)
        nn.init.normal_(conv.weight, std=0.01)
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)
        layers.append(conv)
        if norm == "gn":
            layers.append(nn.GroupNorm(groups * math.gcd(32, channels // groups), channels))
        layers.append(nn.ReLU())
        cin = channels
    return nn.Sequential(*layers)


def final_conv(
    in_channels: int, out_channels: int, *, bias_value: float = 0.0, kernel: int = 3
) -> nn.Conv2d:
    """Prediction conv, weights N(0, 0.01), bias ``bias_value`` (prior-probability init)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2)
    nn.init.normal_(conv.weight, std=0.01)
    if conv.bias is not None:
        nn.init.constant_(conv.bias, bias_value)
    return conv


def prior_bias(prior_prob: float) -> float:
    """Bias ``-log((1 - pi) / pi)`` so initial sigmoid outputs equal ``pi`` (RetinaNet, 0.01)."""
    if not 0 < prior_prob < 1:
        raise ValueError(f"prior_prob must be in (0, 1), got {prior_prob}")
    return -math.log((1 - prior_prob) / prior_prob)


def as_levels(name: str, features: Tensor | Sequence[Tensor], channels: int) -> list[Tensor]:
    """Accept one ``Tensor[B, C, H, W]`` or a sequence of levels; check channels and batch."""
    levels = [features] if isinstance(features, Tensor) else list(features)
    if not levels:
        raise ValueError(f"{name} must hold at least one feature level")
    for i, f in enumerate(levels):
        if not isinstance(f, Tensor) or f.dim() != 4:
            got = tuple(f.shape) if isinstance(f, Tensor) else type(f).__name__
            raise ValueError(f"{name}[{i}] must be Tensor[B, C, H, W], got {got}")
        if f.shape[1] != channels:
            raise ValueError(
                f"{name}[{i}] has {f.shape[1]} channels, the head was built for {channels}"
            )
        if f.shape[0] != levels[0].shape[0]:
            raise ValueError(f"{name} levels disagree on the batch size")
    return levels


def check_int_args(*specs: tuple[str, object, int]) -> None:
    """Raise ``ValueError`` naming the first ``(name, value, minimum)`` not an int >= minimum."""
    for name, value, minimum in specs:
        if not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def paired_levels(
    features: Tensor | Sequence[Tensor],
    reg_features: Tensor | Sequence[Tensor] | None,
    channels: int,
) -> tuple[list[Tensor], list[Tensor]]:
    """Checked classification and regression levels of a two-tower head.

    ``reg_features`` defaults to ``features`` (one shared input for both towers); otherwise it
    must have as many levels, each checked like ``features`` (see :func:`as_levels`).
    """
    cls_levels = as_levels("features", features, channels)
    if reg_features is None:
        return cls_levels, cls_levels
    reg_levels = as_levels("reg_features", reg_features, channels)
    if len(reg_levels) != len(cls_levels):
        raise ValueError("features and reg_features must have the same number of levels")
    return cls_levels, reg_levels


def flatten_anchor_maps(x: Tensor, num_anchors: int) -> Tensor:
    """``Tensor[B, K * D, H, W]`` (anchor-major channels) -> ``Tensor[B, H * W * K, D]``."""
    b, kd, h, w = x.shape
    d = kd // num_anchors
    return (
        x.reshape(b, num_anchors, d, h, w).permute(0, 3, 4, 1, 2).reshape(b, h * w * num_anchors, d)
    )


def feature_sizes_of(levels: Sequence[Tensor]) -> list[tuple[int, int]]:
    """``[(H_l, W_l)]`` of feature maps, to build matching anchors/points."""
    return [(int(f.shape[-2]), int(f.shape[-1])) for f in levels]


def cat_levels(parts: Sequence[Tensor]) -> Tensor:
    """Concatenate per-level ``Tensor[B, A_l, ...]`` along dim 1."""
    return parts[0] if len(parts) == 1 else torch.cat(list(parts), dim=1)
