"""The per-frame loop shared by the trackers that detect on images (RetinaTrack, MAML-MOT)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from trackkit.data import FrameSource, MOTRows

__all__ = ["track_frame_source"]

D = TypeVar("D")


class _Tracks(Protocol):
    """What an association step returns (``assoc.Tracks``)."""

    @property
    def boxes_xyxy(self) -> Any: ...
    @property
    def ids(self) -> Any: ...
    @property
    def scores(self) -> Any: ...

    def __len__(self) -> int: ...


def track_frame_source(
    frames: FrameSource,
    detect: Callable[[NDArray[np.uint8]], D],
    associate: Callable[[D], _Tracks],
    empty: Callable[[], D],
    *,
    skip_bad_frames: bool = False,
    on_frame: Callable[[int, NDArray[np.uint8] | None, Any], None] | None = None,
    progress: bool = False,
    desc: str = "track",
) -> tuple[MOTRows, list[int]]:
    """Detect and associate every frame of ``frames`` in order (the caller resets its state).

    Args:
        frames: a frame source (``trackkit.data.open_frames``: video or image folder).
        detect: frame (BGR ``uint8[H, W, 3]``) -> detections.
        associate: detections -> the live tracks after this frame (``assoc.Tracks``).
        empty: detections of a frame without any (used for a skipped frame).
        skip_bad_frames: documented fallback for unreadable frames (a corrupt image file, a
            video frame that fails to decode, an empty image): the frame is tracked as a frame
            without detections (tracks age by one frame) and its index is returned. Without it
            such a frame raises ``ValueError`` naming it.
        on_frame: called with ``(index, frame or None, tracks)`` after every frame (the CLI's
            annotated video).
        progress: tqdm bar named ``desc``.

    Returns:
        ``(rows, bad_frames)``: MOTChallenge rows (0-based frames, boxes xywh, track ids,
        detection scores) and the indices of skipped frames.
    """
    from tqdm import tqdm

    parts: list[MOTRows] = []
    bad: list[int] = []
    for t in tqdm(range(len(frames)), disable=not progress, desc=desc, unit="frame"):
        frame: NDArray[np.uint8] | None
        try:
            frame = frames[t]
            det = detect(frame)
        except (ValueError, OSError) as err:
            if not skip_bad_frames:
                raise ValueError(f"frame {t}: {err}") from None
            frame = None
            bad.append(t)
            det = empty()
        out = associate(det)
        if on_frame is not None:
            on_frame(t, frame, out)
        if len(out):
            b = np.asarray(out.boxes_xyxy, dtype=np.float64)
            xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
            parts.append(MOTRows(np.full(len(out), t), np.asarray(out.ids), xywh, out.scores))
    return MOTRows.concatenate(parts), bad
