"""The single-object `Sequence` type and lazy frame sources.

Coordinate convention (everywhere in trackkit): boxes are ``float64`` in **0-based pixel
coordinates**, ``boxes_xywh = (x, y, w, h)`` with ``(x, y)`` the top-left corner of the box and
pixel ``(i, j)`` covering ``[i, i+1) x [j, j+1)``. Readers of 1-based benchmark files (OTB-2015,
UAV123, DTB70, LaSOT, MOTChallenge) subtract 1 from ``x`` and ``y`` on reading.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from collections.abc import Sequence as AbcSequence
from pathlib import Path
from typing import Any, Protocol, overload, runtime_checkable

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["ArrayFrames", "FrameSource", "ImageFiles", "Sequence", "read_image"]


def read_image(path: str | Path) -> NDArray[np.uint8]:
    """Read one image file as an ``HxWx3`` ``uint8`` BGR array.

    Raises ``FileNotFoundError`` when the file is missing and ``ValueError`` when OpenCV cannot
    decode it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot decode image file: {path}")
    return np.ascontiguousarray(image, dtype=np.uint8)


@runtime_checkable
class FrameSource(Protocol):
    """Anything with ``len()`` and integer indexing that returns ``HxWx3`` uint8 BGR frames."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> NDArray[np.uint8]: ...


class ImageFiles:
    """Lazy frames from image files: frame ``i`` is read with OpenCV when it is indexed.

    Slicing returns another :class:`ImageFiles` (no image is read).
    """

    def __init__(self, paths: AbcSequence[str | Path]) -> None:
        self.paths: tuple[Path, ...] = tuple(Path(p) for p in paths)

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> NDArray[np.uint8]: ...

    @overload
    def __getitem__(self, index: slice) -> ImageFiles: ...

    def __getitem__(self, index: int | slice) -> NDArray[np.uint8] | ImageFiles:
        if isinstance(index, slice):
            return ImageFiles(self.paths[index])
        return read_image(self.paths[_check_index(index, len(self.paths))])

    def __repr__(self) -> str:
        first = self.paths[0].name if self.paths else "-"
        return f"ImageFiles({len(self.paths)} files, first={first})"


class ArrayFrames:
    """Frames held in memory as a ``uint8`` array ``[T, H, W, 3]`` (BGR)."""

    def __init__(self, frames: NDArray[np.uint8]) -> None:
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(
                f"frames must be a uint8 array [T, H, W, 3], got {frames.dtype} {frames.shape}"
            )
        self.array = frames

    def __len__(self) -> int:
        return int(self.array.shape[0])

    @overload
    def __getitem__(self, index: int) -> NDArray[np.uint8]: ...

    @overload
    def __getitem__(self, index: slice) -> ArrayFrames: ...

    def __getitem__(self, index: int | slice) -> NDArray[np.uint8] | ArrayFrames:
        if isinstance(index, slice):
            return ArrayFrames(self.array[index])
        return self.array[_check_index(index, len(self))]


class _IndexedFrames:
    """A view of selected frames of another source (used for slicing generic sources)."""

    def __init__(self, source: FrameSource, indices: NDArray[np.int64]) -> None:
        self.source = source
        self.indices = indices

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index: int) -> NDArray[np.uint8]:
        return self.source[int(self.indices[_check_index(index, len(self))])]


def _check_index(index: int, length: int) -> int:
    if not isinstance(index, (int, np.integer)):
        raise TypeError(f"frame index must be an int or a slice, got {type(index).__name__}")
    i = int(index)
    if i < 0:
        i += length
    if not 0 <= i < length:
        raise IndexError(f"frame index {index} out of range for {length} frames")
    return i


class Sequence:
    """One annotated single-object sequence: lazy frames, boxes and an absence mask.

    Attributes:
        name: sequence name.
        frames: a :class:`FrameSource`; ``frames[i]`` is an ``HxWx3`` uint8 BGR array.
        boxes_xywh: ``float64 [T, 4]``, 0-based pixel coordinates (top-left x, y, width,
            height). Frames without a usable annotation (absent target, unlabelled frames of a
            test split) hold NaN.
        absent: ``bool [T]``, True where the annotation says the target is not visible
            (NaN line, LaSOT full occlusion / out of view, GOT-10k absence label).
        meta: free-form facts from the reader (benchmark, attributes, scale, ...).

    ``len(seq)`` is the number of frames; ``seq[i]`` is frame ``i`` (read on access);
    ``seq[a:b]`` is a sub-sequence (no frames read); iterating yields frames.
    """

    def __init__(
        self,
        name: str,
        frames: FrameSource | NDArray[np.uint8],
        boxes_xywh: Any,
        absent: Any = None,
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(frames, np.ndarray):
            frames = ArrayFrames(frames)
        if not isinstance(frames, FrameSource):
            raise TypeError(f"frames must support len() and indexing, got {type(frames).__name__}")
        boxes = np.array(boxes_xywh, dtype=np.float64)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"boxes_xywh must have shape [T, 4], got {boxes.shape}")
        if boxes.shape[0] != len(frames):
            raise ValueError(f"sequence {name!r}: {len(frames)} frames but {boxes.shape[0]} boxes")
        if absent is None:
            absent_arr = np.zeros(boxes.shape[0], dtype=bool)
        else:
            absent_arr = np.array(absent, dtype=bool).reshape(-1)
            if absent_arr.shape[0] != boxes.shape[0]:
                raise ValueError(
                    f"absent must have one entry per frame ({boxes.shape[0]}), "
                    f"got {absent_arr.shape[0]}"
                )
        boxes[absent_arr] = np.nan
        boxes.setflags(write=False)
        absent_arr.setflags(write=False)
        self.name = str(name)
        self.frames: FrameSource = frames
        self.boxes_xywh: NDArray[np.float64] = boxes
        self.absent: NDArray[np.bool_] = absent_arr
        self.meta: dict[str, Any] = dict(meta or {})

    def __len__(self) -> int:
        return int(self.boxes_xywh.shape[0])

    @overload
    def __getitem__(self, index: int) -> NDArray[np.uint8]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence: ...

    def __getitem__(self, index: int | slice) -> NDArray[np.uint8] | Sequence:
        if isinstance(index, slice):
            return self.subsequence(index)
        return self.frames[_check_index(index, len(self))]

    def __iter__(self) -> Iterator[NDArray[np.uint8]]:
        for i in range(len(self)):
            yield self.frames[i]

    def subsequence(self, index: slice | AbcSequence[int] | NDArray[np.integer]) -> Sequence:
        """Frames and boxes selected by a slice or an index array (e.g. a frame interval)."""
        if isinstance(index, slice):
            indices = np.arange(len(self))[index]
            if isinstance(self.frames, (ImageFiles, ArrayFrames)):
                frames: FrameSource = self.frames[index]
            else:
                frames = _IndexedFrames(self.frames, indices)
        else:
            indices = np.asarray(index, dtype=np.int64).reshape(-1)
            if indices.size and (indices.min() < -len(self) or indices.max() >= len(self)):
                raise IndexError(f"index out of range for {len(self)} frames")
            indices = np.where(indices < 0, indices + len(self), indices)
            frames = _IndexedFrames(self.frames, indices)
        return Sequence(
            self.name, frames, self.boxes_xywh[indices], self.absent[indices], meta=self.meta
        )

    @property
    def init_box_xywh(self) -> NDArray[np.float64]:
        """The box of frame 0 (the initialisation box of the OPE protocol), ``float64 [4]``."""
        return self.boxes_xywh[0].copy()

    @property
    def boxes_xyxy(self) -> NDArray[np.float64]:
        """``boxes_xywh`` as corners ``(x1, y1, x2, y2)``, ``float64 [T, 4]``."""
        b = self.boxes_xywh
        return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)

    def __repr__(self) -> str:
        return f"Sequence(name={self.name!r}, frames={len(self)}, absent={int(self.absent.sum())})"
