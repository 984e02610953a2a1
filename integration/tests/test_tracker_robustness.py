"""Regression tests of the failures ``benchmarks/stress.py`` found (docs/benchmarks/stress.md),
each on tiny synthetic inputs: a tracker never crashes mid-sequence, never emits NaN or an
empty box, and never drifts far off the frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trackkit.sot.tras import StudentConfig, TRASStudent, TRASTracker, clamp_box_centre

TINY_STUDENT = StudentConfig(crop_size=48, neck_channels=8, hidden=32)


def _drifting_student(dx: float) -> TRASStudent:
    """A student whose policy always moves the box by ``dx`` (in [-1, 1]) box widths x 0.75."""
    torch.manual_seed(0)
    student = TRASStudent(TINY_STUDENT, pretrained=False).eval()
    with torch.no_grad():
        student.policy.weight.zero_()
        student.policy.bias.copy_(torch.tensor([float(np.arctanh(dx)), 0.0, 0.0, 0.0]))
    return student


@pytest.mark.parametrize("dx", [-0.9, 0.9])
def test_tras_box_stays_at_the_frame_when_the_policy_pushes_it_out(
    dx: float, one_thread: None
) -> None:
    # Constant frames (as in a blackout): the student's crops hold no target and its policy
    # keeps pushing the box sideways. Before the centre clamp, the box ran thousands of pixels
    # off the 64x48 frame; now its centre stays in the frame.
    tracker = TRASTracker(_drifting_student(dx), mode="tras")
    frame = np.full((48, 64, 3), 90, np.uint8)
    tracker.init(frame, [24.0, 16.0, 16.0, 12.0])
    for _ in range(20):
        box = tracker.update(frame)
        assert np.isfinite(box).all() and (box[2:] > 0).all()
        centre = box[:2] + box[2:] / 2
        assert 0.0 <= centre[0] <= 64.0 and 0.0 <= centre[1] <= 48.0, box
    # It got pushed all the way to the border (the policy, not the clamp, decides inside).
    assert centre[0] == pytest.approx(0.0 if dx < 0 else 64.0)


def test_clamp_box_centre_moves_only_outside_centres() -> None:
    boxes = torch.tensor(
        [[10.0, 10.0, 20.0, 10.0], [-50.0, 5.0, 20.0, 10.0], [100.0, 60.0, 8.0, 4.0]],
        dtype=torch.float64,
    )
    out = clamp_box_centre(boxes, torch.tensor([64.0, 48.0], dtype=torch.float64))
    assert torch.equal(out[0], boxes[0])
    assert out[1].tolist() == [-10.0, 5.0, 20.0, 10.0]  # centre x -40 -> 0
    assert out[2].tolist() == [60.0, 46.0, 8.0, 4.0]  # centre (104, 62) -> (64, 48)


def _wide_strip() -> np.ndarray:
    """A 384x16 frame: at 192 px the network sees 192x8 pixels padded to 192x32, so most of
    its input (and most anchors) lie below the frame."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (16, 384, 3), dtype=np.uint8)


def _tiny_net(config):  # type: ignore[no-untyped-def]
    from trackkit.mot.retinatrack import RetinaTrackNet

    torch.manual_seed(0)
    return RetinaTrackNet(config, pretrained=False).eval()


@pytest.mark.parametrize("association", ["sort", "iou+motion", "iou+embedding"])
def test_retinatrack_drops_detections_in_the_padding_below_the_frame(
    association: str, tiny_rt_config, one_thread: None
) -> None:
    # Score threshold 0 keeps the untrained network's top boxes, many of them in the padding
    # below the frame. Clipped to the frame they had zero height: SORT's and the motion
    # model's Kalman filters raised ValueError mid-sequence, the others reported empty boxes.
    from trackkit.mot.retinatrack import RetinaTrackMOT

    mot = RetinaTrackMOT(_tiny_net(tiny_rt_config), association=association, score_threshold=0.0)
    frame = _wide_strip()
    det = mot.detect(frame)
    assert len(det.scores) > 0
    b = det.boxes_xyxy
    assert ((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])).all()
    assert (b[:, [0, 2]] >= 0).all() and (b[:, [0, 2]] <= 384).all()
    assert (b[:, [1, 3]] >= 0).all() and (b[:, [1, 3]] <= 16).all()
    rows, _ = mot.track_frames([frame, frame, frame])
    assert len(rows) > 0 and np.isfinite(rows.boxes_xywh).all()
    assert (rows.boxes_xywh[:, 2:] > 0).all()


def test_maml_mot_detections_drop_the_padding_below_the_frame(
    tiny_rt_config, one_thread: None
) -> None:
    from trackkit.mot.maml_mot import detect_reid
    from trackkit.mot.retinatrack import detect_frames

    net = _tiny_net(tiny_rt_config)
    frame = _wide_strip()
    (got,) = detect_reid(net, [frame], score_threshold=0.0)
    (ref,) = detect_frames(net, [frame], score_threshold=0.0)
    assert len(got) > 0
    b = got.boxes_xyxy
    assert ((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])).all()
    assert got.features.shape[0] == len(got) == got.embeddings.shape[0] == len(got.scores)
    np.testing.assert_array_equal(got.boxes_xyxy, ref.boxes_xyxy)
