"""The `Teacher` protocol and the input checks every teacher shares."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Teacher", "check_box_xywh", "check_frame"]


@runtime_checkable
class Teacher(Protocol):
    """A single-object tracker as a teacher ``t: I -> R^4`` (Dunnhofer et al. 2020, Sec. 3.1).

    Frames are ``H x W x 3`` ``uint8`` BGR numpy arrays (OpenCV's layout). Boxes are
    ``x, y, w, h`` float pixels with a 0-based top-left corner.

    ``init(frame, box_xywh)`` starts the track on the first frame; ``update(frame)`` returns
    ``(box_xywh, success)`` for the next frame, where a lost track returns the last known box
    with ``success=False``. ``name`` identifies the teacher and its configuration (it keys the
    `TeacherPool` cache, so two differently configured teachers need different names).
    """

    @property
    def name(self) -> str:
        """Identifier of the teacher and its configuration."""
        ...

    def init(self, frame: NDArray[np.uint8], box_xywh: ArrayLike) -> None:
        """Start tracking the object inside ``box_xywh`` on ``frame``."""
        ...

    def update(self, frame: NDArray[np.uint8]) -> tuple[NDArray[np.float64], bool]:
        """Track into ``frame``; return ``(box_xywh[4], success)``."""
        ...


def check_frame(frame: object, *, argument: str = "frame") -> NDArray[np.uint8]:
    """Validate a teacher frame: an ``H x W x 3`` ``uint8`` BGR numpy array.

    Grayscale frames (``H x W`` or ``H x W x 1``) are rejected with a message that says how to
    convert them (``cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)``); silently guessing a colour
    layout would hide a data bug.

    Returns:
        The frame, unchanged.
    """
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{argument} must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise TypeError(f"{argument} must have dtype uint8, got {frame.dtype}")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        raise ValueError(
            f"{argument} is grayscale with shape {frame.shape}; teachers take H x W x 3 BGR "
            "frames (convert with cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))"
        )
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"{argument} must have shape H x W x 3, got {frame.shape}")
    return frame


def check_box_xywh(
    box_xywh: ArrayLike, *, frame_shape: tuple[int, ...] | None = None, argument: str = "box_xywh"
) -> NDArray[np.float64]:
    """Validate one ``x, y, w, h`` box: 4 finite numbers with positive width and height.

    With ``frame_shape`` the box must also overlap the frame (at least part of it inside
    ``[0, W] x [0, H]``); a box entirely outside the frame raises ``ValueError``.

    Returns:
        The box as a float64 array of shape ``[4]``.
    """
    try:
        box = np.asarray(box_xywh, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{argument} must be 4 numbers, got {box_xywh!r}") from err
    if box.shape != (4,):
        raise ValueError(f"{argument} must have shape [4] (x, y, w, h), got shape {box.shape}")
    if not np.all(np.isfinite(box)):
        raise ValueError(f"{argument} must be finite, got {box.tolist()}")
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"{argument} must have positive width and height, got {box.tolist()}")
    if frame_shape is not None:
        height, width = frame_shape[0], frame_shape[1]
        inside_x = box[0] < width and box[0] + box[2] > 0
        inside_y = box[1] < height and box[1] + box[3] > 0
        if not (inside_x and inside_y):
            raise ValueError(
                f"{argument} {box.tolist()} lies entirely outside the {width}x{height} frame"
            )
    return box
