"""Box-action transforms psi / phi (Dunnhofer et al. 2020, Sec. 3.2) and the tiny IoU helper."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

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


class _ScalarReads(TorchDispatchMode):
    """Counts host reads of tensor values (``.item()``, ``bool()`` of a tensor)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func.overloadpacket.__name__ == "_local_scalar_dense":
            self.reads += 1
        return func(*args, **(kwargs or {}))


@given(boxes, actions)
def test_validate_false_gives_the_checked_result_without_host_reads(
    box: tuple, action: tuple
) -> None:
    b = torch.tensor(box, dtype=torch.float64).expand(3, 4)
    a = torch.tensor(action, dtype=torch.float64) * torch.tensor([[1.0], [2.0], [-3.0]])
    g = seqrl.apply_box_action(a, b)
    with _ScalarReads() as mode:
        fast = seqrl.apply_box_action(a, b, validate=False)
        back = seqrl.box_action_to_target(b, fast, validate=False)
    assert mode.reads == 0
    torch.testing.assert_close(fast, g, atol=0, rtol=0)
    torch.testing.assert_close(back, seqrl.box_action_to_target(b, g), atol=0, rtol=0)
    with _ScalarReads() as mode:
        seqrl.apply_box_action(a, b)
    assert mode.reads > 0  # the checked path reads values (what validate=False avoids)


def test_validate_false_still_checks_types_and_shapes_but_not_values() -> None:
    with pytest.raises(ValueError, match="actions"):
        seqrl.apply_box_action(torch.zeros(3), BOX, validate=False)
    with pytest.raises(TypeError):
        seqrl.apply_box_action(torch.zeros(4), [0.0, 0.0, 1.0, 1.0], validate=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target_boxes_xywh"):
        seqrl.box_action_to_target(BOX, torch.zeros(5), validate=False)
    nan = torch.tensor([math.nan, 0, 0, 0])
    assert torch.isnan(seqrl.apply_box_action(nan, BOX, validate=False)).any()
    with pytest.raises(ValueError, match="non-finite"):  # the default still rejects it
        seqrl.apply_box_action(nan, BOX)
    with pytest.raises(ValueError, match="positive"):
        seqrl.box_action_to_target(torch.tensor([0.0, 0, 0, 1]), BOX)


def test_box_action_iou_is_the_iou_of_the_moved_box() -> None:
    gen = torch.Generator().manual_seed(0)
    prev = torch.tensor([10.0, 20.0, 30.0, 40.0]) + 5 * torch.rand(3, 5, 4, generator=gen)
    gt = prev + 4 * torch.randn(3, 5, 4, generator=gen)
    gt[..., 2:] = gt[..., 2:].abs() + 1.0
    act = 2 * torch.rand(3, 5, 4, generator=gen) - 1
    cfg = seqrl.BoxActionConfig()
    got = seqrl.box_action_iou(act, prev, gt, config=cfg)
    moved = seqrl.apply_box_action(act, prev, config=cfg)
    for i in range(3):  # slow reference: one box pair at a time, by hand
        for j in range(5):
            ax, ay, aw, ah = moved[i, j].tolist()
            bx, by, bw, bh = gt[i, j].tolist()
            iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
            ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
            inter = iw * ih
            assert got[i, j].item() == pytest.approx(inter / (aw * ah + bw * bh - inter), abs=1e-5)
    # the action towards the target reaches it exactly
    perfect = seqrl.box_action_iou(seqrl.box_action_to_target(prev, prev * 1.01), prev, prev * 1.01)
    assert torch.allclose(perfect, torch.ones_like(perfect), atol=1e-5)
    with pytest.raises(ValueError, match="targets_xywh must have shape"):
        seqrl.box_action_iou(act, prev, gt[:, :2])
