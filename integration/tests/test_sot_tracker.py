"""Algorithm 1 state machine, batched == one-by-one, and boxes that stay finite and in the frame."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from trackkit.data import synthetic_sot_sequence
from trackkit.sot import (
    AdaptationConfig,
    DetectorConfig,
    InstanceDetector,
    InstanceTracker,
    TrackerConfig,
)


class TinyTrunk(nn.Module):
    """Three stride-2 convolutions: a stride-8 trunk that runs in microseconds."""

    out_channels = 8

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, 2, 1),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def tiny_detector(head: str = "fcos", seed: int = 0) -> InstanceDetector:
    torch.manual_seed(seed)
    det = InstanceDetector(DetectorConfig(head=head, head_channels=8), trunk=TinyTrunk())
    # A head that responds: bigger weights than the detection init, so updates matter.
    with torch.no_grad():
        for p in det.head.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.3)
    return det


class ScriptedDetector(InstanceDetector):
    """Detections from a script: every candidate is the crop-centred 64x64 box; the score map is
    ``peak`` at the centre cell, ``side`` at a far corner cell and 0 elsewhere."""

    def __init__(self, peak: list[float], side: list[float]) -> None:
        super().__init__(DetectorConfig(head_channels=4), trunk=TinyTrunk())
        self.peak, self.side = peak, side
        self.t = 0
        self.adapt_calls: list[int] = []

    def detect(self, params: Mapping[str, Tensor], features: Tensor) -> tuple[Tensor, Tensor]:
        b, _, h, w = features.shape
        c = self.search_size / 2.0
        dev = features.device
        boxes = torch.tensor([c - 32, c - 32, c + 32, c + 32], device=dev).expand(b, h * w, 4)
        boxes = boxes.clone()
        scores = torch.zeros(b, h, w, device=dev)
        scores[:, h // 2, w // 2] = self.peak[self.t]
        scores[:, 0, 0] = self.side[self.t]
        self.t += 1
        return boxes, scores.reshape(b, -1)

    def adapt(self, params, features, boxes_xyxy, valid, *, steps):  # type: ignore[override]
        self.adapt_calls.append(self.t)
        return super().adapt(params, features, boxes_xyxy, valid, steps=steps)


pytestmark = pytest.mark.usefixtures("one_thread")


FRAME = np.full((120, 160, 3), 128, dtype=np.uint8)
BOX = np.array([60.0, 40.0, 30.0, 30.0])


def run_scripted(
    peak: list[float], side: list[float], device: torch.device, **adapt: object
) -> ScriptedDetector:
    det = ScriptedDetector(peak, side)
    cfg = TrackerConfig(adaptation=AdaptationConfig(**adapt))
    tracker = InstanceTracker(det, config=cfg, device=device)
    tracker.init(FRAME, BOX)
    for _ in peak:
        tracker.update(FRAME)
    det.buffer_count = int(tracker._support.valid.sum())  # type: ignore[attr-defined]
    return det


def test_all_scores_below_threshold_keep_previous_box(device: torch.device) -> None:
    det = ScriptedDetector([0.05] * 5, [0.0] * 5)
    tracker = InstanceTracker(det, device=device)
    assert det.device.type == device.type
    tracker.init(FRAME, BOX)
    for _ in range(5):
        np.testing.assert_allclose(tracker.update(FRAME), BOX, atol=1e-4)
    assert det.adapt_calls == [0]  # only the first-frame adaptation
    assert int(tracker._support.valid.sum()) == AdaptationConfig().num_first_frame_samples


def test_periodic_update_every_10_frames_and_confident_samples_join_buffer(
    device: torch.device,
) -> None:
    det = run_scripted([0.9] * 24, [0.0] * 24, device)
    # frames are numbered from 1 (the init frame): updates after frames 10 and 20
    assert det.adapt_calls == [0, 9, 19]
    assert det.buffer_count == 30  # 7 first-frame samples + 23 confident frames, capacity 30


def test_online_update_can_be_switched_off(device: torch.device) -> None:
    det = run_scripted([0.9] * 24, [0.85] * 24, device, online_update=False)
    assert det.adapt_calls == [0]


def test_distractor_peak_forces_update_and_weak_frames_stay_out(device: torch.device) -> None:
    side = [0.0] * 8
    side[2] = 0.8  # peak-to-sidelobe 0.8/0.9 > 0.7 on the third tracked frame
    peak = [0.9, 0.3, 0.9, 0.3, 0.9, 0.3, 0.9, 0.9]
    det = run_scripted(peak, side, device)
    assert det.adapt_calls == [0, 3]
    assert det.buffer_count == 7 + 5  # only the frames scoring >= 0.5 were added


def _track(tracker: InstanceTracker, seqs: list, batched: bool) -> np.ndarray:
    if batched:
        tracker.init_batch([s[0] for s in seqs], np.stack([s.boxes_xywh[0] for s in seqs]))
        out = [tracker.update_batch([s[t] for s in seqs]) for t in range(1, len(seqs[0]))]
        return np.stack(out, axis=1)
    res = []
    for s in seqs:
        tracker.init(s[0], s.boxes_xywh[0])
        res.append(np.stack([tracker.update(s[t]) for t in range(1, len(s))]))
    return np.stack(res)


@pytest.mark.parametrize("head", ["fcos", "retina"])
def test_batched_equals_one_by_one(head: str, device: torch.device) -> None:
    seqs = [
        synthetic_sot_sequence(length=14, seed=s, image_size=(160, 120), target_size=(24, 20))
        for s in range(3)
    ]
    cfg = TrackerConfig(adaptation=AdaptationConfig(update_interval=4, confidence_threshold=0.0))
    tracker = InstanceTracker(tiny_detector(head), config=cfg, device=device)
    one = _track(tracker, seqs, batched=False)
    batch = _track(tracker, seqs, batched=True)
    assert np.isfinite(one).all()
    np.testing.assert_allclose(batch, one, atol=1e-2)


def _leaving_sequence(length: int = 12) -> tuple[list[np.ndarray], np.ndarray]:
    """A bright square sliding out of the right border of a 160x120 frame."""
    frames, boxes = [], []
    for t in range(length):
        f = np.full((120, 160, 3), 60, dtype=np.uint8)
        x = 110 + 8 * t
        f[50:80, max(x, 0) : min(x + 30, 160)] = 220
        frames.append(f)
        boxes.append([x, 50, 30, 30])
    return frames, np.asarray(boxes, dtype=np.float64)


def _assert_in_frame(box: np.ndarray, w: int, h: int) -> None:
    assert np.isfinite(box).all()
    assert box[0] >= 0 and box[1] >= 0 and box[2] > 0 and box[3] > 0
    assert box[0] + box[2] <= w + 1e-4 and box[1] + box[3] <= h + 1e-4


def test_target_leaving_the_frame_gives_boxes_inside_the_frame(device: torch.device) -> None:
    frames, boxes = _leaving_sequence()
    tracker = InstanceTracker(tiny_detector(), device=device)
    tracker.init(frames[0], boxes[0])
    for f in frames[1:]:
        _assert_in_frame(tracker.update(f), 160, 120)


@settings(max_examples=12)
@given(
    st.floats(-40, 150), st.floats(-40, 110), st.floats(1, 80), st.floats(1, 80),
    st.sampled_from(["fcos", "retina"]),
)  # fmt: skip
def test_partly_outside_initial_boxes_track_inside_the_frame(
    device: torch.device, x: float, y: float, w: float, h: float, head: str
) -> None:
    if x >= 160 or y >= 120 or x + w <= 0 or y + h <= 0:
        return  # no overlap: rejected, tested below
    frames, _ = _leaving_sequence(4)
    tracker = InstanceTracker(tiny_detector(head), device=device)
    tracker.init(frames[0], [x, y, w, h])
    for f in frames[1:]:
        _assert_in_frame(tracker.update(f), 160, 120)


@pytest.mark.parametrize(
    ("box", "match"),
    [
        ([np.nan, 1, 10, 10], "finite"),
        ([10, 10, 0, 10], "positive width"),
        ([10, 10, 5, -3], "positive width"),
        ([170, 10, 10, 10], "does not overlap"),
        ([-20, 10, 20, 10], "does not overlap"),
        ([1, 2, 3], "4 numbers"),
    ],
)
def test_bad_initial_boxes_raise(box: list[float], match: str) -> None:
    tracker = InstanceTracker(tiny_detector())
    with pytest.raises(ValueError, match=match):
        tracker.init(FRAME, box)


def test_bad_frames_and_protocol_errors() -> None:
    tracker = InstanceTracker(tiny_detector())
    with pytest.raises(RuntimeError, match="init"):
        tracker.update(FRAME)
    with pytest.raises(ValueError, match="uint8"):
        tracker.init(FRAME.astype(np.float32), BOX)
    tracker.init(FRAME, BOX)
    with pytest.raises(ValueError, match="expected 1 frames"):
        tracker.update_batch([FRAME, FRAME])
    with pytest.raises(TypeError, match="InstanceDetector"):
        InstanceTracker(nn.Linear(2, 2))  # type: ignore[arg-type]
