"""Head-specific pieces of the two instance detectors: build, targets, losses, decoding.

Both heads work on one stride-8 feature map of a search region with exactly one target box per
crop (or none for a background crop), so targets are dense tensors computed once per crop and
the losses are pure tensor maths that run under ``torch.func.vmap`` and ``torch.func.grad``.
Targets and losses come from ``detheads`` with the options of the tracking variants:

- FCOS-MAML (Wang et al. 2020, Sec. 4.1-4.2): "we only keep the centerness branch to produce
  classification scores"; every cell inside the box is positive
  (``detheads.fcos_targets(center_sampling_radius=0)``), L2 loss on the centerness of every
  cell and L1 loss on the ltrb of positives (``detheads.fcos_target_loss``), each crop divided
  by ``max(its positives, 32)``.
- Retina-MAML (same paper): a single 64x64 anchor per cell; IoU >= 0.5 positive (plus the best
  anchor), < 0.3 negative (``detheads.retinanet_targets``); focal loss (Lin et al. 2017, eq. 5)
  and smooth L1 (``detheads.retinanet_target_loss``), each crop divided by its own positives.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from detheads import (
    FCOSHead,
    FCOSTargets,
    RetinaNetHead,
    RetinaNetTargets,
    decode_deltas,
    decode_ltrb,
    fcos_target_loss,
    fcos_targets,
    grid_points,
    retinanet_target_loss,
    retinanet_targets,
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
        """:class:`detheads.FCOSTargets` as a dict: every cell inside the box is positive.

        The score target is the centerness there (Tian et al. 2019, eq. 3) and 0 elsewhere and
        in background crops (``present`` 0); ltrb targets are in strides.
        """
        loc = locations(hw[0], hw[1], device=boxes_xyxy.device)  # [N, 2]
        strides = torch.full((loc.shape[0],), float(STRIDE), device=loc.device)
        t = fcos_targets(
            loc,
            strides,
            boxes_xyxy[:, None, :],
            present.to(boxes_xyxy.device)[:, None] > 0,
            center_sampling_radius=0.0,
            validate=False,
        )
        return dict(t._asdict())

    def losses(self, outputs: Outputs, targets: dict[str, Tensor]) -> Tensor:
        """``(sum L2(centerness) + sum_pos L1(ltrb)) / max(npos, min_normalizer)`` per sample.

        ``detheads.fcos_target_loss(normalize="image", min_positives=min_normalizer)``.
        """
        res = fcos_target_loss(
            outputs,
            FCOSTargets(**targets),
            normalize="image",
            min_positives=self.min_normalizer,
        )
        return res["loss"]


class RetinaOps:
    """Retina-MAML: one square anchor per cell, focal + smooth-L1 losses (Wang et al. 2020).

    The head is :meth:`detheads.RetinaNetHead.tracking` (one anchor, one class).

    Args:
        config: the detector configuration (``anchor_size`` 64 by default).
        pos_iou: anchors with IoU >= this are positive (0.5); the best anchor (IoU > 0) is
            always positive.
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
        """:class:`detheads.RetinaNetTargets` as a dict (IoU rule of Lin et al. 2017)."""
        anc = self.anchors(hw[0], hw[1], device=boxes_xyxy.device)
        t = retinanet_targets(
            anc,
            boxes_xyxy[:, None, :],
            None,
            present.to(boxes_xyxy.device)[:, None] > 0,
            num_classes=1,
            pos_iou=self.pos_iou,
            neg_iou=self.neg_iou,
            force_best=True,
            validate=False,
        )
        return dict(t._asdict())

    def losses(self, outputs: Outputs, targets: dict[str, Tensor]) -> Tensor:
        """``(focal + smooth L1 over positives) / max(npos, 1)`` per sample.

        ``detheads.retinanet_target_loss(normalize="image")``.
        """
        res = retinanet_target_loss(
            outputs,
            RetinaNetTargets(**targets),
            alpha=self.alpha,
            gamma=self.gamma,
            beta=self.beta,
            normalize="image",
        )
        return res["loss"]


def make_head_ops(config: DetectorConfig) -> FCOSOps | RetinaOps:
    """The :class:`HeadOps` for ``config.head``."""
    if config.head == "fcos":
        return FCOSOps(config)
    if config.head == "retina":
        return RetinaOps(config)
    raise ValueError(f"unknown head {config.head!r}")
