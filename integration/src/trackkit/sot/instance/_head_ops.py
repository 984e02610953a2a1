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

from typing import Protocol

import torch
from torch import Tensor, nn

from detheads import (
    FCOSHead,
    RetinaNetHead,
    centerness_l2_loss,
    centerness_target,
    decode_deltas,
    decode_ltrb,
    encode_deltas,
    encode_ltrb,
    grid_points,
    l1_loss,
    normalize_by_positives,
    sigmoid_focal_loss,
    smooth_l1_loss,
)
from trackkit.sot.instance._config import DetectorConfig

__all__ = ["FCOSOps", "HeadOps", "RetinaOps", "locations", "make_head_ops"]

STRIDE = 8
#: Centre of feature cell ``j`` in crop pixels: three stride-2, padding-1 3x3 convolutions put
#: it at pixel index ``8 j``, i.e. continuous coordinate ``8 j + 0.5`` = ``(j + 1/16) * 8``.
CELL_OFFSET = 1.0 / 16.0


def locations(h: int, w: int, *, device: torch.device | None = None) -> Tensor:
    """Crop-pixel centres of the feature cells, ``Tensor[h * w, 2]`` (x, y), row-major."""
    return grid_points((h, w), STRIDE, offset=CELL_OFFSET, device=device)


Outputs = dict[str, Tensor]


class HeadOps(Protocol):
    """What the tracker and the trainer need from a head kind."""

    def build_head(self, in_channels: int) -> nn.Module:
        """A new head module for ``in_channels`` trunk channels."""
        ...

    def decode(self, outputs: Outputs, hw: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """``(boxes_xyxy Tensor[n, h*w, 4], scores Tensor[n, h*w])`` in crop pixels."""
        ...

    def targets(
        self, boxes_xyxy: Tensor, present: Tensor, hw: tuple[int, int]
    ) -> dict[str, Tensor]:
        """Dense training targets for one box per crop (``Tensor[n, 4]``, ``Tensor[n]``)."""
        ...

    def losses(self, outputs: Outputs, targets: dict[str, Tensor]) -> Tensor:
        """Per-sample loss ``Tensor[n]``."""
        ...


class FCOSOps:
    """FCOS-MAML: centerness is the score (L2 loss), ltrb regression in stride units (L1).

    The head is :meth:`detheads.FCOSHead.tracking` (no class logits; centerness from the score
    tower; ``exp`` ltrb with a learnable scale), without normalisation layers.

    Args:
        config: the detector configuration (head width and depth).
        min_normalizer: both loss terms are divided by ``max(npos, min_normalizer)``. With the
            plain ``max(npos, 1)`` a background crop (no positive location) sums the squared
            scores of all h*w cells undivided, which drowns the positive crops and drives every
            score to zero; 32 is about the number of cells a target covers in the search
            region, so positive crops keep the usual normalisation by their positives.
    """

    def __init__(self, config: DetectorConfig, *, min_normalizer: float = 32.0) -> None:
        self.config = config
        self.min_normalizer = min_normalizer

    def build_head(self, in_channels: int) -> nn.Module:
        """``FCOSHead.tracking`` of the configured width and depth."""
        return FCOSHead.tracking(
            in_channels,
            num_convs=self.config.num_convs,
            channels=self.config.head_channels,
            norm="none",
        )

    def decode(self, outputs: Outputs, hw: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """Boxes ``loc -+ ltrb * stride`` and scores ``sigmoid(centerness logit)``."""
        ltrb = outputs["bbox_ltrb"]
        loc = locations(hw[0], hw[1], device=ltrb.device)
        boxes = decode_ltrb(loc, ltrb, stride=STRIDE)
        return boxes, torch.sigmoid(outputs["centerness_logits"])

    def targets(
        self, boxes_xyxy: Tensor, present: Tensor, hw: tuple[int, int]
    ) -> dict[str, Tensor]:
        """Centerness (0 outside the box and for background crops) and ltrb in strides.

        Every location inside the box is positive for the regression (FCOS); the score target
        is the centerness there and 0 elsewhere.
        """
        loc = locations(hw[0], hw[1], device=boxes_xyxy.device)  # [N, 2]
        ltrb = encode_ltrb(loc[None], boxes_xyxy[:, None, :], stride=STRIDE)  # [n, N, 4]
        inside = (ltrb.amin(dim=-1) > 0) & (present[:, None] > 0)
        ctr = centerness_target(ltrb) * inside
        return {"centerness": ctr, "ltrb": ltrb.clamp_min(1e-3), "positive": inside.float()}

    def losses(self, outputs: Outputs, targets: dict[str, Tensor]) -> Tensor:
        """``(sum L2(centerness) + sum_pos L1(ltrb)) / max(npos, min_normalizer)`` per sample."""
        pos = targets["positive"]
        l_ctr = centerness_l2_loss(outputs["centerness_logits"], targets["centerness"]).sum(1)
        l_reg = (l1_loss(outputs["bbox_ltrb"], targets["ltrb"]).sum(-1) * pos).sum(1)
        return normalize_by_positives(l_ctr + l_reg, pos.sum(1).clamp_min(self.min_normalizer))


def _box_iou_one_to_many(anchors: Tensor, boxes: Tensor) -> Tensor:
    """IoU of anchors ``[N, 4]`` with one box per sample ``[n, 4]`` -> ``[n, N]``."""
    a = anchors[None]
    b = boxes[:, None]
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    wh = (rb - lt).clamp_min(0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = ((b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])).clamp_min(0)
    return inter / (area_a + area_b - inter).clamp_min(1e-6)


class RetinaOps:
    """Retina-MAML: one square anchor per cell, focal + smooth-L1 losses (paper 000, Sec. 4).

    The head is :meth:`detheads.RetinaNetHead.tracking` (one anchor, one class).

    Args:
        config: the detector configuration (``anchor_size`` 64 by default).
        pos_iou: anchors with IoU >= this are positive (0.5); the best anchor is always positive.
        neg_iou: anchors below this IoU are negative (0.3); in between they are ignored.
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

    def build_head(self, in_channels: int) -> nn.Module:
        """``RetinaNetHead.tracking`` of the configured width and depth."""
        return RetinaNetHead.tracking(
            in_channels, num_convs=self.config.num_convs, channels=self.config.head_channels
        )

    def anchors(self, h: int, w: int, *, device: torch.device | None = None) -> Tensor:
        """``Tensor[h*w, 4]`` square anchors (side ``anchor_size``) centred on the cells."""
        loc = locations(h, w, device=device)
        half = self.config.anchor_size / 2.0
        return torch.cat([loc - half, loc + half], dim=1)

    def decode(self, outputs: Outputs, hw: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """Anchor + delta boxes and ``sigmoid`` scores."""
        deltas = outputs["bbox_deltas"]
        anc = self.anchors(hw[0], hw[1], device=deltas.device)
        return decode_deltas(deltas, anc), torch.sigmoid(outputs["cls_logits"][..., 0])

    def targets(
        self, boxes_xyxy: Tensor, present: Tensor, hw: tuple[int, int]
    ) -> dict[str, Tensor]:
        """Labels (1 positive, 0 negative; ``valid`` 0 = ignored) and box deltas."""
        anc = self.anchors(hw[0], hw[1], device=boxes_xyxy.device)
        iou = _box_iou_one_to_many(anc, boxes_xyxy)  # [n, N]
        has = present[:, None] > 0
        best = iou >= iou.amax(dim=1, keepdim=True)  # the best anchor(s), forced positive
        pos = ((iou >= self.pos_iou) | best) & has
        neg = ~pos & ((iou < self.neg_iou) | ~has)
        deltas = encode_deltas(boxes_xyxy[:, None, :], anc[None])  # [n, N, 4]
        return {"label": pos.float(), "valid": (pos | neg).float(), "deltas": deltas}

    def losses(self, outputs: Outputs, targets: dict[str, Tensor]) -> Tensor:
        """``(focal + smooth L1 over positives) / max(npos, 1)`` per sample."""
        y = targets["label"]
        focal = sigmoid_focal_loss(
            outputs["cls_logits"][..., 0], y, alpha=self.alpha, gamma=self.gamma
        )
        focal = (focal * targets["valid"]).sum(1)
        reg = smooth_l1_loss(outputs["bbox_deltas"], targets["deltas"], beta=self.beta)
        reg = (reg.sum(-1) * y).sum(1)
        return normalize_by_positives(focal + reg, y.sum(1))


def make_head_ops(config: DetectorConfig) -> FCOSOps | RetinaOps:
    """The :class:`HeadOps` for ``config.head``."""
    if config.head == "fcos":
        return FCOSOps(config)
    if config.head == "retina":
        return RetinaOps(config)
    raise ValueError(f"unknown head {config.head!r}")
