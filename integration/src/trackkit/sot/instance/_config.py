"""Frozen configuration of the instance-detector trackers (Wang et al. 2020), one dataclass each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AdaptationConfig",
    "DetectorConfig",
    "PostprocessConfig",
    "SearchRegionConfig",
    "TrackerConfig",
]

HeadKind = Literal["fcos", "retina"]
BackboneKind = Literal["mobilenet_v2", "resnet18"]


@dataclass(frozen=True)
class SearchRegionConfig:
    """Geometry of the square search region cropped around the previous box.

    The target's context-padded size ``sqrt((w + p)(h + p))``, ``p = context * (w + h)``, is
    scaled to ``exemplar_size`` pixels (SiamFC/SiamRPN convention, context 0.5, 127 px) and a
    ``search_size`` square (Wang et al. 2020: 263x263) is cut around the box centre. A square target
    therefore appears about 64 px wide, the size of Retina-MAML's single anchor.
    """

    search_size: int = 263
    exemplar_size: int = 127
    context: float = 0.5

    def __post_init__(self) -> None:
        if self.search_size < 16:
            raise ValueError(f"search_size must be >= 16, got {self.search_size}")
        if self.exemplar_size < 1 or self.exemplar_size > self.search_size:
            raise ValueError(f"exemplar_size must be in [1, search_size], got {self.exemplar_size}")
        if self.context < 0:
            raise ValueError(f"context must be >= 0, got {self.context}")


@dataclass(frozen=True)
class PostprocessConfig:
    """SiamRPN post-processing (Li et al. 2018; DaSiamRPN's defaults) and Algorithm 1 line 6.

    Attributes:
        penalty_k: scale/aspect change penalty strength.
        window_influence: weight of the cosine window.
        shape_lr: shape interpolation rate (scaled by penalty * score).
        lost_threshold: if every score is below it, the previous box is kept (Wang et al.
            2020: 0.1).
        min_size: smallest box side in image pixels kept in the tracker state.
    """

    penalty_k: float = 0.055
    window_influence: float = 0.42
    shape_lr: float = 0.295
    lost_threshold: float = 0.1
    min_size: float = 4.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.window_influence <= 1.0:
            raise ValueError(f"window_influence must be in [0, 1], got {self.window_influence}")
        if not 0.0 <= self.shape_lr <= 1.0:
            raise ValueError(f"shape_lr must be in [0, 1], got {self.shape_lr}")
        if self.penalty_k < 0:
            raise ValueError(f"penalty_k must be >= 0, got {self.penalty_k}")
        if self.min_size <= 0:
            raise ValueError(f"min_size must be > 0, got {self.min_size}")


@dataclass(frozen=True)
class AdaptationConfig:
    """First-frame domain adaptation and online updating (Wang et al. 2020, Sec. 4.3, Alg. 1).

    Attributes:
        init_steps: gradient steps on the augmented first frame (paper: 5).
        update_steps: gradient steps of an online update (paper: 1).
        update_interval: online update every this many frames (paper: 10).
        online_update: switch online updating off to get the fast variant (paper Table 3).
        support_capacity: support buffer size (paper: 30); the first-frame samples are never
            evicted, later samples replace each other first-in first-out.
        confidence_threshold: a tracked frame whose best raw score reaches this joins the buffer.
        distractor_threshold: peak-to-sidelobe ratio above which an update is forced (0.7).
        exclusion_radius: cells around the peak excluded from the sidelobe search.
        zoom: first-frame zoom in/out factor (paper: 1.08).
        shift_px: first-frame shifts, in search-region pixels, along +-x and +-y (0 disables).
    """

    init_steps: int = 5
    update_steps: int = 1
    update_interval: int = 10
    online_update: bool = True
    support_capacity: int = 30
    confidence_threshold: float = 0.5
    distractor_threshold: float = 0.7
    exclusion_radius: int = 3
    zoom: float = 1.08
    shift_px: float = 16.0

    def __post_init__(self) -> None:
        if self.init_steps < 0 or self.update_steps < 0:
            raise ValueError("init_steps and update_steps must be >= 0")
        if self.update_interval < 1:
            raise ValueError(f"update_interval must be >= 1, got {self.update_interval}")
        if self.zoom < 1.0:
            raise ValueError(f"zoom must be >= 1, got {self.zoom}")
        if self.shift_px < 0:
            raise ValueError(f"shift_px must be >= 0, got {self.shift_px}")
        if self.support_capacity < self.num_first_frame_samples + 1:
            raise ValueError(
                f"support_capacity must exceed the {self.num_first_frame_samples} first-frame "
                f"samples, got {self.support_capacity}"
            )

    @property
    def num_first_frame_samples(self) -> int:
        """Number of augmented first-frame samples: identity, zoom in/out, four shifts."""
        return 3 + (4 if self.shift_px > 0 else 0)

    def first_frame_augmentations(self) -> list[tuple[float, float, float]]:
        """``(zoom, dx, dy)`` per first-frame sample; zoom > 1 magnifies the target."""
        augs = [(1.0, 0.0, 0.0), (self.zoom, 0.0, 0.0), (1.0 / self.zoom, 0.0, 0.0)]
        if self.shift_px > 0:
            s = self.shift_px
            augs += [(1.0, s, 0.0), (1.0, -s, 0.0), (1.0, 0.0, s), (1.0, 0.0, -s)]
        return augs


@dataclass(frozen=True)
class DetectorConfig:
    """The instance detector: frozen stride-8 trunk plus an adapted single-level head.

    Attributes:
        head: ``"fcos"`` (centerness-only score, ltrb regression; FCOS-MAML) or ``"retina"``
            (a single 64x64 anchor, focal + smooth-L1; Retina-MAML).
        backbone: ``"mobilenet_v2"`` (ImageNet, default) or ``"resnet18"`` (needs a torchvision
            checkpoint path when building from scratch).
        head_channels: width of the head towers (32: small enough to meta-train on a 2-core CPU).
        num_convs: 3x3 convolutions per tower before the predictor.
        anchor_size: side of Retina-MAML's single square anchor (paper: 64).
    """

    head: HeadKind = "fcos"
    backbone: BackboneKind = "mobilenet_v2"
    head_channels: int = 32
    num_convs: int = 1
    anchor_size: float = 64.0

    def __post_init__(self) -> None:
        if self.head not in ("fcos", "retina"):
            raise ValueError(f"head must be 'fcos' or 'retina', got {self.head!r}")
        if self.backbone not in ("mobilenet_v2", "resnet18"):
            raise ValueError(
                f"backbone must be 'mobilenet_v2' or 'resnet18', got {self.backbone!r}"
            )
        if self.head_channels < 1 or self.num_convs < 0:
            raise ValueError("head_channels must be >= 1 and num_convs >= 0")


@dataclass(frozen=True)
class TrackerConfig:
    """Everything Algorithm 1 needs besides the detector weights."""

    search: SearchRegionConfig = field(default_factory=SearchRegionConfig)
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    adaptation: AdaptationConfig = field(default_factory=AdaptationConfig)
