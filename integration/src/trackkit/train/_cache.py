"""Training crops for Wang et al. 2020's offline MAML, with their frozen-trunk features cached.

The trunk is frozen during offline training (Wang et al. 2020 freeze the first three ResNet
blocks; we freeze the whole trunk to fit a 2-core CPU), so the features of every augmented crop
are computed once and stored (float16). For each sampled frame we keep

- a support triplet: crops centred on the target, zoomed by 1, ``zoom`` and ``1/zoom`` (Wang et
  al. 2020, Sec. 3: "The first image will be zoomed in/out by a constant factor (1.08 in our
  experiments) so that a support set with three images is constructed"), with a small jitter;
- a target crop: the search region a tracker would see, with the target shifted and rescaled at
  random ("standard data augmentation mechanisms like random scaling and shifting").

Pairs (support of frame ``i``, target crop of frame ``j``) are then pure index logic; see
:func:`sample_cache_pairs`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from tqdm import tqdm

from trackkit.data import Sequence as SotSequence
from trackkit.data import sample_pairs
from trackkit.sot.instance import (
    SearchRegionConfig,
    crop_search_regions,
    image_to_crop,
    search_scale,
)

__all__ = ["CacheConfig", "FeatureCache", "build_feature_cache", "sample_cache_pairs"]


@dataclass(frozen=True)
class CacheConfig:
    """How training crops are sampled.

    Attributes:
        frames_per_sequence: frames sampled (evenly) from each sequence with a visible target.
        zoom: support zoom factor (Wang et al. 2020: 1.08).
        support_jitter_px: uniform jitter of the support crops' target position (crop pixels).
        target_shift_px: the target sits up to this many crop pixels off-centre in target crops.
        target_scale_jitter: target crops are rescaled by ``exp(U(-j, j))``.
        seed: random seed of the augmentation.
        batch_size: crops per trunk forward.
    """

    frames_per_sequence: int = 48
    zoom: float = 1.08
    support_jitter_px: float = 4.0
    target_shift_px: float = 48.0
    target_scale_jitter: float = 0.25
    seed: int = 0
    batch_size: int = 4


@dataclass
class FeatureCache:
    """Frozen-trunk features of the training crops.

    Attributes:
        support_features: ``Tensor[F, 3, C, h, w]`` (float16) zoom 1, zoom in, zoom out.
        support_boxes: ``Tensor[F, 3, 4]`` target boxes (xyxy, crop pixels).
        target_features: ``Tensor[F, C, h, w]`` (float16).
        target_boxes: ``Tensor[F, 4]``.
        sequence_ids: ``LongTensor[F]`` index into ``sequence_names``.
        frame_ids: ``LongTensor[F]`` frame number within its sequence.
        sequence_names: names of the sequences the crops come from.
        config: the :class:`CacheConfig` as a dict (provenance).
        video_ids: ``LongTensor[F]`` the video each crop comes from (several sequences may share
            a video: the identities of a multi-object sequence); None means one video per
            sequence. Negative pairs are drawn from other videos.
    """

    support_features: Tensor
    support_boxes: Tensor
    target_features: Tensor
    target_boxes: Tensor
    sequence_ids: Tensor
    frame_ids: Tensor
    sequence_names: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    video_ids: Tensor | None = None

    def __len__(self) -> int:
        return int(self.target_boxes.shape[0])

    def save(self, path: str | Path) -> None:
        """Write the cache with ``torch.save`` (tensors, lists and numbers only)."""
        torch.save(
            {
                "support_features": self.support_features,
                "support_boxes": self.support_boxes,
                "target_features": self.target_features,
                "target_boxes": self.target_boxes,
                "sequence_ids": self.sequence_ids,
                "frame_ids": self.frame_ids,
                "sequence_names": list(self.sequence_names),
                "config": dict(self.config),
                "video_ids": self.video_ids,
            },
            Path(path),
        )

    @classmethod
    def load(cls, path: str | Path) -> FeatureCache:
        """Read a cache written by :meth:`save` (``weights_only=True``)."""
        d = torch.load(Path(path), map_location="cpu", weights_only=True)
        return cls(**d)


def _visible_frames(seq: SotSequence) -> NDArray[np.int64]:
    b = seq.boxes_xywh
    ok = ~seq.absent & np.isfinite(b).all(axis=1) & (b[:, 2] > 2) & (b[:, 3] > 2)
    return np.flatnonzero(ok)


def build_feature_cache(
    sequences: Sequence[SotSequence],
    features_fn: Callable[[NDArray[np.uint8]], Tensor],
    *,
    config: CacheConfig | None = None,
    search: SearchRegionConfig | None = None,
    progress: bool = True,
) -> FeatureCache:
    """Crop, augment and run the frozen trunk over sampled frames of ``sequences``.

    Args:
        sequences: annotated training sequences (held-out evaluation sequences must not be here).
        features_fn: ``uint8[n, S, S, 3]`` BGR crops -> ``Tensor[n, C, h, w]`` trunk features,
            e.g. :meth:`trackkit.sot.InstanceDetector.features`.
        config: :class:`CacheConfig`.
        search: search-region geometry (263x263 by default).
        progress: show a tqdm bar.
    """
    cfg = config if config is not None else CacheConfig()
    sr = search if search is not None else SearchRegionConfig()
    if len(sequences) == 0:
        raise ValueError("sequences is empty")
    rng = np.random.default_rng(cfg.seed)
    size = sr.search_size
    zooms = np.array([1.0, cfg.zoom, 1.0 / cfg.zoom])

    # Plan every crop first: (sequence, frame, centre, scale, box) per crop.
    plan_frames: list[tuple[int, int]] = []
    for si, seq in enumerate(sequences):
        vis = _visible_frames(seq)
        if len(vis) == 0:
            continue
        k = min(cfg.frames_per_sequence, len(vis))
        pick = vis[np.unique(np.linspace(0, len(vis) - 1, k).round().astype(np.int64))]
        plan_frames += [(si, int(t)) for t in pick]
    if not plan_frames:
        raise ValueError("no sequence has a frame with a visible target")

    sup_feats: list[Tensor] = []
    sup_boxes: list[Tensor] = []
    tgt_feats: list[Tensor] = []
    tgt_boxes: list[Tensor] = []
    per_batch = max(1, cfg.batch_size // 4)
    bar = tqdm(total=len(plan_frames), desc="caching trunk features", disable=not progress)
    for start in range(0, len(plan_frames), per_batch):
        chunk = plan_frames[start : start + per_batch]
        frames: list[NDArray[np.uint8]] = []
        centers: list[NDArray[np.float64]] = []
        scales: list[float] = []
        boxes: list[NDArray[np.float64]] = []
        for si, t in chunk:
            seq = sequences[si]
            img = seq.frames[t]
            x, y, w, h = seq.boxes_xywh[t]
            c = np.array([x + w / 2, y + h / 2])
            base = float(
                search_scale(
                    torch.tensor([w, h], dtype=torch.float64),
                    exemplar_size=sr.exemplar_size,
                    context=sr.context,
                )
            )
            box = np.array([x, y, x + w, y + h])
            for z in zooms:
                s = base * z
                jitter = rng.uniform(-cfg.support_jitter_px, cfg.support_jitter_px, 2)
                frames.append(img)
                centers.append(c - jitter / s)
                scales.append(s)
                boxes.append(box)
            s = base * float(np.exp(rng.uniform(-cfg.target_scale_jitter, cfg.target_scale_jitter)))
            shift = rng.uniform(-cfg.target_shift_px, cfg.target_shift_px, 2)
            frames.append(img)
            centers.append(c - shift / s)
            scales.append(s)
            boxes.append(box)
        center_arr = np.stack(centers)
        scale_arr = np.asarray(scales)
        crops = crop_search_regions(frames, center_arr, scale_arr, size)
        with torch.no_grad():
            feats = features_fn(crops).to("cpu", torch.float16)
        crop_boxes = image_to_crop(
            torch.as_tensor(np.stack(boxes), dtype=torch.float64),
            torch.as_tensor(center_arr),
            torch.as_tensor(scale_arr),
            size,
        ).float()
        n = len(chunk)
        feats = feats.reshape(n, 4, *feats.shape[1:])
        crop_boxes = crop_boxes.reshape(n, 4, 4)
        sup_feats.append(feats[:, :3].clone())
        tgt_feats.append(feats[:, 3].clone())
        sup_boxes.append(crop_boxes[:, :3])
        tgt_boxes.append(crop_boxes[:, 3])
        bar.update(n)
    bar.close()
    videos: dict[str, int] = {}
    seq_video = [
        videos.setdefault(str(seq.meta.get("video", seq.name)), len(videos)) for seq in sequences
    ]
    return FeatureCache(
        support_features=torch.cat(sup_feats),
        support_boxes=torch.cat(sup_boxes),
        target_features=torch.cat(tgt_feats),
        target_boxes=torch.cat(tgt_boxes),
        sequence_ids=torch.tensor([si for si, _ in plan_frames], dtype=torch.long),
        frame_ids=torch.tensor([t for _, t in plan_frames], dtype=torch.long),
        sequence_names=[seq.name for seq in sequences],
        config={k: v for k, v in asdict(cfg).items()},
        video_ids=torch.tensor([seq_video[si] for si, _ in plan_frames], dtype=torch.long),
    )


def sample_cache_pairs(
    cache: FeatureCache,
    count: int,
    rng: np.random.Generator,
    *,
    negative_prob: float = 0.2,
    max_gap: int = 100,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Sample training pairs of cached crops (Wang et al. 2020 after DaSiamRPN: same or other
    sequence): :func:`trackkit.data.sample_pairs` over the cached frames, by frame, with the
    videos as groups.

    Args:
        cache: the cached crops.
        count: number of pairs.
        rng: numpy generator.
        negative_prob: probability that the target image comes from another video (see
            ``FeatureCache.video_ids``); such a target holds no instance of the support's object
            and is labelled all-background.
        max_gap: largest frame distance between support and target of a positive pair.

    Returns:
        ``(support_index, target_index, present)``: ``int64[count]`` indices into the cache and
        ``bool[count]`` whether the target crop contains the support's instance.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if not 0.0 <= negative_prob <= 1.0:
        raise ValueError(f"negative_prob must be in [0, 1], got {negative_prob}")
    seq = cache.sequence_ids.numpy()
    frame = cache.frame_ids.numpy()
    video = seq if cache.video_ids is None else cache.video_ids.numpy()
    n_seq = int(seq.max()) + 1
    valid = [np.zeros(0, dtype=bool)] * n_seq
    groups = np.full(n_seq, -1, dtype=np.int64)
    for s in np.unique(seq):
        rows = seq == s
        mask = np.zeros(int(frame[rows].max()) + 1, dtype=bool)
        mask[frame[rows]] = True
        valid[s] = mask
        groups[s] = int(video[rows][0])
    pairs = sample_pairs(
        valid,
        count,
        rng=rng,
        max_gap=max_gap,
        different_sequence_prob=negative_prob,
        groups=groups,
        weighting="frame",
    )
    # (sequence, frame) -> cache row (each frame is cached once per sequence)
    span = int(frame.max()) + 1
    keys = seq.astype(np.int64) * span + frame
    order = np.argsort(keys)

    def rows_of(s: NDArray[np.int64], f: NDArray[np.int64]) -> NDArray[np.int64]:
        return order[np.searchsorted(keys[order], s * span + f)].astype(np.int64)

    support = rows_of(pairs.seq_a, pairs.frame_a)
    target = rows_of(pairs.seq_b, pairs.frame_b)
    return support, target, pairs.same_sequence
