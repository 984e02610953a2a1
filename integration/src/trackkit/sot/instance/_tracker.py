"""Algorithm 1 of Wang et al. 2020: an adapted instance detector as a tracker, batched.

``B`` sequences are tracked in lock step: one trunk forward and one vectorised head forward
(``torch.func.vmap`` over per-sequence fast weights) per frame for all of them. Each sequence's
computation is independent, so tracking B sequences together gives the same boxes as tracking
them one at a time (up to float rounding of batched kernels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from metalearn import SupportBuffer
from trackkit._torchutil import resolve_device
from trackkit.sot.instance._config import TrackerConfig
from trackkit.sot.instance._crop import crop_search_regions, image_to_crop, search_scale
from trackkit.sot.instance._detector import InstanceDetector
from trackkit.sot.instance._postprocess import (
    cosine_window,
    distractor_ratio,
    select_and_interpolate,
)

__all__ = ["InstanceTracker", "check_frame_sizes", "check_init_boxes"]


def check_init_boxes(boxes_xywh: NDArray[np.float64], frame_sizes: NDArray[np.int64]) -> None:
    """Validate initial boxes ``float[B, 4]`` against frame sizes ``int[B, 2]`` (width, height).

    A box must be finite, have positive width and height and overlap its frame; a box that is
    partly outside the frame is accepted (the search region is padded with the mean colour).

    Raises:
        ValueError: naming the offending box.
    """
    if boxes_xywh.ndim != 2 or boxes_xywh.shape[1] != 4:
        raise ValueError(f"box_xywh must have 4 numbers per box, got shape {boxes_xywh.shape}")
    for i, (box, (fw, fh)) in enumerate(zip(boxes_xywh, frame_sizes)):
        x, y, w, h = (float(v) for v in box)
        if not np.all(np.isfinite(box)):
            raise ValueError(f"initial box {i} must be finite, got {box.tolist()}")
        if w <= 0 or h <= 0:
            raise ValueError(f"initial box {i} must have positive width and height, got {w}x{h}")
        if x >= fw or y >= fh or x + w <= 0 or y + h <= 0:
            raise ValueError(f"initial box {i} {box.tolist()} does not overlap its {fw}x{fh} frame")


def check_frame_sizes(sizes: NDArray[np.int64], init_sizes: NDArray[np.int64]) -> None:
    """Raise ``ValueError`` if a frame's ``(width, height)`` differs from its sequence's first.

    The tracked box lives in the first frame's pixel grid; a frame of another size (a resized
    stream, the wrong video) would silently clip the box to the new size, so it is an error:
    start again with ``init`` on the new video.
    """
    if sizes.shape == init_sizes.shape and bool((sizes == init_sizes).all()):
        return
    if sizes.shape != init_sizes.shape:
        return  # the caller reports a wrong frame count
    i = int(np.flatnonzero((sizes != init_sizes).any(axis=1))[0])
    (w, h), (w0, h0) = sizes[i].tolist(), init_sizes[i].tolist()
    which = "the frame" if len(sizes) == 1 else f"the frame of sequence {i} (0-based)"
    raise ValueError(
        f"{which} is {w}x{h} but its sequence started with {w0}x{h0} frames; boxes are tracked "
        "in the first frame's pixels, so call init() again for a video of another size"
    )


def _frame_sizes(frames: Sequence[NDArray[np.uint8]]) -> NDArray[np.int64]:
    sizes = []
    for i, f in enumerate(frames):
        if not isinstance(f, np.ndarray) or f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
            got = f"{f.dtype}{list(f.shape)}" if isinstance(f, np.ndarray) else type(f).__name__
            raise ValueError(f"frame {i} must be a uint8 BGR array [H, W, 3], got {got}")
        sizes.append((f.shape[1], f.shape[0]))
    return np.asarray(sizes, dtype=np.int64)


class InstanceTracker:
    """Retina-MAML / FCOS-MAML tracking (Wang et al. 2020, Algorithm 1) for one or many sequences.

    Single sequence: ``init(frame, box_xywh)`` then ``update(frame) -> box_xywh`` (the benchmark
    runner's protocol). Several sequences in lock step: ``init_batch(frames, boxes_xywh)`` and
    ``update_batch(frames) -> boxes_xywh[B, 4]``.

    Per frame: crop the search region around the previous box, detect, keep the previous box if
    every score is below ``postprocess.lost_threshold`` (0.1), otherwise apply the SiamRPN change
    penalty and cosine window, take the best box and interpolate its shape; confident frames join
    the support buffer, and (if ``adaptation.online_update``) every ``update_interval`` frames or
    when a distracting peak appears the fast weights take ``update_steps`` gradient steps on the
    buffer. Boxes returned are always finite and inside the frame: the tracked centre is kept in
    the frame and the returned box is the tracked box clipped to the frame (a target leaving the
    frame leaves a box at the border).

    Args:
        detector: the meta-trained :class:`InstanceDetector` (never mutated).
        config: :class:`TrackerConfig`.
        device: where the detector runs (default: the detector's device).
        amp: run the frozen trunk under autocast (float16 on CUDA, bfloat16 on the CPU) and
            the head, adaptation and post-processing in float32 (``docs/device.md``: the
            trunk is most of the cost; a fully autocast tracker drifts by pixels).
    """

    def __init__(
        self,
        detector: InstanceDetector,
        *,
        config: TrackerConfig | None = None,
        device: torch.device | str | None = None,
        amp: bool = False,
    ) -> None:
        if not isinstance(detector, InstanceDetector):
            raise TypeError(f"detector must be an InstanceDetector, got {type(detector).__name__}")
        self.config = config if config is not None else TrackerConfig()
        if not isinstance(self.config, TrackerConfig):
            raise TypeError(f"config must be a TrackerConfig, got {type(self.config).__name__}")
        self.device = resolve_device(device) if device is not None else detector.device
        self.detector = detector.to(self.device).eval()
        self.amp = bool(amp)
        self._window: Tensor | None = None
        self._initialised = False

    # ------------------------------------------------------------------ single-sequence protocol
    def init(self, frame: NDArray[np.uint8], box_xywh: Sequence[float] | NDArray) -> None:
        """Start tracking one sequence from its first frame and initial box (0-based xywh)."""
        box = np.asarray(box_xywh, dtype=np.float64)
        if box.shape != (4,):
            raise ValueError(f"box_xywh must be 4 numbers (x, y, w, h), got shape {box.shape}")
        self.init_batch([frame], box.reshape(1, 4))

    def update(self, frame: NDArray[np.uint8]) -> NDArray[np.float64]:
        """Track the next frame; returns ``float64[4]`` xywh inside the frame."""
        return self.update_batch([frame])[0]

    # ------------------------------------------------------------------ batched
    def init_batch(
        self, frames: Sequence[NDArray[np.uint8]], boxes_xywh: NDArray[np.float64]
    ) -> None:
        """Initialise ``B`` sequences: augmented first-frame support and ``init_steps`` GD steps.

        Args:
            frames: ``B`` first frames, ``uint8[H, W, 3]`` BGR.
            boxes_xywh: ``float[B, 4]`` initial boxes (0-based). Boxes partly outside the frame
                are fine; empty, non-finite or non-overlapping boxes raise ``ValueError``.
        """
        sizes = _frame_sizes(frames)
        boxes = np.asarray(boxes_xywh, dtype=np.float64)
        if boxes.shape != (len(frames), 4):
            raise ValueError(
                f"boxes_xywh must be [{len(frames)}, 4] for {len(frames)} frames, got {boxes.shape}"
            )
        check_init_boxes(boxes, sizes)
        cfg = self.config
        dev = self.device
        s_size = cfg.search.search_size
        self._frame_wh = torch.as_tensor(sizes, dtype=torch.float32, device=dev)
        self._init_sizes = sizes
        box_t = torch.tensor(boxes, dtype=torch.float32, device=dev)
        self._center = box_t[:, :2] + box_t[:, 2:] / 2
        self._size = box_t[:, 2:].clone()
        base = search_scale(
            self._size, exemplar_size=cfg.search.exemplar_size, context=cfg.search.context
        )
        augs = cfg.adaptation.first_frame_augmentations()
        n_aug = len(augs)
        b = len(frames)
        zoom = torch.tensor([a[0] for a in augs], device=dev)  # [n_aug]
        shift = torch.tensor([[a[1], a[2]] for a in augs], device=dev)  # [n_aug, 2]
        scales = base[:, None] * zoom[None, :]  # [B, n_aug]
        # A shift of +dx crop pixels moves the target right in the crop: centre moves left.
        centers = self._center[:, None, :] - shift[None] / scales[..., None]  # [B, n_aug, 2]
        # One copy to the host: the crop geometry of every augmentation.
        geometry = torch.cat([centers.reshape(-1, 2), scales.reshape(-1, 1)], dim=1)
        geometry_np = geometry.double().cpu().numpy()
        crops = crop_search_regions(
            [f for f in frames for _ in range(n_aug)],
            geometry_np[:, :2],
            geometry_np[:, 2],
            s_size,
        )
        with torch.no_grad():
            feats = self._features(crops)  # [B*n_aug, C, h, w]
        feats = feats.reshape(b, n_aug, *feats.shape[1:])
        box_xyxy = torch.cat([box_t[:, :2], box_t[:, :2] + box_t[:, 2:]], dim=1)  # [B, 4]
        crop_boxes = image_to_crop(
            box_xyxy[:, None, :].expand(b, n_aug, 4).reshape(-1, 4),
            centers.reshape(-1, 2),
            scales.reshape(-1),
            s_size,
        ).reshape(b, n_aug, 4)
        self._support = SupportBuffer.start(
            (feats, crop_boxes), capacity=cfg.adaptation.support_capacity
        )
        theta0 = self.detector.initial_params()
        self._params = {n: p.detach()[None].expand(b, *p.shape).clone() for n, p in theta0.items()}
        # Slots fill from the front (pinned first, then first in first out), so the host knows
        # how many hold a sample from the copied flags; adaptation sees only that prefix.
        self._host_used = np.full(b, n_aug, dtype=np.int64)
        feats_s, boxes_s = self._support.samples
        self._params = self.detector.adapt(
            self._params,
            feats_s[:, :n_aug],
            boxes_s[:, :n_aug],
            self._support.valid[:, :n_aug],
            steps=cfg.adaptation.init_steps,
        )
        h, w = feats.shape[-2:]
        self._window = cosine_window(h, w, device=dev)
        self._frame_index = 0
        self._scale = base
        state = torch.cat([self._center, base[:, None]], dim=1).double().cpu().numpy()
        self._host_center, self._host_scale = state[:, :2], state[:, 2]
        self._initialised = True

    def update_batch(self, frames: Sequence[NDArray[np.uint8]]) -> NDArray[np.float64]:
        """Track the next frame of every sequence; returns ``float64[B, 4]`` xywh in the frames."""
        if not self._initialised:
            raise RuntimeError("call init() or init_batch() before update()")
        sizes = _frame_sizes(frames)
        if len(frames) != self._center.shape[0]:
            raise ValueError(
                f"expected {self._center.shape[0]} frames (one per sequence), got {len(frames)}"
            )
        check_frame_sizes(sizes, self._init_sizes)
        cfg = self.config
        pp = cfg.postprocess
        dev = self.device
        s_size = cfg.search.search_size
        self._frame_wh = torch.as_tensor(sizes, dtype=torch.float32, device=dev)
        self._frame_index += 1
        # The crop geometry came to the host with the previous frame's boxes (one copy a frame).
        scale = self._scale
        crops = crop_search_regions(list(frames), self._host_center, self._host_scale, s_size)
        with torch.no_grad():
            feats = self._features(crops)  # [B, C, h, w]
            boxes_c, scores = self.detector.detect(self._params, feats)  # [B, N, 4], [B, N]
        window = self._window if self._window is not None else cosine_window(1, 1)
        prev_wh_c = self._size * scale[:, None]
        center_c, size_c, best = select_and_interpolate(
            scores,
            boxes_c,
            prev_wh_c,
            window,
            penalty_k=pp.penalty_k,
            window_influence=pp.window_influence,
            shape_lr=pp.shape_lr,
        )
        best_score = scores.gather(1, best[:, None])[:, 0]
        found = (scores.amax(dim=1) >= pp.lost_threshold) & torch.isfinite(best_score)
        new_center = (center_c - s_size / 2.0) / scale[:, None] + self._center
        new_size = size_c / scale[:, None]
        ok = found & torch.isfinite(new_center).all(1) & torch.isfinite(new_size).all(1)
        center = torch.where(ok[:, None], new_center, self._center)
        size = torch.where(ok[:, None], new_size, self._size)
        # Keep the state inside the frame: centre in the frame, size in [min_size, frame size].
        center = torch.minimum(center.clamp_min(0.0), self._frame_wh)
        min_size = torch.minimum(torch.full_like(self._frame_wh, pp.min_size), self._frame_wh)
        size = torch.minimum(torch.maximum(size, min_size), self._frame_wh)
        old_center = self._center
        self._center, self._size = center, size

        ad = cfg.adaptation
        due = confident = torch.zeros_like(ok)
        if ad.online_update:
            h, w = feats.shape[-2:]
            ratio = distractor_ratio(
                scores.reshape(-1, h, w), best, exclusion_radius=ad.exclusion_radius
            )
            confident = ok & (best_score >= ad.confidence_threshold)
            box_xyxy = torch.cat([center - size / 2, center + size / 2], dim=1)
            label = image_to_crop(box_xyxy, old_center, scale, s_size)
            self._support.add((feats, label), confident)
            # Wang et al. 2020 count frames from 1: update when i mod u == 0 (frames 10, 20, ...).
            periodic = (self._frame_index + 1) % ad.update_interval == 0
            due = ok & ((ratio > ad.distractor_threshold) | periodic)
        self._scale = search_scale(
            self._size, exemplar_size=cfg.search.exemplar_size, context=cfg.search.context
        )
        # The one device-to-host copy of the frame: output boxes, next crop geometry and which
        # sequences adapt now (the decision is taken on the host from the copied flags).
        host = self._to_host(torch.stack([due, confident], dim=1))
        self._host_used = np.minimum(self._host_used + (host[:, 8] > 0.5), ad.support_capacity)
        if ad.online_update and ad.update_steps > 0:
            index_np = np.flatnonzero(host[:, 7] > 0.5)
            if index_np.size > 0:
                index = torch.as_tensor(index_np, device=dev)
                sub = self._support.select(index)
                feats_s, boxes_s = sub.samples
                # The used prefix of the selected buffers (unused slots there weigh 0).
                n_used = int(self._host_used[index_np].max())
                new = self.detector.adapt(
                    {n: p[index] for n, p in self._params.items()},
                    feats_s[:, :n_used],
                    boxes_s[:, :n_used],
                    sub.valid[:, :n_used],
                    steps=ad.update_steps,
                )
                for n in self._params:
                    self._params[n] = self._params[n].index_copy(0, index, new[n])
        return host[:, :4].copy()

    def _features(self, crops: NDArray[np.uint8]) -> Tensor:
        """Trunk features in float32 (computed under autocast if ``amp``)."""
        if not self.amp:
            return self.detector.features(crops)
        dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        with torch.autocast(device_type=self.device.type, dtype=dtype):
            return self.detector.features(crops).float()

    def _to_host(self, flags: Tensor) -> NDArray[np.float64]:
        """One copy ``float64[B, 7 + k]``: output xywh, next crop centre and scale, ``flags``
        (``BoolTensor[B, k]``: update due, joined the support buffer).

        Also stores the crop geometry of the next frame on the host.
        """
        x1y1 = torch.maximum(self._center - self._size / 2, torch.zeros_like(self._center))
        x2y2 = torch.minimum(self._center + self._size / 2, self._frame_wh)
        wh = (x2y2 - x1y1).clamp_min(0.0)
        packed = torch.cat(
            [x1y1, wh, self._center, self._scale[:, None], flags.to(x1y1.dtype)], dim=1
        )
        host = packed.double().cpu().numpy()
        self._host_center, self._host_scale = host[:, 4:6], host[:, 6]
        return host

    @property
    def search_boxes_xyxy(self) -> Tensor:
        """``Tensor[B, 4]`` current tracked boxes (unclipped state) in image pixels."""
        return torch.cat([self._center - self._size / 2, self._center + self._size / 2], dim=1)
