"""Sequence-level training of the instance trackers (Kim et al. 2022) on the shared loop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from trackkit.data import Sequence, synthetic_sot_sequence
from trackkit.sot import InstanceStep
from trackkit.train import SLTTrainConfig, train_slt

SMALL = {"episodes": 2, "length": 3, "max_interval": 3, "checkpoint_every": 1}


def _sequences(n: int = 3, length: int = 14) -> list[Sequence]:
    return [
        synthetic_sot_sequence(length=length, seed=40 + i, distractors=1, target_speed=3.0)
        for i in range(n)
    ]


class RecordingFrames:
    """Frames that remember which indices were read."""

    def __init__(self, frames: Any) -> None:
        self.frames = frames
        self.read: set[int] = set()

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> NDArray[np.uint8]:
        self.read.add(int(index))
        return self.frames[index]  # type: ignore[no-any-return]


def _log(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_resume_equals_an_uninterrupted_run(
    tmp_path: Path, one_thread: None, tiny_instance_detector: Any
) -> None:
    seqs = _sequences()
    cfg = SLTTrainConfig(steps=4, **SMALL)  # type: ignore[arg-type]
    full = train_slt(tiny_instance_detector(), seqs, tmp_path / "a", config=cfg, progress=False)
    part = tiny_instance_detector()
    train_slt(part, seqs, tmp_path / "b", config=cfg, progress=False, stop_after=2)
    assert not (tmp_path / "b" / "detector.pt").exists()
    resumed = tiny_instance_detector()
    train_slt(
        resumed,
        seqs,
        tmp_path / "b",
        config=cfg,
        progress=False,
        resume=tmp_path / "b" / "train_state.pt",
    )
    for (name, p), q in zip(full.head.state_dict().items(), resumed.head.state_dict().values()):
        assert torch.equal(p, q), name
    for p, q in zip(full.lr.parameters(), resumed.lr.parameters()):
        assert torch.equal(p, q)
    # the weights moved, and the log continues across the resume
    fresh = tiny_instance_detector().head.state_dict()
    assert any(not torch.equal(v, fresh[k]) for k, v in full.head.state_dict().items())
    a = [r["ao_argmax"] for r in _log(tmp_path / "a")]
    b = [r["ao_argmax"] for r in _log(tmp_path / "b")]
    assert a == b and len(a) == 4
    assert (tmp_path / "b" / "detector.pt").is_file()


def test_episodes_never_read_frames_without_a_visible_target(
    tmp_path: Path, one_thread: None, tiny_instance_detector: Any
) -> None:
    """uav_group3_2-like sequences: stretches of NaN boxes (target absent) in the middle."""
    seqs = []
    for i in range(2):
        s = synthetic_sot_sequence(
            length=30, seed=70 + i, occlusion=1.0, occlusion_frames=(8 + i, 16 + i)
        )
        assert s.absent.any() and np.isnan(s.boxes_xywh[s.absent]).all()
        seqs.append(Sequence(s.name, RecordingFrames(s.frames), s.boxes_xywh, s.absent))
    cfg = SLTTrainConfig(steps=3, episodes=3, length=10, max_interval=2, checkpoint_every=3)
    train_slt(tiny_instance_detector(), seqs, tmp_path, config=cfg, progress=False)
    for s in seqs:
        frames = s.frames
        assert isinstance(frames, RecordingFrames)
        read = np.array(sorted(frames.read))
        assert read.size > 0
        assert not s.absent[read].any()
    # episodes long enough to need both sides of the gap were played: frames after it were read
    assert any(max(s.frames.read) > 17 for s in seqs)  # type: ignore[attr-defined]
    for r in _log(tmp_path):
        assert all(np.isfinite(r[k]) for k in ("loss", "ao_sample", "ao_argmax", "bbox"))


def test_temperature_zero_makes_the_scst_term_vanish(
    tmp_path: Path, one_thread: None, tiny_instance_detector: Any
) -> None:
    cfg = SLTTrainConfig(steps=2, temperature=0.0, **SMALL)  # type: ignore[arg-type]
    train_slt(tiny_instance_detector(), _sequences(), tmp_path, config=cfg, progress=False)
    for r in _log(tmp_path):
        assert r["ao_sample"] == r["ao_argmax"]
        assert r["pg"] == 0.0
        assert r["loss"] == r["bbox"]
        assert r["grad_pg"] == 0.0 and r["grad_bbox"] > 0


def test_frame_objective_runs_without_scst(
    tmp_path: Path, one_thread: None, tiny_instance_detector: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes: list[str] = []
    call = InstanceStep.__call__

    def recording(self: InstanceStep, state: Any, frame: Any, mode: Any) -> Any:
        modes.append(mode)
        return call(self, state, frame, mode)

    monkeypatch.setattr(InstanceStep, "__call__", recording)
    cfg = SLTTrainConfig(steps=1, objective="frame", **SMALL)  # type: ignore[arg-type]
    train_slt(tiny_instance_detector("retina"), _sequences(), tmp_path, config=cfg, progress=False)
    (r,) = _log(tmp_path)
    assert r["pg"] == 0.0 and r["loss"] == r["bbox"] > 0
    # "+SS" plays only the sampling tracker (no baseline needed), T frames
    assert modes == ["sample"] * cfg.length and r["ao_argmax"] is None


def test_probe_monitors_fixed_episodes_without_changing_training(
    tmp_path: Path, one_thread: None, tiny_instance_detector: Any
) -> None:
    seqs = _sequences()
    plain = SLTTrainConfig(steps=3, **SMALL)  # type: ignore[arg-type]
    probed = SLTTrainConfig(steps=3, probe_episodes=3, probe_every=2, **SMALL)  # type: ignore[arg-type]
    a = train_slt(tiny_instance_detector(), seqs, tmp_path / "a", config=plain, progress=False)
    b = train_slt(tiny_instance_detector(), seqs, tmp_path / "b", config=probed, progress=False)
    for p, q in zip(a.head.state_dict().values(), b.head.state_dict().values()):
        assert torch.equal(p, q)
    evals = [r for r in _log(tmp_path / "b") if "eval" in r]
    assert [r["step"] for r in evals] == [0, 2, 3]
    assert all(0.0 <= r["eval"]["probe_ao"] <= 1.0 for r in evals)
    assert all(r["eval"]["probe_episodes"] == 3 for r in evals)
    assert not any("eval" in r for r in _log(tmp_path / "a"))
    # a resumed run does not probe its starting point again
    c = tmp_path / "c"
    train_slt(tiny_instance_detector(), seqs, c, config=probed, progress=False, stop_after=1)
    train_slt(
        tiny_instance_detector(),
        seqs,
        c,
        config=probed,
        progress=False,
        resume=c / "train_state.pt",
    )
    assert [r["step"] for r in _log(c) if "eval" in r] == [0, 2, 3]
    assert next(r["eval"] for r in _log(c) if "eval" in r) == evals[0]["eval"]


def test_box_regression_weight_scales_its_gradient(
    tmp_path: Path, one_thread: None, tiny_instance_detector: Any
) -> None:
    logs = []
    for w in (1.0, 2.0, 0.0):
        cfg = SLTTrainConfig(steps=1, bbox_weight=w, **SMALL)  # type: ignore[arg-type]
        out = tmp_path / str(w)
        train_slt(tiny_instance_detector(), _sequences(), out, config=cfg, progress=False)
        logs.append(_log(out)[0])
    one, two, zero = logs
    assert one["grad_bbox"] > 0 and one["grad_pg"] == two["grad_pg"] == zero["grad_pg"]
    assert two["grad_bbox"] == pytest.approx(2 * one["grad_bbox"], rel=1e-4)
    assert zero["grad_bbox"] == 0.0


def test_bad_inputs(tmp_path: Path, tiny_instance_detector: Any) -> None:
    with pytest.raises(ValueError, match="episodes"):
        SLTTrainConfig(episodes=0)
    with pytest.raises(ValueError, match="objective"):
        SLTTrainConfig(objective="reinforce")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="temperature"):
        SLTTrainConfig(temperature=-0.5)
    with pytest.raises(ValueError, match="probe_episodes"):
        SLTTrainConfig(probe_episodes=-1)
    with pytest.raises(ValueError, match="probe_every"):
        SLTTrainConfig(probe_every=0)
    with pytest.raises(ValueError, match="visible"):
        train_slt(
            tiny_instance_detector(),
            _sequences(1, 5),
            tmp_path,
            config=SLTTrainConfig(length=24),
            progress=False,
        )
    with pytest.raises(TypeError, match="detector"):
        train_slt(object(), _sequences(1), tmp_path)  # type: ignore[arg-type]
