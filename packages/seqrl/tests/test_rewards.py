"""Rewards from per-frame IoU arrays (Kim et al. 2022 and Dunnhofer et al. 2020)."""

import numpy as np
import pytest
import torch

import seqrl


def test_average_overlap_and_success_rate_hand_cases() -> None:
    ious = np.array([[0.2, 0.6, 1.0, 0.5], [0.0, 0.0, 0.4, 0.8]])
    torch.testing.assert_close(
        seqrl.average_overlap(ious), torch.tensor([0.575, 0.3], dtype=torch.float64)
    )
    torch.testing.assert_close(
        seqrl.success_rate(ious), torch.tensor([0.75, 0.25], dtype=torch.float64)
    )
    torch.testing.assert_close(
        seqrl.success_rate(ious, threshold=0.75), torch.tensor([0.25, 0.25], dtype=torch.float64)
    )
    assert float(seqrl.average_overlap(torch.tensor([0.5, 1.0]))) == pytest.approx(0.75)


def test_masks_ignore_padding() -> None:
    ious = torch.tensor([[0.5, 0.7, 0.0], [1.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    torch.testing.assert_close(seqrl.average_overlap(ious, mask=mask), torch.tensor([0.6, 1.0]))
    torch.testing.assert_close(seqrl.success_rate(ious, mask=mask), torch.tensor([1.0, 1.0]))


def test_quantised_reward_eq2_hand_cases() -> None:
    ious = torch.tensor([0.0, 0.49, 0.5, 0.52, 0.7, 0.74, 0.75, 0.999, 1.0], dtype=torch.float64)
    expected = [-1.0, -1.0, 0.0, 0.0, 0.4, 0.4, 0.5, 0.9, 1.0]
    got = seqrl.quantised_iou_reward(ious)
    assert got.tolist() == pytest.approx(expected)
    assert seqrl.quantised_iou_reward(np.array([[0.55]])).shape == (1, 1)


@pytest.mark.parametrize(
    ("ious", "err", "match"),
    [
        (np.array([]), ValueError, "empty"),
        (np.array([0.5, np.nan]), ValueError, "non-finite"),
        (np.array([0.5, 1.2]), ValueError, r"\[0, 1\]"),
        (np.zeros((2, 2, 2)), ValueError, "shape"),
        ("0.5", TypeError, "ious"),
        (torch.tensor([True, False]), TypeError, "dtype"),
    ],
)
def test_bad_inputs(ious: object, err: type, match: str) -> None:
    for fn in (seqrl.average_overlap, seqrl.success_rate, seqrl.quantised_iou_reward):
        with pytest.raises(err, match=match):
            fn(ious)


def test_bad_masks_and_options() -> None:
    ious = torch.tensor([[0.5, 0.5]])
    with pytest.raises(ValueError, match="empty episode"):
        seqrl.average_overlap(ious, mask=torch.tensor([[False, False]]))
    with pytest.raises(ValueError, match="shape"):
        seqrl.average_overlap(ious, mask=torch.tensor([True, True]))
    with pytest.raises(TypeError, match="bool"):
        seqrl.average_overlap(ious, mask=torch.tensor([[1, 1]]))
    with pytest.raises(ValueError, match="threshold"):
        seqrl.success_rate(ious, threshold=1.5)
