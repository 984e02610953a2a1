"""Global camera motion between two frames, as the affine that ``assoc`` trackers take."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray


def _gray(name: str, frame: Any) -> NDArray[np.uint8]:
    array = np.asarray(frame)
    if array.dtype != np.uint8:
        raise ValueError(f"{name} must be a uint8 image, got dtype {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2GRAY)
    elif array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2 or min(array.shape) < 8:
        raise ValueError(
            f"{name} must be an HxW or HxWx3 uint8 image at least 8x8, got dtype "
            f"{np.asarray(frame).dtype} shape {np.asarray(frame).shape}"
        )
    return np.ascontiguousarray(array)


def estimate_camera_motion(
    previous: Any,
    current: Any,
    *,
    exclude_boxes_xyxy: Any = None,
    max_corners: int = 1000,
    downscale: int = 2,
) -> NDArray[np.float64]:
    """Affine ``2x3`` mapping ``previous``'s pixel coordinates to ``current``'s.

    BoT-SORT's global motion compensation (Aharon et al. 2022, sec. 3.2; the authors'
    ``sparseOptFlow`` mode): Shi-Tomasi corners in the previous frame, pyramidal Lucas-Kanade
    flow to the current frame, and a RANSAC fit of a 4-DoF partial affine (rotation, uniform
    scale, translation). Pass the result as ``camera_motion=`` to
    :meth:`assoc.MotionTracker.update`.

    Args:
        previous: the earlier frame, ``HxWx3`` BGR or ``HxW`` grey, uint8.
        current: the later frame, same size.
        exclude_boxes_xyxy: optional ``[N, 4]`` boxes (in ``previous``) whose pixels are not
            used, e.g. the detections, so moving people do not count as camera motion.
        max_corners: most feature points tracked.
        downscale: images are shrunk by this integer factor first (speed); the translation is
            returned in full-resolution pixels.

    Returns:
        ``float64 [2, 3]``; the identity when too few points could be tracked (fewer than 4,
        e.g. a blank frame): a documented fallback, not an error.

    Raises:
        ValueError: images of the wrong type or of different sizes, bad boxes or parameters.
    """
    prev = _gray("previous", previous)
    cur = _gray("current", current)
    if prev.shape != cur.shape:
        raise ValueError(
            f"previous and current must have the same size, got {prev.shape} and {cur.shape}"
        )
    if isinstance(downscale, bool) or not isinstance(downscale, int) or downscale < 1:
        raise ValueError(f"downscale must be an integer >= 1, got {downscale!r}")
    if isinstance(max_corners, bool) or not isinstance(max_corners, int) or max_corners < 4:
        raise ValueError(f"max_corners must be an integer >= 4, got {max_corners!r}")
    identity = np.eye(2, 3)
    if downscale > 1:
        size = (prev.shape[1] // downscale, prev.shape[0] // downscale)
        if min(size) < 8:
            raise ValueError(f"downscale {downscale} leaves an image smaller than 8x8")
        prev = np.asarray(cv2.resize(prev, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        cur = np.asarray(cv2.resize(cur, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    mask = np.full(prev.shape, 255, dtype=np.uint8)
    if exclude_boxes_xyxy is not None:
        boxes = np.asarray(exclude_boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if not np.all(np.isfinite(boxes)):
            raise ValueError("exclude_boxes_xyxy must be finite")
        for x1, y1, x2, y2 in (boxes / downscale).round().astype(np.int64):
            mask[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)] = 0
    corners = cv2.goodFeaturesToTrack(
        prev, maxCorners=max_corners, qualityLevel=0.01, minDistance=1, blockSize=3, mask=mask
    )
    if corners is None or len(corners) < 4:
        return identity
    moved, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, corners, None)  # type: ignore[call-overload]
    ok = status.reshape(-1) == 1
    if ok.sum() < 4:
        return identity
    matrix, _ = cv2.estimateAffinePartial2D(
        corners.reshape(-1, 2)[ok], moved.reshape(-1, 2)[ok], method=cv2.RANSAC
    )
    if matrix is None or not np.all(np.isfinite(matrix)):
        return identity
    matrix = matrix.astype(np.float64)
    matrix[:, 2] *= downscale
    return matrix
