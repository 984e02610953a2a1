"""The optimised TRAS path (one host copy per frame, unchecked library calls on the device, the
inference copy's packed LSTM, the fast crop fill) against slow, obvious references.

- the tracker: a per-sequence reference that follows Dunnhofer et al. 2020 (Sec. 3.5, eq. 8)
  step by step with host tensors and the checked ``seqrl`` / ``distill`` calls, fed by the same
  student: the same boxes within 1e-4 px over 40 frames (past the LSTM reset at 32), for TRAS,
  TRAST and TRASFUST, batch 2, teachers that fail now and then;
- the packed LSTM step against ``nn.LSTMCell``, one step from the same inputs (a closed-loop
  run is not compared with the trained student's: float-rounding differences of the inference
  copy grow with the frames, see docs/tras.md);
- the crops' pad colour (the frame mean through ``cv2.sumElems``) against numpy's mean.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqrl
from distill import ReplayTeacher, fuse_by_value
from trackkit.data import crop_and_resize
from trackkit.sot.tras import (
    StudentConfig,
    TRASStudent,
    TRASTracker,
    clamp_box_centre,
    clamp_box_size,
    student_crops,
)
from trackkit.train import synthetic_training_sequences

CFG = StudentConfig(crop_size=48, neck_channels=8, hidden=32)
FRAMES = 40


class _Reference:
    """``B`` sequences, the pre-optimisation algorithm written out: one student forward over all
    candidate states (the same batch as the tracker's, so the same float rounding), then plain
    per-sequence Python with host tensors and the checked ``seqrl`` / ``distill`` calls."""

    def __init__(
        self, student: TRASStudent, mode: str, teachers: list[list], **average: float
    ) -> None:
        self.student, self.mode, self.teachers = student, mode, teachers
        self.average = average  # fuse_by_value's average_iou / average_temperature
        cfg = student.config
        self.actions = seqrl.BoxActionConfig(cfg.max_shift, cfg.max_scale)

    def init(self, frames: list[np.ndarray], boxes: np.ndarray) -> None:
        for row, frame, box in zip(self.teachers, frames, boxes):
            for t in row:
                t.init(frame, box)
        self.boxes = [torch.tensor(b, dtype=torch.float64) for b in boxes]
        self.teacher_boxes = [[b.clone() for _ in row] for b, row in zip(self.boxes, self.teachers)]
        self.prev = list(frames)
        self.state: tuple[torch.Tensor, torch.Tensor] | None = None
        self.first: tuple[torch.Tensor, torch.Tensor] | None = None
        self.t = 0

    @torch.no_grad()
    def update(self, frames: list[np.ndarray]) -> np.ndarray:
        cfg = self.student.config
        self.t += 1
        if self.t > 1 and (self.t - 1) % cfg.reset_every == 0:
            self.state = self.first
        cand_prev = [[b, *tb] for b, tb in zip(self.boxes, self.teacher_boxes)]
        n = len(cand_prev[0])
        crops = student_crops(
            [f for f in self.prev for _ in range(n)],
            [f for f in frames for _ in range(n)],
            torch.stack([b for row in cand_prev for b in row]).numpy(),
            crop_size=cfg.crop_size,
            context=cfg.context,
        )
        state = None
        if self.state is not None:
            state = (
                self.state[0].repeat_interleave(n, dim=0),
                self.state[1].repeat_interleave(n, dim=0),
            )
        mu, v, (h, c) = self.student(torch.from_numpy(crops), state)
        new_h, new_c = [], []
        for i, frame in enumerate(frames):
            rows = range(i * n, (i + 1) * n)
            values = []  # candidates from the same previous box: one state, one value
            for j in range(n):
                first = next(m for m in range(n) if torch.equal(cand_prev[i][m], cand_prev[i][j]))
                values.append(float(v[rows[first]]))
            wh = torch.tensor([frame.shape[1], frame.shape[0]], dtype=torch.float64)
            own = seqrl.apply_box_action(mu[rows[0]].double(), self.boxes[i], config=self.actions)
            own = clamp_box_centre(clamp_box_size(own, wh), wh)
            cands, valid = [own], [True]
            for j, teacher in enumerate(self.teachers[i]):
                box, ok = teacher.update(frame)
                good = bool(ok) and bool(np.isfinite(box).all())
                cands.append(torch.tensor(box, dtype=torch.float64) if good else own)
                valid.append(good)
                if good:
                    self.teacher_boxes[i][j] = cands[-1]
            if self.mode == "trasfust":  # eq. 8; the student only when no teacher is valid
                valid[0] = not any(valid[1:])
            choice = fuse_by_value(
                torch.stack(cands), torch.tensor(values, dtype=torch.float64),
                valid=torch.tensor(valid), **self.average,
            )  # fmt: skip
            k = int(choice.candidate_index)
            self.boxes[i] = choice.boxes_xywh
            new_h.append(h[rows[k]])
            new_c.append(c[rows[k]])
        self.state = (torch.stack(new_h), torch.stack(new_c))
        if self.t == 1:
            self.first = self.state
        self.prev = list(frames)
        return torch.stack(self.boxes).numpy().copy()


def _teacher_boxes(seq, seed: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Ground truth with noise and failures (NaN rows: the teacher reports ``ok=False``)."""
    rng = np.random.default_rng(seed)
    boxes = seq.boxes_xywh + rng.normal(0, 3, seq.boxes_xywh.shape) * [1, 1, 0.3, 0.3]
    boxes[1:][rng.random(len(boxes) - 1) < 0.15] = np.nan
    return boxes


@pytest.mark.parametrize(
    ("mode", "average"),
    [
        ("tras", {}),
        ("trast", {}),
        ("trasfust", {}),
        ("trasfust", {"average_iou": 0.6, "average_temperature": 0.1}),  # round 11
    ],
)
def test_optimised_tracker_gives_the_reference_boxes(
    mode: str, average: dict[str, float], one_thread: None
) -> None:
    torch.manual_seed(3)
    student = TRASStudent(CFG, pretrained=False).eval()
    with torch.no_grad():  # a policy that moves boxes, so that the runs could diverge
        student.policy.weight.mul_(20.0)
    seqs = synthetic_training_sequences(2, length=FRAMES + 1, seed=91)
    k = {"tras": 0, "trast": 1, "trasfust": 2}[mode]
    replays = [[_teacher_boxes(s, 10 * i + j) for j in range(k)] for i, s in enumerate(seqs)]

    def teachers() -> list[list[ReplayTeacher]]:
        return [[ReplayTeacher(r, name=f"r{j}") for j, r in enumerate(row)] for row in replays]

    made = teachers()  # init_batch calls factory j for sequence 0, then for sequence 1
    queues = [iter([made[i][j] for i in range(len(seqs))]) for j in range(k)]
    trk = TRASTracker(
        student,
        mode=mode,
        teachers=[lambda q=q: next(q) for q in queues] if k else None,
        parallel=False,
        **average,  # type: ignore[arg-type]
    )
    ref = _Reference(trk.student, mode, teachers(), **average)  # the same (inference) student copy
    first = [s[0] for s in seqs]
    init = np.stack([s.boxes_xywh[0] for s in seqs])
    trk.init_batch(first, init)
    ref.init(first, init)
    moved, chosen = 0.0, set()
    for t in range(1, FRAMES + 1):
        frames = [s[t] for s in seqs]
        out = trk.update_batch(frames)
        np.testing.assert_allclose(out, ref.update(frames), atol=1e-4, rtol=0, err_msg=f"t={t}")
        moved = max(moved, float(np.abs(out - init).max()))
        chosen |= set(trk.last_choice.tolist())
    assert moved > 5.0  # the boxes moved: the comparison is not between two idle trackers
    if k:
        assert len(chosen) > 1  # the student and a teacher were each chosen at some frame


def test_packed_lstm_step_matches_lstm_cell(one_thread: None) -> None:
    torch.manual_seed(4)
    student = TRASStudent(StudentConfig(crop_size=32, neck_channels=8, hidden=64), pretrained=False)
    fast = student.for_inference()
    assert fast.fused_lstm and not student.fused_lstm
    assert fast.trainable_state_dict().keys() == student.trainable_state_dict().keys()
    x = torch.randn(5, 64)
    for state in (None, (torch.randn(5, 64), torch.randn(5, 64))):
        mu, v, (h, c) = student.step(x, state)
        mu2, v2, (h2, c2) = fast.step(x, state)
        for a, b in ((mu, mu2), (v, v2), (h, h2), (c, c2)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_crop_pad_colour_is_the_frame_mean_exactly() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        frame = rng.integers(0, 256, (rng.integers(5, 300), rng.integers(5, 300), 3), np.uint8)
        region = np.array([-40.0, -30.0, 50.0, 45.0])  # mostly outside: mostly padding
        mean = frame.reshape(-1, 3).mean(axis=0)
        fast = crop_and_resize(frame, region, 16)
        slow = crop_and_resize(frame, region, 16, pad_value=mean)
        np.testing.assert_array_equal(fast, slow)
