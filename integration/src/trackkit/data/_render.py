"""Drawing helpers for the synthetic scenes: textures and sub-pixel placement of patches."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["paste_patch", "random_texture", "smooth_walk"]


def random_texture(
    rng: np.random.Generator, height: int, width: int, *, cells: int = 6, detail: float = 40.0
) -> NDArray[np.uint8]:
    """A textured ``uint8 [height, width, 3]`` image: coloured blobs, stripes and pixel noise.

    ``cells`` sets the blob scale (a ``cells x cells`` random colour grid upsampled bicubically),
    ``detail`` the standard deviation of the fine noise. Deterministic given ``rng``.
    """
    grid = rng.uniform(0, 255, size=(cells, cells, 3)).astype(np.float32)
    base = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(4.0, 12.0)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    colour = rng.uniform(-60, 60, size=3).astype(np.float32)
    noise = rng.normal(0.0, detail, size=(height, width, 3)).astype(np.float32)
    img = base + stripes[..., None] * colour + noise
    return np.clip(img, 0, 255).astype(np.uint8)


def paste_patch(
    frame: NDArray[np.uint8], patch: NDArray[np.uint8], box_xywh: NDArray[np.float64]
) -> None:
    """Draw ``patch`` stretched onto ``box_xywh`` of ``frame`` in place, with sub-pixel edges.

    The patch's continuous extent ``[0, pw) x [0, ph)`` maps exactly onto the box, so the box
    is the exact ground truth of what is drawn (partially covered border pixels are blended).
    """
    x, y, w, h = (float(v) for v in box_xywh)
    if w <= 0 or h <= 0:
        return
    ph, pw = patch.shape[:2]
    height, width = frame.shape[:2]
    x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
    x1, y1 = min(int(np.ceil(x + w)), width), min(int(np.ceil(y + h)), height)
    if x1 <= x0 or y1 <= y0:
        return
    sx, sy = w / pw, h / ph
    # Patch pixel-index -> frame pixel-index, restricted to the window [x0, x1) x [y0, y1).
    matrix = np.array(
        [[sx, 0.0, x + 0.5 * sx - 0.5 - x0], [0.0, sy, y + 0.5 * sy - 0.5 - y0]],
        dtype=np.float64,
    )
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(
        patch, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    # Coverage of each window pixel by the box (exact area fraction, separable).
    cols = np.arange(x0, x1, dtype=np.float64)
    rows = np.arange(y0, y1, dtype=np.float64)
    cover_x = np.clip(np.minimum(cols + 1, x + w) - np.maximum(cols, x), 0, 1)
    cover_y = np.clip(np.minimum(rows + 1, y + h) - np.maximum(rows, y), 0, 1)
    alpha = (cover_y[:, None] * cover_x[None, :])[..., None]
    region = frame[y0:y1, x0:x1].astype(np.float64)
    frame[y0:y1, x0:x1] = np.round(alpha * warped + (1 - alpha) * region).astype(np.uint8)


def smooth_walk(
    rng: np.random.Generator,
    length: int,
    start: NDArray[np.float64],
    low: NDArray[np.float64],
    high: NDArray[np.float64],
    *,
    speed: float,
    inertia: float = 0.9,
) -> NDArray[np.float64]:
    """Positions ``[length, D]`` of a point with smoothed random velocity bouncing in a box."""
    dim = start.shape[0]
    pos = np.empty((length, dim), dtype=np.float64)
    p = start.astype(np.float64).copy()
    v = np.asarray(rng.normal(0.0, speed, size=dim), dtype=np.float64)
    for t in range(length):
        pos[t] = p
        v = inertia * v + (1 - inertia) * np.asarray(rng.normal(0.0, 2 * speed, size=dim))
        p = p + v
        over, under = p > high, p < low
        p = np.where(over, 2 * high - p, np.where(under, 2 * low - p, p))
        v = np.where(over | under, -v, v)
        p = np.clip(p, low, high)
    return pos
