"""The `assoc` trackers on MOT15 public detections, against boxmot, trackers and norfair.

Association only: the boxes are the Faster R-CNN detections published with SORT (Bewley et
al., ICIP 2016) in ``../shared/data/mot15/<SEQ>/det/det.txt``; the six MOT15 training
sequences there have ground truth. Their scores were cut at 0.5 by SORT's authors, so every
file's scores are rescaled to ``[0, 1]`` by ``(c - min) / (max - min)`` over that file before
any tracker sees them (the same numbers for every tracker, ours and the peers').

Trackers, in the same run on the same detections:

- ``assoc.MotionTracker()`` (this library's default, chosen by leave-one-sequence-out below),
  and its presets ``MotionConfig.bytetrack() / .ocsort() / .botsort()``;
- ``assoc.SortTracker()``, ``assoc.RetinaTrackTracker()`` (IoU only, det.txt has no
  embeddings; with and without its motion model);
- ``ReferenceSort`` below: SORT from the paper with one ``filterpy`` filter per track;
- peers, each in its own virtualenv (``--venv LIB=PATH``), run as subprocesses by
  ``benchmarks/mot15_peer_runner.py`` with their documented defaults: boxmot ByteTrack,
  OC-SORT, BoT-SORT (no ReID), trackers SORT, ByteTrack, OC-SORT and BoT-SORT (no ReID, no
  camera-motion compensation: no images), norfair (IoU distance).

Scores: HOTA, CLEAR MOT and IDF1 from ``trackkit.eval`` (equal to TrackEval, tested), combined
over sequences like TrackEval's COMBINED_SEQ, for every tracker alike (peers' outputs are
scored here). Speed: frames per second of the ``update`` calls alone (inputs built outside
the timer), median of ``--rounds`` rounds.

Defaults of ``MotionConfig()``: a small grid of the mechanisms' settings is scored per
sequence; for each sequence the setting with the best criterion on the other five is chosen and
its held-out score reported (leave-one-sequence-out), for two criteria (the mean over sequences
of per-sequence (HOTA + IDF1) / 2, and the same of the pooled scores). The default is the
setting chosen on all six by the per-sequence criterion.

Run: ``python3 benchmarks/mot15_public.py`` (writes docs/benchmarks/mot15.md).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from filterpy.kalman import KalmanFilter
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

import assoc
from trackkit.data import MOTRows, MOTSequence, read_motchallenge
from trackkit.eval import (
    MOTBenchmarkResult,
    MOTScores,
    evaluate_mot,
    mot_results_table,
    run_mot_benchmark,
)
from trackkit.mot import DetectionTracker

ROOT = Path(__file__).resolve().parents[1]
OUT_MD = ROOT / "docs" / "benchmarks" / "mot15.md"


def _xyxy_to_z(box: NDArray[np.float64]) -> NDArray[np.float64]:
    """Box corners -> SORT measurement ``[u, v, s, r]`` (centre, area, aspect ratio)."""
    w, h = box[2] - box[0], box[3] - box[1]
    return np.array([box[0] + w / 2, box[1] + h / 2, w * h, w / h]).reshape(4, 1)


def _x_to_xyxy(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """SORT state -> box corners."""
    s, r = max(float(x[2, 0]), 0.0), float(x[3, 0])
    w = np.sqrt(s * r) if r > 0 else 0.0
    h = s / w if w > 0 else 0.0
    u, v = float(x[0, 0]), float(x[1, 0])
    return np.array([u - w / 2, v - h / 2, u + w / 2, v + h / 2])


class _Track:
    """One target: a constant-velocity Kalman filter on ``[u, v, s, r]`` (SORT sec. 3.2)."""

    def __init__(self, box: NDArray[np.float64], track_id: int, score: float) -> None:
        kf = KalmanFilter(dim_x=7, dim_z=4)
        kf.F = np.eye(7)
        kf.F[0, 4] = kf.F[1, 5] = kf.F[2, 6] = 1.0  # u, v, s move with their velocities
        kf.H = np.eye(4, 7)
        # Noise as in the authors' implementation: uncertain sizes and, for a new target,
        # very uncertain velocities ("initialised with a large covariance").
        kf.R[2:, 2:] *= 10.0
        kf.P[4:, 4:] *= 1000.0
        kf.P *= 10.0
        kf.Q[-1, -1] *= 0.01
        kf.Q[4:, 4:] *= 0.01
        kf.x[:4] = _xyxy_to_z(box)
        self.kf = kf
        self.id = track_id
        self.score = score
        self.time_since_update = 0
        self.hit_streak = 0

    def predict(self) -> NDArray[np.float64]:
        if self.kf.x[6, 0] + self.kf.x[2, 0] <= 0:  # an area may not shrink below zero
            self.kf.x[6, 0] = 0.0
        self.kf.predict()
        if self.time_since_update > 0:
            self.hit_streak = 0
        self.time_since_update += 1
        return _x_to_xyxy(self.kf.x)

    def update(self, box: NDArray[np.float64], score: float) -> None:
        self.time_since_update = 0
        self.hit_streak += 1
        self.score = score
        self.kf.update(_xyxy_to_z(box))


def _iou(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


class ReferenceSort:
    """SORT from the paper, one filterpy filter per track, for reference (see module doc).

    Args:
        iou_min: smallest IoU of a detection-to-track assignment (paper: 0.3).
        t_lost: frames a track survives without detection (paper: 1).
        min_hits: consecutive hits before a track is reported (authors' code: 3; every
            matched track is reported during the first ``min_hits`` frames).
    """

    def __init__(self, *, iou_min: float = 0.3, t_lost: int = 1, min_hits: int = 3) -> None:
        self.iou_min, self.t_lost, self.min_hits = iou_min, t_lost, min_hits
        self.reset()

    def reset(self) -> None:
        """Forget all tracks; ids restart at 1."""
        self.tracks: list[_Track] = []
        self.next_id = 1
        self.frame = 0

    def update(
        self, boxes_xyxy: NDArray[np.float64], scores: NDArray[np.float64], embeddings: Any = None
    ) -> SimpleNamespace:
        """One frame: predict, associate (Hungarian on IoU), update, create, report, delete."""
        self.frame += 1
        dets = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        predicted = np.array([t.predict() for t in self.tracks]).reshape(-1, 4)
        ok = np.isfinite(predicted).all(axis=1)
        self.tracks = [t for t, keep in zip(self.tracks, ok) if keep]
        predicted = predicted[ok]
        matched_dets: set[int] = set()
        if len(dets) and len(predicted):
            iou = _iou(dets, predicted)
            rows, cols = linear_sum_assignment(-iou)
            for d, t in zip(rows, cols):
                if iou[d, t] >= self.iou_min:
                    self.tracks[t].update(dets[d], float(scores[d]))
                    matched_dets.add(int(d))
        for d in range(len(dets)):
            if d not in matched_dets:
                self.tracks.append(_Track(dets[d], self.next_id, float(scores[d])))
                self.next_id += 1
        ids, boxes, out_scores = [], [], []
        for t in self.tracks:
            warm = self.frame <= self.min_hits
            if t.time_since_update < 1 and (t.hit_streak >= self.min_hits or warm):
                ids.append(t.id)
                boxes.append(_x_to_xyxy(t.kf.x))
                out_scores.append(t.score)
        self.tracks = [t for t in self.tracks if t.time_since_update <= self.t_lost]
        return SimpleNamespace(
            ids=np.array(ids, dtype=np.int64),
            boxes_xyxy=np.array(boxes).reshape(-1, 4),
            scores=np.array(out_scores),
        )


def rescale_scores(seq: MOTSequence) -> MOTSequence:
    """The sequence with its detection scores mapped to [0, 1] by min-max over the file."""
    assert seq.det is not None
    c = seq.det.confidences
    span = float(c.max() - c.min())
    scaled = (c - c.min()) / span if span > 0 else np.ones_like(c)
    return replace(seq, det=replace(seq.det, confidences=scaled))


PEERS = [
    ("boxmot", "ByteTrack"),
    ("boxmot", "OC-SORT"),
    ("boxmot", "BoT-SORT"),
    ("trackers", "SORT"),
    ("trackers", "ByteTrack"),
    ("trackers", "OC-SORT"),
    ("trackers", "BoT-SORT"),
    ("norfair", "IoU"),
]

# Leave-one-sequence-out grid: the lost-track mechanisms and the birth/confirmation settings.
GRID = {
    "lost_last": [True, False],
    "max_age": [5, 30],
    "min_hits, new_track_threshold": [(2, 0.7), (2, 0.8), (3, 0.8)],
    "reconfirm_hits": [0, 2],
}
GRID_BASE = "MotionConfig"  # the grid varies these fields of MotionConfig()
DEFAULT_CRITERION = "per-sequence"


def grid_configs() -> list[tuple[str, assoc.MotionConfig]]:
    """Every grid point as (label, MotionConfig)."""
    out = []
    for lost_last, age, (hits, birth), reconfirm in itertools.product(*GRID.values()):
        cfg = assoc.MotionConfig().with_options(
            lost_last=lost_last,
            max_age=age,
            min_hits=hits,
            new_track_threshold=birth,
            reconfirm_hits=reconfirm,
        )
        label = (
            f"lost_last={lost_last}, max_age={age}, min_hits={hits}, birth={birth}, "
            f"reconfirm={reconfirm}"
        )
        out.append((label, cfg))
    return out


def run_peer(
    lib: str, kind: str, venv: Path, seqs: list[MOTSequence], rounds: int, work: Path
) -> MOTBenchmarkResult:
    """Run one peer in its virtualenv on prepared detections and score its output here."""
    inp = work / "detections.npz"
    if not inp.exists():
        arrays: dict[str, np.ndarray] = {}
        for s in seqs:
            assert s.det is not None
            b = s.det.boxes_xywh.copy()
            b[:, 2:] += b[:, :2]
            arrays[f"{s.name}/frames"] = s.det.frames
            arrays[f"{s.name}/boxes"] = b
            arrays[f"{s.name}/scores"] = s.det.confidences
            arrays[f"{s.name}/meta"] = np.array(
                [s.num_frames, s.image_size[0], s.image_size[1], s.frame_rate]
            )
        np.savez(inp, **arrays)
    out = work / f"{lib}_{kind}.npz"
    cmd = [
        str(venv / "bin" / "python"),
        str(ROOT / "benchmarks" / "mot15_peer_runner.py"),
        "--tracker",
        f"{lib}.{kind}",
        "--input",
        str(inp),
        "--output",
        str(out),
        "--rounds",
        str(rounds),
    ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    data = np.load(out)
    scores: dict[str, MOTScores] = {}
    seconds: dict[str, float] = {}
    frames: dict[str, int] = {}
    for s in seqs:
        assert s.gt is not None
        b = data[f"{s.name}/boxes"]
        rows = MOTRows(
            data[f"{s.name}/frames"],
            data[f"{s.name}/ids"],
            np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1),
            data[f"{s.name}/scores"],
        )
        scores[s.name] = evaluate_mot(s.gt, rows, s.num_frames)
        seconds[s.name] = float(data[f"{s.name}/seconds"])
        frames[s.name] = s.num_frames
    return MOTBenchmarkResult(
        f"{lib} {peer_version(venv, lib)} {kind}",
        scores,
        MOTScores.combine(scores.values()),
        seconds,
        frames,
    )


def peer_version(venv: Path, lib: str) -> str:
    """The installed version of a peer library in its venv."""
    code = f"import importlib.metadata as m; print(m.version({lib!r}))"
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


CRITERIA = {
    "per-sequence": "mean over the sequences of each sequence's (HOTA + IDF1) / 2 (every "
    "sequence, i.e. every scene, weighs the same)",
    "pooled": "(HOTA + IDF1) / 2 of the sequences combined (long sequences weigh more)",
}


def selection_score(scores: dict[str, MOTScores], names: list[str], criterion: str) -> float:
    """The criterion that chooses a setting on the sequences ``names``."""
    if criterion == "pooled":
        c = MOTScores.combine(scores[n] for n in names)
        return (c.hota.hota + c.identity.idf1) / 2.0
    return sum((scores[n].hota.hota + scores[n].identity.idf1) / 2.0 for n in names) / len(names)


def grid_scores(seqs: list[MOTSequence]) -> tuple[list[str], dict[str, dict[str, MOTScores]]]:
    """Score every grid setting on every sequence."""
    labels, per = [], {}
    for label, cfg in grid_configs():
        tracker = DetectionTracker(assoc.MotionTracker(cfg))
        result = run_mot_benchmark(tracker, seqs, name=label, progress=False)
        labels.append(label)
        per[label] = result.scores
    return labels, per


def leave_one_out(
    labels: list[str], per: dict[str, dict[str, MOTScores]], names: list[str], criterion: str
) -> tuple[list[tuple[str, str, MOTScores]], str]:
    """Choose per held-out sequence (on the other ones) and on all of them."""

    def best(subset: list[str]) -> str:
        return max(labels, key=lambda label: selection_score(per[label], subset, criterion))

    held = []
    for name in names:
        chosen = best([n for n in names if n != name])
        held.append((name, chosen, per[chosen][name]))
    return held, best(names)


def fmt(x: float) -> str:
    return f"{100 * x:.2f}"


def main() -> None:
    """Run every tracker over the MOT15 sequences and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(os.environ.get("TRACKKIT_DATA", ROOT / "../shared/data")) / "mot15"
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out-md", type=Path, default=OUT_MD)
    parser.add_argument(
        "--venv",
        action="append",
        default=[],
        help="LIB=PATH of a peer's virtualenv (default /tmp/peer-LIB for boxmot, trackers, "
        "norfair); peers without a venv are left out and listed",
    )
    parser.add_argument("--skip-loso", action="store_true", help="leave out the grid search")
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"data folder not found: {args.data}")
    venvs = {lib: Path(f"/tmp/peer-{lib}") for lib in ("boxmot", "trackers", "norfair")}
    for item in args.venv:
        lib, _, path = item.partition("=")
        venvs[lib] = Path(path)
    seqs = [rescale_scores(s) for s in read_motchallenge(args.data)]

    trackers: dict[str, Any] = {
        "assoc.MotionTracker() (default)": assoc.MotionTracker(),
        "assoc MotionConfig.bytetrack()": assoc.MotionTracker(assoc.MotionConfig.bytetrack()),
        "assoc MotionConfig.ocsort()": assoc.MotionTracker(assoc.MotionConfig.ocsort()),
        "assoc MotionConfig.botsort()": assoc.MotionTracker(assoc.MotionConfig.botsort()),
        "assoc.SortTracker": assoc.SortTracker(),
        "assoc.RetinaTrackTracker (IoU, motion)": assoc.RetinaTrackTracker(),
        "assoc.RetinaTrackTracker (IoU, paper: no motion)": assoc.RetinaTrackTracker(
            assoc.RetinaTrackConfig(motion=None)
        ),
        "ReferenceSort (per-track filterpy)": ReferenceSort(),
    }
    runs: dict[str, list[MOTBenchmarkResult]] = {name: [] for name in trackers}
    for _ in range(args.rounds):  # interleaved rounds: load bursts hit every tracker
        for name, tracker in trackers.items():
            run = run_mot_benchmark(DetectionTracker(tracker), seqs, name=name, progress=False)
            runs[name].append(run)
    results: list[MOTBenchmarkResult] = []
    for name, rounds in runs.items():
        first = rounds[0]
        for other in rounds[1:]:  # deterministic trackers: identical scores every round
            if other.combined.summary() != first.combined.summary():
                raise RuntimeError(f"{name}: scores differ between rounds")
        seconds = {s: statistics.median(r.seconds[s] for r in rounds) for s in first.seconds}
        results.append(
            MOTBenchmarkResult(name, first.scores, first.combined, seconds, first.frames)
        )
    missing = []
    with tempfile.TemporaryDirectory() as tmp:
        for lib, kind in PEERS:
            venv = venvs[lib]
            if not (venv / "bin" / "python").exists():
                missing.append(f"{lib} {kind} (no venv at {venv})")
                continue
            print(f"peer {lib} {kind} ...", file=sys.stderr, flush=True)
            results.append(run_peer(lib, kind, venv, seqs, args.rounds, Path(tmp)))

    loso = None if args.skip_loso else grid_scores(seqs)
    write_report(args, seqs, results, missing, loso)


def write_report(args, seqs, results, missing, loso) -> None:  # type: ignore[no-untyped-def]
    """Write the markdown report and print it."""
    table = mot_results_table(results)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    frames = sum(s.num_frames for s in seqs)
    fps = {r.tracker: r.fps for r in results}
    lines = [
        "# MOT15 public detections: `assoc` trackers against boxmot, trackers and norfair",
        "",
        f"Produced by `benchmarks/mot15_public.py` on {stamp}: Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU cores shared with other jobs; "
        f"{len(seqs)} MOT15 training sequences ({', '.join(s.name for s in seqs)}), "
        f"{frames} frames; detections: SORT's Faster R-CNN `det.txt`, scores rescaled to "
        "[0, 1] per file by min-max (they were cut at 0.5), the same for every tracker.",
        "",
        "Every tracker's output is scored by `trackkit.eval` (equal to TrackEval 1.3.0), "
        "combined over sequences as TrackEval's COMBINED_SEQ. FPS = frames / seconds spent in "
        f"`update` (association only, inputs built outside the timer), median of {args.rounds} "
        "rounds; peers run in their own virtualenvs (subprocess). The machine is shared and "
        "loaded, so read speed as ratios within this run.",
        "",
        "## Combined",
        "",
        "| tracker | HOTA | MOTA | IDF1 | IDSW | frames/s | ms/frame |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c = r.combined
        lines.append(
            f"| {r.tracker} | {fmt(c.hota.hota)} | {fmt(c.clear.mota)} | "
            f"{fmt(c.identity.idf1)} | {c.clear.idsw} | {r.fps:.0f} | {1000 / r.fps:.3f} |"
        )
    lines += ["", "All metrics:", "", table, ""]
    if missing:
        lines += ["Peers left out (no virtualenv): " + "; ".join(missing), ""]
    ref = [n for n in fps if n.startswith("trackers") and n.endswith("ByteTrack")]
    if ref:
        lines += [
            f"Speed relative to {ref[0]} (same run): "
            + ", ".join(f"{n}: {fps[n] / fps[ref[0]]:.2f}x" for n in fps),
            "",
        ]
    lines += ["## Per sequence (HOTA / MOTA / IDF1 / IDSW / frames/s)", ""]
    lines += ["| tracker | " + " | ".join(s.name for s in seqs) + " |"]
    lines += ["|---|" + "---|" * len(seqs)]
    for r in results:
        cells = []
        for s in seqs:
            sc = r.scores[s.name]
            cells.append(
                f"{fmt(sc.hota.hota)} / {fmt(sc.clear.mota)} / {fmt(sc.identity.idf1)} / "
                f"{sc.clear.idsw} / {r.frames[s.name] / r.seconds[s.name]:.0f}"
            )
        lines.append(f"| {r.tracker} | " + " | ".join(cells) + " |")
    if loso is not None:
        labels, per = loso
        names = [s.name for s in seqs]
        lines += [
            "",
            "## Choosing the defaults: leave one sequence out",
            "",
            f"Grid over `{GRID_BASE}()` fields: "
            + "; ".join(f"`{k}` in {v}" for k, v in GRID.items())
            + f" ({len(labels)} settings). For each held-out sequence the setting with the "
            "best criterion on the other five is chosen and scored on the held-out sequence. "
            "Two criteria: " + "; ".join(f"**{k}**: {v}" for k, v in CRITERIA.items()) + ".",
        ]
        for criterion in CRITERIA:
            held, chosen_all = leave_one_out(labels, per, names, criterion)
            lines += [
                "",
                f"### Criterion: {criterion}",
                "",
                "| held-out sequence | chosen on the other five | HOTA | IDF1 | IDSW |",
                "|---|---|---|---|---|",
            ]
            for name, chosen, sc in held:
                lines.append(
                    f"| {name} | {chosen} | {fmt(sc.hota.hota)} | {fmt(sc.identity.idf1)} | "
                    f"{sc.clear.idsw} |"
                )
            pooled = MOTScores.combine(sc for _, _, sc in held)
            lines += [
                f"| held-out, combined | | {fmt(pooled.hota.hota)} | "
                f"{fmt(pooled.identity.idf1)} | {pooled.clear.idsw} |",
                "",
                f"Chosen on all six: {chosen_all}.",
            ]
        lines += [
            "",
            f"`MotionConfig()` is the setting chosen on all six by the **{DEFAULT_CRITERION}** "
            "criterion.",
            "",
            "| setting | HOTA (all six) | IDF1 | IDSW | mean per-sequence HOTA |",
            "|---|---|---|---|---|",
        ]
        for label in labels:
            c = MOTScores.combine(per[label].values())
            mean_hota = sum(per[label][n].hota.hota for n in names) / len(names)
            lines.append(
                f"| {label} | {fmt(c.hota.hota)} | {fmt(c.identity.idf1)} | {c.clear.idsw} | "
                f"{fmt(mean_hota)} |"
            )
    lines.append("")
    args.out_md.parent.mkdir(parents=True, exist_ok=True)
    args.out_md.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
