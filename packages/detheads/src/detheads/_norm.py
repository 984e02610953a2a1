"""Normalisation layers that are safe for functional adaptation (frozen BatchNorm, GroupNorm)."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

NormKind = Literal["frozen_bn", "gn"]
NORM_KINDS: tuple[str, ...] = ("frozen_bn", "gn")


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d that always normalises with its stored running statistics.

    State-dict keys equal ``torch.nn.BatchNorm2d``'s (``weight``, ``bias``, ``running_mean``,
    ``running_var``, ``num_batches_tracked``), so torchvision checkpoints load unchanged. The
    statistics are buffers and are never updated (train or eval mode alike); ``weight`` and
    ``bias`` are parameters, trainable unless their stage is frozen. The forward pass is a pure
    affine map ``x * scale + shift`` without in-place operations, so it works under
    ``torch.func.functional_call`` and higher-order autograd.

    Args:
        num_features: channel count C of the ``Tensor[B, C, H, W]`` input.
        eps: added to the variance (torchvision's default 1e-5).
    """

    def __init__(self, num_features: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.running_mean: Tensor
        self.running_var: Tensor
        self.num_batches_tracked: Tensor
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x: Tensor[B, C, H, W]`` with the running statistics."""
        scale = self.weight * torch.rsqrt(self.running_var + self.eps)
        shift = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


def check_norm(norm: str) -> None:
    """Raise ValueError unless ``norm`` is one of :data:`NORM_KINDS`."""
    if norm not in NORM_KINDS:
        raise ValueError(f"norm must be one of {NORM_KINDS}, got {norm!r}")


def make_norm(norm: str, channels: int, *, gn_groups: int = 32) -> nn.Module:
    """A normalisation layer for ``channels`` channels.

    ``"frozen_bn"`` gives :class:`FrozenBatchNorm2d`; ``"gn"`` gives ``nn.GroupNorm`` with
    ``gcd(gn_groups, channels)`` groups (so every channel count is accepted).
    """
    check_norm(norm)
    if norm == "frozen_bn":
        return FrozenBatchNorm2d(channels)
    return nn.GroupNorm(math.gcd(gn_groups, channels), channels)
