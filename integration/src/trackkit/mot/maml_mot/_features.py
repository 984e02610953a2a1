"""Detections with re-identification features: the frozen RetinaTrack network up to the last
re-identification layer, whose input (the feature MAML-MOT meta-learns on) travels with every
detection."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

import detheads
from metalearn import functional_forward
from trackkit.mot.retinatrack import (
    RetinaTrackNet,
    StageTimes,
    boxes_to_frame,
    preprocess_frames,
)

__all__ = ["ReidDetections", "detect_reid", "reid_layer", "reid_layer_name"]


def reid_layer_name(net: RetinaTrackNet) -> str:
    """Module name of the last re-identification layer (the last 1x1 conv of the m3 tower)."""
    tower = net.head.emb_tower
    return f"head.emb_tower.{len(tower) - 1}"


def reid_layer(net: RetinaTrackNet) -> tuple[Tensor, Tensor]:
    """``(weight [E, D], bias [E])`` of the last re-identification layer, detached copies.

    The layer maps the ``D``-d re-identification feature of an anchor to its ``E``-d embedding
    (before the L2 normalisation of ``RetinaTrackNet.run_head``).
    """
    conv = net.head.emb_tower[-1]
    if not isinstance(conv, nn.Conv2d) or conv.kernel_size != (1, 1) or conv.bias is None:
        raise ValueError("the network's last re-identification layer must be a 1x1 conv with bias")
    e, d = conv.out_channels, conv.in_channels
    return conv.weight.detach().reshape(e, d).clone(), conv.bias.detach().clone()


@dataclass(frozen=True)
class ReidDetections:
    """Detections of one frame in frame pixels, with their re-identification features.

    Attributes:
        boxes_xyxy: ``float64 [N, 4]``; scores: ``float64 [N]``.
        embeddings: ``float32 [N, E]``: RetinaTrack's embeddings (the shipped last layer).
        features: ``Tensor[N, D]`` on the network's device: the input of the last
            re-identification layer (what MAML-MOT's per-track layers read).
    """

    boxes_xyxy: NDArray[np.float64]
    scores: NDArray[np.float64]
    embeddings: NDArray[np.float32]
    features: Tensor

    def __len__(self) -> int:
        return int(self.boxes_xyxy.shape[0])

    def select(self, keep: NDArray[np.bool_]) -> ReidDetections:
        """The detections where ``keep`` (a boolean ``[N]`` array) is True."""
        index = torch.as_tensor(np.flatnonzero(keep), device=self.features.device)
        return ReidDetections(
            self.boxes_xyxy[keep], self.scores[keep], self.embeddings[keep], self.features[index]
        )

    @classmethod
    def empty(cls, embedding_dim: int, feature_dim: int, device: torch.device) -> ReidDetections:
        """No detections (e.g. an unreadable frame)."""
        return cls(
            np.zeros((0, 4)),
            np.zeros(0),
            np.zeros((0, embedding_dim), np.float32),
            torch.zeros(0, feature_dim, device=device),
        )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def detect_reid(
    net: RetinaTrackNet,
    frames_bgr: Sequence[NDArray[np.uint8]],
    *,
    times: StageTimes | None = None,
    score_threshold: float | None = None,
    nms_threshold: float | None = None,
) -> list[ReidDetections]:
    """RetinaTrack's detections of same-size BGR frames, each with its re-identification feature.

    One forward pass: the head runs with its last re-identification layer replaced by the
    identity (``metalearn.functional_forward``), so its ``embeddings`` output is that layer's input
    ``h``; the network's own embedding ``normalize(W h + b)`` is then one matrix product. Boxes,
    scores and embeddings equal ``trackkit.mot.retinatrack.detect_frames``'s (float rounding)
    with the same thresholds. ``score_threshold`` / ``nms_threshold`` override the network
    config's (``None``: keep them; :class:`MAMLMOT` passes RetinaTrack's tracking thresholds).

    Raises:
        ValueError: frames that are not ``HxWx3`` uint8 images of one size (from
            ``preprocess_frames``), or a threshold out of range (score in ``[0, 1]``,
            NMS in ``(0, 1]``).
    """
    if score_threshold is not None and not 0.0 <= score_threshold <= 1.0:
        raise ValueError(f"score_threshold must lie in [0, 1] or be None, got {score_threshold!r}")
    if nms_threshold is not None and not 0.0 < nms_threshold <= 1.0:
        raise ValueError(f"nms_threshold must lie in (0, 1] or be None, got {nms_threshold!r}")
    device = next(net.parameters()).device
    t0 = time.perf_counter()
    images, scale = preprocess_frames(frames_bgr, net.config.input_width, device=device)
    _sync(device)
    t1 = time.perf_counter()
    weight, bias = reid_layer(net)
    _e, d = weight.shape
    name = reid_layer_name(net)[len("head.") :]
    identity = {
        f"{name}.weight": torch.eye(d, device=device).reshape(d, d, 1, 1),
        f"{name}.bias": torch.zeros(d, device=device),
    }
    with torch.no_grad():
        levels = net.features(images)
        _sync(device)
        t2 = time.perf_counter()
        out = functional_forward(net.head, identity, (levels,), {"return_features": False})
        h = out["embeddings"]  # [B, A, D]
        emb = F.linear(h, weight, bias)
        if net.config.normalize_embeddings:
            emb = F.normalize(emb, dim=-1)
        outputs = {**out, "embeddings": emb, "reid_features": h}
        _sync(device)
        t3 = time.perf_counter()
        sizes = net.feature_sizes(images.shape[-2], images.shape[-1])
        cfg = net.config
        dets = detheads.decode_retinanet(
            outputs,
            net.anchors(sizes, device),
            level_sizes=detheads.level_sizes(sizes, cfg.num_anchors),
            score_threshold=cfg.score_threshold if score_threshold is None else score_threshold,
            nms_threshold=cfg.nms_threshold if nms_threshold is None else nms_threshold,
            max_detections=cfg.max_detections,
            extra_keys=("embeddings", "reid_features"),
        )
    result = []
    for det in dets:
        boxes, keep = boxes_to_frame(
            det["boxes_xyxy"].double().cpu().numpy(), scale, frames_bgr[0].shape[:2]
        )
        index = torch.as_tensor(np.flatnonzero(keep), device=device)
        result.append(
            ReidDetections(
                boxes[keep],
                det["scores"].double().cpu().numpy()[keep],
                det["embeddings"].float().cpu().numpy()[keep],
                det["reid_features"].float()[index],
            )
        )
    t4 = time.perf_counter()
    if times is not None:
        times.preprocess += t1 - t0
        times.trunk_fpn += t2 - t1
        times.head += t3 - t2
        times.decode_nms += t4 - t3
        times.frames += len(frames_bgr)
    return result
