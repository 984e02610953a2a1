"""FCOS head (Tian et al. 2019) and Wang et al. 2020's centerness-only tracking variant."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ._tower import (
    cat_levels,
    check_head_norm,
    check_int_args,
    conv_tower,
    final_conv,
    flatten_anchor_maps,
    paired_levels,
    prior_bias,
)

#: Upper clamp of ``scale * raw`` before ``exp`` in the ltrb branch (keeps exp finite).
LTRB_EXP_CLAMP = 10.0


class FCOSHead(nn.Module):
    """FCOS classification / centerness / ltrb regression head, shared across levels.

    Two towers of ``num_convs`` 3x3 convs (GroupNorm + ReLU by default). The classification
    tower ends in ``N`` logits (prior-probability bias); the regression tower ends in 4 ltrb
    values ``exp(s_l * raw)`` with one learnable scale ``s_l`` per level, in units of the
    level's stride (decode with ``decode_ltrb(points, ltrb, stride=point_strides)``); centerness
    comes from the regression tower (``centerness_on_reg=True``, FCOS improvements) or the
    classification tower.

    Wang et al. 2020's FCOS-MAML keeps only the centerness branch as the score: ``num_classes=0``
    (see :meth:`tracking`) drops the class logits and predicts centerness from the classification
    tower (so with two block-4 copies the score branch and the box branch stay separate).

    ``forward(features, reg_features=None)`` -> dict with ``P = sum_l H_l * W_l`` points ordered
    (level, y, x) like ``make_points``::

        "cls_logits":        Tensor[B, P, N]  (only when num_classes > 0)
        "centerness_logits": Tensor[B, P]     (score = sigmoid; the tracking score when N == 0)
        "bbox_ltrb":         Tensor[B, P, 4]  (> 0, distances / stride)

    Args:
        in_channels: channels of every input level.
        num_classes: N; 0 = tracking variant (centerness is the score).
        num_convs: tower depth (FCOS 4).
        channels: tower width (default ``in_channels``).
        norm: ``"gn"`` (FCOS) or ``"none"``.
        num_levels: number of feature levels (one scale parameter each).
        centerness_on_reg: predict centerness from the regression tower (ignored when N == 0).
        prior_prob: initial probability of the class / tracking-score logits (0.01).
    """

    def __init__(
        self,
        in_channels: int,
        *,
        num_classes: int = 1,
        num_convs: int = 4,
        channels: int | None = None,
        norm: str = "gn",
        num_levels: int = 1,
        centerness_on_reg: bool = True,
        prior_prob: float = 0.01,
    ) -> None:
        super().__init__()
        check_head_norm(norm)
        check_int_args(
            ("in_channels", in_channels, 1),
            ("num_classes", num_classes, 0),
            ("num_convs", num_convs, 0),
            ("num_levels", num_levels, 1),
        )
        width = in_channels if channels is None else channels
        feat = width if num_convs > 0 else in_channels
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.num_levels = num_levels
        self.centerness_on_reg = centerness_on_reg and num_classes > 0
        self.cls_tower = conv_tower(in_channels, width, num_convs, norm=norm)
        self.reg_tower = conv_tower(in_channels, width, num_convs, norm=norm)
        bias = prior_bias(prior_prob)
        self.cls_logits = final_conv(feat, num_classes, bias_value=bias) if num_classes else None
        self.centerness = final_conv(feat, 1, bias_value=0.0 if num_classes else bias)
        self.bbox_pred = final_conv(feat, 4)
        self.scales = nn.Parameter(torch.ones(num_levels))

    @classmethod
    def tracking(
        cls, in_channels: int, *, num_convs: int = 4, channels: int | None = None, norm: str = "gn"
    ) -> FCOSHead:
        """FCOS-MAML head (Wang et al. 2020): centerness alone is the score, one level, stride 8."""
        return cls(in_channels, num_classes=0, num_convs=num_convs, channels=channels, norm=norm)

    def forward(
        self,
        features: Tensor | Sequence[Tensor],
        reg_features: Tensor | Sequence[Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """Per-point outputs (see the class docstring for keys and shapes)."""
        cls_levels, reg_levels = paired_levels(features, reg_features, self.in_channels)
        if len(cls_levels) != self.num_levels:
            raise ValueError(
                f"got {len(cls_levels)} feature levels, the head was built for {self.num_levels}"
            )
        logits, ctr, ltrb = [], [], []
        for lvl, (fc, fr) in enumerate(zip(cls_levels, reg_levels, strict=True)):
            tc = self.cls_tower(fc)
            tr = self.reg_tower(fr)
            if self.cls_logits is not None:
                logits.append(flatten_anchor_maps(self.cls_logits(tc), 1))
            ctr.append(
                flatten_anchor_maps(self.centerness(tr if self.centerness_on_reg else tc), 1)
            )
            raw = self.scales[lvl] * self.bbox_pred(tr)
            ltrb.append(flatten_anchor_maps(torch.exp(raw.clamp(max=LTRB_EXP_CLAMP)), 1))
        out = {"centerness_logits": cat_levels(ctr)[..., 0], "bbox_ltrb": cat_levels(ltrb)}
        if logits:
            out["cls_logits"] = cat_levels(logits)
        return out
