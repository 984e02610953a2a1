"""Head-specific pieces of the two instance detectors: build, targets, losses, decoding.

Both heads work on one stride-8 feature map of a search region with exactly one target box per
crop (or none for a background crop), so targets are dense tensors and every function here is
pure tensor maths that runs under ``torch.func.vmap`` and ``torch.func.grad``.

- FCOS-MAML (paper 000, Sec. 4.1-4.2): "we only keep the centerness branch to produce
  classification scores"; L2 loss on the centerness, L1 loss on the ltrb regression.
- Retina-MAML: a single 64x64 anchor per location; anchors with IoU > 0.5 are positive, < 0.3
  negative; focal loss for classification, smooth L1 for regression.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import Tensor, nn

from trackkit.sot._config import DetectorConfig

__all__ = ["FCOSOps", "HeadOps", "RetinaOps", "TrackingHead", "make_head_ops"]

STRIDE = 8
#: Centre of feature cell ``j`` in crop pixels: three stride-2, padding-1 3x3 convolutions put
#: it at pixel index ``8 j``, i.e. continuous coordinate ``8 j + 0.5``.
OFFSET = 0.5


class TrackingHead(nn.Module):
    """Two towers of ``num_convs`` 3x3 conv + ReLU, a 1-channel score map and 4 box channels.

    ``forward(x: Tensor[n, C, h, w]) -> (score_logits Tensor[n, 1, h, w], box Tensor[n, 4, h, w])``.
    Convolutions only (no normalisation statistics), so it adapts cleanly under
    ``functional_call``; the score bias starts at ``-log((1 - p) / p)`` with ``p = 0.01``
    (RetinaNet's prior, Lin et al. 2017).
    """

    def __init__(self, in_channels: int, *, channels: int = 64, num_convs: int = 2) -> None:
        super().__init__()

        def tower() -> nn.Sequential:
            layers: list[nn.Module] = []
            c = in_channels
            for _ in range(num_convs):
                layers += [nn.Conv2d(c, channels, 3, padding=1), nn.ReLU()]
                c = channels
            return nn.Sequential(*layers)

        out_in = channels if num_convs > 0 else in_channels
        self.cls_tower = tower()
        self.reg_tower = tower()
        self.cls_out = nn.Conv2d(out_in, 1, 3, padding=1)
        self.reg_out = nn.Conv2d(out_in, 4, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        nn.init.constant_(self.cls_out.bias, -math.log(99.0))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Score logits and box outputs for ``x: Tensor[n, C, h, w]``."""
        return self.cls_out(self.cls_tower(x)), self.reg_out(self.reg_tower(x))


def locations(h: int, w: int, *, device: torch.device | None = None) -> Tensor:
    """Crop-pixel centres of the feature cells, ``Tensor[h * w, 2]`` (x, y), row-major."""
    ys = torch.arange(h, device=device, dtype=torch.float32) * STRIDE + OFFSET
    xs = torch.arange(w, device=device, dtype=torch.float32) * STRIDE + OFFSET
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


class HeadOps(Protocol):
    """What the tracker and the trainer need from a head kind."""

    def build_head(self, in_channels: int) -> nn.Module:
        """A new head module for ``in_channels`` trunk channels."""
        ...

    def decode(self, outputs: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        """``(boxes_xyxy Tensor[n, h*w, 4], scores Tensor[n, h*w])`` in crop pixels."""
        ...

    def targets(
        self, boxes_xyxy: Tensor, present: Tensor, hw: tuple[int, int] | torch.Size
    ) -> dict[str, Tensor]:
        """Dense training targets for one box per crop (``Tensor[n, 4]``, ``Tensor[n]``)."""
        ...

    def losses(self, outputs: tuple[Tensor, ...], targets: dict[str, Tensor]) -> Tensor:
        """Per-sample loss ``Tensor[n]``."""
        ...


def _flat(x: Tensor) -> Tensor:
    """``Tensor[n, k, h, w] -> Tensor[n, h*w, k]``."""
    return x.flatten(2).transpose(1, 2)


class FCOSOps:
    """FCOS-MAML: centerness is the score (L2 loss), ltrb regression in stride units (L1).

    Args:
        config: the detector configuration (head width and depth).
        max_log_ltrb: the ltrb output is ``exp(clamp(x, max=max_log_ltrb))`` strides (finite).
    """

    def __init__(self, config: DetectorConfig, *, max_log_ltrb: float = 6.0) -> None:
        self.config = config
        self.max_log_ltrb = max_log_ltrb

    def build_head(self, in_channels: int) -> nn.Module:
        """A :class:`TrackingHead` of the configured width and depth."""
        return TrackingHead(
            in_channels, channels=self.config.head_channels, num_convs=self.config.num_convs
        )

    def _ltrb(self, box: Tensor) -> Tensor:
        return torch.exp(box.clamp(-self.max_log_ltrb, self.max_log_ltrb))

    def decode(self, outputs: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        """Boxes ``loc -+ ltrb * stride`` and scores ``sigmoid(centerness logit)``."""
        score, box = outputs
        h, w = score.shape[-2:]
        loc = locations(h, w, device=score.device)  # [N, 2]
        ltrb = _flat(self._ltrb(box)) * STRIDE  # [n, N, 4]
        boxes = torch.cat([loc - ltrb[..., :2], loc + ltrb[..., 2:]], dim=-1)
        return boxes, torch.sigmoid(_flat(score)[..., 0])

    def targets(
        self, boxes_xyxy: Tensor, present: Tensor, hw: tuple[int, int] | torch.Size
    ) -> dict[str, Tensor]:
        """Centerness (0 outside the box or for background crops) and ltrb in strides."""
        h, w = int(hw[0]), int(hw[1])
        loc = locations(h, w, device=boxes_xyxy.device)  # [N, 2]
        b = boxes_xyxy[:, None, :]  # [n, 1, 4]
        lt = loc[None] - b[..., :2]  # [n, N, 2]
        rb = b[..., 2:] - loc[None]
        ltrb = torch.cat([lt, rb], dim=-1)  # [n, N, 4]
        inside = (ltrb.amin(dim=-1) > 0) & (present[:, None] > 0)
        pos_ltrb = ltrb.clamp_min(1e-3)
        lr_ratio = pos_ltrb[..., [0, 2]].amin(-1) / pos_ltrb[..., [0, 2]].amax(-1)
        tb_ratio = pos_ltrb[..., [1, 3]].amin(-1) / pos_ltrb[..., [1, 3]].amax(-1)
        ctr = torch.sqrt(lr_ratio * tb_ratio) * inside
        return {"centerness": ctr, "ltrb": pos_ltrb / STRIDE, "positive": inside.float()}

    def losses(self, outputs: tuple[Tensor, ...], targets: dict[str, Tensor]) -> Tensor:
        """``sum L2(centerness) / npos + sum_pos L1(ltrb) / npos`` per sample, npos >= 1."""
        score, box = outputs
        pred_ctr = torch.sigmoid(_flat(score)[..., 0])  # [n, N]
        pred_ltrb = _flat(self._ltrb(box))  # [n, N, 4]
        pos = targets["positive"]
        npos = pos.sum(dim=1).clamp_min(1.0)
        l_ctr = ((pred_ctr - targets["centerness"]) ** 2).sum(dim=1)
        l_reg = ((pred_ltrb - targets["ltrb"]).abs().sum(dim=-1) * pos).sum(dim=1)
        return (l_ctr + l_reg) / npos


def _box_iou_one_to_many(anchors: Tensor, boxes: Tensor) -> Tensor:
    """IoU of anchors ``[N, 4]`` with one box per sample ``[n, 4]`` -> ``[n, N]``."""
    a = anchors[None]
    b = boxes[:, None]
    wh = (torch.minimum(a[..., 2:], b[..., 2:]) - torch.maximum(a[..., :2], b[..., :2])).clamp_min(
        0
    )
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = ((b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])).clamp_min(0)
    return inter / (area_a + area_b - inter).clamp_min(1e-6)


class RetinaOps:
    """Retina-MAML: one square anchor per cell, focal + smooth-L1 losses (paper 000, Sec. 4).

    Args:
        config: the detector configuration (``anchor_size`` 64 by default).
        pos_iou: anchors above this IoU are positive (0.5); the best anchor is always positive.
        neg_iou: anchors below this IoU are negative (0.3); between is ignored.
        alpha, gamma: focal loss (Lin et al. 2017: 0.25, 2).
        beta: smooth-L1 transition (1/9, Detectron's RetinaNet).
    """

    def __init__(
        self,
        config: DetectorConfig,
        *,
        pos_iou: float = 0.5,
        neg_iou: float = 0.3,
        alpha: float = 0.25,
        gamma: float = 2.0,
        beta: float = 1.0 / 9.0,
    ) -> None:
        self.config = config
        self.pos_iou, self.neg_iou = pos_iou, neg_iou
        self.alpha, self.gamma, self.beta = alpha, gamma, beta
        self.max_log_wh = math.log(1000.0 / 16.0)

    def build_head(self, in_channels: int) -> nn.Module:
        """A :class:`TrackingHead` of the configured width and depth."""
        return TrackingHead(
            in_channels, channels=self.config.head_channels, num_convs=self.config.num_convs
        )

    def anchors(self, h: int, w: int, *, device: torch.device | None = None) -> Tensor:
        """``Tensor[h*w, 4]`` square anchors (side ``anchor_size``) centred on the cells."""
        loc = locations(h, w, device=device)
        half = self.config.anchor_size / 2.0
        return torch.cat([loc - half, loc + half], dim=1)

    def decode(self, outputs: tuple[Tensor, ...]) -> tuple[Tensor, Tensor]:
        """Anchor + delta boxes (dx, dy, log dw, log dh) and ``sigmoid`` scores."""
        score, box = outputs
        h, w = score.shape[-2:]
        anc = self.anchors(h, w, device=score.device)
        a_wh = anc[:, 2:] - anc[:, :2]
        a_c = anc[:, :2] + a_wh / 2
        d = _flat(box)  # [n, N, 4]
        c = a_c + d[..., :2] * a_wh
        wh = a_wh * torch.exp(d[..., 2:].clamp(-self.max_log_wh, self.max_log_wh))
        return torch.cat([c - wh / 2, c + wh / 2], dim=-1), torch.sigmoid(_flat(score)[..., 0])

    def targets(
        self, boxes_xyxy: Tensor, present: Tensor, hw: tuple[int, int] | torch.Size
    ) -> dict[str, Tensor]:
        """Labels (1 positive, 0 negative, ignored where ``valid`` is 0) and box deltas."""
        h, w = int(hw[0]), int(hw[1])
        anc = self.anchors(h, w, device=boxes_xyxy.device)
        iou = _box_iou_one_to_many(anc, boxes_xyxy)  # [n, N]
        has = present[:, None] > 0
        best = iou >= iou.amax(dim=1, keepdim=True)  # the best anchor(s), forced positive
        pos = ((iou >= self.pos_iou) | best) & has
        neg = ~pos & ((iou < self.neg_iou) | ~has)
        a_wh = anc[:, 2:] - anc[:, :2]
        a_c = anc[:, :2] + a_wh / 2
        b_wh = (boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]).clamp_min(1e-3)[:, None]
        b_c = (boxes_xyxy[:, :2] + boxes_xyxy[:, 2:])[:, None] / 2
        deltas = torch.cat([(b_c - a_c) / a_wh, torch.log(b_wh / a_wh)], dim=-1)  # [n, N, 4]
        return {"label": pos.float(), "valid": (pos | neg).float(), "deltas": deltas}

    def losses(self, outputs: tuple[Tensor, ...], targets: dict[str, Tensor]) -> Tensor:
        """``(focal + smooth L1 over positives) / npos`` per sample, npos >= 1."""
        score, box = outputs
        logit = _flat(score)[..., 0]
        y = targets["label"]
        p = torch.sigmoid(logit)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(logit, y, reduction="none")
        p_t = p * y + (1 - p) * (1 - y)
        a_t = self.alpha * y + (1 - self.alpha) * (1 - y)
        focal = (a_t * (1 - p_t) ** self.gamma * ce * targets["valid"]).sum(dim=1)
        diff = (_flat(box) - targets["deltas"]).abs()
        sl1 = torch.where(diff < self.beta, 0.5 * diff**2 / self.beta, diff - 0.5 * self.beta)
        reg = (sl1.sum(dim=-1) * y).sum(dim=1)
        return (focal + reg) / y.sum(dim=1).clamp_min(1.0)


def make_head_ops(config: DetectorConfig) -> FCOSOps | RetinaOps:
    """The :class:`HeadOps` for ``config.head``."""
    if config.head == "fcos":
        return FCOSOps(config)
    if config.head == "retina":
        return RetinaOps(config)
    raise ValueError(f"unknown head {config.head!r}")
