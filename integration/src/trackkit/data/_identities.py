"""MOTChallenge identities as single-object sequences (training data for the SOT trackers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trackkit.data._mot import read_motchallenge
from trackkit.data._sequence import Sequence

__all__ = ["mot_track_sequences"]


def mot_track_sequences(
    root: str | Path,
    *,
    min_visibility: float = 0.4,
    min_size: float = 12.0,
    min_frames: int = 4,
) -> list[Sequence]:
    """Every ground-truth identity of the MOTChallenge sequences with images under ``root``.

    Each identity becomes one single-object sequence over its video's frames (the frames are
    shared, read lazily); frames where the identity is not annotated, is marked "ignore"
    (column 7 = 0), is not a pedestrian (MOT16/17 classes), is less than ``min_visibility``
    visible or smaller than ``min_size`` pixels are ``absent``. Identities with fewer than
    ``min_frames`` usable frames are dropped. ``meta["video"]`` names the video, so that
    training never pairs two identities of the same video as a negative (the other identity
    may be inside the crop). Sequences without images are skipped.
    """
    if min_frames < 1:
        raise ValueError(f"min_frames must be >= 1, got {min_frames}")
    out: list[Sequence] = []
    ds = read_motchallenge(root)
    for video in ds:
        if video.frames is None or video.gt is None or len(video.gt) == 0:
            continue
        gt = video.gt
        b = gt.boxes_xywh
        usable = (
            (gt.confidences != 0)
            & (gt.classes == 1)
            & (gt.visibility >= min_visibility)
            & np.isfinite(b).all(axis=1)
            & (np.minimum(b[:, 2], b[:, 3]) >= min_size)
        )
        rows = gt.select(usable)
        for ident in np.unique(rows.ids):
            mine = rows.select(rows.ids == ident)
            frames = np.unique(mine.frames)
            if len(frames) < min_frames:
                continue
            boxes = np.full((video.num_frames, 4), np.nan)
            boxes[mine.frames] = mine.boxes_xywh
            absent = ~np.isfinite(boxes).all(axis=1)
            out.append(
                Sequence(
                    f"{video.name}#{int(ident)}",
                    video.frames,
                    boxes,
                    absent,
                    meta={"video": video.name, "identity": int(ident), "source": "mot"},
                )
            )
    return out
