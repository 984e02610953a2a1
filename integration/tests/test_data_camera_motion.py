"""trackkit.data.estimate_camera_motion: known shifts of a real-looking texture are recovered."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from trackkit.data import estimate_camera_motion


def textured(seed: int = 0, size: tuple[int, int] = (240, 320)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, size=(size[0] // 8, size[1] // 8, 3), dtype=np.uint8)
    image = cv2.resize(small, (size[1], size[0]), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(image, (3, 3), 0)


@pytest.mark.parametrize("dx, dy", [(6.0, 0.0), (-4.0, 3.0), (0.0, 0.0)])
def test_recovers_a_translation(dx: float, dy: float) -> None:
    image = textured()
    shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    moved = cv2.warpAffine(image, shift, (image.shape[1], image.shape[0]))
    estimate = estimate_camera_motion(image, moved)
    assert estimate.shape == (2, 3) and estimate.dtype == np.float64
    np.testing.assert_allclose(estimate[:, :2], np.eye(2), atol=0.02)
    np.testing.assert_allclose(estimate[:, 2], [dx, dy], atol=0.6)


def test_recovers_a_small_rotation_and_zoom() -> None:
    image = textured(1)
    truth = cv2.getRotationMatrix2D((160, 120), 2.0, 1.03)
    moved = cv2.warpAffine(image, truth, (320, 240))
    estimate = estimate_camera_motion(image, moved, downscale=1)
    np.testing.assert_allclose(estimate[:, :2], truth[:, :2], atol=0.01)
    np.testing.assert_allclose(estimate[:, 2], truth[:, 2], atol=1.0)


def test_excluded_boxes_and_blank_frames() -> None:
    image = textured(2)
    moved = cv2.warpAffine(image, np.array([[1.0, 0, 5], [0, 1, 0]]), (320, 240))
    boxes = np.array([[0.0, 0.0, 100.0, 100.0]])
    estimate = estimate_camera_motion(image, moved, exclude_boxes_xyxy=boxes)
    np.testing.assert_allclose(estimate[:, 2], [5, 0], atol=0.6)
    blank = np.zeros((240, 320, 3), np.uint8)
    np.testing.assert_array_equal(estimate_camera_motion(blank, blank), np.eye(2, 3))


def test_bad_input() -> None:
    image = textured()
    with pytest.raises(ValueError, match="previous"):
        estimate_camera_motion(image.astype(np.float32), image)
    with pytest.raises(ValueError, match="same size"):
        estimate_camera_motion(image, image[:100])
    with pytest.raises(ValueError, match="downscale"):
        estimate_camera_motion(image, image, downscale=0)
    with pytest.raises(ValueError, match="exclude_boxes_xyxy"):
        estimate_camera_motion(image, image, exclude_boxes_xyxy=[[0, 0, np.nan, 1]])
