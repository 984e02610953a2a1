"""The functional step of the instance trackers (Kim et al. 2022 on Wang et al. 2020)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch

from trackkit.data import synthetic_sot_sequence
from trackkit.sot import (
    AdaptationConfig,
    InstanceStep,
    InstanceTracker,
    TrackerConfig,
    fcos_maml,
)


def _sequences(n: int, length: int) -> list:
    return [
        synthetic_sot_sequence(length=length, seed=10 + i, distractors=2, target_speed=4.0)
        for i in range(n)
    ]


def _track_with_tracker(tracker: InstanceTracker, seqs: list) -> np.ndarray:
    tracker.init_batch([s[0] for s in seqs], np.stack([s.boxes_xywh[0] for s in seqs]))
    return np.stack([tracker.update_batch([s[t] for s in seqs]) for t in range(1, len(seqs[0]))])


def _track_with_step(step: InstanceStep, seqs: list, mode: str = "argmax") -> np.ndarray:
    state = step.init([s[0] for s in seqs], np.stack([s.boxes_xywh[0] for s in seqs]))
    out = []
    for t in range(1, len(seqs[0])):
        state, o, _ = step(state, [s[t] for s in seqs], mode)  # type: ignore[arg-type]
        out.append(o.boxes_xywh.double().cpu().numpy())
    return np.stack(out)


@pytest.mark.parametrize("head", ["fcos", "retina"])
def test_argmax_step_gives_the_tracker_boxes(
    head: str, one_thread: None, tiny_instance_detector: Any
) -> None:
    """Several sequences in lock step, with online updates (interval 3, so several happen)."""
    det = tiny_instance_detector(head)
    cfg = TrackerConfig(adaptation=AdaptationConfig(update_interval=3))
    seqs = _sequences(3, 16)
    expected = _track_with_tracker(InstanceTracker(det, config=cfg), seqs)
    got = _track_with_step(InstanceStep(det, config=cfg), seqs)
    np.testing.assert_array_equal(got, expected)
    # With the training graph (first-order adaptation through gradient_descent) the boxes are
    # the same up to float rounding of the differently ordered adaptation arithmetic.
    diff = _track_with_step(InstanceStep(det, config=cfg, differentiable=True), seqs)
    np.testing.assert_allclose(diff, expected, atol=1e-2)


def test_argmax_step_of_the_shipped_fcos_maml(one_thread: None) -> None:
    tracker = fcos_maml()
    seqs = _sequences(2, 12)
    expected = _track_with_tracker(tracker, seqs)
    got = _track_with_step(InstanceStep(tracker.detector, config=tracker.config), seqs)
    np.testing.assert_array_equal(got, expected)


def test_temperature_zero_sampling_is_argmax(one_thread: None, tiny_instance_detector: Any) -> None:
    det = tiny_instance_detector("fcos", seed=1)
    seqs = _sequences(2, 10)
    step = InstanceStep(det, temperature=0.0, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(
        _track_with_step(step, seqs, "sample"), _track_with_step(step, seqs, "argmax")
    )


def test_sampling_differs_and_log_probs_reach_head_and_rates(
    one_thread: None, tiny_instance_detector: Any
) -> None:
    det = tiny_instance_detector("fcos", seed=2)
    seqs = _sequences(2, 8)
    cfg = TrackerConfig()
    cfg = replace(cfg, postprocess=replace(cfg.postprocess, lost_threshold=0.0))  # never lost
    step = InstanceStep(
        det, config=cfg, differentiable=True, generator=torch.Generator().manual_seed(0)
    )
    state = step.init([s[0] for s in seqs], np.stack([s.boxes_xywh[0] for s in seqs]))
    total = torch.zeros(())
    chosen_s, chosen_g = [], []
    for t in range(1, 8):
        frames = [s[t] for s in seqs]
        state, out, lp = step(state, frames, "sample")
        assert lp.shape == (2,) and bool(torch.isfinite(lp).all())
        total = total + lp.sum()
        chosen_s.append(out.chosen)
    gstate = step.init([s[0] for s in seqs], np.stack([s.boxes_xywh[0] for s in seqs]))
    for t in range(1, 8):
        gstate, out, _ = step(gstate, [s[t] for s in seqs], "argmax")
        chosen_g.append(out.chosen)
    assert not all(torch.equal(a, b) for a, b in zip(chosen_s, chosen_g))
    total.backward()
    head_grads = [p.grad for p in det.head.parameters()]
    rate_grads = [p.grad for p in det.lr.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in head_grads + rate_grads)
    assert sum(float(g.abs().sum()) for g in head_grads) > 0  # type: ignore[union-attr]
    assert sum(float(g.abs().sum()) for g in rate_grads) > 0  # type: ignore[union-attr]


def test_states_are_not_mutated(one_thread: None, tiny_instance_detector: Any) -> None:
    det = tiny_instance_detector("fcos")
    cfg = TrackerConfig(adaptation=AdaptationConfig(update_interval=2))
    seqs = _sequences(2, 6)
    step = InstanceStep(det, config=cfg)
    s0 = step.init([s[0] for s in seqs], np.stack([s.boxes_xywh[0] for s in seqs]))
    snap = (s0.center.clone(), {k: v.clone() for k, v in s0.params.items()},
            s0.support.weights.clone())  # fmt: skip
    state = s0
    for t in range(1, 6):
        state, _, _ = step(state, [s[t] for s in seqs], "argmax")
    assert torch.equal(s0.center, snap[0])
    assert all(torch.equal(s0.params[k], v) for k, v in snap[1].items())
    assert torch.equal(s0.support.weights, snap[2])


def test_bad_inputs(tiny_instance_detector: Any) -> None:
    det = tiny_instance_detector("fcos")
    with pytest.raises(ValueError, match="temperature"):
        InstanceStep(det, temperature=-1.0)
    with pytest.raises(TypeError, match="detector"):
        InstanceStep(object())  # type: ignore[arg-type]
    step = InstanceStep(det, config=replace(TrackerConfig()))
    seq = _sequences(1, 3)[0]
    state = step.init([seq[0]], seq.boxes_xywh[:1])
    with pytest.raises(ValueError, match="mode"):
        step(state, [seq[1]], "greedy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="frames"):
        step(state, [seq[1], seq[2]], "argmax")
