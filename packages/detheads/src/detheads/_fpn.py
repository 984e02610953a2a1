"""Feature pyramid network P3-P7 (Lin et al. 2017, as used by RetinaNet and Lu et al. 2020)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_EXTRA_INITS = ("kaiming", "average")


class FPN(nn.Module):
    """FPN over backbone maps C3..C5 with extra levels P6, P7 (RetinaNet).

    Lateral 1x1 convs, nearest-neighbour top-down addition, 3x3 output convs; P6 is a stride-2
    3x3 conv on C5 (``extra_source="c5"``, RetinaNet paper) or on P5 (``"p5"``, torchvision),
    P7 a stride-2 3x3 conv on ReLU(P6). No normalisation: a pure function of its parameters
    (works under ``torch.func.functional_call``).

    Args:
        in_channels: channels of the input maps, finest first (ResNet-18: ``(128, 256, 512)``).
        out_channels: channels of every output level (256).
        extra_levels: number of stride-2 levels added on top (2 gives P6, P7).
        extra_source: ``"c5"`` or ``"p5"``.
        extra_init: initialisation of the extra levels' convs. ``"kaiming"`` (default): as
            every other conv. ``"average"``: each extra conv starts as a per-channel 3x3
            average pool with stride 2 (weight ``1/9`` on its own channel, 0 elsewhere, bias
            0), so a new level starts as a smoothed, subsampled copy of the level below,
            features that a head shared across levels (RetinaNet, RetinaTrack) already reads;
            used to add a level to a trained pyramid and fine-tune (see
            :meth:`init_extra_as_average`). Needs ``extra_source="p5"`` or ``in_channels[-1]
            == out_channels``.

    ``forward(features: Sequence[Tensor[B, C_i, H_i, W_i]]) -> list[Tensor[B, out, H_l, W_l]]``,
    finest first (P3, P4, P5, P6, P7 for C3-C5 input).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        *,
        out_channels: int = 256,
        extra_levels: int = 2,
        extra_source: str = "c5",
        extra_init: str = "kaiming",
    ) -> None:
        super().__init__()
        if len(in_channels) == 0 or min(in_channels) < 1:
            raise ValueError(f"in_channels must be non-empty positive ints, got {in_channels!r}")
        if extra_source not in ("c5", "p5"):
            raise ValueError(f"extra_source must be 'c5' or 'p5', got {extra_source!r}")
        if not isinstance(extra_levels, int) or extra_levels < 0:
            raise ValueError(f"extra_levels must be an int >= 0, got {extra_levels!r}")
        if extra_init not in _EXTRA_INITS:
            raise ValueError(f"extra_init must be one of {_EXTRA_INITS}, got {extra_init!r}")
        if extra_init == "average" and extra_source == "c5" and in_channels[-1] != out_channels:
            raise ValueError(
                "extra_init='average' needs extra_source='p5' or in_channels[-1] == "
                f"out_channels, got {in_channels[-1]} -> {out_channels}"
            )
        self.in_channels = tuple(in_channels)
        self.out_channels = out_channels
        self.extra_source = extra_source
        self.inner_blocks = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)
        self.layer_blocks = nn.ModuleList(
            nn.Conv2d(out_channels, out_channels, 3, padding=1) for _ in in_channels
        )
        first_in = in_channels[-1] if extra_source == "c5" else out_channels
        self.extra_blocks = nn.ModuleList(
            nn.Conv2d(first_in if i == 0 else out_channels, out_channels, 3, 2, 1)
            for i in range(extra_levels)
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=1)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if extra_init == "average":
            self.init_extra_as_average()

    @torch.no_grad()
    def init_extra_as_average(self, levels: Sequence[int] | None = None) -> None:
        """Re-initialise extra convs as per-channel 3x3 / stride-2 average pools.

        ``levels`` are indices into ``extra_blocks`` (``None``: all). Conv ``i`` then maps its
        input ``x`` (P5, C5 or ReLU of the previous extra level) to
        ``avg_pool2d(x, 3, 2, padding=1, count_include_pad=True)``. Used when a pyramid
        trained without these levels is loaded and extended: the new level starts with
        features of the trained level's statistics instead of random ones.

        Raises:
            ValueError: an index out of range, or a conv whose input and output channels
                differ (C5 with another width).
        """
        idx = range(len(self.extra_blocks)) if levels is None else list(levels)
        for i in idx:
            if not 0 <= i < len(self.extra_blocks):
                raise ValueError(
                    f"levels: {i} is not an extra level (have {len(self.extra_blocks)})"
                )
            conv = self.extra_blocks[i]
            assert isinstance(conv, nn.Conv2d)
            c_out, c_in = conv.weight.shape[:2]
            if c_out != c_in:
                raise ValueError(f"extra level {i}: average init needs in == out channels")
            conv.weight.zero_()
            ch = torch.arange(c_out)
            conv.weight[ch, ch] = 1.0 / 9.0
            if conv.bias is not None:
                conv.bias.zero_()

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        """Pyramid levels, finest first (see the class docstring)."""
        feats = list(features)
        if len(feats) != len(self.in_channels):
            raise ValueError(f"expected {len(self.in_channels)} input maps, got {len(feats)}")
        for i, (f, c) in enumerate(zip(feats, self.in_channels, strict=True)):
            if f.dim() != 4 or f.shape[1] != c:
                raise ValueError(
                    f"features[{i}] must be Tensor[B, {c}, H, W], got {tuple(f.shape)}"
                )
        last = self.inner_blocks[-1](feats[-1])
        outs = [self.layer_blocks[-1](last)]
        for i in range(len(feats) - 2, -1, -1):
            lateral = self.inner_blocks[i](feats[i])
            last = lateral + F.interpolate(last, size=lateral.shape[-2:], mode="nearest")
            outs.insert(0, self.layer_blocks[i](last))
        x = feats[-1] if self.extra_source == "c5" else outs[-1]
        for i, block in enumerate(self.extra_blocks):
            x = block(F.relu(x) if i > 0 else x)
            outs.append(x)
        return outs
