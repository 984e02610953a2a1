"""Box-action transforms psi / phi (Dunnhofer et al. 2020, Sec. 3.2) and the tiny IoU helper."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import seqrl

BOX = torch.tensor([10.0, 20.0, 40.0, 20.0], dtype=torch.float64)  # centre (30, 30)


def test_zero_action_is_identity() -> None:
    torch.testing.assert_close(seqrl.apply_box_action(torch.zeros(4, dtype=BOX.dtype), BOX), BOX)


def test_documented_ranges() -> None:
    cfg = seqrl.BoxActionConfig(max_shift=0.75, max_scale=2.0)
    a = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    x, y, w, h = seqrl.apply_box_action(a, BOX, config=cfg).tolist()
    assert (x + w / 2, y + h / 2) == pytest.approx((30 + 0.75 * 40, 30 - 0.75 * 20))
    assert (w, h) == pytest.approx((80.0, 10.0))
    # actions beyond the range are clamped
    big = seqrl.apply_box_action(3 * a, BOX, config=cfg)
    torch.testing.assert_close(big, seqrl.apply_box_action(a, BOX, config=cfg))


boxes = st.tuples(st.floats(-100, 100), st.floats(-100, 100), st.floats(1, 200), st.floats(1, 200))
actions = st.tuples(*[st.floats(-1, 1)] * 4)


@given(boxes, actions)
def test_phi_inverts_psi(box: tuple, action: tuple) -> None:
    b = torch.tensor(box, dtype=torch.float64)
    a = torch.tensor(action, dtype=torch.float64)
    g = seqrl.apply_box_action(a, b)
    torch.testing.assert_close(seqrl.box_action_to_target(b, g), a, atol=1e-9, rtol=0)


@given(boxes, actions)
def test_psi_of_phi_reaches_target(box: tuple, action: tuple) -> None:
    b = torch.tensor(box, dtype=torch.float64)
    target = seqrl.apply_box_action(torch.tensor(action, dtype=torch.float64), b)
    back = seqrl.apply_box_action(seqrl.box_action_to_target(b, target), b)
    torch.testing.assert_close(back, target, atol=1e-7, rtol=1e-9)
    assert float(seqrl.box_iou_xywh(back, target)) == pytest.approx(1.0)


def test_phi_saturates_for_unreachable_targets() -> None:
    far = torch.tensor([1000.0, 20.0, 400.0, 20.0], dtype=torch.float64)
    a = seqrl.box_action_to_target(BOX, far)
    assert a.tolist() == pytest.approx([1.0, 0.0, 1.0, 0.0])


def test_batched_and_broadcast() -> None:
    a = torch.rand(5, 3, 4, dtype=torch.float64) * 2 - 1
    out = seqrl.apply_box_action(a, BOX)
    assert out.shape == (5, 3, 4)
    torch.testing.assert_close(out[2, 1], seqrl.apply_box_action(a[2, 1], BOX))


def test_iou_hand_case() -> None:
    a = torch.tensor([0.0, 0.0, 2.0, 2.0])
    b = torch.tensor([1.0, 1.0, 2.0, 2.0])
    assert float(seqrl.box_iou_xywh(a, b)) == pytest.approx(1 / 7)
    assert float(seqrl.box_iou_xywh(a, a + torch.tensor([5.0, 0, 0, 0]))) == 0.0


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="max_scale"):
        seqrl.BoxActionConfig(max_scale=1.0)
    with pytest.raises(ValueError, match="max_shift"):
        seqrl.BoxActionConfig(max_shift=-1.0)
    with pytest.raises(ValueError, match="actions"):
        seqrl.apply_box_action(torch.zeros(3), BOX)
    with pytest.raises(ValueError, match="positive"):
        seqrl.apply_box_action(torch.zeros(4), torch.tensor([0.0, 0, 0, 1]))
    with pytest.raises(ValueError, match="non-finite"):
        seqrl.box_action_to_target(BOX, torch.tensor([math.nan, 0, 1, 1]))
    with pytest.raises(TypeError):
        seqrl.apply_box_action(torch.zeros(4), [0.0, 0.0, 1.0, 1.0])  # type: ignore[arg-type]
