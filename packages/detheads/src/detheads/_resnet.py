"""ResNet-18 truncated at output stride 8 (Wang et al. 2020), with torchvision state-dict keys."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._norm import check_norm, make_norm
from ._weights import load_checked, read_state_dict

RESNET18_STAGES: tuple[str, ...] = ("stem", "layer1", "layer2", "layer3", "layer4")
_STAGE_CHANNELS = {"stem": 64, "layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512}


class BasicBlock(nn.Module):
    """torchvision's ResNet basic block (``conv1, bn1, conv2, bn2, downsample.{0,1}``).

    Unlike torchvision it accepts ``dilation > 1`` (padding = dilation), used to keep block-4 at
    stride 8 with the receptive field it was pre-trained with.
    """

    def __init__(
        self,
        inplanes: int,
        planes: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        norm: str = "frozen_bn",
        downsample: bool = False,
    ) -> None:
        super().__init__()
        d1 = dilation if first_dilation is None else first_dilation
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=d1, dilation=d1, bias=False)
        self.bn1 = make_norm(norm, planes)
        self.conv2 = nn.Conv2d(
            planes, planes, 3, 1, padding=dilation, dilation=dilation, bias=False
        )
        self.bn2 = make_norm(norm, planes)
        self.downsample: nn.Module | None = None
        if downsample:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), make_norm(norm, planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        """``Tensor[B, inplanes, H, W] -> Tensor[B, planes, H/stride, W/stride]``."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


def _make_layer(
    inplanes: int,
    planes: int,
    *,
    stride: int,
    dilation: int,
    norm: str,
    first_dilation: int | None = None,
) -> nn.Sequential:
    first = BasicBlock(
        inplanes,
        planes,
        stride=stride,
        dilation=dilation,
        first_dilation=first_dilation if first_dilation is not None else max(1, dilation // 2),
        norm=norm,
        downsample=stride != 1 or inplanes != planes,
    )
    return nn.Sequential(first, BasicBlock(planes, planes, dilation=dilation, norm=norm))


def _torchvision_resnet18_keys() -> list[str]:
    """Every state-dict key of torchvision's ``resnet18()`` (built on the meta device)."""
    with torch.device("meta"):
        net = nn.Module()
        net.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        net.bn1 = nn.BatchNorm2d(64)
        net.layer1 = _make_layer(64, 64, stride=1, dilation=1, norm="frozen_bn")
        net.layer2 = _make_layer(64, 128, stride=2, dilation=1, norm="frozen_bn")
        net.layer3 = _make_layer(128, 256, stride=2, dilation=1, norm="frozen_bn")
        net.layer4 = _make_layer(256, 512, stride=2, dilation=1, norm="frozen_bn")
        net.fc = nn.Linear(512, 1000)
    return list(net.state_dict().keys())


class ResNet18Backbone(nn.Module):
    """ResNet-18 truncated after block-4 at output stride 8, as in Wang et al. 2020 (Fig. 4).

    Wang et al. 2020 numbers the stages block-1 (stem) to block-5 (``layer4``); block-5 is dropped
    and block-4 (torchvision ``layer3``) runs at stride 1 (dilation ``layer3_dilation``) so the
    output stride is 8. The first three blocks (``stem``, ``layer1``, ``layer2``) are frozen by
    default, as in the paper. State-dict keys are torchvision's (``conv1.weight``,
    ``bn1.running_mean``, ``layer3.1.conv2.weight`` ...), so ``load_pretrained`` takes a torchvision
    ``resnet18`` checkpoint unchanged (``layer4``/``fc`` are ignored).

    ``num_branches > 1`` makes independent copies of block-4 (Wang et al. 2020: one per branch,
    appendix A); extra copies live under ``layer3_copies.{i-1}`` and are initialised from
    ``layer3`` by ``load_pretrained``. ``forward`` returns branch 0; ``forward_branches`` returns
    all branches while running the shared trunk once.

    For an FPN (RetinaTrack) use ``last_stage="layer4", output_stride=32`` and
    :meth:`forward_pyramid`, which returns C3, C4, C5 (strides 8, 16, 32; 128, 256, 512
    channels).

    Args:
        last_stage: ``"layer3"`` (block-4, 256 channels, default), ``"layer2"`` (128 channels,
            no block-4) or ``"layer4"`` (block-5, 512 channels).
        output_stride: 8 (default, Wang et al. 2020), 16 or 32 (torchvision's strides); strides
            beyond it become dilation.
        frozen_stages: how many leading stages of ``("stem", "layer1", "layer2", "layer3",
            "layer4")`` get ``requires_grad=False`` (Wang et al. 2020: 3).
        norm: ``"frozen_bn"`` (BatchNorm with fixed statistics; default) or ``"gn"``
            (GroupNorm, 32 groups).
        layer3_dilation: dilation of block-4 at output stride 8 (2 keeps the receptive field of
            the stride-16 pre-training; 1 gives the plain stride-1 block).
        num_branches: independent copies of block-4 (needs ``last_stage="layer3"``).
        weights_path: optional torchvision checkpoint to load at construction.

    Attributes:
        out_channels: channels of the output map (128, 256 or 512).
        stride: stride of the output map.
        pyramid_channels: channels of :meth:`forward_pyramid`'s maps.
        stage_names: the stages present, in order.
    """

    def __init__(
        self,
        *,
        last_stage: str = "layer3",
        output_stride: int = 8,
        frozen_stages: int = 3,
        norm: str = "frozen_bn",
        layer3_dilation: int = 2,
        num_branches: int = 1,
        weights_path: str | Path | None = None,
    ) -> None:
        super().__init__()
        check_norm(norm)
        if last_stage not in ("layer2", "layer3", "layer4"):
            raise ValueError(
                f"last_stage must be 'layer2', 'layer3' or 'layer4', got {last_stage!r}"
            )
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        self.stage_names: tuple[str, ...] = RESNET18_STAGES[: RESNET18_STAGES.index(last_stage) + 1]
        n_stages = len(self.stage_names)
        if not isinstance(frozen_stages, int) or not 0 <= frozen_stages <= n_stages:
            raise ValueError(
                f"frozen_stages must be an int in [0, {n_stages}], got {frozen_stages!r}"
            )
        if not isinstance(layer3_dilation, int) or layer3_dilation < 1:
            raise ValueError(f"layer3_dilation must be a positive int, got {layer3_dilation!r}")
        if not isinstance(num_branches, int) or num_branches < 1:
            raise ValueError(f"num_branches must be a positive int, got {num_branches!r}")
        if num_branches > 1 and last_stage != "layer3":
            raise ValueError("num_branches > 1 needs last_stage='layer3' (block-4 is copied)")
        self.norm = norm
        self.num_branches = num_branches
        self.frozen_stages = frozen_stages
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = make_norm(norm, 64)
        self.layer1 = _make_layer(64, 64, stride=1, dilation=1, norm=norm)
        self.layer2 = _make_layer(64, 128, stride=2, dilation=1, norm=norm)
        self.layer3: nn.Sequential | None = None
        self.layer4: nn.Sequential | None = None
        self.layer3_copies = nn.ModuleList()
        d3 = layer3_dilation if output_stride == 8 else 1
        if last_stage in ("layer3", "layer4"):
            s3 = 1 if output_stride == 8 else 2
            self.layer3 = _make_layer(128, 256, stride=s3, dilation=d3, first_dilation=1, norm=norm)
            if last_stage == "layer3":
                for _ in range(num_branches - 1):
                    self.layer3_copies.append(copy.deepcopy(self.layer3))
        if last_stage == "layer4":
            s4 = 2 if output_stride == 32 else 1
            d4 = 1 if output_stride == 32 else (2 if output_stride == 16 else 2 * d3)
            self.layer4 = _make_layer(
                256, 512, stride=s4, dilation=d4, first_dilation=d3 if s4 == 1 else 1, norm=norm
            )
        self.out_channels = _STAGE_CHANNELS[last_stage]
        natural = {"layer2": 8, "layer3": 16, "layer4": 32}[last_stage]
        self.stride = min(natural, output_stride)
        self.pyramid_channels = tuple(
            _STAGE_CHANNELS[n] for n in self.stage_names if n in ("layer2", "layer3", "layer4")
        )
        self._freeze()
        if weights_path is not None:
            self.load_pretrained(weights_path)

    def _stage_modules(self, name: str) -> list[nn.Module]:
        if name == "stem":
            return [self.conv1, self.bn1]
        if name == "layer3" and self.layer3 is not None:
            return [self.layer3, *self.layer3_copies]
        module = getattr(self, name)
        return [] if module is None else [module]

    def _freeze(self) -> None:
        for name in self.stage_names[: self.frozen_stages]:
            for module in self._stage_modules(name):
                for p in module.parameters():
                    p.requires_grad_(False)

    def load_pretrained(self, path: str | Path) -> None:
        """Load a torchvision ``resnet18`` state dict (file path) into the kept stages.

        Keys of dropped parts (``layer4`` unless kept, ``fc``) are ignored; ``layer3`` fills
        every block-4 copy. With ``norm="gn"`` the BatchNorm statistics are dropped and
        BatchNorm's affine ``weight``/``bias`` initialise GroupNorm's.

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: unexpected keys (not torchvision ResNet-18 keys), missing keys or shape
                mismatches, listed in the message.
        """
        state = read_state_dict(path)

        def remap(key: str) -> list[str]:
            if key.startswith("layer3."):
                rest = key[len("layer3.") :]
                return [key] + [f"layer3_copies.{i}.{rest}" for i in range(self.num_branches - 1)]
            return [key]

        load_checked(
            self,
            state,
            full_keys=_torchvision_resnet18_keys(),
            remap=remap,
            ignorable=lambda k: k.endswith("num_batches_tracked"),
            source=f"checkpoint {str(path)!r}",
        )

    def forward_trunk(self, x: Tensor) -> Tensor:
        """Shared trunk (stem, layer1, layer2).

        ``Tensor[B, 3, H, W] -> Tensor[B, 128, H/8, W/8]``.
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"x must be Tensor[B, 3, H, W], got shape {tuple(x.shape)}")
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, 2, 1)
        return self.layer2(self.layer1(x))

    def forward_branches(self, x: Tensor) -> list[Tensor]:
        """All block-4 copies after one shared trunk pass.

        Returns ``num_branches`` tensors ``Tensor[B, out_channels, H/8, W/8]`` (branch 0 is
        ``layer3``, the others ``layer3_copies``).
        """
        if self.layer3 is None or self.layer4 is not None:
            return [self.forward(x)]
        t = self.forward_trunk(x)
        return [self.layer3(t), *[c(t) for c in self.layer3_copies]]

    def forward_pyramid(self, x: Tensor) -> list[Tensor]:
        """Outputs of ``layer2``, ``layer3``, ``layer4`` (those kept): C3, C4, C5 for an FPN.

        With ``output_stride=32``: strides 8, 16, 32 and channels ``pyramid_channels``
        (128, 256, 512).
        """
        c3 = self.forward_trunk(x)
        outs = [c3]
        if self.layer3 is not None:
            outs.append(self.layer3(c3))
            if self.layer4 is not None:
                outs.append(self.layer4(outs[-1]))
        return outs

    def forward(self, x: Tensor) -> Tensor:
        """Features of ImageNet-normalised RGB images (branch 0 when block-4 is copied).

        ``x: Tensor[B, 3, H, W] -> Tensor[B, out_channels, H', W']``, ``H' = ceil(H / stride)``
        (263 -> 33 at the default stride 8).
        """
        return self.forward_pyramid(x)[-1]
