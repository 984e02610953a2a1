"""Mismatched shapes are one-line ValueErrors naming the tensors (was a torch RuntimeError
"The size of tensor a (2) must match the size of tensor b (3)" from inside the formula)."""

from __future__ import annotations

import pytest
import torch

from seqrl import apply_box_action, gaussian_log_prob

BOXES = torch.tensor([[0.0, 0.0, 10.0, 10.0]] * 3)


@pytest.mark.parametrize("rows", [0, 2])
def test_gaussian_log_prob_shapes_must_broadcast(rows: int) -> None:
    with pytest.raises(ValueError, match=r"actions \(\d, 4\), mu \(3, 4\)"):
        gaussian_log_prob(torch.zeros(rows, 4), torch.zeros(3, 4), torch.ones(3, 4))
    # broadcasting samples against one mean stays allowed
    out = gaussian_log_prob(torch.zeros(5, 3, 4), torch.zeros(3, 4), torch.ones(3, 4))
    assert out.shape == (5, 3)


@pytest.mark.parametrize("rows", [0, 2])
def test_apply_box_action_shapes_must_broadcast(rows: int) -> None:
    with pytest.raises(ValueError, match="boxes_xywh"):
        apply_box_action(torch.zeros(rows, 4), BOXES)
    assert apply_box_action(torch.zeros(3, 4), BOXES).shape == (3, 4)


# Tensors on different devices are one ValueError naming them (api13; was "Expected all tensors
# to be on the same device" from inside the formula on a GPU, or a meta-tensor error from the
# value checks). "meta" stands in for a second device; the check reads metadata only.
import seqrl  # noqa: E402

META = torch.device("meta")
A4, B4 = torch.zeros(3, 4), torch.full((3, 4), 5.0)
R = torch.ones(2, 5)


def _m(t: torch.Tensor) -> torch.Tensor:
    return t.to(META)


DEVICE_CASES = [
    ("target_action on meta", lambda: seqrl.gaussian_box_sigma(A4, _m(A4))),
    ("sigma on meta", lambda: seqrl.gaussian_log_prob(A4, A4, _m(B4))),
    ("sigma on meta", lambda: seqrl.sample_box_action(A4, _m(B4))),
    ("boxes_xywh on meta", lambda: seqrl.apply_box_action(A4, _m(B4))),
    ("targets_xywh on meta", lambda: seqrl.box_action_iou(A4, B4, _m(B4))),
    ("target_boxes_xywh on meta", lambda: seqrl.box_action_to_target(B4, _m(B4))),
    ("boxes_b_xywh on meta", lambda: seqrl.box_iou_xywh(B4, _m(B4))),
    ("v_t on meta", lambda: seqrl.n_step_returns(R, _m(R), 0.0, n=2)),
    ("v_tp1 on meta", lambda: seqrl.td_advantages(R, R, _m(R))),
    ("advantage_t on meta", lambda: seqrl.policy_gradient_loss(R, _m(R))),
    ("v_t on meta", lambda: seqrl.value_loss(R, _m(R))),
    ("r_t on meta", lambda: seqrl.actor_critic_loss(R, R, _m(R), 0.0)),
    ("entropy_t on meta", lambda: seqrl.actor_critic_loss(R, R, R, 0.0, entropy_t=_m(R))),
    ("returns on meta", lambda: seqrl.fit_linear_value(torch.ones(5, 3), _m(torch.ones(5)))),
    (
        "indices on meta",
        lambda: seqrl.candidate_log_prob(torch.zeros(2, 3), _m(torch.zeros(2, dtype=torch.long))),
    ),
    (
        "reward_greedy on meta",
        lambda: seqrl.scst_loss(torch.zeros(2, 3), torch.zeros(2), _m(torch.zeros(2))),
    ),
]


@pytest.mark.parametrize(
    ("name", "call"), DEVICE_CASES, ids=[c[0].split()[0] for c in DEVICE_CASES]
)
def test_mismatched_devices_are_one_line_errors(name: str, call: object) -> None:
    with pytest.raises(ValueError, match="must share one device") as info:
        call()  # type: ignore[operator]
    assert name in str(info.value)
    assert "\n" not in str(info.value)
