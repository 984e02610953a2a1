"""Input normalisation of the trunks: torchvision's ImageNet statistics, applied to BGR crops.

The MobileNetV2 and ResNet-18 trunks (``detheads``) carry torchvision's ImageNet weights, which
expect RGB images scaled to ``[0, 1]`` and standardised per channel. Frames in trackkit are
``uint8`` BGR (OpenCV's order), so crops are flipped to RGB before normalising.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

__all__ = ["IMAGENET_MEAN_RGB", "IMAGENET_STD_RGB", "images_to_tensor"]

#: Per-channel mean of the ImageNet training images, RGB order, in ``[0, 1]`` units.
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
#: Per-channel standard deviation of the ImageNet training images, RGB order, ``[0, 1]`` units.
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


def images_to_tensor(
    crops: NDArray[np.uint8] | Tensor, *, device: torch.device | str | None = None
) -> Tensor:
    """``uint8[n, S, S, 3]`` BGR crops -> ``float32 Tensor[n, 3, S, S]`` normalised RGB.

    ``(rgb - 255 * IMAGENET_MEAN_RGB) / (255 * IMAGENET_STD_RGB)``: the input the shipped trunks
    (and any torchvision ImageNet backbone) expect. This is exactly what
    :meth:`InstanceDetector.images_to_tensor` computes.

    Args:
        crops: BGR crops, e.g. from :func:`trackkit.data.crop_and_resize`.
        device: where the tensor goes (default: CPU, or the device of a tensor input).

    Raises:
        ValueError: ``crops`` is not ``[n, S, S, 3]``.
    """
    t = torch.as_tensor(crops, device=device)
    if t.dim() != 4 or t.shape[-1] != 3:
        raise ValueError(f"crops must be uint8[n, S, S, 3], got {tuple(t.shape)}")
    mean = torch.tensor(IMAGENET_MEAN_RGB, device=t.device).reshape(1, 3, 1, 1) * 255.0
    std = torch.tensor(IMAGENET_STD_RGB, device=t.device).reshape(1, 3, 1, 1) * 255.0
    return (t.permute(0, 3, 1, 2).flip(1).float() - mean) / std
