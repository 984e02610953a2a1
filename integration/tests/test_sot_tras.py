"""TRAS student and trackers: shapes, psi/phi through the crops, fusion by value, teacher
failures, batched = one by one, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqrl
from trackkit.data import boxes_to_crop, enlarge_boxes_xywh
from trackkit.sot.tras import StudentConfig, TRASStudent, TRASTracker, student_crops
from trackkit.train import synthetic_training_sequences

SMALL = StudentConfig(crop_size=32, neck_channels=8, hidden=32)


def _student(config: StudentConfig = SMALL, seed: int = 0) -> TRASStudent:
    torch.manual_seed(seed)
    return TRASStudent(config, pretrained=False).eval()


def test_policy_and_value_shapes(one_thread: None) -> None:
    model = _student(StudentConfig())  # the paper's sizes: 128 px crops, 512 units
    crops = torch.randint(0, 256, (3, 2, 128, 128, 3), dtype=torch.uint8)
    mu, v, (h, c) = model(crops)
    assert mu.shape == (3, 4) and v.shape == (3,)
    assert h.shape == c.shape == (3, 512)
    assert bool((mu.abs() <= 1).all())
    _, v2, _ = model(crops, (h, c))  # the LSTM state matters
    assert not torch.allclose(v, v2)
    assert all(not k.startswith("trunk.") for k in model.trainable_state_dict())
    assert not any(p.requires_grad for p in model.trunk.parameters())
    with pytest.raises(ValueError, match="crops must be"):
        model(torch.zeros(3, 128, 128, 3, dtype=torch.uint8))


def test_psi_phi_round_trip_through_the_crops() -> None:
    """phi(g, b) then psi gives g back; a target in reach has its centre inside b's crop, and
    the crop shows the target where boxes_to_crop puts it."""
    rng = np.random.default_rng(0)
    cfg = seqrl.BoxActionConfig()
    for _ in range(20):
        b = np.array([rng.uniform(100, 160), rng.uniform(90, 120), *rng.uniform(20, 40, 2)])
        a = rng.uniform(-0.9, 0.9, 4)
        g = seqrl.apply_box_action(torch.tensor(a), torch.tensor(b), config=cfg)
        back = seqrl.box_action_to_target(torch.tensor(b), g, config=cfg)
        torch.testing.assert_close(back, torch.tensor(a), atol=1e-9, rtol=0)
        frame = np.zeros((240, 320, 3), np.uint8)
        x, y, w, h = g.numpy()
        frame[int(y + 2) : int(y + h - 1), int(x + 2) : int(x + w - 1)] = 255
        crops = student_crops([frame], [frame], b[None], crop_size=128, context=1.5)
        in_crop = boxes_to_crop(g.numpy(), enlarge_boxes_xywh(b, 1.5), 128)
        cx, cy = in_crop[0] + in_crop[2] / 2, in_crop[1] + in_crop[3] / 2
        assert 0 <= cx <= 128 and 0 <= cy <= 128
        ys, xs = np.nonzero(crops[0, 1, :, :, 0] > 128)
        x0, y0 = np.clip(in_crop[:2], 0, 128)  # the visible part of the target in the crop
        x1, y1 = np.clip(in_crop[:2] + in_crop[2:], 0, 128)
        assert abs(xs.mean() - (x0 + x1) / 2) < 4 and abs(ys.mean() - (y0 + y1) / 2) < 4


class _FixedTeacher:
    """A teacher that always reports the same box (or fails in the ways a tracker can)."""

    def __init__(self, box: list[float], behaviour: str = "ok") -> None:
        self.box = np.asarray(box, dtype=np.float64)
        self.behaviour = behaviour
        self.name = f"fixed-{behaviour}"

    def init(self, frame: np.ndarray, box_xywh: np.ndarray) -> None:
        if self.behaviour == "init-raises":
            raise RuntimeError("cannot start")

    def update(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        if self.behaviour == "raises":
            raise RuntimeError("teacher crashed")
        if self.behaviour == "nan":
            return np.full(4, np.nan), True
        if self.behaviour == "lost":
            return self.box.copy(), False
        return self.box.copy(), True


class _BrightnessValue(TRASStudent):
    """A student whose value is the brightness of the current crop (a known value function)."""

    def forward(self, crops, state=None):  # type: ignore[no-untyped-def, override]
        n = crops.shape[0]
        v = crops[:, 1].float().mean(dim=(1, 2, 3))
        zeros = torch.zeros(n, self.config.hidden)
        return torch.zeros(n, 4), v, (zeros, zeros)


def _frame_with_bright(box: list[float]) -> np.ndarray:
    frame = np.full((240, 320, 3), 20, np.uint8)
    x, y, w, h = (int(v) for v in box)
    frame[y : y + h, x : x + w] = 250
    return frame


def test_trasfust_picks_the_teacher_with_the_highest_value() -> None:
    torch.manual_seed(0)
    student = _BrightnessValue(SMALL, pretrained=False).eval()
    dark, bright = [20.0, 20.0, 30.0, 30.0], [200.0, 150.0, 30.0, 30.0]
    frame = _frame_with_bright(bright)
    for order in ((dark, bright), (bright, dark)):
        # the teachers' *previous* boxes are the init box; make a first step move them apart
        trk = TRASTracker(
            student,
            mode="trasfust",
            teachers=[lambda b=order[0]: _FixedTeacher(b), lambda b=order[1]: _FixedTeacher(b)],
            parallel=False,
        )
        trk.init(frame, np.array([100.0, 100.0, 30.0, 30.0]))
        trk.update(frame)  # both teachers now sit on their boxes
        box = trk.update(frame)
        np.testing.assert_allclose(box, bright)
        assert trk.last_choice[0] == 1 + order.index(bright)


def test_trast_keeps_the_student_unless_the_teacher_is_rated_higher() -> None:
    torch.manual_seed(0)
    student = _BrightnessValue(SMALL, pretrained=False).eval()
    bright = [200.0, 150.0, 30.0, 30.0]
    frame = _frame_with_bright(bright)
    trk = TRASTracker(
        student, mode="trast", teachers=[lambda: _FixedTeacher(bright)], parallel=True
    )
    trk.init(frame, np.array([20.0, 20.0, 30.0, 30.0]))  # the student starts in the dark
    first = trk.update(frame)  # the teacher's previous box is the same dark init box: tie
    np.testing.assert_allclose(first, [20.0, 20.0, 30.0, 30.0])  # ties keep the student
    second = trk.update(frame)  # now the teacher's previous box is bright: it wins
    np.testing.assert_allclose(second, bright)
    assert trk.last_choice[0] == 1
    trk.close()


def test_hysteresis_margin_keeps_the_previous_teacher() -> None:
    """margin > 0: stay with the previous choice unless another value beats it by more than
    the margin (distill.fuse_by_value); margin 0 is eq. 8. last_values holds the values."""
    student = _BrightnessValue(SMALL, pretrained=False).eval()
    dim, bright = [20.0, 20.0, 30.0, 30.0], [200.0, 150.0, 30.0, 30.0]
    frame = _frame_with_bright(bright)
    frame[20:50, 20:50] = 240  # the first teacher's box is almost as bright (crop mean lower)
    choices = {}
    for margin in (0.0, 1e6):
        trk = TRASTracker(
            student,
            mode="trasfust",
            teachers=[lambda: _FixedTeacher(dim), lambda: _FixedTeacher(bright)],
            parallel=False,
            margin=margin,
        )
        trk.init(frame, np.array([100.0, 100.0, 30.0, 30.0]))
        trk.update(frame)  # same previous boxes: a tie, the first teacher
        assert trk.last_choice[0] == 1
        trk.update(frame)
        assert trk.last_values.shape == (1, 3)
        assert trk.last_values[0, 2] > trk.last_values[0, 1]
        choices[margin] = int(trk.last_choice[0])
    assert choices == {0.0: 2, 1e6: 1}
    with pytest.raises(ValueError, match="margin"):
        TRASTracker(student, mode="trasfust", teachers=["csrt"], margin=-1.0)


def _replayed_pool(seq: object, k: int, seed: int) -> list[object]:
    """``k`` replayed teachers: the ground truth with independent noise (never failing)."""
    from distill import ReplayTeacher

    rng = np.random.default_rng(seed)
    gt = np.asarray(seq.boxes_xywh, dtype=np.float64)  # type: ignore[attr-defined]
    runs = [gt + rng.normal(0, 3.0, gt.shape) * [1, 1, 0.3, 0.3] for _ in range(k)]
    return [lambda b=b, i=i: ReplayTeacher(b, name=f"r{i}") for i, b in enumerate(runs)]


def _choices_and_values(trk: TRASTracker, seq: object) -> tuple[np.ndarray, np.ndarray]:
    trk.init(seq[0], seq.boxes_xywh[0])  # type: ignore[index, attr-defined]
    choices, values = [], []
    for t in range(1, len(seq)):  # type: ignore[arg-type]
        trk.update(seq[t])  # type: ignore[index]
        choices.append(trk.last_choice.copy())
        values.append(trk.last_values.copy())
    return np.stack(choices), np.stack(values)


@pytest.mark.parametrize("margin", [0.0, 0.02])
def test_value_ema_choice_follows_a_frame_loop_over_the_trackers_values(margin: float) -> None:
    """TRASFUST with ``value_ema``: each frame's choice is eq. 8 (with the hysteresis margin)
    on the moving average of the values the tracker computed (``last_values``), recomputed
    here by a plain loop; ``value_ema=0`` (the default without ``fusion_value_ema``) tracks
    bit for bit as before."""
    seq = synthetic_training_sequences(1, length=30, seed=79)[0]
    student = _student(seed=3)
    with torch.no_grad():  # an untrained head's values differ by 1e-7; make them differ by 0.05
        student.value.weight.mul_(1e5)
    pool = _replayed_pool(seq, 3, seed=4)

    def make(**kw: float) -> TRASTracker:
        return TRASTracker(student, mode="trasfust", teachers=pool, parallel=False, **kw)

    base = make(margin=margin)
    assert base.value_ema == 0.0
    c0, v0 = _choices_and_values(base, seq)
    c1, v1 = _choices_and_values(make(margin=margin, value_ema=0.0), seq)
    np.testing.assert_array_equal(c0, c1)
    np.testing.assert_array_equal(v0, v1)
    alpha = 0.8
    choices, values = _choices_and_values(make(margin=margin, value_ema=alpha), seq)
    s = values[0, 0].copy()
    prev = -1
    for t in range(len(values)):  # item 0, teachers 1..3 (all valid: the student is not)
        v = values[t, 0]
        s = v.copy() if t == 0 else alpha * s + (1 - alpha) * v
        best = 1 + int(np.argmax(s[1:]))
        if margin > 0 and prev >= 0 and s[best] <= s[prev] + margin:
            best = prev
        assert choices[t, 0] == best, t
        prev = best
    assert (choices != c0).any()  # the smoothing changed some choices
    assert trk_switches(choices) < trk_switches(c0)  # and switched less often here


def trk_switches(choices: np.ndarray) -> int:
    return int((np.diff(choices[:, 0]) != 0).sum())


def test_value_ema_option_and_its_default() -> None:
    student = _student()
    assert TRASTracker(student, mode="trasfust", teachers=["kcf"]).value_ema == 0.0
    assert TRASTracker(student, mode="trasfust", teachers=["kcf"], value_ema=0.5).value_ema == 0.5
    student.meta = {"fusion_value_ema": 0.8}
    assert TRASTracker(student, mode="trasfust", teachers=["kcf"]).value_ema == 0.8
    assert TRASTracker(student, mode="trast", teachers=["kcf"]).value_ema == 0.0  # TRASFUST's
    for bad in (1.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match=r"value_ema must lie in \[0, 1\)"):
            TRASTracker(student, mode="trasfust", teachers=["kcf"], value_ema=bad)
    with pytest.raises(TypeError, match="value_ema must be a number"):
        TRASTracker(student, mode="trasfust", teachers=["kcf"], value_ema="0.5")  # type: ignore[arg-type]


@pytest.mark.parametrize("behaviour", ["raises", "nan", "lost", "init-raises"])
def test_a_failing_teacher_is_dropped_for_the_frame(behaviour: str) -> None:
    student = _BrightnessValue(SMALL, pretrained=False).eval()
    bright = [200.0, 150.0, 30.0, 30.0]
    frame = _frame_with_bright(bright)
    trk = TRASTracker(
        student,
        mode="trasfust",
        teachers=[
            lambda: _FixedTeacher([20, 20, 30, 30], behaviour),
            lambda: _FixedTeacher(bright),
        ],
        parallel=False,
    )
    trk.init(frame, np.array([100.0, 100.0, 30.0, 30.0]))
    for _ in range(3):
        box = trk.update(frame)
        assert np.isfinite(box).all()
    np.testing.assert_allclose(box, bright)


def test_trasfust_without_any_valid_teacher_falls_back_to_the_student() -> None:
    student = _student()
    frame = _frame_with_bright([200.0, 150.0, 30.0, 30.0])
    trk = TRASTracker(
        student, mode="trasfust", teachers=[lambda: _FixedTeacher([1, 1, 5, 5], "raises")]
    )
    tras = TRASTracker(student, mode="tras")
    init = np.array([100.0, 100.0, 30.0, 30.0])
    trk.init(frame, init)
    tras.init(frame, init)
    for _ in range(3):
        np.testing.assert_allclose(trk.update(frame), tras.update(frame), atol=1e-9)
    assert trk.last_choice[0] == 0


def test_batched_tracking_equals_one_by_one(one_thread: None) -> None:
    seqs = synthetic_training_sequences(3, length=12, seed=77)
    student = _student()
    for mode, teachers in (("tras", None), ("trast", ["kcf"])):
        batched = TRASTracker(student, mode=mode, teachers=teachers, parallel=False)
        batched.init_batch([s[0] for s in seqs], np.stack([s.boxes_xywh[0] for s in seqs]))
        out = [batched.update_batch([s[t] for s in seqs]) for t in range(1, 12)]
        for i, s in enumerate(seqs):
            single = TRASTracker(student, mode=mode, teachers=teachers, parallel=False)
            single.init(s[0], s.boxes_xywh[0])
            for t in range(1, 12):
                np.testing.assert_allclose(single.update(s[t]), out[t - 1][i], atol=1e-3, rtol=0)


def test_lstm_state_resets_to_the_first_state_every_32_frames() -> None:
    student = _student(StudentConfig(crop_size=32, neck_channels=8, hidden=32, reset_every=4))
    frame = _frame_with_bright([100.0, 100.0, 40.0, 40.0])
    trk = TRASTracker(student)
    trk.init(frame, np.array([100.0, 100.0, 40.0, 40.0]))
    trk.update(frame)
    first = trk._first_state
    assert first is not None
    for _ in range(3):
        trk.update(frame)
    assert not torch.equal(trk._state[0], first[0])  # type: ignore[index]
    # frame 5 starts from the state after frame 1: it repeats frame 2's step exactly
    trk2 = TRASTracker(student)
    trk2.init(frame, np.array([100.0, 100.0, 40.0, 40.0]))
    trk2.update(frame)
    trk2._boxes = trk._boxes.copy()
    trk2._prev = trk._prev
    expected = trk2.update(frame)
    np.testing.assert_allclose(trk.update(frame), expected, atol=1e-9)


def test_bad_input() -> None:
    student = _student()
    frame = np.zeros((100, 100, 3), np.uint8)
    trk = TRASTracker(student)
    with pytest.raises(ValueError, match="outside"):
        trk.init(frame, np.array([200.0, 200.0, 10.0, 10.0]))
    with pytest.raises(ValueError, match="positive width"):
        trk.init(frame, np.array([10.0, 10.0, 0.0, 10.0]))
    with pytest.raises(ValueError, match="finite"):
        trk.init(frame, np.array([np.nan, 10.0, 5.0, 10.0]))
    with pytest.raises(RuntimeError, match="init"):
        TRASTracker(student).update(frame)
    with pytest.raises(ValueError, match="empty pool"):
        TRASTracker(student, mode="trasfust", teachers=[])
    with pytest.raises(ValueError, match="exactly one"):
        TRASTracker(student, mode="trast", teachers=["csrt", "kcf"])
    with pytest.raises(ValueError, match="unknown teacher"):
        TRASTracker(student, mode="trasfust", teachers=["siamrpn"])
    with pytest.raises(ValueError, match="alone"):
        TRASTracker(student, mode="tras", teachers=["kcf"])
    with pytest.raises(ValueError, match="mode"):
        TRASTracker(student, mode="fusion")
    trk.init(frame, np.array([10.0, 10.0, 20.0, 20.0]))
    with pytest.raises(ValueError, match="changed size"):
        trk.update(np.zeros((50, 100, 3), np.uint8))


def test_the_inference_copy_tracks_like_the_trained_student(one_thread: None) -> None:
    seq = synthetic_training_sequences(1, length=10, seed=78)[0]
    student = _student(StudentConfig(crop_size=64, neck_channels=8, hidden=32))
    boxes = []
    for fast in (False, True):
        trk = TRASTracker(student, fast=fast)
        trk.init(seq[0], seq.boxes_xywh[0])
        boxes.append(np.stack([trk.update(seq[t]) for t in range(1, 10)]))
    np.testing.assert_allclose(boxes[0], boxes[1], atol=1e-2, rtol=0)
    assert not student.channels_last  # the trained student is left as it was


def test_registry_builds_the_tras_family_with_the_shipped_student() -> None:
    from trackkit.registry import make_tracker, tracker_names
    from trackkit.sot.tras import load_student, shipped_student_path

    assert shipped_student_path().is_file()
    assert load_student().meta["objective"] == "kd-rl"
    assert {"tras", "trast", "trasfust"} <= set(tracker_names("sot"))
    trk = make_tracker("trasfust", teachers="csrt,kcf", parallel=False)
    assert isinstance(trk, TRASTracker) and trk.mode == "trasfust"
    assert trk.teacher_specs == ["csrt", "kcf"]
    assert make_tracker("trast").teacher_specs == ["csrt"]
    # TRASFUST's default pool is the one the shipped head and margin were chosen for
    shipped = make_tracker("trasfust", parallel=False)
    assert shipped.teacher_specs == list(load_student().meta["fusion_pool"])
    assert shipped.margin == load_student().meta["fusion_margin"]
    assert shipped.value_ema == load_student().meta.get("fusion_value_ema", 0.0)
    assert make_tracker("trasfust", teachers="kcf", value_ema=0.5).value_ema == 0.5
    student = _student()
    assert TRASTracker(student, mode="trasfust").teacher_specs == [
        "csrt",
        "kcf",
        "mil",
        "medianflow",
    ]
    student.meta = {"fusion_pool": ["csrt", "mil"]}
    assert TRASTracker(student, mode="trasfust").teacher_specs == ["csrt", "mil"]
    with pytest.raises(ValueError, match="unknown teacher"):
        make_tracker("trast", teachers="goturn")


def test_deep_tracker_teacher_gives_the_trackers_boxes(one_thread: None) -> None:
    """``retina-maml`` as a teacher (``distill.TrackerTeacher``) reproduces the tracker run
    directly; TRASFUST takes it in a pool next to an OpenCV teacher."""
    from distill import TrackerTeacher
    from trackkit.registry import make_tracker
    from trackkit.sot.tras import DEEP_TEACHERS, make_teacher, parse_teachers

    assert parse_teachers("CSRT, retina-maml") == ("csrt", "retina-maml")
    assert set(DEEP_TEACHERS) == {"retina-maml", "fcos-maml"}
    seq = synthetic_training_sequences(1, length=5, seed=3)[0]
    teacher = make_teacher("retina-maml")
    assert isinstance(teacher, TrackerTeacher) and teacher.name == "retina-maml"
    direct = make_tracker("retina-maml")
    teacher.init(seq[0], seq.boxes_xywh[0])
    direct.init(seq[0], seq.boxes_xywh[0])
    for t in range(1, 4):
        box, ok = teacher.update(seq[t])
        assert ok
        # Bit for bit, also after other tests in the same process (a detector shared by threads
        # once had its head weights swapped by a concurrent functional_call; see docs/tras.md).
        want = direct.update(seq[t])
        assert np.isfinite(box).all() and np.array_equal(box, want), (box, want)
    trk = TRASTracker(_student(), mode="trasfust", teachers=["csrt", "retina-maml"], parallel=True)
    trk.init(seq[0], seq.boxes_xywh[0])
    for t in range(1, 4):
        assert np.isfinite(trk.update(seq[t])).all()
    trk.close()
