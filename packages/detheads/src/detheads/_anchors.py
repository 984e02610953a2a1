"""Grid locations and anchors per feature level.

Order convention shared by heads, anchors, assignment and decoding: levels in order, then rows
(y), then columns (x), then anchor shapes k. A head output ``Tensor[B, A, ...]`` has
``A = sum_l H_l * W_l * K``, and index ``a`` of level ``l`` maps to ``((y * W_l) + x) * K + k``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from ._checks import check_device_arg, check_int, check_real, check_reals


def _check_sizes(feature_sizes: Sequence[tuple[int, int]], strides: Sequence[float]) -> None:
    for name, value in (("feature_sizes", feature_sizes), ("strides", strides)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a sequence, got {type(value).__name__}")
    if len(feature_sizes) != len(strides) or len(strides) == 0:
        raise ValueError(
            f"feature_sizes ({len(feature_sizes)}) and strides ({len(strides)}) must be "
            "non-empty and of equal length"
        )
    for hw in feature_sizes:
        _check_hw(hw)
    check_reals("strides", strides)


def _check_hw(hw: object) -> None:
    """A feature size ``(H, W)`` of two ints >= 1."""
    if not isinstance(hw, Sequence) or isinstance(hw, (str, bytes)) or len(hw) != 2:
        raise ValueError(f"feature_sizes entries must be (H, W) >= 1, got {hw!r}")
    for v in hw:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"feature_sizes entries must be (H, W) ints >= 1, got {hw!r}")


def grid_points(
    feature_size: tuple[int, int],
    stride: float,
    *,
    offset: float = 0.5,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Centres of the cells of one level: ``Tensor[H * W, 2]`` (x, y) = ((j, i) + offset) * stride.

    ``offset=0.5`` is FCOS's ``floor(s / 2) + j * s`` for even strides; ``offset=0`` is
    torchvision's anchor-generator convention. ``feature_size`` holds ints >= 1, ``stride`` is a
    finite number > 0, ``offset`` a finite number, ``device`` one this machine has.
    """
    _check_hw(feature_size)
    check_real("stride", stride, low=0.0, low_open=True)
    check_real("offset", offset)
    check_device_arg("device", device)
    h, w = feature_size
    ys = (torch.arange(h, device=device, dtype=dtype) + offset) * stride
    xs = (torch.arange(w, device=device, dtype=dtype) + offset) * stride
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)


def cell_anchors(
    sizes: Sequence[float],
    aspect_ratios: Sequence[float],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """K = len(aspect_ratios) * len(sizes) zero-centred anchors ``Tensor[K, 4]`` xyxy.

    Aspect ratio is ``h / w`` with area ``size**2``; order is ratio-major
    (``k = r * len(sizes) + s``), as torchvision's ``AnchorGenerator``.
    """
    if len(sizes) == 0 or len(aspect_ratios) == 0:
        raise ValueError("sizes and aspect_ratios must be non-empty")
    check_reals("sizes", sizes)
    check_reals("aspect_ratios", aspect_ratios)
    check_device_arg("device", device)
    s = torch.tensor(list(sizes), device=device, dtype=dtype)
    r = torch.tensor(list(aspect_ratios), device=device, dtype=dtype)
    h_ratio = torch.sqrt(r)
    ws = (s[None, :] / h_ratio[:, None]).reshape(-1)
    hs = (s[None, :] * h_ratio[:, None]).reshape(-1)
    return torch.stack([-ws / 2, -hs / 2, ws / 2, hs / 2], dim=-1)


def retinanet_sizes(
    base_sizes: Sequence[float] = (32, 64, 128, 256, 512),
    *,
    octave_scales: Sequence[float] = (1.0, 2 ** (1 / 3), 2 ** (2 / 3)),
) -> tuple[tuple[float, ...], ...]:
    """RetinaNet's per-level anchor sizes (Lin et al. 2017): base x {2^0, 2^1/3, 2^2/3}."""
    check_reals("base_sizes", base_sizes)
    check_reals("octave_scales", octave_scales)
    return tuple(tuple(float(b * o) for o in octave_scales) for b in base_sizes)


def make_anchors(
    feature_sizes: Sequence[tuple[int, int]],
    strides: Sequence[float],
    sizes: Sequence[Sequence[float]],
    aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
    *,
    offset: float = 0.5,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """All anchors of all levels: ``Tensor[A, 4]`` xyxy, ``A = sum_l H_l W_l K``.

    Args:
        feature_sizes: ``(H_l, W_l)`` per level.
        strides: stride per level (pixels per cell).
        sizes: anchor sizes per level (``len(sizes) == len(strides)``; every level the same
            count so K is constant).
        aspect_ratios: ``h / w`` ratios shared by all levels.
        offset: cell-centre offset (see :func:`grid_points`).

    Wang et al. 2020's tracker uses one level, stride 8, ``sizes=((64,),)``,
    ``aspect_ratios=(1.0,)``: a single 64x64 anchor per location.
    """
    _check_sizes(feature_sizes, strides)
    check_device_arg("device", device)
    if len(sizes) != len(strides):
        raise ValueError(f"sizes has {len(sizes)} levels, strides {len(strides)}")
    if len({len(s) for s in sizes}) != 1:
        raise ValueError("every level needs the same number of sizes (constant K)")
    out = []
    for hw, stride, lvl_sizes in zip(feature_sizes, strides, sizes, strict=True):
        pts = grid_points(hw, stride, offset=offset, device=device, dtype=dtype)
        base = cell_anchors(lvl_sizes, aspect_ratios, device=device, dtype=dtype)
        out.append((pts.repeat(1, 2)[:, None, :] + base[None, :, :]).reshape(-1, 4))
    return torch.cat(out, dim=0)


def make_points(
    feature_sizes: Sequence[tuple[int, int]],
    strides: Sequence[float],
    *,
    offset: float = 0.5,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """FCOS locations of all levels: ``(points Tensor[P, 2] (x, y), point_strides Tensor[P])``."""
    _check_sizes(feature_sizes, strides)
    check_device_arg("device", device)
    pts, st = [], []
    for hw, stride in zip(feature_sizes, strides, strict=True):
        p = grid_points(hw, stride, offset=offset, device=device, dtype=dtype)
        pts.append(p)
        st.append(torch.full((p.shape[0],), float(stride), device=device, dtype=dtype))
    return torch.cat(pts), torch.cat(st)


def level_sizes(feature_sizes: Sequence[tuple[int, int]], num_anchors: int = 1) -> list[int]:
    """Number of anchors (or points) per level, ``H_l * W_l * K``, to split ``A`` by level."""
    check_int("num_anchors", num_anchors, minimum=1)
    for hw in feature_sizes:
        _check_hw(hw)
    return [int(h) * int(w) * num_anchors for h, w in feature_sizes]


FCOS_SCALE_RANGES: tuple[tuple[float, float], ...] = (
    (0.0, 64.0),
    (64.0, 128.0),
    (128.0, 256.0),
    (256.0, 512.0),
    (512.0, math.inf),
)
"""FCOS per-level regression ranges for P3-P7 (Tian et al. 2019): max(l, t, r, b) in range."""
