"""Deterministic synthetic multi-object scenes with noisy detections."""

from __future__ import annotations

import numpy as np

from trackkit.data._mot import MOTRows, MOTSequence
from trackkit.data._render import paste_patch, random_texture, smooth_walk
from trackkit.data._sequence import ArrayFrames

__all__ = ["synthetic_mot_sequence"]


def synthetic_mot_sequence(
    *,
    length: int = 40,
    image_size: tuple[int, int] = (320, 240),
    num_objects: int = 5,
    seed: int = 0,
    object_size: tuple[float, float] = (24.0, 48.0),
    size_jitter: float = 0.3,
    speed: float = 2.5,
    miss_rate: float = 0.1,
    false_positives: float = 0.5,
    box_noise: float = 0.05,
    render: bool = True,
) -> MOTSequence:
    """Textured objects entering, moving and leaving over a panning textured background.

    Args:
        length: number of frames.
        image_size: ``(width, height)``.
        num_objects: number of identities; each is visible in a random stretch of frames.
        seed: random seed; the scene is a pure function of all arguments.
        object_size: typical ``(w, h)``; each object's size varies by ``size_jitter``.
        speed: typical pixels per frame.
        miss_rate: probability that a visible object gets no detection in a frame.
        false_positives: mean number of false detections per frame (Poisson).
        box_noise: detection box noise, standard deviation relative to the box size.
        render: draw frames (``False`` gives annotations and detections only, faster).

    Returns a :class:`MOTSequence` whose ``gt`` holds the exact boxes (ids ``1..N``, consider
    flag 1, class 1, visibility = fraction not covered by objects drawn in front) and whose
    ``det`` holds the noisy detections (id -1, scores in (0, 1]; true detections score higher
    on average than false ones; objects less than 30 % visible are never detected).
    """
    if length < 1 or num_objects < 0:
        raise ValueError(f"need length >= 1 and num_objects >= 0, got {length}, {num_objects}")
    if not 0 <= miss_rate <= 1:
        raise ValueError(f"miss_rate must be in [0, 1], got {miss_rate}")
    if false_positives < 0 or box_noise < 0:
        raise ValueError("false_positives and box_noise must be >= 0")
    width, height = (int(v) for v in image_size)
    ow, oh = (float(v) for v in object_size)
    if ow * (1 + size_jitter) >= width or oh * (1 + size_jitter) >= height:
        raise ValueError(f"object_size {object_size} does not fit in image_size {image_size}")
    rng = np.random.default_rng(seed)

    sizes = np.array([ow, oh]) * rng.uniform(1 - size_jitter, 1 + size_jitter, (num_objects, 1))
    spans = []
    for _ in range(num_objects):
        dur = int(rng.integers(max(2, length // 3), length + 1))
        start = int(rng.integers(0, length - dur + 1))
        spans.append((start, start + dur))
    paths = []
    for k in range(num_objects):
        high = np.array([width, height]) - sizes[k]
        start_xy = rng.uniform(0.1, 0.9, 2) * high
        paths.append(smooth_walk(rng, length, start_xy, np.zeros(2), high, speed=speed))
    textures = [random_texture(rng, 48, 32, cells=3, detail=20.0) for _ in range(num_objects)]

    # Ground truth: draw order = id order, later ids in front.
    gt_frames, gt_ids, gt_boxes, gt_vis = [], [], [], []
    for t in range(length):
        present = [k for k in range(num_objects) if spans[k][0] <= t < spans[k][1]]
        boxes_t = np.array([[*paths[k][t], *sizes[k]] for k in present]).reshape(-1, 4)
        for j, k in enumerate(present):
            gt_frames.append(t)
            gt_ids.append(k + 1)
            gt_boxes.append(boxes_t[j])
            gt_vis.append(_visible_fraction(boxes_t[j], boxes_t[j + 1 :]))
    gt = MOTRows(
        np.array(gt_frames, dtype=np.int64),
        np.array(gt_ids, dtype=np.int64),
        np.array(gt_boxes).reshape(-1, 4),
        np.ones(len(gt_frames)),
        np.ones(len(gt_frames), dtype=np.int64),
        np.array(gt_vis),
    )

    # Detections: noisy true boxes with misses (always when < 30 % visible) + false positives.
    n = len(gt)
    hit = rng.random(n) >= miss_rate + (1 - miss_rate) * (gt.visibility < 0.3)
    noise = rng.normal(0, box_noise, (n, 4)) * np.concatenate([gt.boxes_xywh[:, 2:]] * 2, 1)
    det_boxes = gt.boxes_xywh + noise
    det_boxes[:, 2:] = np.maximum(det_boxes[:, 2:], 2.0)
    det_scores = np.clip(rng.normal(0.85, 0.08, n), 0.05, 1.0)
    n_fp = rng.poisson(false_positives, length)
    fp_frames = np.repeat(np.arange(length), n_fp)
    fp_wh = np.array([ow, oh]) * rng.uniform(0.6, 1.3, (fp_frames.size, 1))
    fp_xy = rng.uniform(0, 1, (fp_frames.size, 2)) * (np.array([width, height]) - fp_wh)
    frames_all = np.concatenate([gt.frames[hit], fp_frames])
    order = np.argsort(frames_all, kind="stable")
    det = MOTRows(
        frames_all[order],
        -np.ones(frames_all.size, dtype=np.int64),
        np.concatenate([det_boxes[hit], np.concatenate([fp_xy, fp_wh], 1)])[order],
        np.concatenate([det_scores[hit], np.clip(rng.normal(0.45, 0.12, fp_frames.size), 0.05, 1)])[
            order
        ],
    )

    frames = None
    if render:
        margin = int(np.ceil(speed * 0.5 * length)) + 4
        background = random_texture(rng, height + 2 * margin, width + 2 * margin, cells=8)
        camera = smooth_walk(
            rng,
            length,
            np.full(2, float(margin)),
            np.zeros(2),
            np.full(2, 2.0 * margin),
            speed=speed * 0.3,
        )
        video = np.empty((length, height, width, 3), dtype=np.uint8)
        rows_per_frame = gt.split_by_frame(length)
        for t in range(length):
            cx, cy = (int(v) for v in np.rint(camera[t]))
            frame = background[cy : cy + height, cx : cx + width].copy()
            for r in rows_per_frame[t]:
                paste_patch(frame, textures[gt.ids[r] - 1], gt.boxes_xywh[r])
            video[t] = frame
        frames = ArrayFrames(video)
    return MOTSequence(
        name=f"synthetic-mot-{seed}",
        num_frames=length,
        frames=frames,
        gt=gt,
        det=det,
        frame_rate=25.0,
        image_size=(width, height),
        meta={"benchmark": "synthetic", "seed": seed},
    )


def _visible_fraction(box: np.ndarray, front: np.ndarray, grid: int = 16) -> float:
    """Fraction of ``box`` not covered by the boxes in ``front`` (sampled on a grid)."""
    if front.shape[0] == 0:
        return 1.0
    u = (np.arange(grid) + 0.5) / grid
    px = box[0] + u * box[2]
    py = box[1] + u * box[3]
    gx, gy = np.meshgrid(px, py)
    covered = np.zeros_like(gx, dtype=bool)
    for x, y, w, h in front:
        covered |= (gx >= x) & (gx < x + w) & (gy >= y) & (gy < y + h)
    return float(1.0 - covered.mean())
