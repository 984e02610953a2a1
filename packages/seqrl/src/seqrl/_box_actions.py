"""Relative box actions ``a = [dx, dy, dw, dh]`` in [-1, 1]^4 (Dunnhofer et al. 2020, Sec. 3.2).

``psi`` (:func:`apply_box_action`) moves a previous box by an action; ``phi``
(:func:`box_action_to_target`) is its inverse: the action that moves a previous box onto a
target box. Dunnhofer et al. 2020 defines both in an appendix that is not part of the text this
project works from, so the parametrisation below is ours and documented with its ranges:

* translation: the centre moves by ``dx * max_shift * w_prev`` and ``dy * max_shift * h_prev``;
  with the default ``max_shift = 0.75`` the reachable centres are exactly those inside the
  student's crop (context factor c = 1.5 of Dunnhofer et al. 2020 gives a crop of 1.5 box sizes,
  i.e. +-0.75 box sizes around the centre);
* scale: ``w = w_prev * max_scale ** dw`` and ``h = h_prev * max_scale ** dh``; with the default
  ``max_scale = 2`` one step can halve or double each side. Exponential scaling keeps boxes
  positive and makes ``psi`` exactly invertible.

``phi`` clamps to [-1, 1]^4, so a target outside the reachable range yields the saturated
action (the best single step towards it); inside the range ``psi(phi(b, g), b) == g``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import (
    check_broadcast,
    check_finite,
    check_positive,
    check_same_device,
    check_tensor,
)
from ._iou import box_iou_xywh


@dataclass(frozen=True)
class BoxActionConfig:
    """Ranges of a relative box action.

    Attributes:
        max_shift: centre displacement at ``|dx| = 1`` as a fraction of the previous box's
            width (``dy``: height). Default 0.75 = half the context factor 1.5 of Dunnhofer et al.
            2020.
        max_scale: side scale factor at ``|dw| = 1`` (``w' = w * max_scale ** dw``); must be
            > 1. Default 2.0.
    """

    max_shift: float = 0.75
    max_scale: float = 2.0

    def __post_init__(self) -> None:
        check_positive(self.max_shift, "max_shift")
        check_positive(self.max_scale, "max_scale")
        if self.max_scale <= 1.0:
            raise ValueError(f"max_scale must be > 1, got {self.max_scale}")


def _check_boxes(boxes: Tensor, name: str, *, validate: bool = True) -> None:
    check_tensor(boxes, name)
    if boxes.ndim == 0 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape [..., 4], got {tuple(boxes.shape)}")
    if not validate:
        return
    check_finite(boxes, name)
    if bool((boxes[..., 2:] <= 0).any()):
        raise ValueError(f"{name} must have positive width and height")


def apply_box_action(
    actions: Tensor,
    boxes_xywh: Tensor,
    *,
    config: BoxActionConfig | None = None,
    validate: bool = True,
) -> Tensor:
    """psi(a, b): move previous boxes by relative actions (Dunnhofer et al. 2020, Sec. 3.2).

    Args:
        actions: ``Tensor[..., 4]`` ``[dx, dy, dw, dh]``; values outside [-1, 1] are clamped.
        boxes_xywh: ``Tensor[..., 4]`` previous boxes (x, y, w, h), broadcastable with
            ``actions``.
        config: action ranges (:class:`BoxActionConfig`).
        validate: check that actions and boxes are finite and boxes have positive sides
            (``ValueError`` otherwise). These checks read tensor values on the host (a
            device-to-host synchronisation each on a GPU); ``validate=False`` skips them for a
            per-frame loop whose inputs are valid by construction (the types and shapes are
            still checked). The result is the same; invalid input then gives NaN or
            meaningless boxes instead of an error.

    Returns:
        ``Tensor[..., 4]`` new boxes in xywh (differentiable in ``actions`` inside the range).
    """
    cfg = config if config is not None else BoxActionConfig()
    check_same_device(("actions", actions), ("boxes_xywh", boxes_xywh))
    check_tensor(actions, "actions")
    if actions.ndim == 0 or actions.shape[-1] != 4:
        raise ValueError(f"actions must have shape [..., 4], got {tuple(actions.shape)}")
    if validate:
        check_finite(actions, "actions")
    _check_boxes(boxes_xywh, "boxes_xywh", validate=validate)
    check_broadcast(("actions", actions), ("boxes_xywh", boxes_xywh))
    a = actions.clamp(-1.0, 1.0)
    x, y, w, h = boxes_xywh.unbind(-1)
    dx, dy, dw, dh = a.unbind(-1)
    cx = x + 0.5 * w + dx * cfg.max_shift * w
    cy = y + 0.5 * h + dy * cfg.max_shift * h
    log_s = math.log(cfg.max_scale)
    new_w = w * torch.exp(dw * log_s)
    new_h = h * torch.exp(dh * log_s)
    return torch.stack((cx - 0.5 * new_w, cy - 0.5 * new_h, new_w, new_h), dim=-1)


def box_action_iou(
    actions: Tensor,
    boxes_xywh: Tensor,
    targets_xywh: Tensor,
    *,
    config: BoxActionConfig | None = None,
    validate: bool = True,
) -> Tensor:
    """IoU of ``psi(a, b)`` with the target ``g``: the overlap an action reaches.

    This is the IoU that the reward of Dunnhofer et al. 2020, eq. 2, quantises
    (``quantised_iou_reward(box_action_iou(a, b_{t-1}, g_t))``), and the quantity that the
    distillation mask of eq. 4 compares between student and teacher actions.

    Args:
        actions: ``Tensor[..., 4]`` relative actions (see :func:`apply_box_action`).
        boxes_xywh: ``Tensor[..., 4]`` previous boxes ``b``, broadcastable with ``actions``.
        targets_xywh: ``Tensor[..., 4]`` targets ``g``, the shape of the moved boxes.
        config: action ranges (:class:`BoxActionConfig`).
        validate: as in :func:`apply_box_action`.

    Returns:
        ``Tensor[...]`` IoU in [0, 1] (differentiable in ``actions`` where the IoU is).
    """
    check_same_device(
        ("actions", actions), ("boxes_xywh", boxes_xywh), ("targets_xywh", targets_xywh)
    )
    moved = apply_box_action(actions, boxes_xywh, config=config, validate=validate)
    check_tensor(targets_xywh, "targets_xywh")
    if targets_xywh.shape != moved.shape:
        raise ValueError(
            f"targets_xywh must have shape {tuple(moved.shape)} (the moved boxes), "
            f"got {tuple(targets_xywh.shape)}"
        )
    return box_iou_xywh(moved, targets_xywh).clamp(0.0, 1.0)


def box_action_to_target(
    boxes_xywh: Tensor,
    target_boxes_xywh: Tensor,
    *,
    config: BoxActionConfig | None = None,
    validate: bool = True,
) -> Tensor:
    """phi(g, b): the action that moves previous boxes onto target boxes, clamped to [-1,1]^4.

    Args:
        boxes_xywh: ``Tensor[..., 4]`` previous boxes b_{t-1} (x, y, w, h).
        target_boxes_xywh: ``Tensor[..., 4]`` target boxes (ground truth g_t or a teacher's box).
        config: action ranges (:class:`BoxActionConfig`).
        validate: check that both box sets are finite with positive sides (as in
            :func:`apply_box_action`; ``False`` skips these host-reading checks).

    Returns:
        ``Tensor[..., 4]`` actions ``[dx, dy, dw, dh]`` in [-1, 1]; for targets within range
        ``apply_box_action(box_action_to_target(b, g), b) == g``.
    """
    cfg = config if config is not None else BoxActionConfig()
    check_same_device(("boxes_xywh", boxes_xywh), ("target_boxes_xywh", target_boxes_xywh))
    _check_boxes(boxes_xywh, "boxes_xywh", validate=validate)
    _check_boxes(target_boxes_xywh, "target_boxes_xywh", validate=validate)
    x, y, w, h = boxes_xywh.unbind(-1)
    gx, gy, gw, gh = target_boxes_xywh.unbind(-1)
    dx = ((gx + 0.5 * gw) - (x + 0.5 * w)) / (cfg.max_shift * w)
    dy = ((gy + 0.5 * gh) - (y + 0.5 * h)) / (cfg.max_shift * h)
    log_s = math.log(cfg.max_scale)
    dw = torch.log(gw / w) / log_s
    dh = torch.log(gh / h) / log_s
    return torch.stack((dx, dy, dw, dh), dim=-1).clamp(-1.0, 1.0)
