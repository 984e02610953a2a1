"""Small models shared by the tests."""

from __future__ import annotations

import torch
from torch import nn


class ConvHead(nn.Module):
    """A tiny detection-like head: shared conv, then a 1-channel score and 4-channel box map."""

    def __init__(self, c_in: int = 4, width: int = 6) -> None:
        super().__init__()
        self.body = nn.Conv2d(c_in, width, 3, padding=1)
        self.cls = nn.Conv2d(width, 1, 3, padding=1)
        self.reg = nn.Conv2d(width, 4, 3, padding=1)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.body(feats))
        return self.cls(h), self.reg(h)


def head_loss(
    outputs: tuple[torch.Tensor, torch.Tensor], targets: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """BCE on the score map plus L1 on the box map (masked by the positive cells)."""
    cls, reg = outputs
    cls_t, reg_t = targets
    bce = nn.functional.binary_cross_entropy_with_logits(cls, cls_t)
    l1 = ((reg - reg_t).abs() * cls_t).sum() / cls_t.sum().clamp(min=1.0)
    return bce + l1


def head_batch(n: int, seed: int, *, c_in: int = 4, size: int = 7):
    """`((feats,), (cls_t, reg_t))` with a random positive cell per sample."""
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(n, c_in, size, size, generator=g)
    cls_t = (torch.rand(n, 1, size, size, generator=g) > 0.8).float()
    reg_t = torch.rand(n, 4, size, size, generator=g)
    return feats, (cls_t, reg_t)


def mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((out - target) ** 2).mean()
