"""The numpy and torch IoU helpers."""

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from distill import box_iou_xywh, box_iou_xywh_torch


def test_hand_values() -> None:
    a = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 2.0, 2.0]])
    b = np.array([[5.0, 0.0, 10.0, 10.0], [20.0, 20.0, 5.0, 5.0], [0.0, 0.0, 2.0, 2.0]])
    # 50 / 150, disjoint, identical
    np.testing.assert_allclose(box_iou_xywh(a, b), [1 / 3, 0.0, 1.0])
    np.testing.assert_allclose(
        box_iou_xywh_torch(torch.tensor(a), torch.tensor(b)).numpy(), [1 / 3, 0.0, 1.0]
    )


def test_nan_and_empty_boxes_give_zero() -> None:
    a = np.array([[np.nan] * 4, [0.0, 0.0, 0.0, 0.0]])
    b = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(box_iou_xywh(a, b), [0.0, 0.0])
    np.testing.assert_array_equal(box_iou_xywh_torch(torch.tensor(a), torch.tensor(b)), [0, 0])


boxes = st.tuples(
    st.floats(-50, 50), st.floats(-50, 50), st.floats(0.1, 40), st.floats(0.1, 40)
).map(list)


@given(boxes, boxes)
def test_symmetric_bounded_and_backends_agree(a: list[float], b: list[float]) -> None:
    ab = float(box_iou_xywh(a, b))
    assert ab == float(box_iou_xywh(b, a))
    assert 0.0 <= ab <= 1.0
    assert abs(float(box_iou_xywh(a, a)) - 1.0) < 1e-12
    torch_ab = float(
        box_iou_xywh_torch(
            torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
        )
    )
    assert abs(torch_ab - ab) < 1e-9


def test_broadcasting() -> None:
    teachers = np.array([[[0.0, 0, 4, 4], [2, 0, 4, 4]]])  # [1, 2, 4]
    gt = np.array([[0.0, 0, 4, 4]])  # [1, 4] -> broadcast over the teacher axis
    np.testing.assert_allclose(box_iou_xywh(teachers, gt[:, None, :]), [[1.0, 8 / 24]])
