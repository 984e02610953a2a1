"""A student tracker distilled from teachers of your choice with `distill`, fused by value.

Teachers are anything with ``name``, ``init(frame, box_xywh)`` and ``update(frame) ->
(box_xywh, ok)`` (the `distill.Teacher` protocol): OpenCV trackers by name, and a template
matcher written below as an example of your own. A `distill.TeacherPool` runs them over the
training sequences (cached on disk). The student is a small network that looks at a crop around
a box and predicts a relative box action (how to move that box onto the target) and a value
(how good that box is). It learns the actions from the best teacher of each frame
(`distill.select_best_teacher`, eq. 4, converted to actions by `seqrl.box_action_to_target`)
with the masked action-distillation loss (eq. 3, Dunnhofer et al. 2020) and the values from the
quantised IoU reward (eq. 2). At test time the student tracks alone, or its value head picks
among its own box and the teachers' boxes (`distill.fuse_by_value`, TRAST's rule with several
teachers), or among the teachers' boxes only (TRASFUST).

    python examples/distill_student.py --teachers KCF CSRT MedianFlow template
    python examples/distill_student.py --video clip.mp4 --init 120,80,40,60 --boxes boxes.txt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor, nn

import distill
import seqrl
from trackkit.data import crop_and_resize, enlarge_boxes_xywh, open_frames, synthetic_sot_sequence
from trackkit.eval import run_sot_benchmark, sot_results_table, write_otb_results

CROP = 64  # student input side (px); the crop covers CONTEXT times the box
CONTEXT = 2.0
ACTIONS = seqrl.BoxActionConfig()


class TemplateTeacher:
    """Your own teacher: normalised cross-correlation with the first-frame template."""

    name = "template"

    def init(self, frame: np.ndarray, box_xywh) -> None:
        x, y, w, h = (round(float(v)) for v in box_xywh)
        self.template = frame[max(y, 0) : y + h, max(x, 0) : x + w].copy()
        self.box = np.array([x, y, self.template.shape[1], self.template.shape[0]], float)

    def update(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        response = cv2.matchTemplate(frame, self.template, cv2.TM_CCOEFF_NORMED)
        _, peak, _, (x, y) = cv2.minMaxLoc(response)
        self.box = np.array([x, y, *self.box[2:]], float)
        return self.box.copy(), bool(peak > 0.3)


def make_teachers(names: list[str]) -> list:
    return [TemplateTeacher() if n == "template" else distill.OpenCVTeacher(n) for n in names]


class Student(nn.Module):
    """Exemplar + current crop (6 channels) -> box action ``[4]`` in [-1, 1] and value."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(6, 16, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 16, 1),  # keep the 8x8 layout: where the target is matters
            nn.Flatten(),
            nn.Linear(16 * 8 * 8, 128),
            nn.ReLU(),
        )
        self.action = nn.Linear(128, 4)
        self.value = nn.Linear(128, 1)

    def forward(self, exemplar: Tensor, crops: Tensor) -> tuple[Tensor, Tensor]:
        x = torch.cat([exemplar, crops], dim=1).float() / 255.0 - 0.5
        h = self.trunk(x)
        return torch.tanh(self.action(h)), torch.tanh(self.value(h))[:, 0]


def crops_around(frame: np.ndarray, boxes_xywh: np.ndarray) -> Tensor:
    """``uint8 Tensor[n, 3, CROP, CROP]``: crops of ``CONTEXT`` times each box."""
    regions = enlarge_boxes_xywh(np.asarray(boxes_xywh, float).reshape(-1, 4), CONTEXT)
    return torch.as_tensor(crop_and_resize(frame, regions, CROP)).permute(0, 3, 1, 2)


def reward(boxes: Tensor, gt: Tensor) -> Tensor:
    """Eq. 2 of Dunnhofer et al. 2020: quantised IoU reward in [-1, 1]."""
    return seqrl.quantised_iou_reward(seqrl.box_iou_xywh(boxes, gt))


def transfer_samples(seqs, teachers, cache: Path, rng: np.random.Generator):
    """Per frame: crops around teachers' boxes and jittered truths, best-teacher boxes, truth."""
    pool = distill.TeacherPool(teachers, cache_dir=cache)
    ex, crops, boxes, best, truth = [], [], [], [], []
    for seq in seqs:
        frames = [seq[t] for t in range(len(seq))]
        runs = pool.run(frames, seq.boxes_xywh[0], sequence=seq.name)
        tb = torch.as_tensor(np.stack([r.boxes_xywh for r in runs.values()], axis=1))  # [T, N, 4]
        gt = torch.tensor(seq.boxes_xywh)
        choice = distill.select_best_teacher(tb, gt)  # eq. 4, per frame
        exemplar = crops_around(frames[0], seq.boxes_xywh[0])
        for t in range(1, len(seq)):
            jitter = rng.normal(0, 0.15, (4, 4)) * np.tile(seq.boxes_xywh[t, 2:], 2)
            start = np.concatenate([tb[t - 1].numpy(), seq.boxes_xywh[t] + jitter])
            start[:, 2:] = np.maximum(start[:, 2:], 4.0)
            crops.append(crops_around(frames[t], start))
            ex.append(exemplar.expand(len(start), -1, -1, -1))
            boxes.append(torch.as_tensor(start))
            best.append(choice.boxes_xywh[t].expand(len(start), 4))
            truth.append(gt[t].expand(len(start), 4))
    return [torch.cat(v) for v in (ex, crops, boxes, best, truth)]


def distil(student: Student, samples, iters: int, batch: int, rng) -> None:
    ex, crops, boxes, best, truth = samples
    opt = torch.optim.Adam(student.parameters(), lr=1e-3)
    for _ in range(iters):
        i = torch.as_tensor(rng.integers(0, len(ex), batch))
        actions, values = student(ex[i], crops[i])
        teacher_actions = seqrl.box_action_to_target(boxes[i], best[i], config=ACTIONS)  # phi
        with torch.no_grad():
            moved = seqrl.apply_box_action(actions.double(), boxes[i], config=ACTIONS)  # psi
            mask = distill.action_distillation_mask(
                reward(moved, truth[i]), reward(best[i], truth[i])
            )
        l_action = distill.masked_action_distillation_loss(actions, teacher_actions.float(), mask)
        l_value = ((values - reward(boxes[i], truth[i]).float()) ** 2).mean()
        opt.zero_grad()
        (l_action + l_value).backward()
        opt.step()


class StudentTracker:
    """The student alone, or fused by value with teachers (TRAST; TRASFUST without the student)."""

    def __init__(self, student: Student, teachers: list | None = None, *, own_box: bool = True):
        self.student, self.teachers, self.own_box = student, teachers or [], own_box

    @torch.no_grad()
    def init(self, frame: np.ndarray, box_xywh) -> None:
        self.box = np.asarray(box_xywh, dtype=np.float64)
        self.exemplar = crops_around(frame, self.box)
        for t in self.teachers:
            t.init(frame, self.box)

    @torch.no_grad()
    def update(self, frame: np.ndarray) -> np.ndarray:
        cands, valid = [], []
        if self.own_box:  # the student's action applied to its previous box
            action, _ = self.student(self.exemplar, crops_around(frame, self.box))
            own = seqrl.apply_box_action(
                action.double(), torch.tensor(self.box[None]), config=ACTIONS
            )
            cands, valid = [own[0].numpy()], [True]
        for teacher in self.teachers:
            box, ok = teacher.update(frame)
            cands.append(np.maximum(np.asarray(box, float), [-1e9, -1e9, 1.0, 1.0]))
            valid.append(bool(ok))
        if len(cands) > 1:  # the value head picks a box; index 0 wins ties
            _, values = self.student(self.exemplar.expand(len(cands), -1, -1, -1),
                                     crops_around(frame, np.stack(cands)))  # fmt: skip
            valid[0] = valid[0] or not any(valid)  # keep one candidate
            choice = distill.fuse_by_value(
                torch.tensor(np.stack(cands)), values.double(), valid=torch.tensor(valid)
            )
            self.box = choice.boxes_xywh.numpy().copy()
        else:
            self.box = cands[0].copy()
        return self.box


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--teachers", nargs="+", default=["KCF", "CSRT", "MedianFlow", "template"],
                        help="OpenCV tracker kinds and/or 'template'")  # fmt: skip
    parser.add_argument("--frames", type=int, default=60, help="frames per synthetic sequence")
    parser.add_argument("--train-seqs", type=int, default=10)
    parser.add_argument("--eval-seqs", type=int, default=6)
    parser.add_argument("--iters", type=int, default=1500, help="distillation steps")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("runs/examples/teachers"))
    parser.add_argument("--video", type=Path, help="your video or image folder to track")
    parser.add_argument("--init", help="x,y,w,h (0-based) of the target in the first frame")
    parser.add_argument("--boxes", type=Path, help="write the fused tracker's boxes here")
    args = parser.parse_args(argv)
    if args.video is not None and args.init is None:
        parser.error("--video needs --init x,y,w,h")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    train = [
        synthetic_sot_sequence(length=args.frames, seed=1000 + i) for i in range(args.train_seqs)
    ]
    held_out = [synthetic_sot_sequence(length=args.frames, seed=i) for i in range(args.eval_seqs)]
    samples = transfer_samples(train, make_teachers(args.teachers), args.cache, rng)
    student = Student()
    distil(student, samples, args.iters, args.batch, rng)
    print(
        f"distilled from {', '.join(args.teachers)}: {len(samples[0])} samples, {args.iters} steps"
    )

    runs = [run_sot_benchmark(lambda k=k: make_teachers([k])[0], held_out, name=k, progress=False)
            for k in args.teachers]  # fmt: skip
    runs.append(run_sot_benchmark(lambda: StudentTracker(student), held_out, name="student",
                                  progress=False))  # fmt: skip
    fused = lambda: StudentTracker(student, make_teachers(args.teachers))  # noqa: E731
    runs.append(run_sot_benchmark(fused, held_out, name="student+teachers (fused by value)",
                                  progress=False))  # fmt: skip
    only = lambda: StudentTracker(student, make_teachers(args.teachers), own_box=False)  # noqa: E731
    runs.append(run_sot_benchmark(only, held_out, name="teachers fused by value",
                                  progress=False))  # fmt: skip
    print(sot_results_table(runs))

    if args.video is not None:
        frames = open_frames(args.video)
        tracker = fused()
        boxes = [np.array([float(v) for v in args.init.split(",")])]
        tracker.init(frames[0], boxes[0])
        boxes += [tracker.update(frames[t]) for t in range(1, len(frames))]
        if args.boxes is not None:
            write_otb_results(args.boxes, np.stack(boxes), coordinate_base=0)
        print(f"{args.video}: tracked {len(frames)} frames, last box {np.round(boxes[-1], 1)}")
    return {r.tracker: r.mean.auc for r in runs}


if __name__ == "__main__":
    main()
