"""The detection-head example of docs/metalearn.md, run at toy size: offline steps, online use."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import metalearn as ml


class Head(nn.Module):
    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.tower = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU())
        self.cls = nn.Conv2d(c, 1, 3, padding=1)
        self.reg = nn.Conv2d(c, 4, 3, padding=1)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.tower(feats)  # Tensor[B, C, H, W]
        return self.cls(h), self.reg(h)  # Tensor[B, 1, H, W], Tensor[B, 4, H, W]


def head_loss(outputs, targets) -> torch.Tensor:  # type: ignore[no-untyped-def]
    (cls, reg), (cls_t, reg_t) = outputs, targets
    pos = cls_t  # Tensor[B, 1, H, W] in {0, 1}
    l_cls = nn.functional.binary_cross_entropy_with_logits(cls, cls_t)
    l_reg = ((reg - reg_t).abs() * pos).sum() / pos.sum().clamp(min=1.0)
    return l_cls + l_reg


def _sample(g: torch.Generator, n: int, c: int = 8, s: int = 9):
    feats = torch.randn(n, c, s, s, generator=g)
    cls_t = torch.zeros(n, 1, s, s)
    cls_t[:, :, s // 2, s // 2] = 1.0
    return feats, (cls_t, torch.rand(n, 4, s, s, generator=g))


def test_detection_head_example(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    head = Head()
    adapted = ["cls.weight", "cls.bias", "reg.weight", "reg.bias"]
    lr = ml.KernelwiseLR({n: p for n, p in head.named_parameters() if n in adapted})
    learner = ml.MetaLearner(head, head_loss, lr=lr, adapted=adapted)
    tasks = [ml.Task(support=_sample(g, 3), query=_sample(g, 1)) for _ in range(2)]
    result = learner.step(tasks, epoch=0.0)
    assert torch.isfinite(result.loss)
    ml.save_checkpoint(tmp_path / "head.pt", head, lr)

    head2 = Head()
    lr2 = ml.KernelwiseLR({n: p for n, p in head2.named_parameters() if n in adapted})
    ml.load_checkpoint(tmp_path / "head.pt", head2, lr2)
    adapter = ml.Adapter(head2, head_loss, lr=lr2, adapted=adapted, capacity=30)
    adapter.adapt(_sample(g, 3), steps=5)  # first frame: augmented samples [N, ...]
    feats_t, (cls_t, reg_t) = _sample(g, 1)
    cls, reg = adapter(feats_t)  # detect with fast weights
    assert cls.shape == (1, 1, 9, 9) and reg.shape == (1, 4, 9, 9)
    adapter.add(feats_t[0], (cls_t[0], reg_t[0]))  # one confident sample, no batch dim
    adapter.update(steps=1)
    assert len(adapter) == 4
