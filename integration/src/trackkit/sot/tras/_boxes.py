"""Box helpers shared by the TRAS trackers and the training environment."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["MIN_BOX_SIDE", "clamp_box_size"]

#: Smallest box side (pixels) the student may produce; smaller boxes are grown to it.
MIN_BOX_SIDE = 4.0


def clamp_box_size(boxes_xywh: Tensor, frame_wh: Tensor) -> Tensor:
    """Keep box sides in ``[MIN_BOX_SIDE, 2 * frame side]`` about their centres.

    A guard for long autonomous runs, where repeated scale actions could shrink a box to
    nothing or grow it far beyond the frame (the crops would then hold no information).
    ``boxes_xywh [..., 4]``, ``frame_wh [..., 2]`` (broadcastable).
    """
    wh = boxes_xywh[..., 2:]
    centre = boxes_xywh[..., :2] + wh / 2
    new_wh = torch.minimum(wh.clamp(min=MIN_BOX_SIDE), 2.0 * frame_wh.to(wh))
    return torch.cat((centre - new_wh / 2, new_wh), dim=-1)
