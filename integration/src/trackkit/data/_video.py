"""Video IO: frames from a video file or an image folder; annotated video output."""

from __future__ import annotations

import colorsys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.data._sequence import FrameSource, ImageFiles
from trackkit.data._simple import IMAGE_SUFFIXES, list_images

__all__ = ["AnnotatedVideoWriter", "VideoFrames", "draw_boxes", "id_color", "open_frames"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm")


class VideoFrames:
    """Frames of a video file, decoded on access (sequential reads are cheap; a jump seeks).

    ``len()`` is the number of frames found by decoding the file once on first use (the
    container's frame count is unreliable), so it is exact.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"video file not found: {self.path}")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise ValueError(
                f"cannot open video file (not a video, an unsupported codec, or no frames): "
                f"{self.path}"
            )
        probe = cv2.VideoCapture(str(self.path))  # a container without one decodable frame
        has_frame = probe.grab()
        probe.release()
        if not has_frame:
            self._cap.release()
            raise ValueError(f"video file has no frames that OpenCV can decode: {self.path}")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 0.0
        self._next = 0
        self._length: int | None = None

    def __len__(self) -> int:
        if self._length is None:
            cap = cv2.VideoCapture(str(self.path))
            n = 0
            while cap.grab():
                n += 1
            cap.release()
            self._length = n
        return self._length

    def __getitem__(self, index: int) -> NDArray[np.uint8]:
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"frame index must be an int, got {type(index).__name__}")
        i = int(index)
        if i < 0:
            i += len(self)
        if i < 0:
            raise IndexError(f"frame index {index} out of range")
        if i != self._next:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise IndexError(f"frame index {index} out of range for {self.path.name}")
        self._next = i + 1
        return np.ascontiguousarray(frame)

    def __iter__(self) -> Iterator[NDArray[np.uint8]]:
        cap = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                yield np.ascontiguousarray(frame, dtype=np.uint8)
        finally:
            cap.release()

    def close(self) -> None:
        """Release the decoder."""
        self._cap.release()


def open_frames(path: str | Path) -> FrameSource:
    """Frames of a video file (:class:`VideoFrames`) or of an image folder (:class:`ImageFiles`).

    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` for a file that is not a
    video or a folder without images.
    """
    path = Path(path)
    if path.is_dir():
        images = list_images(path)
        if not images:
            kinds = ", ".join(s[1:] for s in IMAGE_SUFFIXES)
            raise ValueError(f"no images ({kinds}) in folder: {path}")
        return ImageFiles(images)
    if not path.exists():
        raise FileNotFoundError(f"no such video file or image folder: {path}")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(
            f"not a video file or image folder: {path} "
            f"(video suffixes: {', '.join(VIDEO_SUFFIXES)})"
        )
    return VideoFrames(path)


def id_color(track_id: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour for an integer id (golden-ratio hue steps)."""
    hue = (int(track_id) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_boxes(
    frame: NDArray[np.uint8],
    boxes_xywh: ArrayLike,
    *,
    ids: ArrayLike | None = None,
    scores: ArrayLike | None = None,
    color: tuple[int, int, int] | None = None,
    thickness: int = 2,
    label: str | None = None,
) -> NDArray[np.uint8]:
    """A copy of ``frame`` with boxes ``[N, 4]`` drawn; ids pick colours, ids/scores are printed.

    ``color`` forces one colour (default: per id, or green without ids); ``label`` is written
    in the top-left corner (e.g. a frame number). NaN boxes are skipped.
    """
    out = np.ascontiguousarray(frame.copy())
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    id_arr = None if ids is None else np.asarray(ids).reshape(-1)
    sc_arr = None if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
    for name, arr in (("ids", id_arr), ("scores", sc_arr)):
        if arr is not None and arr.shape[0] != boxes.shape[0]:
            raise ValueError(f"{name} has {arr.shape[0]} entries for {boxes.shape[0]} boxes")
    for k, (x, y, w, h) in enumerate(boxes):
        if not np.isfinite([x, y, w, h]).all():
            continue
        col = color or (id_color(int(id_arr[k])) if id_arr is not None else (0, 255, 0))
        x1, y1, x2, y2 = np.rint([x, y, x + w, y + h]).astype(int).tolist()
        p1, p2 = (x1, y1), (x2, y2)
        cv2.rectangle(out, p1, p2, col, thickness)
        text = []
        if id_arr is not None:
            text.append(str(int(id_arr[k])))
        if sc_arr is not None:
            text.append(f"{sc_arr[k]:.2f}")
        if text:
            cv2.putText(
                out,
                " ".join(text),
                (p1[0], max(p1[1] - 4, 10)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45,
                col,
                1,
                cv2.LINE_AA,
            )
    if label:
        cv2.putText(out, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 2)
        cv2.putText(out, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    return out


class AnnotatedVideoWriter:
    """Write frames (optionally with boxes, ids and scores drawn) to an ``mp4v`` video file.

    Use as a context manager::

        with AnnotatedVideoWriter("out.mp4", fps=25) as video:
            video.write(frame, boxes_xywh=boxes, ids=ids, scores=scores)

    The frame size is taken from the first frame; later frames must match it, or with
    ``resize=True`` (the command line's fallback for a folder of mixed frame sizes) are scaled
    to it after their boxes are drawn.
    """

    def __init__(
        self, path: str | Path, *, fps: float = 25.0, fourcc: str = "mp4v", resize: bool = False
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if len(fourcc) != 4:
            raise ValueError(f"fourcc must have 4 characters, got {fourcc!r}")
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"output folder does not exist: {self.path.parent}")
        self.fps = float(fps)
        self.fourcc = fourcc
        self.resize = bool(resize)
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames_written = 0

    def write(
        self,
        frame: NDArray[np.uint8],
        boxes_xywh: ArrayLike | None = None,
        *,
        ids: ArrayLike | None = None,
        scores: ArrayLike | None = None,
        color: tuple[int, int, int] | None = None,
        label: str | None = None,
    ) -> None:
        """Append one BGR frame, drawing the given boxes first."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 [H, W, 3], got {frame.dtype} {frame.shape}")
        if boxes_xywh is not None or label:
            frame = draw_boxes(
                frame,
                np.zeros((0, 4)) if boxes_xywh is None else boxes_xywh,
                ids=ids,
                scores=scores,
                color=color,
                label=label,
            )
        size = (frame.shape[1], frame.shape[0])
        if self._writer is None:
            writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter.fourcc(*self.fourcc), self.fps, size
            )
            if not writer.isOpened():
                raise ValueError(f"OpenCV cannot write {self.fourcc} video to {self.path}")
            self._writer, self._size = writer, size
        elif size != self._size:
            if not self.resize:
                raise ValueError(f"frame size {size} differs from the first frame's {self._size}")
            frame = cv2.resize(frame, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(np.ascontiguousarray(frame))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> AnnotatedVideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
