"""RetinaNet head (Lin et al. 2017) and Wang et al. 2020's single-anchor tracking variant."""

from __future__ import annotations

from collections.abc import Sequence

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


class RetinaNetHead(nn.Module):
    """RetinaNet classification and box-regression subnets, shared across levels.

    Two separate towers of ``num_convs`` 3x3 convs (+ReLU, optional GroupNorm), then a 3x3 conv
    with ``K * N`` class logits and one with ``K * 4`` box deltas. The classification bias starts
    at ``-log((1 - prior_prob) / prior_prob)`` (prior 0.01). Wang et al. 2020's tracker:
    :meth:`tracking` (one 64x64 anchor, one class, stride 8, no FPN).

    Args:
        in_channels: channels of every input level.
        num_anchors: K anchor shapes per location (RetinaNet 9).
        num_classes: N (sigmoid per class, no background logit).
        num_convs: tower depth (RetinaNet 4).
        channels: tower width (default ``in_channels``).
        norm: ``"none"`` (RetinaNet) or ``"gn"``.
        prior_prob: initial foreground probability (0.01).

    ``forward(features, reg_features=None)``: ``features`` is one ``Tensor[B, C, H, W]`` or a
    list of levels; ``reg_features`` (same structure), when given, feeds the regression tower
    (Wang et al. 2020's independent block-4 copies per branch). Returns::

        {"cls_logits": Tensor[B, A, N], "bbox_deltas": Tensor[B, A, 4]}

    with ``A = sum_l H_l * W_l * K`` ordered (level, y, x, k) like ``make_anchors``. Pure
    function of parameters and inputs (works under ``torch.func.functional_call``).
    """

    def __init__(
        self,
        in_channels: int,
        *,
        num_anchors: int = 9,
        num_classes: int = 1,
        num_convs: int = 4,
        channels: int | None = None,
        norm: str = "none",
        prior_prob: float = 0.01,
    ) -> None:
        super().__init__()
        check_head_norm(norm)
        check_int_args(
            ("in_channels", in_channels, 1),
            ("num_anchors", num_anchors, 1),
            ("num_classes", num_classes, 1),
            ("num_convs", num_convs, 0),
        )
        width = in_channels if channels is None else channels
        self.in_channels = in_channels
        self.num_anchors = num_anchors
        self.num_classes = num_classes
        self.cls_tower = conv_tower(in_channels, width, num_convs, norm=norm)
        self.reg_tower = conv_tower(in_channels, width, num_convs, norm=norm)
        feat = width if num_convs > 0 else in_channels
        self.cls_logits = final_conv(
            feat, num_anchors * num_classes, bias_value=prior_bias(prior_prob)
        )
        self.bbox_pred = final_conv(feat, num_anchors * 4)

    @classmethod
    def tracking(
        cls,
        in_channels: int,
        *,
        num_convs: int = 4,
        channels: int | None = None,
        norm: str = "none",
    ) -> RetinaNetHead:
        """Retina-MAML head (Wang et al. 2020): a single 64x64 anchor, one class."""
        return cls(
            in_channels,
            num_anchors=1,
            num_classes=1,
            num_convs=num_convs,
            channels=channels,
            norm=norm,
        )

    def forward(
        self,
        features: Tensor | Sequence[Tensor],
        reg_features: Tensor | Sequence[Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """Class logits ``Tensor[B, A, N]`` and box deltas ``Tensor[B, A, 4]`` (see class doc)."""
        cls_levels, reg_levels = paired_levels(features, reg_features, self.in_channels)
        logits = [
            flatten_anchor_maps(self.cls_logits(self.cls_tower(f)), self.num_anchors)
            for f in cls_levels
        ]
        deltas = [
            flatten_anchor_maps(self.bbox_pred(self.reg_tower(f)), self.num_anchors)
            for f in reg_levels
        ]
        return {"cls_logits": cat_levels(logits), "bbox_deltas": cat_levels(deltas)}


#: Wang et al. 2020's single 64x64 tracking anchor (stride 8):
#: ``make_anchors(sizes, strides=(8,), ...)``.
TRACKING_ANCHOR_SIZES: tuple[tuple[float, ...], ...] = ((64.0,),)
TRACKING_ANCHOR_RATIOS: tuple[float, ...] = (1.0,)
