"""TRAS recipe: transfer set through the cached teacher pool, distillation lowers its loss,
A3C raises the mean IoU, resume equals an uninterrupted run, bad input; the batched warm start
on replayed windows (consistent with psi/phi and the teachers, raises the held-out IoU,
resumable, cached)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch

import seqrl
from distill import ReplayTeacher, TeacherPool, select_best_teacher
from trackkit.sot.tras import StudentConfig, TRASStudent, load_student
from trackkit.train import (
    TeacherRuns,
    TRASEnv,
    TRASPretrainConfig,
    TRASTrainConfig,
    build_replay_windows,
    build_tras_chunks,
    extract_replay_features,
    pretrain_loss,
    pretrain_tras,
    replay_window_iou,
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


ACTIONS = seqrl.BoxActionConfig(StudentConfig().max_shift, StudentConfig().max_scale)


@pytest.fixture(scope="module")
def warm_data():  # type: ignore[no-untyped-def]
    seqs = synthetic_training_sequences(4, length=36, seed=310)
    runs = _replayed_runs(seqs)
    chunks = build_tras_chunks(seqs, runs, chunk_length=12, chunks_per_frame=0.25, seed=0)
    return tras_episode_data(seqs, chunks)


def _wh(episodes) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    return [(int(f[0].shape[1]), int(f[0].shape[0])) for f in episodes.frames]


def test_replay_windows_follow_psi_phi_and_the_best_teacher(warm_data) -> None:  # type: ignore[no-untyped-def]
    data = warm_data
    cfg = TRASPretrainConfig(window=5, windows_per_chunk=2, holdout_fraction=0.25, seed=3)
    r = build_replay_windows(data, cfg, actions=ACTIONS, frame_wh=_wh(data))
    n = len(data.chunks) * 2
    assert len(r) == n and r.prev_xywh.shape == (n, 5, 4) and r.frames.shape == (n, 6)
    # phi(g, b) moves b onto g (targets within range)
    reached = seqrl.apply_box_action(r.target_action, r.prev_xywh, config=ACTIONS)
    ok = (r.target_action.abs() < 1).all(-1)
    torch.testing.assert_close(reached[ok], r.gt_xywh[ok], atol=1e-3, rtol=1e-4)
    # the trajectory continues: next box of step t = previous box of step t + 1
    torch.testing.assert_close(r.next_xywh[:, :-1], r.prev_xywh[:, 1:])
    # the teacher action aims at the chunk's best teacher of the frame (eq. 4)
    chunk_of = {}
    for c in data.chunks:
        for f in c.frames:
            chunk_of.setdefault((c.sequence, int(f)), []).append(c)
    i = 0
    s, f = int(r.sequence[i]), int(r.frames[i, 1])
    c = chunk_of[(s, f)][0]
    j = int(np.flatnonzero(c.frames == f)[0])
    best = select_best_teacher(
        torch.as_tensor(c.teacher_xywh[:, j], dtype=torch.float32), r.gt_xywh[i, 0]
    )
    want = seqrl.box_action_to_target(r.prev_xywh[i, 0], best.boxes_xywh, config=ACTIONS)
    torch.testing.assert_close(r.teacher_action[i, 0], want)
    # hold-out marks whole sequences, and not all of them
    held = set(r.sequence[r.holdout].tolist())
    assert held and held.isdisjoint(set(r.sequence[~r.holdout].tolist()))


def test_losses_per_objective(warm_data, one_thread: None) -> None:  # type: ignore[no-untyped-def]
    data = warm_data
    torch.manual_seed(0)
    model = TRASStudent(StudentConfig(**SMALL), pretrained=True)
    cfg = TRASPretrainConfig(window=4, windows_per_chunk=1, holdout_fraction=0.0)
    r = build_replay_windows(data, cfg, actions=ACTIONS, frame_wh=_wh(data))
    maps = extract_replay_features(model, data, r, progress=False)
    assert maps.dtype == torch.float16 and maps.shape[:3] == (len(r), 4, 2)
    # the cached maps are the trunk of the crops a worker would see
    out = {}
    for objective in ("kd", "gt", "kd-gt", "kd-rl"):
        loss, parts = pretrain_loss(model, maps, r, objective=objective, actions=ACTIONS, gamma=0.9)
        assert torch.isfinite(loss)
        out[objective] = (float(loss.detach()), parts)
    assert out["kd"][0] == pytest.approx(out["kd"][1]["kd"])
    assert out["gt"][0] == pytest.approx(out["gt"][1]["gt"])
    assert "value" in out["kd-rl"][1] and "value" not in out["kd"][1]
    assert out["kd-rl"][0] == pytest.approx(out["kd"][0] + out["kd-rl"][1]["value"], rel=1e-5)
    # kd-gt: eq. 3 on even windows, ground-truth L1 on odd ones (windows are independent)
    even, odd = torch.arange(0, len(r), 2), torch.arange(1, len(r), 2)
    kd_even, _ = pretrain_loss(
        model, maps[even], r.subset(even), objective="kd", actions=ACTIONS, gamma=0.9
    )
    gt_odd, _ = pretrain_loss(
        model, maps[odd], r.subset(odd), objective="gt", actions=ACTIONS, gamma=0.9
    )
    mixed = (float(kd_even.detach()) * len(even) + float(gt_odd.detach()) * len(odd)) / len(r)
    assert out["kd-gt"][0] == pytest.approx(mixed, rel=1e-4)
    with pytest.raises(ValueError, match="objective"):
        pretrain_loss(model, maps, r, objective="rl", actions=ACTIONS, gamma=0.9)


def test_warm_start_raises_the_held_out_iou_and_is_cached(
    tmp_path: Path, warm_data, one_thread: None
) -> None:  # type: ignore[no-untyped-def]
    data = warm_data
    torch.manual_seed(0)
    model = TRASStudent(StudentConfig(**SMALL), pretrained=True)
    cfg = TRASPretrainConfig(
        epochs=12, window=4, windows_per_chunk=3, batch_size=8, holdout_fraction=0.25
    )
    r = build_replay_windows(data, cfg, actions=ACTIONS, frame_wh=_wh(data))
    maps = extract_replay_features(model, data, r, progress=False)
    with torch.no_grad():
        from trackkit.train._tras_pretrain import _unroll

        before = float(
            replay_window_iou(_unroll(model, maps)[0], r, actions=ACTIONS)[r.holdout].mean()
        )
    summary = pretrain_tras(
        model, data, cfg, tmp_path / "warm", objective="gt", gamma=0.9, progress=False
    )
    with torch.no_grad():
        after = float(
            replay_window_iou(_unroll(model, maps)[0], r, actions=ACTIONS)[r.holdout].mean()
        )
    assert after > before + 0.05, (before, after)
    assert summary["best_holdout_iou"] == pytest.approx(after, abs=1e-3)
    assert len(list((tmp_path / "warm").glob("replay_*.pt"))) == 1
    log = (tmp_path / "warm" / "log.jsonl").read_text().splitlines()
    assert len(log) == 12 and '"holdout_iou"' in log[-1]
    # a finished warm start just reloads its best student
    again = TRASStudent(StudentConfig(**SMALL), pretrained=True)
    assert (
        pretrain_tras(
            again, data, cfg, tmp_path / "warm", objective="gt", gamma=0.9, progress=False
        )
        == summary
    )
    for k, v in model.trainable_state_dict().items():
        torch.testing.assert_close(again.state_dict()[k], v)
    loaded = load_student(tmp_path / "warm" / "student_best.pt")
    assert loaded.meta["warm_start"] == summary
    # options that do not change the windows reuse the cached trunk maps
    other = replace(cfg, epochs=1, lr=3e-4, value_coef=0.5, batch_size=4)
    pretrain_tras(
        again,
        data,
        other,
        tmp_path / "other",
        objective="kd-rl",
        gamma=0.9,
        cache_dir=tmp_path / "warm",
        progress=False,
    )
    assert len(list((tmp_path / "warm").glob("replay_*.pt"))) == 1
    assert not list((tmp_path / "other").glob("replay_*.pt"))


def test_warm_start_resumes_and_feeds_a3c(tmp_path: Path, warm_data, one_thread: None) -> None:  # type: ignore[no-untyped-def]
    data = warm_data
    warm = asdict(TRASPretrainConfig(epochs=3, window=4, windows_per_chunk=1, batch_size=8))
    base = dict(
        objective="kd-rl",
        workers=2,
        rounds=1,
        episodes_per_round=2,
        optimizer="adam",
        lr=1e-3,
        multiprocess=False,
        chunk_length=12,
        curriculum={"initial_length": 4, "max_length": 4, "growth": 1, "patience": 2},
        student=SMALL,
    )
    full_cfg = TRASTrainConfig(**base, pretrain=warm)  # type: ignore[arg-type]
    full, path = train_tras(full_cfg, data, tmp_path / "full", progress=False)
    assert path is not None and load_student(path).meta["warm_start"]["best_epoch"] >= 1
    # stop the warm start after 2 epochs, then a second call continues it
    part_cfg = TRASTrainConfig(**base, pretrain={**warm, "epochs": 2})  # type: ignore[arg-type]
    torch.manual_seed(part_cfg.seed)  # as train_tras does before building the student
    model = TRASStudent(StudentConfig(**SMALL), pretrained=True)
    pretrain_tras(
        model,
        data,
        TRASPretrainConfig(**part_cfg.pretrain),
        tmp_path / "part" / "pretrain",
        objective="kd-rl",
        gamma=0.9,
        progress=False,
    )
    (tmp_path / "part" / "pretrain" / "student_best.pt").unlink()
    resumed, _ = train_tras(full_cfg, data, tmp_path / "part", progress=False)

    def epochs(run: str) -> list[dict]:
        lines = (tmp_path / run / "pretrain" / "log.jsonl").read_text().splitlines()
        drop = ("elapsed_s", "epoch_s")
        return [{k: v for k, v in json.loads(x).items() if k not in drop} for x in lines]

    assert len(epochs("part")) == 3  # epochs 1-2, then 3 after the resume
    assert epochs("part") == epochs("full")
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)


def test_bad_warm_start_options() -> None:
    with pytest.raises(ValueError, match="epochs"):
        TRASPretrainConfig(epochs=-1)
    with pytest.raises(ValueError, match="window"):
        TRASPretrainConfig(window=0)
    with pytest.raises(ValueError, match="holdout_fraction"):
        TRASPretrainConfig(holdout_fraction=1.0)
    with pytest.raises(ValueError, match="lr"):
        TRASPretrainConfig(lr=0.0)
    with pytest.raises(TypeError):
        TRASTrainConfig(pretrain={"epochs": 1, "bogus": 2})
