"""Deterministic synthetic single-object sequences for tests, demos and quick training."""

from __future__ import annotations

import numpy as np

from trackkit.data._render import paste_patch, random_texture, smooth_walk
from trackkit.data._sequence import ArrayFrames, Sequence

__all__ = ["synthetic_sot_sequence"]


def synthetic_sot_sequence(
    *,
    length: int = 60,
    image_size: tuple[int, int] = (320, 240),
    target_size: tuple[float, float] = (40.0, 32.0),
    seed: int = 0,
    scale_change: float = 0.3,
    distractors: int = 2,
    occlusion: float = 0.5,
    occlusion_frames: tuple[int, int] | None = None,
    camera_speed: float = 1.5,
    target_speed: float = 3.0,
) -> Sequence:
    """A textured target moving over a textured, panning background; same seed, same pixels.

    Args:
        length: number of frames ``T``.
        image_size: ``(width, height)`` of the frames.
        target_size: ``(w, h)`` of the target at scale 1.
        seed: random seed; the sequence is a pure function of all arguments.
        scale_change: relative amplitude of the sinusoidal scale change (0 = fixed size; the
            target's size varies in ``[1 - a, 1 + a]`` times ``target_size``).
        distractors: number of similar-looking objects (same size, related texture) moving
            independently behind the target.
        occlusion: fraction of the target's width hidden by an occluder during
            ``occlusion_frames`` (0 = no occluder). ``>= 1`` hides the whole target: those frames
            are marked ``absent`` with NaN boxes.
        occlusion_frames: ``(start, stop)`` frame range of the occlusion; default the middle
            tenth of the sequence.
        camera_speed: pixels per frame of the background's random pan.
        target_speed: typical pixels per frame of the target's motion.

    Returns a :class:`Sequence` with in-memory BGR frames and exact 0-based ``boxes_xywh``
    (the box is exactly where the target's texture was drawn; it stays inside the image).
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    width, height = (int(v) for v in image_size)
    tw, th = (float(v) for v in target_size)
    if not (0 < tw * (1 + scale_change) < width and 0 < th * (1 + scale_change) < height):
        raise ValueError(
            f"target_size {target_size} with scale_change {scale_change} does not fit in "
            f"image_size {image_size}"
        )
    if not 0 <= scale_change < 1:
        raise ValueError(f"scale_change must be in [0, 1), got {scale_change}")
    if distractors < 0:
        raise ValueError(f"distractors must be >= 0, got {distractors}")
    if occlusion < 0:
        raise ValueError(f"occlusion must be >= 0, got {occlusion}")
    rng = np.random.default_rng(seed)

    margin = int(np.ceil(camera_speed * length)) + 8
    background = random_texture(rng, height + 2 * margin, width + 2 * margin, cells=10)
    camera = smooth_walk(
        rng,
        length,
        np.array([margin, margin], dtype=np.float64),
        np.zeros(2),
        np.array([2 * margin, 2 * margin], dtype=np.float64),
        speed=camera_speed,
    )

    target_tex = random_texture(rng, 48, 48, cells=3, detail=25.0)
    phase = rng.uniform(0, 2 * np.pi)
    period = max(length / 1.5, 8.0)
    scales = 1.0 + scale_change * np.sin(2 * np.pi * np.arange(length) / period + phase)
    wh = np.stack([tw * scales, th * scales], axis=1)

    def trajectory() -> np.ndarray:
        high = np.array([width - tw * (1 + scale_change), height - th * (1 + scale_change)])
        start = rng.uniform(0.2, 0.8, size=2) * high
        return smooth_walk(rng, length, start, np.zeros(2), high, speed=target_speed)

    target_xy = trajectory()
    boxes = np.concatenate([target_xy, wh], axis=1)

    distractor_boxes = []
    distractor_tex = []
    for _ in range(distractors):
        xy = trajectory()
        distractor_boxes.append(np.concatenate([xy, wh], axis=1))
        tex = target_tex.astype(np.int16) + rng.integers(-50, 50, size=3, dtype=np.int16)
        distractor_tex.append(np.clip(np.roll(tex, rng.integers(8, 40), axis=1), 0, 255))

    occ_start, occ_stop = occlusion_frames or (int(length * 0.45), int(length * 0.55) + 1)
    if not 0 <= occ_start <= occ_stop <= length:
        raise ValueError(f"occlusion_frames must lie in [0, {length}], got {occlusion_frames}")
    occluder_tex = random_texture(rng, 32, 32, cells=2, detail=10.0)
    absent = np.zeros(length, dtype=bool)
    if occlusion >= 1:
        absent[occ_start:occ_stop] = True

    frames = np.empty((length, height, width, 3), dtype=np.uint8)
    for t in range(length):
        cx, cy = (round(float(v)) for v in camera[t])
        frame = background[cy : cy + height, cx : cx + width].copy()
        for dbox, dtex in zip(distractor_boxes, distractor_tex):
            paste_patch(frame, dtex.astype(np.uint8), dbox[t])
        paste_patch(frame, target_tex, boxes[t])
        if occlusion > 0 and occ_start <= t < occ_stop:
            x, y, w, h = boxes[t]
            cover = min(occlusion, 1.0)
            pad = 2.0 if occlusion >= 1 else 0.0
            occ_box = np.array([x - pad, y - h * 0.15 - pad, w * cover + 2 * pad, h * 1.3])
            paste_patch(frame, occluder_tex, occ_box + np.array([0, 0, 0, 2 * pad]))
        frames[t] = frame

    meta = {
        "benchmark": "synthetic",
        "seed": seed,
        "distractor_boxes_xywh": (
            np.stack(distractor_boxes) if distractors else np.zeros((0, length, 4))
        ),
        "occlusion_frames": (occ_start, occ_stop) if occlusion > 0 else None,
    }
    return Sequence(f"synthetic-{seed}", ArrayFrames(frames), boxes, absent, meta=meta)
