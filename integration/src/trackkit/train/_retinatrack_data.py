"""Short training clips for RetinaTrack from MOTChallenge sequences, on cached trunk features."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from trackkit.data import MOTSequence
from trackkit.mot.retinatrack import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["ClipBatch", "ClipConfig", "MOTClipSampler", "augment_frame"]

_ALIGN = 32


@dataclass(frozen=True)
class ClipConfig:
    """How :class:`MOTClipSampler` augments frames and cuts clips.

    Every used frame gets ``variants`` augmented versions, each drawn once from ``seed``, the
    frame's index and the variant's: the frame (resized to the network's input width) zoomed
    by a factor from ``zoom_range`` (log-uniform; scale augmentation), flipped horizontally
    with probability ``flip``, with random brightness, contrast and saturation (photometric
    augmentation). Its frozen-trunk features are computed once and cached (a 2-core CPU cannot
    afford the frozen trunk at every step). A clip is ``frames_per_clip`` frames at most
    ``max_gap`` apart, each cropped to ``crop`` around the same person (so the clip holds
    positive pairs for the triplet loss) or at random.

    Attributes:
        frames_per_clip: frames per clip (Lu et al. 2020: 2); triplets never cross clips.
        max_gap: largest frame distance inside a clip.
        crop: ``(width, height)`` of the training window in network pixels (multiples of 32);
            crops keep the inference scale while a step costs a fraction of a full frame.
        zoom_range: range of the per-frame zoom.
        flip: probability of a horizontal flip of a frame.
        centre_on_person: probability that the windows are centred near a person present in
            every frame of the clip.
        brightness, contrast, saturation: jitter strengths (brightness as a fraction of 255;
            contrast and saturation as +- factors).
        min_visible: a person box cut by the window is kept if at least this fraction of it
            is inside; otherwise it is left out of the clip's ground truth.
        min_height: boxes lower than this (network pixels) are left out.
        max_frames: at most this many evenly spaced frames of a sequence are used (every
            ``ceil(length / max_frames)``-th), which bounds the trunk features to cache; clip
            gaps are counted in original frames.
        variants: augmented versions cached per used frame; each frame of a clip takes one at
            random (1: one fixed augmentation per frame, the shipped network's recipe). More
            variants cost ``variants`` times the trunk passes and cache memory.
    """

    frames_per_clip: int = 2
    max_gap: int = 8
    crop: tuple[int, int] = (256, 256)
    zoom_range: tuple[float, float] = (0.7, 1.25)
    flip: float = 0.5
    centre_on_person: float = 0.8
    brightness: float = 0.15
    contrast: float = 0.3
    saturation: float = 0.3
    min_visible: float = 0.5
    min_height: float = 12.0
    max_frames: int = 40
    variants: int = 1

    def __post_init__(self) -> None:
        if self.frames_per_clip < 1 or self.max_gap < 0 or self.max_frames < 1:
            raise ValueError("frames_per_clip and max_frames must be >= 1 and max_gap >= 0")
        if self.variants < 1:
            raise ValueError(f"variants must be >= 1, got {self.variants}")
        if len(self.crop) != 2 or min(self.crop) < _ALIGN or any(c % _ALIGN for c in self.crop):
            raise ValueError(f"crop must be two multiples of 32 (>= 32), got {self.crop}")
        lo, hi = self.zoom_range
        if not 0 < lo <= hi:
            raise ValueError(f"zoom_range must satisfy 0 < lo <= hi, got {self.zoom_range}")


@dataclass(frozen=True)
class ClipBatch:
    """One training batch of ``C`` clips x ``F`` frames (``B = C * F`` images).

    Attributes:
        frozen: the frozen trunk's outputs for the crops (``RetinaTrackNet.frozen_features``
            layout), each ``Tensor[B, C_i, H_i, W_i]``.
        image_hw: ``(H, W)`` of the crops in network pixels.
        gt_boxes: ``Tensor[B, G, 4]`` xyxy (padded); gt_ids: ``Tensor[B, G]`` long identities
            (unique within a clip); gt_valid: ``Tensor[B, G]`` bool.
        clip_ids: ``Tensor[B]`` clip of each image.
    """

    frozen: list[Tensor]
    image_hw: tuple[int, int]
    gt_boxes: Tensor
    gt_ids: Tensor
    gt_valid: Tensor
    clip_ids: Tensor


def augment_frame(
    frame_bgr: NDArray[np.uint8],
    *,
    zoom: float,
    flip: bool,
    brightness: float,
    contrast: float,
    saturation: float,
    min_size: tuple[int, int] = (0, 0),
) -> NDArray[np.float32]:
    """Zoom, flip and colour-jitter a BGR frame; return it ImageNet-normalised RGB, padded.

    The result is ``HxWx3`` float32, zero-padded (the normalised mean colour) at the right and
    bottom to a multiple of 32 and at least ``min_size = (width, height)``, like inference
    frames (:func:`trackkit.mot.retinatrack.preprocess_frames`).
    """
    h, w = frame_bgr.shape[:2]
    nw, nh = max(1, round(w * zoom)), max(1, round(h * zoom))
    interp = cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR
    img = cv2.resize(frame_bgr, (nw, nh), interpolation=interp).astype(np.float32)
    if flip:
        img = img[:, ::-1]
    grey = img.mean(axis=2, keepdims=True)
    img = grey + saturation * (img - grey)
    img = np.clip((img - 128.0) * contrast + 128.0 + brightness * 255.0, 0.0, 255.0)
    rgb = img[:, :, ::-1] / 255.0
    norm = (rgb - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    pw = max(-(-nw // _ALIGN) * _ALIGN, min_size[0])
    ph = max(-(-nh // _ALIGN) * _ALIGN, min_size[1])
    out = np.zeros((ph, pw, 3), np.float32)
    out[:nh, :nw] = norm
    return out


def _person_rows(seq: MOTSequence) -> tuple[list[NDArray[np.float64]], list[NDArray[np.int64]]]:
    """Per frame: pedestrian boxes xyxy and ids (ignored rows and other classes left out)."""
    gt = seq.gt
    if gt is None:
        raise ValueError(f"sequence {seq.name} has no ground truth")
    keep = (gt.confidences != 0) & (gt.classes == 1) & np.isfinite(gt.boxes_xywh).all(axis=1)
    rows = gt.select(keep)
    per_frame = rows.split_by_frame(seq.num_frames)
    return [rows.boxes_xyxy[i] for i in per_frame], [rows.ids[i] for i in per_frame]


class MOTClipSampler:
    """Random clips of MOTChallenge sequences with images, on cached frozen-trunk features.

    Frames are resized to ``input_width`` (the network's inference width), augmented
    (:class:`ClipConfig`), passed once through ``frozen_trunk`` and the outputs cached in
    float16 (filled lazily, a pure function of ``seed``). A clip picks a sequence (probability
    proportional to its length), ``frames_per_clip`` frames at most ``max_gap`` apart and a
    window per frame (aligned to 32 px) around one person seen in all of them.

    Args:
        sequences: MOTChallenge sequences with frames and ground truth.
        frozen_trunk: ``Tensor[1, 3, H, W] -> list[Tensor[1, C_i, H/s_i, W/s_i]]`` (e.g.
            ``RetinaTrackNet.frozen_features``); ``strides`` gives each output's stride.
        strides: stride of each output of ``frozen_trunk``.
        input_width: network input width the frames are first resized to.
        config: clip settings.
        seed: random seed.
    """

    def __init__(
        self,
        sequences: Sequence[MOTSequence],
        frozen_trunk: Callable[[Tensor], list[Tensor]],
        strides: Sequence[int],
        input_width: int,
        config: ClipConfig | None = None,
        *,
        seed: int = 0,
    ) -> None:
        if not sequences:
            raise ValueError("sequences must not be empty")
        for s in sequences:
            if s.frames is None or s.gt is None:
                raise ValueError(f"sequence {s.name} needs images and gt/gt.txt")
        self.sequences = list(sequences)
        self.frozen_trunk = frozen_trunk
        self.strides = [int(s) for s in strides]
        if any(_ALIGN % s for s in self.strides):
            raise ValueError(f"strides must divide 32, got {self.strides}")
        self.input_width = int(input_width)
        self.config = ClipConfig() if config is None else config
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._rows = [_person_rows(s) for s in self.sequences]
        lengths = np.array([s.num_frames for s in self.sequences], dtype=np.float64)
        self._weights = lengths / lengths.sum()
        self._cache: dict[tuple[int, int, int], list[Tensor]] = {}
        self._scales = []
        for s in self.sequences:
            w = s.image_size[0] or s.frames[0].shape[1]  # type: ignore[index]
            self._scales.append(self.input_width / w)
        self._sizes: dict[tuple[int, int, int], tuple[int, int]] = {}

    def state(self) -> dict[str, object]:
        """The random generator's state (to resume a run exactly)."""
        return dict(self.rng.bit_generator.state)

    def set_state(self, state: dict[str, object]) -> None:
        """Restore :meth:`state`."""
        self.rng.bit_generator.state = state

    @property
    def cached(self) -> int:
        """Number of (sequence, frame, variant) entries computed so far."""
        return len(self._cache)

    def _augmentation(self, si: int, t: int, v: int = 0) -> dict[str, float | bool]:
        cfg = self.config
        # variant 0 draws exactly what the one-variant recipe drew (the shipped network)
        r = np.random.default_rng([self.seed, si, t] if v == 0 else [self.seed, si, t, v])
        lo, hi = np.log(cfg.zoom_range)
        return {
            "zoom": float(np.exp(r.uniform(lo, hi))),
            "flip": bool(r.random() < cfg.flip),
            "brightness": float(r.uniform(-1, 1) * cfg.brightness),
            "contrast": float(1.0 + r.uniform(-1, 1) * cfg.contrast),
            "saturation": float(1.0 + r.uniform(-1, 1) * cfg.saturation),
        }

    def _features(self, si: int, t: int, v: int = 0) -> list[Tensor]:
        key = (si, t, v)
        feats = self._cache.get(key)
        if feats is None:
            frames = self.sequences[si].frames
            assert frames is not None
            raw: NDArray[Any] = frames[t]
            s = self._scales[si]
            if s != 1.0:
                size = (self.input_width, max(1, round(raw.shape[0] * s)))
                raw = cv2.resize(
                    raw, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
                )
            aug = self._augmentation(si, t, v)
            img = augment_frame(
                raw,
                zoom=float(aug["zoom"]),
                flip=bool(aug["flip"]),
                brightness=float(aug["brightness"]),
                contrast=float(aug["contrast"]),
                saturation=float(aug["saturation"]),
                min_size=self.config.crop,
            )
            x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]
            with torch.no_grad():
                out = self.frozen_trunk(x)
            feats = [f[0].to(torch.float16).contiguous() for f in out]
            self._cache[key] = feats
            self._sizes[key] = (img.shape[0], img.shape[1])
        return feats

    def _variant_boxes(
        self, si: int, t: int, v: int = 0
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Person boxes of frame ``t`` in its augmented (zoomed, flipped) coordinates."""
        aug = self._augmentation(si, t, v)
        s = self._scales[si] * float(aug["zoom"])
        b = self._rows[si][0][t] * s
        if aug["flip"]:
            w = self.sequences[si].image_size[0] * s
            b = np.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], axis=1)
        return b, self._rows[si][1][t]

    def _clip(
        self, rng: np.random.Generator
    ) -> tuple[list[list[Tensor]], list[NDArray[np.float64]], list[NDArray[np.int64]]]:
        cfg = self.config
        si = int(rng.choice(len(self.sequences), p=self._weights))
        seq = self.sequences[si]
        k = -(-seq.num_frames // cfg.max_frames)
        n = -(-seq.num_frames // k)  # usable frames 0, k, 2k, ...
        max_step = max(1, cfg.max_gap // k)
        idx = [int(rng.integers(0, n))]
        for _ in range(cfg.frames_per_clip - 1):
            step = int(rng.integers(1, max_step + 1)) if cfg.max_gap > 0 else 0
            nxt = idx[-1] + step
            if nxt >= n:
                idx.insert(0, max(0, idx[0] - step))
            else:
                idx.append(nxt)
        times = [i * k for i in idx]
        # one variant per frame; no draw with one variant (the shipped recipe's random stream)
        var = (
            [int(x) for x in rng.integers(0, cfg.variants, len(times))]
            if cfg.variants > 1
            else [0] * len(times)
        )
        feats = [self._features(si, t, v) for t, v in zip(times, var, strict=True)]
        boxes_ids = [self._variant_boxes(si, t, v) for t, v in zip(times, var, strict=True)]
        common = set(boxes_ids[0][1].tolist())
        for _, ids in boxes_ids[1:]:
            common &= set(ids.tolist())
        person = (
            int(rng.choice(sorted(common)))
            if common and rng.random() < cfg.centre_on_person
            else None
        )
        offset = rng.uniform(-0.3, 0.3, 2) * np.array(cfg.crop)
        cw, ch = cfg.crop
        crops, boxes, ids_out = [], [], []
        for t, v, f, (b, ids) in zip(times, var, feats, boxes_ids, strict=True):
            ph, pw = self._sizes[(si, t, v)]
            if person is not None:
                pb = b[int(np.flatnonzero(ids == person)[0])]
                cx, cy = (pb[0] + pb[2]) / 2 + offset[0], (pb[1] + pb[3]) / 2 + offset[1]
            else:
                cx, cy = rng.uniform(0, pw), rng.uniform(0, ph)
            x0 = int(np.clip(round((cx - cw / 2) / _ALIGN), 0, (pw - cw) // _ALIGN)) * _ALIGN
            y0 = int(np.clip(round((cy - ch / 2) / _ALIGN), 0, (ph - ch) // _ALIGN)) * _ALIGN
            crops.append(
                [
                    m[:, y0 // st : (y0 + ch) // st, x0 // st : (x0 + cw) // st]
                    for m, st in zip(f, self.strides, strict=True)
                ]
            )
            rel = b - np.array([x0, y0, x0, y0], np.float64)
            clipped = rel.copy()
            clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, cw)
            clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, ch)
            area = (rel[:, 2] - rel[:, 0]) * (rel[:, 3] - rel[:, 1])
            inside = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
            ok = (inside >= cfg.min_visible * np.maximum(area, 1e-9)) & (
                clipped[:, 3] - clipped[:, 1] >= cfg.min_height
            )
            boxes.append(clipped[ok])
            ids_out.append(ids[ok])
        return crops, boxes, ids_out

    def sample(self, num_clips: int) -> ClipBatch:
        """``num_clips`` random clips as one :class:`ClipBatch`."""
        if num_clips < 1:
            raise ValueError(f"num_clips must be >= 1, got {num_clips}")
        crops: list[list[Tensor]] = []
        boxes: list[NDArray[np.float64]] = []
        ids: list[NDArray[np.int64]] = []
        clips: list[int] = []
        for c in range(num_clips):
            cr, bx, idn = self._clip(self.rng)
            crops += cr
            boxes += bx
            ids += idn
            clips += [c] * len(cr)
        b = len(crops)
        g = max(1, max(len(x) for x in boxes))
        gt = np.zeros((b, g, 4), np.float32)
        gi = np.full((b, g), -1, np.int64)
        gv = np.zeros((b, g), bool)
        for k, (bxk, idk) in enumerate(zip(boxes, ids, strict=True)):
            gt[k, : len(bxk)] = bxk
            gi[k, : len(bxk)] = idk
            gv[k, : len(bxk)] = True
        levels = [torch.stack([cr[i] for cr in crops]).float() for i in range(len(self.strides))]
        return ClipBatch(
            frozen=levels,
            image_hw=(self.config.crop[1], self.config.crop[0]),
            gt_boxes=torch.from_numpy(gt),
            gt_ids=torch.from_numpy(gi),
            gt_valid=torch.from_numpy(gv),
            clip_ids=torch.tensor(clips, dtype=torch.long),
        )
