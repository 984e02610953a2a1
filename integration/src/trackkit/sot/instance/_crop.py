"""Search-region geometry: the scale of a crop, pixel cropping, and boxes in and out of crops.

Coordinates are continuous pixels with the origin at the top-left corner of the top-left pixel
(a pixel ``i`` covers ``[i, i + 1)``), the convention of ``boxes_xywh`` everywhere in trackkit.
A search region is described by its centre ``(cx, cy)`` in the image and its ``scale`` (crop
pixels per image pixel); image point ``p`` maps to ``(p - c) * scale + S / 2`` in an ``S x S``
crop.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from trackkit.data import context_size, crop_and_resize

__all__ = [
    "crop_search_regions",
    "crop_to_image",
    "image_to_crop",
    "search_scale",
]


def search_scale(size_wh: Tensor, *, exemplar_size: int = 127, context: float = 0.5) -> Tensor:
    """Scale (crop px per image px) mapping the context-padded target size to ``exemplar_size``.

    ``scale = exemplar_size / context_size(w, h)`` with ``trackkit.data.context_size`` =
    ``sqrt((w + p)(h + p))``, ``p = context * (w + h)`` (SiamFC, Bertinetto et al. 2016).

    Args:
        size_wh: ``Tensor[..., 2]`` target width and height in image pixels, positive.

    Returns:
        ``Tensor[...]`` scales.
    """
    return exemplar_size / context_size(size_wh, context=context)


def image_to_crop(boxes_xyxy: Tensor, centers: Tensor, scales: Tensor, out_size: int) -> Tensor:
    """Map boxes from image to crop coordinates.

    Args:
        boxes_xyxy: ``Tensor[B, ..., 4]`` in image pixels.
        centers: ``Tensor[B, 2]`` crop centres in the image.
        scales: ``Tensor[B]`` crop scales.
        out_size: side ``S`` of the crop.
    """
    extra = boxes_xyxy.ndim - 2
    c = centers.reshape(centers.shape[0], *([1] * extra), 2)
    c = torch.cat([c, c], dim=-1)  # (cx, cy, cx, cy)
    s = scales.reshape(scales.shape[0], *([1] * extra), 1)
    return (boxes_xyxy - c) * s + out_size / 2.0


def crop_to_image(boxes_xyxy: Tensor, centers: Tensor, scales: Tensor, out_size: int) -> Tensor:
    """Inverse of :func:`image_to_crop`: crop pixels back to image pixels."""
    extra = boxes_xyxy.ndim - 2
    c = centers.reshape(centers.shape[0], *([1] * extra), 2)
    c = torch.cat([c, c], dim=-1)  # (cx, cy, cx, cy)
    s = scales.reshape(scales.shape[0], *([1] * extra), 1)
    return (boxes_xyxy - out_size / 2.0) / s + c


def crop_search_regions(
    frames: list[NDArray[np.uint8]],
    centers: NDArray[np.float64],
    scales: NDArray[np.float64],
    out_size: int,
) -> NDArray[np.uint8]:
    """Cut ``S x S`` search regions out of frames (bilinear; outside pixels = frame mean colour).

    Args:
        frames: ``B`` images ``uint8[H_i, W_i, 3]`` (BGR, sizes may differ).
        centers: ``float[B, 2]`` crop centres (image pixels).
        scales: ``float[B]`` crop pixels per image pixel, positive.
        out_size: crop side ``S``.

    Returns:
        ``uint8[B, S, S, 3]``.
    """
    if len(frames) != len(centers) or len(frames) != len(scales):
        raise ValueError(
            f"frames, centers and scales disagree: {len(frames)}, {len(centers)}, {len(scales)}"
        )
    out = np.empty((len(frames), out_size, out_size, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                f"frames[{i}] must be uint8[H, W, 3], got {frame.dtype}{list(frame.shape)}"
            )
        # The square image region of side S / s around the centre, warped by trackkit.data's
        # cropper (same pixel convention, frame-mean padding).
        side = out_size / float(scales[i])
        region = [centers[i, 0] - side / 2.0, centers[i, 1] - side / 2.0, side, side]
        out[i] = crop_and_resize(frame, region, out_size)
    return out
