"""Search-region crops and box transforms in and out of crop coordinates."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trackkit.data import (
    boxes_from_crop,
    boxes_to_crop,
    context_size,
    crop_and_resize,
    enlarge_boxes_xywh,
    search_region_xywh,
)

finite = st.floats(-500, 500, allow_nan=False)
positive = st.floats(1, 300, allow_nan=False)
box_st = st.tuples(finite, finite, positive, positive).map(lambda t: np.array(t))


def test_context_size_hand_computed() -> None:
    # w=10, h=30: p = 0.5*40 = 20 -> sqrt(30*50)
    assert context_size([0, 0, 10, 30]) == pytest.approx(np.sqrt(30 * 50))
    assert context_size([10, 30]) == pytest.approx(np.sqrt(30 * 50))  # sizes (w, h)
    with pytest.raises(ValueError, match="boxes"):
        context_size([1, 2, 3])


def test_context_size_of_tensors_stays_a_tensor() -> None:
    import torch

    wh = torch.tensor([[10.0, 30.0], [40.0, 40.0]], dtype=torch.float64)
    got = context_size(wh, context=0.5)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), context_size(wh.numpy()))
    np.testing.assert_allclose(got.numpy(), [np.sqrt(30 * 50), 80.0])
    region = search_region_xywh([[10, 20, 10, 30]], search_factor=2.0)[0]
    side = 2 * np.sqrt(30 * 50)
    np.testing.assert_allclose(region, [15 - side / 2, 35 - side / 2, side, side])
    np.testing.assert_allclose(enlarge_boxes_xywh([10, 20, 10, 30], 1.5), [7.5, 12.5, 15, 45])


@given(box_st, box_st, st.integers(8, 300))
def test_box_transform_round_trip(box: np.ndarray, region: np.ndarray, size: int) -> None:
    inside = boxes_to_crop(box, region, size)
    np.testing.assert_allclose(boxes_from_crop(inside, region, size), box, rtol=1e-9, atol=1e-6)


def test_box_transform_broadcasts_batches() -> None:
    boxes = np.array([[[10.0, 10, 5, 5]], [[0, 0, 1, 1]]])  # [2, 1, 4]
    regions = np.array([[0.0, 0, 100, 100], [10, 10, 50, 200]])  # [2, 4]
    out = boxes_to_crop(boxes, regions, (200, 100))
    assert out.shape == (2, 2, 4)
    np.testing.assert_allclose(out[0, 1], [0, 0, 20, 2.5])
    np.testing.assert_allclose(out[1, 1], [-40, -5, 4, 0.5])
    np.testing.assert_allclose(out[1, 0], [0, 0, 2, 1])


def test_crop_identity_shift_and_mean_padding() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(crop_and_resize(img, [0, 0, 30, 20], (30, 20)), img)
    # Integer shift at scale 1: slicing, with the mean colour where the region leaves the image.
    crop = crop_and_resize(img, [-4, 5, 10, 10], 10)
    np.testing.assert_array_equal(crop[:, 4:], img[5:15, 0:6])
    mean = np.round(img.reshape(-1, 3).mean(axis=0))
    np.testing.assert_allclose(crop[:, :4].reshape(-1, 3), np.broadcast_to(mean, (40, 3)), atol=1)
    padded = crop_and_resize(img, [-4, 5, 10, 10], 10, pad_value=(1, 2, 3))
    assert (padded[0, 0] == [1, 2, 3]).all()


def test_crop_places_box_where_transform_says() -> None:
    img = np.zeros((120, 160, 3), dtype=np.uint8)
    box = np.array([50.0, 40, 20, 10])
    img[40:50, 50:70] = 255
    regions = np.array([[30.0, 20, 60, 60], [45, 30, 40, 40]])
    crops = crop_and_resize(img, regions, 120, interpolation=0)  # nearest: exact edges
    assert crops.shape == (2, 120, 120, 3)
    for crop, region in zip(crops, regions):
        x, y, w, h = boxes_to_crop(box, region, 120)
        mask = crop[..., 0] > 127
        ys, xs = np.nonzero(mask)
        assert xs.min() == pytest.approx(x, abs=0.5) and xs.max() + 1 == pytest.approx(
            x + w, abs=0.5
        )
        assert ys.min() == pytest.approx(y, abs=0.5) and ys.max() + 1 == pytest.approx(
            y + h, abs=0.5
        )


@given(arrays(np.float64, (3, 4), elements=st.floats(1, 100)))
def test_search_region_is_centred_square(boxes: np.ndarray) -> None:
    regions = search_region_xywh(boxes)
    np.testing.assert_allclose(regions[:, 2], regions[:, 3])
    np.testing.assert_allclose(
        regions[:, :2] + regions[:, 2:] / 2, boxes[:, :2] + boxes[:, 2:] / 2, atol=1e-9
    )
    assert (regions[:, 2] >= np.maximum(boxes[:, 2], boxes[:, 3])).all()


def test_crop_rejects_bad_input() -> None:
    img = np.zeros((10, 10, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="regions_xywh"):
        crop_and_resize(img, [0, 0, 0, 5], 8)
    with pytest.raises(ValueError, match="image"):
        crop_and_resize(img[..., 0], [0, 0, 5, 5], 8)
    with pytest.raises(ValueError, match="out_size"):
        crop_and_resize(img, [0, 0, 5, 5], 0)
