"""Box helpers shared by the TRAS trackers and the training environment."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["MIN_BOX_SIDE", "clamp_box_centre", "clamp_box_size"]

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


def clamp_box_centre(boxes_xywh: Tensor, frame_wh: Tensor) -> Tensor:
    """Move box centres into the frame ``[0, W] x [0, H]``; sizes are kept.

    The tracker's guard against drifting off the image: the student's state is a crop around
    its previous box, so once a box has left the frame its crops hold only the pad colour and
    the policy's moves are arbitrary (a box thousands of pixels away after a blackout or a
    target that left the frame). With the centre kept in the frame, a target that leaves gives
    a box across the border, from which the student can pick the target up again.
    ``boxes_xywh [..., 4]``, ``frame_wh [..., 2]`` (broadcastable).
    """
    wh = boxes_xywh[..., 2:]
    frame = frame_wh.to(wh)
    centre = torch.minimum((boxes_xywh[..., :2] + wh / 2).clamp(min=0.0), frame)
    return torch.cat((centre - wh / 2, wh), dim=-1)
