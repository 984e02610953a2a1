"""Every tracker, training recipe and library hot path on one device, checked against the CPU.

Usage::

    python benchmarks/device_check.py --device cpu|cuda [--quick] [--amp] [--batch B]
        [--out report.md] [--threads N]

What it does, on ``--device``:

- **Trackers**: every tracker of ``trackkit.registry`` that builds offline. Torch trackers
  (those taking ``device=``) track synthetic sequences at batch 1 and, if they track sequences
  in lock step (``init_batch``), at batch B; their boxes must equal a CPU run's (see
  :data:`TOL`); device-to-host copies are counted every frame
  (``trackkit.hostsync.HostSyncCounter``: at most one, the final boxes); frames per second and
  peak device memory (``torch.cuda.max_memory_allocated``; n/a on the CPU). Host-only trackers
  (OpenCV, association on detection files) are run for their frame rate.
- **Training recipes** (:data:`RECIPES`): a few iterations on synthetic data from a fresh start,
  and again stopped half-way and resumed (``resume=``): the resumed run must end with the
  weights of the uninterrupted one, and the device run with the CPU run's (``train_weights``);
  iterations per second.
- **Hot paths**: ``metalearn`` inner loop (second-order meta-gradient), ``MetaLearner`` meta-step
  with ``vmap`` over tasks and with the loop, ``adapt_batched`` (loop and vmap), ``detheads``
  target losses (FCOS, RetinaNet) with their gradients and ``batched_nms``, ``seqrl``
  ``scst_loss``: values and gradients against the CPU, and timings.
- ``--amp``: tracker inference also under autocast (bfloat16 on the CPU, float16 on CUDA);
  the report says where boxes stay within ``amp_boxes_px`` and where they do not.

On ``--device cpu`` the "CPU reference" is the same computation, so the comparisons only show
that the script runs (and ``--amp`` compares bfloat16 with float32). The exit status is 1 if
any check failed. Writes a Markdown report (``--out``; default: print only).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import platform
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

import detheads
import metalearn
import seqrl
from trackkit.hostsync import HostSyncCounter
from trackkit.registry import TRACKERS, make_tracker, tracker_options
from trackkit.sot.tras import DEEP_TEACHERS

#: Tolerances of device-versus-CPU comparisons. Boxes: absolute, in pixels; the first tracked
#: frame (first-frame adaptation + one detection, no feedback yet) must agree to
#: ``first_frame_px``; over the whole sequence the tracker feeds its boxes back and amplifies
#: rounding (1e-5 px grows to pixels in a dozen frames, see test_runner_batch's xfail), so a
#: sequence beyond ``boxes_px`` is reported, not failed.
#: Others: ``max|a - b| / max(max|b|, 1)`` (losses, gradients, trained weights).
TOL: dict[str, float] = {
    "first_frame_px": 0.05,
    "boxes_px": 0.5,
    "amp_boxes_px": 2.0,
    "loss": 1e-4,
    "grad": 1e-4,
    "train_weights": 1e-3,
    "resume_weights": 1e-6,
}
#: Device-to-host copies a deep tracker may make per frame (its final boxes).
SYNCS_PER_FRAME = 1


@dataclass
class Row:
    """One line of a report table."""

    section: str
    name: str
    values: dict[str, Any]
    ok: bool = True
    note: str = ""


@dataclass
class Report:
    """Rows of every section, and the run's settings."""

    settings: dict[str, Any]
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        """Append a row and echo it."""
        self.rows.append(row)
        flag = "ok" if row.ok else "FAIL"
        print(f"[{flag}] {row.section} / {row.name}: {row.values} {row.note}", flush=True)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(r.ok for r in self.rows)

    def markdown(self) -> str:
        """The report as Markdown: settings, then one table per section."""
        out = ["# Device check", ""]
        out += [f"- {k}: {v}" for k, v in self.settings.items()]
        out += [f"- tolerances: {TOL}", f"- result: {'PASS' if self.ok else 'FAIL'}", ""]
        for section in dict.fromkeys(r.section for r in self.rows):
            rows = [r for r in self.rows if r.section == section]
            cols = list(dict.fromkeys(k for r in rows for k in r.values))
            out += [f"## {section}", ""]
            out.append("| name | " + " | ".join(cols) + " | ok | note |")
            out.append("|---" * (len(cols) + 3) + "|")
            for r in rows:
                cells = [_fmt(r.values.get(c, "")) for c in cols]
                out.append(
                    f"| {r.name} | " + " | ".join(cells) + f" | {'yes' if r.ok else 'NO'} | "
                    f"{r.note} |"
                )
            out.append("")
        return "\n".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v == 0.0:
            return "0"
        return f"{v:.3g}" if abs(v) < 1e-2 or abs(v) >= 1e4 else f"{v:.3f}".rstrip("0")
    return str(v)


# ---------------------------------------------------------------------------------- helpers
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mib(device: torch.device) -> str | float:
    if device.type != "cuda":
        return "n/a"
    return torch.cuda.max_memory_allocated(device) / 2**20


def _rel(a: Any, b: Any) -> float:
    """``max|a - b| / max(max|b|, 1)`` over tensors, arrays or dicts/lists of them."""
    if isinstance(a, dict):
        return max((_rel(a[k], b[k]) for k in b), default=0.0)
    if isinstance(a, (list, tuple)):
        return max((_rel(x, y) for x, y in zip(a, b)), default=0.0)
    x = torch.as_tensor(np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a))
    y = torch.as_tensor(np.asarray(b.detach().cpu() if isinstance(b, torch.Tensor) else b))
    x, y = x.double(), y.double()
    if x.shape != y.shape:
        return float("inf")
    if x.numel() == 0:
        return 0.0
    return float((x - y).abs().max() / max(float(y.abs().max()), 1.0))


def _to(tree: Any, device: torch.device) -> Any:
    if isinstance(tree, torch.Tensor):
        return tree.to(device)
    if isinstance(tree, dict):
        return {k: _to(v, device) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to(v, device) for v in tree)
    return tree


def _autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    if not enabled:
        return contextlib.nullcontext()
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> tuple[Any, float]:
    """``(fn(), median seconds)`` over ``repeats`` calls after one warm-up call."""
    out = fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


# ---------------------------------------------------------------------------------- trackers
def _sot_sequences(b: int, length: int) -> list[tuple[list[np.ndarray], np.ndarray]]:
    from trackkit.data import synthetic_sot_sequence

    out = []
    for i in range(b):
        seq = synthetic_sot_sequence(
            length=length, image_size=(480, 320), target_size=(56.0, 44.0), seed=7 + i,
            scale_change=0.25, distractors=2, occlusion=0.5, target_speed=3.0,
        )  # fmt: skip
        out.append(([seq[t] for t in range(len(seq))], np.asarray(seq.boxes_xywh[0], float)))
    return out


def _track(
    tracker: Any, cases: list[tuple[list[np.ndarray], np.ndarray]], *, count: bool, amp: bool
) -> tuple[np.ndarray, float, int]:
    """Boxes ``[B, T, 4]``, seconds of the update frames, and the most syncs in one frame."""
    device = getattr(tracker, "device", torch.device("cpu"))
    n = len(cases[0][0])
    boxes = np.empty((len(cases), n, 4))
    boxes[:, 0] = np.stack([c[1] for c in cases])
    batched = len(cases) > 1
    with _autocast(device, amp):
        if batched:
            tracker.init_batch([c[0][0] for c in cases], boxes[:, 0].copy())
        else:
            tracker.init(cases[0][0][0], cases[0][1])
        _sync(device)
        worst, seconds = 0, 0.0
        for t in range(1, n):
            frames = [c[0][t] for c in cases]
            counter = HostSyncCounter(where=False) if count else contextlib.nullcontext()
            t0 = time.perf_counter()
            with counter:
                out = tracker.update_batch(frames) if batched else tracker.update(frames[0])
            _sync(device)
            seconds += time.perf_counter() - t0
            if isinstance(out, tuple):  # (box_xywh, success) of the OpenCV trackers
                out = out[0]
            boxes[:, t] = np.asarray(out).reshape(len(cases), 4)
            if isinstance(counter, HostSyncCounter):
                worst = max(worst, counter.total)
    return boxes, seconds, worst


def check_trackers(report: Report, args: argparse.Namespace, device: torch.device) -> None:
    """Every registered tracker that builds offline (see the module docstring)."""
    length = 12 if args.quick else 40
    cases = _sot_sequences(max(args.batch, 1), length)
    cpu = torch.device("cpu")
    for name, entry in TRACKERS.items():
        section = "Trackers"
        try:
            opts = tracker_options(name)
            if entry.kind == "mot":
                _check_mot_tracker(report, name, opts, device, args)
                continue
            if "device" not in opts:
                _, sec, _ = _track(make_tracker(name), cases[:1], count=False, amp=False)
                host_values = {"batch": 1, "fps (frames x B / s)": (length - 1) / sec}
                report.add(Row(section, name, host_values, note="host-only tracker (no torch)"))
                continue
            batches = [1] + ([args.batch] if args.batch > 1 and _batched(name) else [])
            for b in batches:
                sub = cases[:b]
                tracker = make_tracker(name, device=device)
                _reset_peak(device)
                got, sec, syncs = _track(tracker, sub, count=True, amp=False)
                ref = got
                if device != cpu:
                    ref, _, _ = _track(make_tracker(name, device=cpu), sub, count=False, amp=False)
                diff = float(np.abs(got - ref).max())
                first = float(np.abs(got[:, 1] - ref[:, 1]).max())
                if not args.quick:  # the frame rate of a run without the counter
                    _, sec, _ = _track(
                        make_tracker(name, device=device), sub, count=False, amp=False
                    )
                values: dict[str, Any] = {
                    "batch": b,
                    "frame-1 box diff vs CPU (px)": first,
                    "max box diff vs CPU (px)": diff,
                    "syncs/frame (max)": syncs,
                    "fps (frames x B / s)": (length - 1) * b / sec,
                    "peak MiB": _peak_mib(device),
                }
                # TRASFUST's deep teachers (e.g. Retina-MAML) each copy their box once per frame
                deep = sum(s in DEEP_TEACHERS for s in getattr(tracker, "teacher_specs", ()))
                ok = first <= TOL["first_frame_px"] and syncs <= SYNCS_PER_FRAME + deep * b
                note = "" if diff <= TOL["boxes_px"] else "sequence drifts beyond boxes_px"
                if args.amp:
                    # A tracker with an ``amp`` option decides what runs in low precision;
                    # any other runs its whole frame under autocast.
                    own = "amp" in opts
                    amp_tracker = make_tracker(
                        name, device=device, **({"amp": True} if own else {})
                    )
                    amp_boxes, amp_sec, _ = _track(amp_tracker, sub, count=False, amp=not own)
                    amp_diff = float(np.abs(amp_boxes - ref).max())
                    values["amp box diff (px)"] = amp_diff
                    values["amp fps"] = (length - 1) * b / amp_sec
                    if amp_diff > TOL["amp_boxes_px"]:
                        note = (note + "; " if note else "") + (
                            f"amp does not hold: boxes move {amp_diff:.3g} px > amp_boxes_px"
                        )
                report.add(Row(section, name, values, ok=ok, note=note))
        except Exception as exc:
            report.add(Row(section, name, {}, ok=False, note=_error(exc)))


def _batched(name: str) -> bool:
    tracker_cls = type(make_tracker(name, device="cpu"))
    return hasattr(tracker_cls, "init_batch") and hasattr(tracker_cls, "update_batch")


def _same_rows(a: Any, b: Any) -> bool:
    """Equal MOT outputs: field by field for a dataclass (e.g. ``trackkit.data.MOTRows``)."""
    if dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
        return all(
            np.array_equal(np.asarray(getattr(a, f.name)), np.asarray(getattr(b, f.name)))
            for f in dataclasses.fields(a)
        )
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def _check_mot_tracker(
    report: Report, name: str, opts: tuple[str, ...], device: torch.device, args: Any
) -> None:
    from trackkit.data import synthetic_mot_sequence

    seq = synthetic_mot_sequence(length=20 if args.quick else 60, seed=3)
    kwargs: dict[str, Any] = {"device": device} if "device" in opts else {}
    tracks, seconds = make_tracker(name, **kwargs).track(seq)
    values: dict[str, Any] = {"batch": 1, "fps (frames x B / s)": len(seq) / max(seconds, 1e-9)}
    ok = True
    if kwargs:
        ref, _ = make_tracker(name, device="cpu").track(seq)
        values["rows equal CPU"] = _same_rows(tracks, ref)
        ok = values["rows equal CPU"]
    report.add(Row("Trackers", name, values, ok=ok, note="" if kwargs else "host-only (numpy)"))


# ---------------------------------------------------------------------------------- recipes
@dataclass(frozen=True)
class Recipe:
    """A training recipe run a few iterations: ``run(device, out_dir, steps, stop_after,
    resume) -> {name: tensor}`` (the trained weights, on the CPU)."""

    help: str
    run: Callable[..., dict[str, torch.Tensor]]


_CACHE: dict[str, Any] = {}


def _instance_cache() -> tuple[Any, Any]:
    """A small feature cache of synthetic sequences with the ImageNet MobileNetV2 trunk."""
    if "cache" not in _CACHE:
        from trackkit.sot import DetectorConfig, InstanceDetector
        from trackkit.sot.instance import build_trunk
        from trackkit.train import CacheConfig, build_feature_cache, synthetic_training_sequences

        trunk = build_trunk(DetectorConfig(), pretrained=True)
        det = InstanceDetector(DetectorConfig(), trunk=trunk)
        seqs = synthetic_training_sequences(2, length=10)
        _CACHE["cache"] = build_feature_cache(
            seqs, det.features, config=CacheConfig(frames_per_sequence=4), progress=False
        )
        _CACHE["trunk"] = trunk
    return _CACHE["cache"], _CACHE["trunk"]


def _maml_recipe(head: Literal["fcos", "retina"], method: Literal["maml", "baseline"]) -> Recipe:
    def run(
        device: torch.device, out: Path, steps: int, stop_after: int | None, resume: Path | None
    ) -> dict[str, torch.Tensor]:
        from trackkit.train import MAMLTrainConfig, train_instance_detector

        cache, trunk = _instance_cache()
        cfg = MAMLTrainConfig(
            head=head, method=method, steps=steps, pairs_per_step=2, checkpoint_every=1000
        )
        det = train_instance_detector(
            cache, out, config=cfg, trunk=trunk, resume=resume, progress=False,
            stop_after=stop_after, device=device,
        )  # fmt: skip
        state = {f"head.{k}": v for k, v in det.head.state_dict().items()}
        state.update({f"lr.{k}": v for k, v in det.lr.state_dict().items()})
        return {k: v.detach().cpu() for k, v in state.items()}

    return Recipe(f"trackkit.train.train_instance_detector({head}, {method})", run)


def _maml_mot_cache(seed: int) -> Any:
    """Synthetic re-identification features (64-d, the shipped detector's) of 16 identities."""
    from trackkit.train import ReidFeatureCache

    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(16, 64, generator=g)
    ids = torch.arange(16).repeat(10)
    frames = torch.arange(10).repeat_interleave(16)
    feats = (centres[ids] + 0.3 * torch.rand(160, 64, generator=g)).clamp_min(0)
    return ReidFeatureCache(feats, ids, frames, ("synthetic",), {}, 0.0)


def _maml_mot_recipe() -> Recipe:
    def run(
        device: torch.device, out: Path, steps: int, stop_after: int | None, resume: Path | None
    ) -> dict[str, torch.Tensor]:
        from trackkit.mot.maml_mot import load_maml_mot_checkpoint
        from trackkit.train import MAMLMOTTrainConfig, train_maml_mot

        cfg = MAMLMOTTrainConfig(steps=steps, tasks_per_step=8, bank_size=8, eval_tasks=0)
        ckpt, _ = train_maml_mot(
            cfg, out, cache=_maml_mot_cache(0), resume=resume, stop_after=stop_after,
            device=device, progress=False, checkpoint_every=1000,
        )  # fmt: skip
        loaded = load_maml_mot_checkpoint(ckpt)
        state = {f"layer.{k}": v for k, v in loaded.layer.state_dict().items()}
        state.update({"bank.weight": loaded.bank.weight, "bank.bias": loaded.bank.bias})
        return {k: v.detach().cpu() for k, v in state.items()}

    return Recipe("trackkit.train.train_maml_mot (synthetic feature cache)", run)


def _slt_recipe(head: Literal["fcos", "retina"]) -> Recipe:
    def run(
        device: torch.device, out: Path, steps: int, stop_after: int | None, resume: Path | None
    ) -> dict[str, torch.Tensor]:
        from trackkit.data import synthetic_sot_sequence
        from trackkit.sot import load_detector, shipped_checkpoint
        from trackkit.train import SLTTrainConfig, train_slt

        det = load_detector(shipped_checkpoint(f"{head}-maml"), device=device)
        seqs = [
            synthetic_sot_sequence(length=12, seed=40 + i, distractors=1, target_speed=3.0)
            for i in range(2)
        ]
        cfg = SLTTrainConfig(steps=steps, episodes=2, length=3, max_interval=3, checkpoint_every=1)
        train_slt(det, seqs, out, config=cfg, resume=resume, progress=False, stop_after=stop_after)
        state = {f"head.{k}": v for k, v in det.head.state_dict().items()}
        state.update({f"lr.{k}": v for k, v in det.lr.state_dict().items()})
        return {k: v.detach().cpu() for k, v in state.items()}

    return Recipe(f"trackkit.train.train_slt({head}-maml, synthetic sequences)", run)


def _retinatrack_recipe() -> Recipe:
    def run(
        device: torch.device, out: Path, steps: int, stop_after: int | None, resume: Path | None
    ) -> dict[str, torch.Tensor]:
        from trackkit.data import synthetic_mot_sequence
        from trackkit.mot.retinatrack import RetinaTrackNetConfig
        from trackkit.train import ClipConfig, RetinaTrackTrainConfig, train_retinatrack

        tiny = RetinaTrackNetConfig(
            backbone_stages=(3, 6, 13), fpn_channels=16, anchor_sizes=((28.0,), (56.0,), (112.0,)),
            anchor_ratios=(2.0,), m1=1, m2=1, m3=1, embedding_dim=8, frozen_stages=14,
            input_width=192, score_threshold=0.3,
        )  # fmt: skip
        seq = synthetic_mot_sequence(
            length=12, image_size=(192, 128), num_objects=2, seed=7, object_size=(20.0, 40.0)
        )
        cfg = RetinaTrackTrainConfig(
            steps=steps, clips_per_step=2, lr=3e-3, warmup=1, net=tiny,
            clip=ClipConfig(crop=(128, 128), zoom_range=(0.9, 1.1), min_height=8.0),
        )  # fmt: skip
        torch.manual_seed(0)
        net, _ = train_retinatrack(
            cfg, out, sequences=[seq], resume=resume, checkpoint_every=1, device=device,
            progress=False, stop_after=stop_after,
        )  # fmt: skip
        return {k: v.detach().cpu() for k, v in net.state_dict().items()}

    return Recipe("trackkit.train.train_retinatrack (tiny network, synthetic scene)", run)


def _tras_data() -> Any:
    """Synthetic TRAS training data: 3 sequences, two replayed noisy teachers (cached)."""
    if "tras" not in _CACHE:
        from distill import ReplayTeacher, TeacherPool
        from trackkit.train import (
            TeacherRuns,
            build_tras_chunks,
            synthetic_training_sequences,
            tras_episode_data,
        )

        seqs = synthetic_training_sequences(3, length=24, seed=310)
        rng = np.random.default_rng(0)
        runs = {}
        for s in seqs:
            gt = s.boxes_xywh
            boxes = [gt + rng.normal(0, 1.5, gt.shape) * [1, 1, 0.2, 0.2] for _ in range(2)]
            for b in boxes:
                b[0] = gt[0]
            pool = TeacherPool([ReplayTeacher(b, name=f"replay{i}") for i, b in enumerate(boxes)])
            traj = list(pool.run([s[i] for i in range(len(s))], gt[0], sequence=s.name).values())
            runs[s.name] = TeacherRuns(
                s.name,
                ("replay0", "replay1"),
                np.stack([t.boxes_xywh for t in traj]),
                np.stack([t.success for t in traj]),
                np.array([t.fps for t in traj]),
            )
        chunks = build_tras_chunks(seqs, runs, chunk_length=12, chunks_per_frame=0.25, seed=0)
        _CACHE["tras"] = tras_episode_data(seqs, chunks)
    return _CACHE["tras"]


def _tras_recipe() -> Recipe:
    def run(
        device: torch.device, out: Path, steps: int, stop_after: int | None, resume: Path | None
    ) -> dict[str, torch.Tensor]:
        from trackkit.sot.tras import StudentConfig
        from trackkit.train import TRASPretrainConfig, TRASTrainConfig, train_tras

        cfg = TRASTrainConfig(
            objective="kd-rl", workers=2, rounds=steps, episodes_per_round=2, optimizer="adam",
            lr=1e-3, multiprocess=False, chunk_length=12,
            curriculum={"initial_length": 4, "max_length": 4, "growth": 1, "patience": 2},
            student=StudentConfig(crop_size=64, neck_channels=16, hidden=64).to_dict(),
            pretrain=asdict(TRASPretrainConfig(epochs=2, window=4, windows_per_chunk=1)),
        )  # fmt: skip
        model, _ = train_tras(
            cfg, _tras_data(), out, resume=resume, stop_after=stop_after, progress=False,
            device=device, replay_cache=out.parent / f"replay-{device.type}",
        )  # fmt: skip
        return {k: v.detach().cpu() for k, v in model.trainable_state_dict().items()}

    return Recipe(
        "trackkit.train.train_tras (warm start on the device, then A3C workers on the CPU)", run
    )


#: name -> :class:`Recipe`; a recipe that lands later adds one entry.
RECIPES: dict[str, Recipe] = {
    "maml-fcos": _maml_recipe("fcos", "maml"),
    "maml-retina": _maml_recipe("retina", "maml"),
    "baseline-fcos": _maml_recipe("fcos", "baseline"),
    "maml-mot": _maml_mot_recipe(),
    "slt-fcos": _slt_recipe("fcos"),
    "retinatrack": _retinatrack_recipe(),
    "tras": _tras_recipe(),
}


def check_recipes(report: Report, args: argparse.Namespace, device: torch.device) -> None:
    """Each recipe: fresh, resumed, and on the CPU; iterations per second."""
    steps = 2 if args.quick else 6
    cpu = torch.device("cpu")
    for name, recipe in RECIPES.items():
        try:
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                _reset_peak(device)
                _sync(device)
                t0 = time.perf_counter()
                full = recipe.run(device, root / "full", steps, None, None)
                _sync(device)
                its = steps / (time.perf_counter() - t0)
                peak = _peak_mib(device)
                recipe.run(device, root / "half", steps, steps // 2, None)
                resumed = recipe.run(
                    device, root / "half2", steps, None, root / "half" / "train_state.pt"
                )
                ref = full if device == cpu else recipe.run(cpu, root / "cpu", steps, None, None)
            d_resume = _rel(resumed, full)
            d_cpu = _rel(full, ref)
            ok = d_resume <= TOL["resume_weights"] and d_cpu <= TOL["train_weights"]
            values = {
                "steps": steps,
                "it/s (incl. setup)": its,
                "resume vs fresh (rel)": d_resume,
                "weights vs CPU (rel)": d_cpu,
                "peak MiB": peak,
            }
            report.add(Row("Training recipes", name, values, ok=ok, note=recipe.help))
        except Exception as exc:
            report.add(Row("Training recipes", name, {}, ok=False, note=_error(exc)))


# ---------------------------------------------------------------------------------- hot paths
def _head_case(
    head: str, b: int, n: int, seed: int = 0
) -> tuple[Any, dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shipped detector, B fast-weight sets, support features/boxes/weights (CPU)."""
    from trackkit.sot import load_detector, shipped_checkpoint

    det = load_detector(shipped_checkpoint(f"{head}-maml"), device="cpu")
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(b, n, 64, 33, 33, generator=g).abs()
    c = 131.0 + torch.randn(b, n, 2, generator=g) * 4
    wh = 50 + torch.rand(b, n, 2, generator=g) * 30
    boxes = torch.cat([c - wh / 2, c + wh / 2], dim=-1)
    weights = torch.zeros(b, n)
    weights[:, : max(1, n // 2)] = 1.0
    params = {
        k: p.detach()[None].expand(b, *p.shape).clone() for k, p in det.head.named_parameters()
    }
    return det, params, feats, boxes, weights


Setup = Callable[[torch.device], Callable[[], Any]]


def _hot(
    report: Report, name: str, setup: Setup, device: torch.device, repeats: int, tol: float
) -> None:
    """``setup(dev)`` builds the inputs on ``dev`` and returns the computation; run it on the CPU
    and on ``device``, compare the outputs, time the device run (median, after a warm-up)."""
    try:
        ref = setup(torch.device("cpu"))()
        got, sec = _timed(setup(device), device, repeats)
        d = _rel(got, ref)
        values = {"rel diff vs CPU": d, "ms (median)": sec * 1e3, "per s": 1.0 / sec}
        report.add(Row("Hot paths", name, values, ok=d <= tol))
    except Exception as exc:
        report.add(Row("Hot paths", name, {}, ok=False, note=_error(exc)))


def check_hot_paths(report: Report, args: argparse.Namespace, device: torch.device) -> None:
    """Library hot paths against the CPU, with timings."""
    repeats = 2 if args.quick else 7
    b = max(args.batch, 2)
    n = 6 if args.quick else 30
    cases = {head: _head_case(head, b, n) for head in ("fcos", "retina")}

    def on(dev: torch.device, head: str = "fcos") -> tuple[Any, dict[str, Any], Any, Any, Any]:
        det, params, feats, boxes, weights = cases[head]
        det = copy.deepcopy(det).to(dev)
        return det, _to(params, dev), feats.to(dev), boxes.to(dev), weights.to(dev)

    # metalearn inner loop: 2 steps with the graph, second-order meta-gradient of theta_0.
    def inner_loop(dev: torch.device) -> Callable[[], Any]:
        det, params, feats, boxes, weights = on(dev)
        f, w = feats[0], weights[0]
        targets = det.support_targets(boxes[0], f.shape[-2:])

        def loss(theta: dict[str, torch.Tensor]) -> torch.Tensor:
            return det.support_loss(theta, f, targets, w)

        def run() -> Any:
            theta0 = {k: v[0].clone().requires_grad_(True) for k, v in params.items()}
            path = metalearn.gradient_descent(loss, theta0, steps=2, lr=det.lr)
            final = loss(path[-1])
            grads = torch.autograd.grad(final, list(theta0.values()))
            return {"loss": final.detach(), "grads": [g.detach() for g in grads]}

        return run

    _hot(report, f"metalearn.gradient_descent ({n} samples, 2 steps, 2nd order)", inner_loop,
         device, repeats, TOL["grad"])  # fmt: skip

    # MetaLearner meta-step, vmap over tasks and the loop (the MAML recipe uses vmap).
    for batching in ("vmap", "loop"):

        def meta_step(dev: torch.device, batching: str = batching) -> Callable[[], Any]:
            det, _, feats, boxes, _ = on(dev)
            det.train()
            ops = det.ops

            def loss_fn(outputs: Any, targets: Any) -> torch.Tensor:
                return ops.losses(outputs, targets).mean()

            tasks = []
            for i in range(feats.shape[0]):
                t = det.support_targets(boxes[i], feats.shape[-2:])
                sup = (feats[i, :3], {k: v[:3] for k, v in t.items()})
                qry = (feats[i, 3:4], {k: v[3:4] for k, v in t.items()})
                tasks.append(metalearn.Task(sup, qry))
            config = metalearn.MAMLConfig(inner_steps=4, batching=batching)  # type: ignore[arg-type]
            learner = metalearn.MetaLearner(det.head, loss_fn, lr=det.lr, config=config)

            def run() -> Any:
                # Epoch 20 of 20: second order (the end of the recipe's schedule).
                loss = learner.meta_loss(tasks, epoch=20.0)
                grads = torch.autograd.grad(loss, list(det.head.parameters()))
                return {"loss": loss.detach(), "grads": [g.detach() for g in grads]}

            return run

        _hot(report, f"metalearn.MetaLearner meta-step ({b} tasks, 4 steps, {batching})",
             meta_step, device, repeats, TOL["grad"])  # fmt: skip

    # adapt_batched: the trackers' online step, loop and vmap.
    for batching in ("loop", "vmap"):

        def adapt(dev: torch.device, batching: str = batching) -> Callable[[], Any]:
            det, params, feats, boxes, weights = on(dev)
            targets = det.support_targets(boxes, feats.shape[-2:])
            return lambda: metalearn.adapt_batched(
                det.head, params, (feats, targets), det.ops.losses, steps=1, lr=det.lr,
                weights=weights, batching=batching,
            )  # fmt: skip

        _hot(report, f"metalearn.adapt_batched (B={b}, {n} slots, {batching})", adapt, device,
             repeats, TOL["grad"])  # fmt: skip

    # detheads target losses (through the trackers' head ops) and their gradients.
    for head in ("fcos", "retina"):

        def losses(dev: torch.device, head: str = head) -> Callable[[], Any]:
            det, params, feats, boxes, _ = on(dev, head)
            f = feats.flatten(0, 1)
            bx = boxes.flatten(0, 1)

            def run() -> Any:
                theta = {k: v[0].clone().requires_grad_(True) for k, v in params.items()}
                targets = det.support_targets(bx, f.shape[-2:])
                per = det.ops.losses(det.head_outputs(theta, f), targets)
                grads = torch.autograd.grad(per.sum(), list(theta.values()))
                return {"losses": per.detach(), "grads": [g.detach() for g in grads]}

            return run

        _hot(report, f"detheads {head} targets + loss + grad ({b * n} samples)", losses, device,
             repeats, TOL["loss"])  # fmt: skip

    def nms(dev: torch.device) -> Callable[[], Any]:
        g = torch.Generator().manual_seed(1)
        xy = torch.rand(2000, 2, generator=g) * 500
        wh = 10 + torch.rand(2000, 2, generator=g) * 60
        boxes = torch.cat([xy, xy + wh], dim=1).to(dev)
        scores = torch.rand(2000, generator=g).to(dev)
        classes = torch.randint(0, 3, (2000,), generator=g).to(dev)
        return lambda: detheads.batched_nms(boxes, scores, classes, 0.5).sort().values

    _hot(report, "detheads.batched_nms (2000 boxes, 3 classes)", nms, device, repeats, 0.0)

    def scst(dev: torch.device) -> Callable[[], Any]:
        g = torch.Generator().manual_seed(2)
        logits = torch.randn(64, 20, 10, generator=g).to(dev)
        actions = torch.randint(0, 10, (64, 20), generator=g).to(dev)
        r_s, r_g = torch.rand(64, generator=g).to(dev), torch.rand(64, generator=g).to(dev)
        mask = (torch.rand(64, 20, generator=g) > 0.1).to(dev)

        def run() -> Any:
            x = logits.clone().requires_grad_(True)
            logp = torch.log_softmax(x, -1).gather(-1, actions[..., None])[..., 0]
            loss = seqrl.scst_loss(logp, r_s, r_g, mask=mask)
            (grad,) = torch.autograd.grad(loss, x)
            return {"loss": loss.detach(), "grad": grad}

        return run

    _hot(report, "seqrl.scst_loss + grad (64 x 20 steps)", scst, device, repeats, TOL["grad"])


def _error(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1]
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return f"error: {type(exc).__name__}: {msg[:160]} ({Path(where.filename).name}:{where.lineno})"


@contextlib.contextmanager
def _exact_float32() -> Iterator[None]:
    """No TF32 on CUDA while comparing with the CPU (restored afterwards)."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status (1 if a check failed)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--quick", action="store_true", help="short sequences, few iterations (CI)")
    ap.add_argument("--amp", action="store_true", help="also run tracker inference in autocast")
    ap.add_argument("--batch", type=int, default=None, help="B for batched tracking (2/4)")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument(
        "--only", nargs="+", choices=("trackers", "recipes", "hot"), default=None,
        help="run these sections only",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.batch is None:
        args.batch = 2 if args.quick else 4
    if args.batch < 1:
        ap.error(f"--batch must be >= 1, got {args.batch}")
    try:
        device = torch.device(args.device)
    except RuntimeError as exc:
        ap.error(f"--device: {exc}")
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: torch.cuda.is_available() is False on this machine")
    if device.type not in ("cpu", "cuda"):
        ap.error(f"--device must be cpu or cuda, got {args.device!r}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    report = Report(
        {
            "device": f"{device} ({name or platform.machine()})",
            "torch": torch.__version__,
            "cpu threads": torch.get_num_threads(),
            "mode": "quick" if args.quick else "full",
            "batch B": args.batch,
            "tracker fps": "the counted first run (includes warm-up)"
            if args.quick
            else "a second run without the sync counter",
            "amp": f"{'float16' if device.type == 'cuda' else 'bfloat16'} autocast"
            if args.amp
            else "off",
        }
    )
    sections = args.only or ["trackers", "recipes", "hot"]
    t0 = time.perf_counter()
    with _exact_float32():
        if "trackers" in sections:
            check_trackers(report, args, device)
        if "recipes" in sections:
            check_recipes(report, args, device)
        if "hot" in sections:
            check_hot_paths(report, args, device)
    report.settings["wall time (s)"] = round(time.perf_counter() - t0, 1)
    text = report.markdown()
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
