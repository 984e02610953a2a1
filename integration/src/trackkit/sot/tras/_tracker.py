"""TRAS, TRAST and TRASFUST trackers (Dunnhofer et al. 2020, Sec. 3.5 and Fig. 3).

All three run the student on ``B`` sequences at once (one batched forward per frame over every
sequence and every candidate state):

- ``tras``: ``b_t = psi(s_pi(s_t), b_{t-1})`` with the student's own state only;
- ``trast``: the student and one teacher; the value head rates the student's state
  ``rho(F_{t-1}, F_t, b_{t-1})`` and the teacher's ``rho(F_{t-1}, F_t, b^(t)_{t-1})``; the
  student's box is kept when ``v_t >= v_t^(t)``, else the teacher's box is output and the
  student continues from it (``distill.fuse_by_value`` with the student at index 0);
- ``trasfust``: the teacher whose state has the highest value gives the box (eq. 8);
  optionally (``average_iou``, not in the paper) averaged with the boxes of the teachers that
  agree with it.

Candidates built from the same previous box (after TRAST handed control to its teacher, or at
the first frame) are the same state and get the value of the first of them, so a tie keeps the
student (TRAST's ``v_t >= v_t^(t)``) or the first such teacher whatever the float rounding of
the batched forward. The LSTM continues from the chosen candidate's state and returns every
``reset_every`` (32)
frames to its state after the first prediction (Gordon et al. 2018). The student's box keeps
its sides in ``[MIN_BOX_SIDE, 2 x frame side]`` and its centre inside the frame
(``clamp_box_size``, ``clamp_box_centre``; not in the paper): a target that leaves the frame
leaves a box across the border, never one drifting away. Candidate states are
built from the previous boxes, so teachers track frame ``t`` in threads while the student
computes (``parallel=True``; OpenCV releases the GIL). A teacher that raises, reports
``ok=False`` or returns a non-finite or empty box is dropped for that frame and kept for the
next ones (its previous box is kept); when a TRASFUST pool has no valid teacher in a frame the
student's own box is the documented fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeAlias

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

import seqrl
from distill import Teacher, check_box_xywh, check_frame, fuse_by_value
from trackkit._torchutil import resolve_device
from trackkit.sot.tras._boxes import clamp_box_centre, clamp_box_size
from trackkit.sot.tras._checkpoint import load_student
from trackkit.sot.tras._student import TRASStudent, student_crops
from trackkit.sot.tras._teachers import DEFAULT_TEACHERS, make_teacher, parse_teachers

__all__ = ["MODES", "TRASTracker", "TeacherSpec"]

#: Tracker modes.
MODES: tuple[str, ...] = ("tras", "trast", "trasfust")

#: A teacher given by short name (``trackkit.sot.tras.TEACHER_NAMES``) or a zero-argument
#: factory returning a fresh ``distill.Teacher``.
TeacherSpec: TypeAlias = str | Callable[[], Teacher]


def _new_teacher(spec: TeacherSpec) -> Teacher:
    return make_teacher(spec) if isinstance(spec, str) else spec()


def _teacher_update(teacher: Teacher | None, frame: NDArray[np.uint8]) -> tuple[Any, bool]:
    """One teacher step; ``(box, ok)`` with ok False on failure, exception or a bad box."""
    if teacher is None:
        return None, False
    try:
        box, ok = teacher.update(frame)
        b = np.asarray(box, dtype=np.float64).reshape(-1)
    except Exception:
        return None, False
    good = bool(ok) and b.shape == (4,) and bool(np.isfinite(b).all()) and bool((b[2:] > 0).all())
    return (b if good else None), good


class TRASTracker:
    """TRAS / TRAST / TRASFUST over ``B`` sequences (``init_batch`` / ``update_batch``), or one
    sequence through the ``init(frame, box)`` / ``update(frame)`` protocol.

    Args:
        student: a :class:`TRASStudent`; default the shipped one (``load_student()``).
        mode: ``"tras"``, ``"trast"`` or ``"trasfust"``.
        teachers: teacher names or factories; default ``("csrt",)`` for TRAST and, for
            TRASFUST, the pool the student's value head and margin were chosen for
            (``meta["fusion_pool"]``; csrt, retina-maml for the shipped student) or
            ``DEFAULT_TEACHERS`` when the student has none; must be empty for TRAS. TRAST
            takes exactly one.
        parallel: run the teachers in threads while the student computes.
        fast: track with :meth:`TRASStudent.for_inference` (folded BatchNorm, channels-last,
            in-place trunk activations, packed LSTM weights).
        margin: hysteresis of the choice (``distill.fuse_by_value``; not in the paper): with
            ``margin > 0`` the previous frame's candidate is kept unless another's value
            exceeds its value by more than ``margin``; 0 is the paper's rule. Default: for
            TRASFUST the student's ``meta["fusion_margin"]`` (chosen on training sequences
            by ``trackkit.train.fit_tras_value``) where it has one, else 0.
        value_ema: temporal smoothing of the values before the choice (``distill.fuse_by_value``;
            not in the paper): each candidate's value is replaced by its exponential moving
            average over the frames, ``s_t = value_ema * s_{t-1} + (1 - value_ema) * v_t``
            (reset at ``init``), and the argmax and the margin apply to ``s_t``; in ``[0, 1)``,
            0 is the paper's per-frame rule. Default: for TRASFUST the student's
            ``meta["fusion_value_ema"]`` where it has one, else 0.
        average_iou: box averaging after the choice (``distill.fuse_by_value(average_iou=)``;
            not in the paper): the output box is the mean of the chosen box and the other
            valid candidates' boxes with IoU at least ``average_iou`` with it (the student
            continues from that box; the LSTM state follows the chosen candidate). In
            ``(0, 1]``; 0 turns it off (the chosen box, the paper's rule). Default: for
            TRASFUST the student's ``meta["fusion_average_iou"]`` where it has one, else off.
        average_temperature: weights of that mean: ``inf`` equal, else a softmax of the
            candidates' values at this temperature (``> 0``). Default: for TRASFUST the
            student's ``meta["fusion_average_temperature"]`` where it has one, else ``inf``.
        device: torch device of the student.
    """

    def __init__(
        self,
        student: TRASStudent | None = None,
        *,
        mode: str = "tras",
        teachers: Sequence[TeacherSpec] | None = None,
        parallel: bool = True,
        fast: bool = True,
        margin: float | None = None,
        value_ema: float | None = None,
        average_iou: float | None = None,
        average_temperature: float | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        model = student if student is not None else load_student()
        if margin is None:  # the stored margin was chosen for TRASFUST only
            meta = getattr(model, "meta", {}) if mode == "trasfust" else {}
            margin = float(meta.get("fusion_margin", 0.0))
        if isinstance(margin, bool) or not isinstance(margin, (int, float)):
            raise TypeError(f"margin must be a number, got {type(margin).__name__}")
        if not (np.isfinite(margin) and margin >= 0):
            raise ValueError(f"margin must be a finite number >= 0, got {margin}")
        self.margin = float(margin)
        if value_ema is None:  # like the margin, chosen for TRASFUST only
            meta = getattr(model, "meta", {}) if mode == "trasfust" else {}
            value_ema = float(meta.get("fusion_value_ema", 0.0))
        if isinstance(value_ema, bool) or not isinstance(value_ema, (int, float)):
            raise TypeError(f"value_ema must be a number, got {type(value_ema).__name__}")
        if not 0.0 <= value_ema < 1.0:  # also rejects NaN
            raise ValueError(f"value_ema must lie in [0, 1), got {value_ema}")
        self.value_ema = float(value_ema)
        fusion_meta = getattr(model, "meta", {}) if mode == "trasfust" else {}
        if average_iou is None:  # like the margin, chosen for TRASFUST only
            average_iou = fusion_meta.get("fusion_average_iou") or 0.0
        if isinstance(average_iou, bool) or not isinstance(average_iou, (int, float)):
            raise TypeError(f"average_iou must be a number, got {type(average_iou).__name__}")
        if not 0.0 <= average_iou <= 1.0:  # also rejects NaN
            raise ValueError(f"average_iou must lie in [0, 1] (0 = off), got {average_iou}")
        #: IoU threshold of the box averaging (0 = off).
        self.average_iou = float(average_iou)
        if average_temperature is None:
            average_temperature = fusion_meta.get("fusion_average_temperature") or float("inf")
        if isinstance(average_temperature, bool) or not isinstance(
            average_temperature, (int, float)
        ):
            raise TypeError(
                f"average_temperature must be a number, got {type(average_temperature).__name__}"
            )
        if not average_temperature > 0:  # also rejects NaN
            raise ValueError(f"average_temperature must be > 0, got {average_temperature}")
        #: Softmax temperature of the averaging weights (``inf``: equal weights).
        self.average_temperature = float(average_temperature)
        if teachers is None:
            pool = getattr(model, "meta", {}).get("fusion_pool") or DEFAULT_TEACHERS
            teachers = {"tras": (), "trast": ("csrt",), "trasfust": parse_teachers(pool)}[mode]
        specs = list(teachers)
        if mode == "tras" and specs:
            raise ValueError("teachers: TRAS runs the student alone; use trast or trasfust")
        if mode in ("trast", "trasfust") and not specs:
            raise ValueError(f"teachers: {mode} needs at least one teacher, got an empty pool")
        if mode == "trast" and len(specs) != 1:
            raise ValueError(f"teachers: trast takes exactly one teacher, got {len(specs)}")
        for s in specs:
            if isinstance(s, str):
                make_teacher(s)  # validates the name now
            elif not callable(s):
                raise TypeError(f"teachers: expected names or factories, got {type(s).__name__}")
        self.mode = mode
        self.teacher_specs = specs
        self.device = resolve_device(device)
        self.student = (model.for_inference() if fast else model).to(self.device).eval()
        cfg = self.student.config
        self.actions = seqrl.BoxActionConfig(cfg.max_shift, cfg.max_scale)
        self.parallel = parallel
        self._pool: ThreadPoolExecutor | None = None
        self._ready = False
        #: Index of the chosen candidate per sequence in the last frame (0 = student; k >= 1
        #: = teacher k - 1), for analysis.
        self.last_choice: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        #: Values of the candidates' states in the last frame, ``[B, 1 + k]`` (student first;
        #: a dropped teacher's value is still given), for analysis. Empty for TRAS.
        self.last_values: NDArray[np.float64] = np.zeros((0, 0))

    # ------------------------------------------------------------------ single sequence
    def init(self, frame: NDArray[np.uint8], box_xywh: Sequence[float] | NDArray) -> None:
        """Start tracking one sequence (0-based ``x, y, w, h``)."""
        box = np.asarray(box_xywh, dtype=np.float64)
        if box.shape != (4,):
            raise ValueError(f"box_xywh must be 4 numbers (x, y, w, h), got shape {box.shape}")
        self.init_batch([frame], box.reshape(1, 4))

    def update(self, frame: NDArray[np.uint8]) -> NDArray[np.float64]:
        """Track the next frame; returns ``float64[4]`` xywh."""
        return self.update_batch([frame])[0]

    # ------------------------------------------------------------------ batched
    def init_batch(self, frames: Sequence[NDArray[np.uint8]], boxes_xywh: NDArray) -> None:
        """Start ``B`` sequences: frames ``uint8 [H, W, 3]`` BGR and boxes ``[B, 4]``.

        Raises:
            ValueError: a box is not 4 finite numbers with positive size, or lies entirely
                outside its frame; the number of frames and boxes differ.
        """
        boxes = np.asarray(boxes_xywh, dtype=np.float64)
        if boxes.ndim != 2 or boxes.shape != (len(frames), 4):
            raise ValueError(
                f"boxes_xywh must be [{len(frames)}, 4] for {len(frames)} frames, got {boxes.shape}"
            )
        for i, (frame, box) in enumerate(zip(frames, boxes)):
            check_frame(frame, argument=f"frames[{i}]")
            check_box_xywh(box, frame_shape=frame.shape, argument=f"init box of sequence {i}")
        b, k = len(frames), len(self.teacher_specs)
        self._teachers: list[list[Teacher | None]] = []
        for frame, box in zip(frames, boxes):
            row: list[Teacher | None] = []
            for spec in self.teacher_specs:
                teacher: Teacher | None = _new_teacher(spec)
                try:
                    assert teacher is not None
                    teacher.init(frame, box)
                except Exception:
                    teacher = None
                row.append(teacher)
            self._teachers.append(row)
        if k and self.parallel and self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, min(8, b * k)))
        # Host-side state is numpy; the device holds the LSTM state (and two constants: frame
        # sizes, row offsets). Per frame the boxes go to the device with the crops, and one
        # packed copy (final boxes and chosen candidate) comes back (docs/device.md).
        self._boxes = boxes.copy()
        self._teacher_boxes = np.repeat(boxes[:, None, :], k, axis=1)  # [B, k, 4]
        self._frame_wh = torch.tensor(
            [[f.shape[1], f.shape[0]] for f in frames], dtype=torch.float64, device=self.device
        )
        self._rows = torch.arange(b, device=self.device) * (1 + k)
        self._prev = list(frames)
        self._state: tuple[Tensor, Tensor] | None = None
        self._first_state: tuple[Tensor, Tensor] | None = None
        self._t = 0
        self._smoothed: Tensor | None = None  # the values' moving averages (value_ema > 0)
        self.last_choice = np.zeros(b, dtype=np.int64)
        self.last_values = np.zeros((b, 1 + k) if k else (0, 0))
        self._ready = True

    def _run_teachers(self, frames: Sequence[NDArray[np.uint8]]) -> Any:
        jobs = [(t, f) for row, f in zip(self._teachers, frames) for t in row]
        if self._pool is not None:
            return [self._pool.submit(_teacher_update, t, f) for t, f in jobs]
        return [_teacher_update(t, f) for t, f in jobs]

    def update_batch(self, frames: Sequence[NDArray[np.uint8]]) -> NDArray[np.float64]:
        """Track the next frame of every sequence; returns ``float64 [B, 4]`` xywh.

        One device-to-host copy per frame (the final boxes and the chosen candidates packed in
        one tensor); the box action (``seqrl.apply_box_action``) and the fusion by value
        (``distill.fuse_by_value``) run on the student's device without their value checks,
        whose inputs are valid by construction here.
        """
        if not self._ready:
            raise RuntimeError("call init() or init_batch() before update()")
        b, k = self._boxes.shape[0], len(self.teacher_specs)
        if len(frames) != b:
            raise ValueError(f"expected {b} frames (one per sequence), got {len(frames)}")
        for i, frame in enumerate(frames):
            check_frame(frame, argument=f"frames[{i}]")
            if frame.shape[:2] != self._prev[i].shape[:2]:
                raise ValueError(f"frames[{i}] changed size from {self._prev[i].shape[:2]}")
        with torch.inference_mode():
            return self._step(frames, b, k)

    def _step(self, frames: Sequence[NDArray[np.uint8]], b: int, k: int) -> NDArray[np.float64]:
        cfg = self.student.config
        dev = self.device
        self._t += 1
        if self._t > 1 and (self._t - 1) % cfg.reset_every == 0 and self._first_state is not None:
            self._state = self._first_state
        pending = self._run_teachers(frames) if k else []
        n = 1 + k
        if k:
            cand_prev = np.concatenate((self._boxes[:, None, :], self._teacher_boxes), axis=1)
            crops = student_crops(
                [f for f in self._prev for _ in range(n)],
                [f for f in frames for _ in range(n)],
                cand_prev.reshape(-1, 4),
                crop_size=cfg.crop_size,
                context=cfg.context,
            )
        else:
            crops = student_crops(
                self._prev, frames, self._boxes, crop_size=cfg.crop_size, context=cfg.context
            )
        state = self._state
        if state is not None and n > 1:  # every candidate continues from its sequence's state
            state = (
                state[0][:, None].expand(b, n, -1).reshape(b * n, -1),
                state[1][:, None].expand(b, n, -1).reshape(b * n, -1),
            )
        mu, v, (h, c) = self.student(torch.from_numpy(crops).to(dev), state)
        boxes = torch.from_numpy(self._boxes).to(dev)
        own = seqrl.apply_box_action(
            mu.reshape(b, n, 4)[:, 0].double(), boxes, config=self.actions, validate=False
        )
        own = clamp_box_centre(clamp_box_size(own, self._frame_wh), self._frame_wh)
        if not k:
            out = own.cpu().numpy()  # the one device-to-host copy of the frame
            self._boxes = np.array(out, dtype=np.float64)
            self._state = (h, c)
            index = np.zeros(b, dtype=np.int64)
        else:
            # Candidates from the same previous box share one state: give them one value.
            same = (cand_prev[:, :, None, :] == cand_prev[:, None, :, :]).all(axis=-1)
            first = torch.from_numpy(same.argmax(axis=2)).to(dev)  # lowest index, same box
            values = v.reshape(b, n).double().gather(1, first)
            results = [p.result() if hasattr(p, "result") else p for p in pending]
            valid = np.zeros((b, n), dtype=bool)
            valid[:, 0] = True
            teacher = self._teacher_boxes.copy()  # a dropped teacher keeps its previous box
            for idx, (box, ok) in enumerate(results):
                i, j = divmod(idx, k)
                if ok:
                    teacher[i, j] = box
                    valid[i, 1 + j] = True
            if self.mode == "trasfust":  # eq. 8: teachers only; the student is the fallback
                valid[:, 0] = ~valid[:, 1:].any(axis=1)
            cand = torch.cat((own[:, None, :], torch.from_numpy(teacher).to(dev)), dim=1)
            hysteresis: dict[str, Any] = {}
            if self.margin > 0 and self._t > 1:
                hysteresis = {
                    "previous_index": torch.from_numpy(self.last_choice).to(dev),
                    "margin": self.margin,
                }
            if self.value_ema > 0:  # the first frame (no averages yet) uses the raw values
                hysteresis["previous_values"] = self._smoothed
                hysteresis["value_ema"] = self.value_ema
            if self.average_iou > 0:
                hysteresis["average_iou"] = self.average_iou
                if np.isfinite(self.average_temperature):
                    hysteresis["average_temperature"] = self.average_temperature
            choice = fuse_by_value(
                cand, values, valid=torch.from_numpy(valid).to(dev), validate=False, **hysteresis
            )
            if self.value_ema > 0:
                self._smoothed = choice.smoothed_values
            packed = torch.cat(
                (choice.boxes_xywh, choice.candidate_index[:, None].double(), values), 1
            )
            out = packed.cpu().numpy()  # the one device-to-host copy of the frame
            self._boxes = np.array(out[:, :4], dtype=np.float64)
            index = out[:, 4].astype(np.int64)
            self.last_values = np.array(out[:, 5:], dtype=np.float64)
            self._teacher_boxes = np.where(valid[:, 1:, None], teacher, self._teacher_boxes)
            rows = self._rows + choice.candidate_index
            self._state = (h.index_select(0, rows), c.index_select(0, rows))
        if self._t == 1:
            self._first_state = self._state
        self._prev = list(frames)
        self.last_choice = index
        return self._boxes.copy()

    def close(self) -> None:
        """Stop the teacher threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)
