"""TRAS recipe: transfer set through the cached teacher pool, distillation lowers its loss,
A3C raises the mean IoU, resume equals an uninterrupted run, bad input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from distill import ReplayTeacher, TeacherPool
from trackkit.sot.tras import StudentConfig, TRASStudent, load_student
from trackkit.train import (
    TeacherRuns,
    TRASEnv,
    TRASTrainConfig,
    build_tras_chunks,
    synthetic_training_sequences,
    train_tras,
    tras_episode_data,
    tras_policy_step,
)

SMALL = StudentConfig(crop_size=64, neck_channels=16, hidden=64).to_dict()


def _replayed_runs(seqs: list, noise: float = 1.5, seed: int = 0) -> dict[str, TeacherRuns]:
    """Two replayed synthetic teachers (ground truth plus noise) run through a TeacherPool."""
    rng = np.random.default_rng(seed)
    out = {}
    for s in seqs:
        gt = s.boxes_xywh
        boxes = [gt + rng.normal(0, noise, gt.shape) * np.array([1, 1, 0.2, 0.2]) for _ in range(2)]
        for b in boxes:
            b[0] = gt[0]
        pool = TeacherPool([ReplayTeacher(b, name=f"replay{i}") for i, b in enumerate(boxes)])
        runs = pool.run([s[i] for i in range(len(s))], gt[0], sequence=s.name)
        traj = list(runs.values())
        out[s.name] = TeacherRuns(
            s.name,
            ("replay0", "replay1"),
            np.stack([t.boxes_xywh for t in traj]),
            np.stack([t.success for t in traj]),
            np.array([t.fps for t in traj]),
        )
    return out


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    seqs = synthetic_training_sequences(3, length=36, seed=300)
    runs = _replayed_runs(seqs)
    chunks = build_tras_chunks(seqs, runs, chunk_length=12, chunks_per_frame=0.2, seed=0)
    assert chunks and all(c.teacher_xywh.shape[1] == 12 for c in chunks)
    return tras_episode_data(seqs, chunks)


def _config(**kw: object) -> TRASTrainConfig:
    base: dict = dict(
        objective="kd",
        workers=1,
        rounds=2,
        episodes_per_round=4,
        optimizer="adam",
        lr=1e-3,
        multiprocess=False,
        chunk_length=12,
        curriculum={"initial_length": 6, "max_length": 6, "growth": 1, "patience": 2},
        student=SMALL,
    )
    base.update(kw)
    return TRASTrainConfig(**base)


@torch.no_grad()
def _evaluate(model: TRASStudent, data, episodes: int = 8, length: int = 6) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Mean IoU of the greedy student and mean L1 to the best teacher's action, fixed episodes."""
    progress = torch.zeros(1, 5, dtype=torch.float64)
    import seqrl

    env = TRASEnv(
        0,
        999,
        data=data,
        role="kd",
        progress=progress,
        curriculum=seqrl.CurriculumConfig(initial_length=length, max_length=length),
        student=StudentConfig(**SMALL),
    )
    ious, l1 = [], []
    for _ in range(episodes):
        obs, memory, done = env.reset(), None, False
        while not done:
            out, memory = tras_policy_step(model, obs, memory, sample=False)
            l1.append(float((out.aux["mu"] - obs["teacher_action"]).abs().sum()))
            obs, _, done = env.step(out.action)
        ious.append(float(np.mean(env.ious)))
    return float(np.mean(ious)), float(np.mean(l1))


def test_chunks_filter_by_beta_per_chunk() -> None:
    seqs = synthetic_training_sequences(2, length=40, seed=400)
    runs = _replayed_runs(seqs)
    far = runs[seqs[0].name]
    boxes = far.boxes_xywh.copy()
    boxes[1, 20:30, 0] += 200.0  # teacher 1 loses the target on frames 20-29
    runs[seqs[0].name] = replace(far, boxes_xywh=boxes)
    chunks = build_tras_chunks(seqs, runs, chunk_length=8, chunks_per_frame=1.0, seed=1)
    for c in chunks:
        if c.sequence == 0 and ((c.frames >= 20) & (c.frames < 30)).any():
            assert c.teachers == ("replay0",)
        else:
            assert c.teachers == ("replay0", "replay1")


def test_a_distilling_worker_reduces_its_loss(tmp_path: Path, data, one_thread: None) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    before = _evaluate(TRASStudent(StudentConfig(**SMALL), pretrained=True).eval(), data)
    cfg = _config(rounds=4, episodes_per_round=15)
    model, path = train_tras(cfg, data, tmp_path, progress=False)
    after = _evaluate(model.eval(), data)
    assert path is not None and path.is_file()
    assert after[1] < 0.9 * before[1], (before, after)
    loaded = load_student(path)  # the shipped format reloads (float16 weights)
    for k, v in model.trainable_state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v.half().float())
    log = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(log) == 4 and '"iou_kd"' in log[-1]


def test_a3c_raises_the_mean_iou(tmp_path: Path, data, one_thread: None) -> None:  # type: ignore[no-untyped-def]
    """About 1400 steps of kd-rl (one distilling, one autonomous worker, 8 rounds) on synthetic
    sequences raise the greedy student's mean IoU (0.77 -> 0.88 here)."""
    torch.manual_seed(0)
    before = _evaluate(TRASStudent(StudentConfig(**SMALL), pretrained=True).eval(), data)
    cfg = _config(objective="kd-rl", workers=2, rounds=8, episodes_per_round=15)
    model, _ = train_tras(cfg, data, tmp_path, progress=False)
    after = _evaluate(model.eval(), data)
    assert after[0] > before[0] + 0.05, (before, after)


def test_resume_gives_the_weights_of_an_uninterrupted_run(
    tmp_path: Path, data, one_thread: None
) -> None:  # type: ignore[no-untyped-def]
    cfg = _config(objective="kd-rl", workers=2, rounds=2, episodes_per_round=2)
    full, _ = train_tras(cfg, data, tmp_path / "full", progress=False)
    _, path = train_tras(cfg, data, tmp_path / "part", stop_after=1, progress=False)
    assert path is None
    resumed, _ = train_tras(
        cfg, data, tmp_path / "part", resume=tmp_path / "part" / "train_state.pt", progress=False
    )
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    state = torch.load(tmp_path / "part" / "train_state.pt", map_location="cpu", weights_only=True)
    assert len(state["extra"]["a3c_optimizer"]) == len(list(full.parameters()))


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="objective"):
        TRASTrainConfig(objective="rl")
    with pytest.raises(ValueError, match="at least 2 workers"):
        TRASTrainConfig(objective="kd-rl", workers=1)
    with pytest.raises(ValueError, match="rounds"):
        TRASTrainConfig(rounds=0)
