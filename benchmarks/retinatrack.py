"""RetinaTrack (Lu et al. 2020): detection AP, tracking scores and speed of the shipped network.

On the validation sequence(s) of ``../shared/data/mot`` that ``trackkit train retinatrack``
never trains on (``RETINATRACK_VALIDATION_SEQUENCES``: TUD-Campus), in one run:

- detection: AP at IoU 0.5 of the network's detections (score threshold lowered to 0.05 for
  the curve) with the detector's NMS (0.5) and the tracker's (``TRACKING_NMS_THRESHOLD``),
  and recall / precision at the tracker's score threshold (``TRACKING_SCORE_THRESHOLD``);
- tracking, all on the *same* detections (the tracker's thresholds, with their embeddings):
  (a) IoU-only association, (b) IoU + embedding (the paper's fused similarity, with the
  embedding gate calibrated on the training sequences; also with ``assoc``'s default gate),
  both with the IoU source of the tracker's settings (``TRACKING_IOU_SOURCE``) and both
  with the other one (a track's H stored boxes or its newest box),
  (c) embedding only, (d) SORT, (e) IoU + ``assoc``'s motion model, (g) (b) with that motion
  model (``iou+embedding+motion``, docs/history/mot.md round 9), (f) ``assoc.MotionTracker``
  without and with embeddings (fed every detection >= 0.05: it applies its own thresholds),
  (f') the same with its detection thresholds chosen on the training sequences
  (``MOTION_THRESHOLDS``);
  and SORT on the public Faster R-CNN detections of ``det/det.txt`` (SORT's own, Bewley et
  al. 2016) on the same sequences. Scores: HOTA, MOTA, IDF1, ID switches from
  ``trackkit.eval`` (TrackEval-equal);
- speed: end-to-end milliseconds per frame of ``RetinaTrackMOT`` on the sequence's 640x480
  frames, split into preprocessing, trunk + FPN, head, decoding + NMS and association
  (median over ``--rounds`` passes), each setting in its own worker process: 2 torch threads
  with ``OMP_WAIT_POLICY=PASSIVE`` and with OpenMP's default (spinning) wait policy, and 1
  thread. Each worker alternates the inference path (frozen BatchNorm folded into the
  convolutions) with the reference path (``fold_batchnorm = False``: the trunk as trained)
  and reports their ratio. The machine is shared; its load average is printed with the
  numbers, and ``CPU ms`` (CPU time the process used) next to the wall clock.

Accuracy variant (docs/history/mot.md rules 4 and 6): the P6 network ``ACCURACY_CHECKPOINT``
(``--accuracy-checkpoint``) on frames resized to ``ACCURACY_WIDTH`` = 640 px wide, with its
own thresholds (``ACCURACY_SCORE_THRESHOLD``, ``ACCURACY_NMS_THRESHOLD``, chosen on the
training sequences at 640 px; ``RetinaTrackMOT.p6_variant()``, ``trackkit mot --variant
p6-640``, formerly named ``accuracy``): detection AP, rows (a), (b), (d), (f), (f')
(``ACCURACY_MOTION_THRESHOLDS``) and its speed with 2 passive threads. The 512 px network
input stays the default (the CPU-sized variant that carries the speed target).

With ``--postprocess G N`` every tracker row is also scored after offline post-processing
(``assoc.postprocess_tracks``: tracks with fewer than N reported boxes removed, then gaps of at
most G missing frames filled; docs/history/mot.md rule 7), next to its raw row, and the best of
ours is compared with SORT on the public detections raw and post-processed. With ``--smooth
TAU0`` as well, a third row per tracker adds Gaussian-process smoothing of the post-processed tracks
(``assoc.smooth_tracks`` with ``tau0``, Du et al. 2023, StrongSORT's GSI; docs/history/mot.md
rule 8).

With ``--with-train`` the training sequences are scored too (marked as seen in training;
the tracker's thresholds were chosen on them).

Run: ``python3 benchmarks/retinatrack.py --with-train`` (writes docs/benchmarks/retinatrack.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import assoc
from trackkit.data import MOTRows, MOTSequence, default_mot_root, read_motchallenge
from trackkit.eval import MOTScores, detection_average_precision, evaluate_mot, markdown_table
from trackkit.mot import associate, postprocess_rows
from trackkit.mot.retinatrack import (
    ACCURACY_CHECKPOINT,
    ACCURACY_NMS_THRESHOLD,
    ACCURACY_SCORE_THRESHOLD,
    ACCURACY_WIDTH,
    DEFAULT_CHECKPOINT,
    EMBEDDING_GATE,
    TRACKING_IOU_SOURCE,
    TRACKING_NMS_THRESHOLD,
    TRACKING_SCORE_THRESHOLD,
    RetinaTrackMOT,
    RetinaTrackNet,
    StageTimes,
    detect_frames,
    load_retinatrack_checkpoint,
    make_association,
)
from trackkit.registry import make_tracker
from trackkit.train import RETINATRACK_TRAIN_SEQUENCES, RETINATRACK_VALIDATION_SEQUENCES

ROOT = Path(__file__).resolve().parents[1]
OUT_MD = ROOT / "docs" / "benchmarks" / "retinatrack.md"
SPEED_MD = ROOT / "docs" / "benchmarks" / "retinatrack_speed.md"
AP_THRESHOLD = 0.05
#: ``assoc.MotionTracker`` thresholds of row (f'): the best mean HOTA on the training sequences
#: (benchmarks/retinatrack_settings.py -> docs/benchmarks/retinatrack_settings.md).
MOTION_THRESHOLDS: dict[str, Any] = {"high_threshold": 0.6, "new_track_threshold": 0.6}
#: (f') thresholds of the accuracy variant, chosen the same way at 640 px (docs/history/mot.md
#: rule 6; docs/benchmarks/retinatrack_settings_v6_640.md).
ACCURACY_MOTION_THRESHOLDS: dict[str, Any] = {"high_threshold": 0.3, "new_track_threshold": 0.4}


def _gt_rows(seq: MOTSequence) -> MOTRows:
    assert seq.gt is not None
    g = seq.gt
    return g.select((g.confidences != 0) & (g.classes == 1))


def _detect(
    net: RetinaTrackNet, seq: MOTSequence, nms: float, width: int | None = None
) -> tuple[MOTRows, np.ndarray]:
    """All detections (score >= AP_THRESHOLD) of a sequence with their embeddings."""
    assert seq.frames is not None
    parts, embs = [], []
    for t in range(seq.num_frames):
        (d,) = detect_frames(
            net,
            [seq.frames[t]],
            score_threshold=AP_THRESHOLD,
            nms_threshold=nms,
            input_width=width,
        )
        b = d.boxes_xyxy
        xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
        parts.append(MOTRows(np.full(len(b), t), np.full(len(b), -1), xywh, d.scores))
        embs.append(d.embeddings)
    return MOTRows.concatenate(parts), np.concatenate(embs)


def detection_columns(seq: MOTSequence, det: MOTRows, threshold: float) -> dict[str, float]:
    """All-point AP50 of ``det`` against the pedestrian ground truth, recall / precision and
    the count of detections at score >= ``threshold``, and the ground-truth count (``gt``)."""
    gt = _gt_rows(seq)
    gi, di = gt.split_by_frame(seq.num_frames), det.split_by_frame(seq.num_frames)
    r = detection_average_precision(
        [gt.boxes_xywh[i] for i in gi],
        [det.boxes_xywh[i] for i in di],
        [det.confidences[i] for i in di],
    )
    at = r.scores >= threshold
    return {
        "AP50": r.ap,
        "recall@thr": float(r.recall[at].max()) if at.any() else 0.0,
        "precision@thr": float(r.precision[at][-1]) if at.any() else 0.0,
        "gt": r.num_gt,
        "dets@thr": int(at.sum()),
    }


def _score(seq: MOTSequence, tracks: MOTRows) -> MOTScores:
    assert seq.gt is not None
    return evaluate_mot(seq.gt, tracks, seq.num_frames)


def mot_columns(s: MOTScores) -> dict[str, Any]:
    """HOTA, DetA, AssA, MOTA, IDF1 and the IDSW, FP, FN counts of a tracker's scores."""
    v = s.summary()
    return {
        **{k: v[k] for k in ("HOTA", "DetA", "AssA", "MOTA", "IDF1")},
        **{k: int(v[k]) for k in ("IDSW", "FP", "FN")},
    }


def _row(name: str, s: MOTScores) -> dict[str, Any]:
    return {"tracker": name, **mot_columns(s)}


def _add_rows(
    out: list[dict[str, Any]],
    head: dict[str, Any],
    label: str,
    seq: MOTSequence,
    tracks: MOTRows,
    post: list[int] | None,
    smooth: float | None = None,
) -> None:
    """The raw row and, with ``--postprocess G N``, the post-processed one after it (and with
    ``--smooth TAU0`` the post-processed and smoothed one after that)."""
    if post is None:
        out.append(head | _row(label, _score(seq, tracks)))
        return
    gap, length = post
    out.append(head | {"post": "raw"} | _row(label, _score(seq, tracks)))
    done = postprocess_rows(tracks, interpolate=gap, min_track_length=length)
    out.append(head | {"post": _post_tag(post)} | _row(label, _score(seq, done)))
    if smooth:
        done = postprocess_rows(tracks, interpolate=gap, min_track_length=length, smooth=smooth)
        tag = _post_tag(post, smooth)
        out.append(head | {"post": tag} | _row(label, _score(seq, done)))


def _post_tag(post: list[int], smooth: float | None = None) -> str:
    return f"G={post[0]}, N={post[1]}" + (f", tau0={smooth:g}" if smooth else "")


def _post_summary(
    rows: list[dict[str, Any]], post: list[int], smooth: float | None = None
) -> list[str]:
    """Best post-processed tracker of ours against SORT on the public detections, raw and
    post-processed (and smoothed), per validation sequence."""
    lines = []
    tags = [_post_tag(post)] + ([_post_tag(post, smooth)] if smooth else [])
    for name in RETINATRACK_VALIDATION_SEQUENCES:
        seq_rows = [r for r in rows if r["sequence"] == name]
        public = {r["post"]: r for r in seq_rows if r["input px"] == "-"}
        ours = [r for r in seq_rows if r["input px"] != "-"]
        sort_text = f"SORT on the public det.txt raw {public['raw']['HOTA']:.3f}" + "".join(
            f", {tag} {public[tag]['HOTA']:.3f}" for tag in tags
        )
        for kind in ("raw", *tags):
            best = max((r for r in ours if r["post"] == kind), key=lambda r: r["HOTA"])
            lines.append(
                f"- {name}, {'raw' if kind == 'raw' else 'post-processed (' + kind + ')'}: best "
                f"tracker of ours {best['tracker']} at {best['input px']} px, HOTA "
                f"{best['HOTA']:.3f} (IDF1 {best['IDF1']:.3f}, MOTA {best['MOTA']:.3f}); "
                f"{sort_text}."
            )
    return lines


def _table(rows: list[dict[str, Any]]) -> str:
    return markdown_table(rows, list(rows[0]))


def _speed_worker(
    checkpoint: Path, root: Path, threads: int, frames: int, rounds: int, width: int | None
) -> None:
    """One speed setting (run in its own process): prints a JSON line of medians."""
    torch.set_num_threads(threads)
    net, _ = load_retinatrack_checkpoint(checkpoint)
    name = RETINATRACK_VALIDATION_SEQUENCES[0]
    seq = read_motchallenge(root, names=[name])[name]
    assert seq.frames is not None
    imgs = [seq.frames[t] for t in range(min(frames, seq.num_frames))]
    per_path: dict[str, list[dict[str, float]]] = {"folded": [], "reference": []}
    for _ in range(rounds):
        for path in ("reference", "folded"):
            net.fold_batchnorm = path == "folded"
            tracker = (
                RetinaTrackMOT(net, input_width=width)
                if width is None
                else RetinaTrackMOT(
                    net,
                    input_width=width,
                    score_threshold=ACCURACY_SCORE_THRESHOLD,
                    nms_threshold=ACCURACY_NMS_THRESHOLD,
                )
            )
            tracker.update(imgs[0])  # warm-up (builds the folded trunk and the anchors)
            tracker.reset()
            tracker.times = StageTimes()
            cpu0 = time.process_time()
            for img in imgs:
                tracker.update(img)
            ms = tracker.times.per_frame_ms()
            ms["CPU ms"] = 1000.0 * (time.process_time() - cpu0) / len(imgs)
            per_path[path].append(ms)
    out: dict[str, Any] = {
        "load": os.getloadavg()[0],
        "frame": list(seq.image_size),
        "input": width or net.config.input_width,
    }
    for path, runs in per_path.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        med["FPS"] = 1000.0 / med["total"]
        out[path] = med
    out["total ratio"] = out["reference"]["total"] / out["folded"]["total"]
    out["trunk ratio"] = out["reference"]["trunk+FPN"] / out["folded"]["trunk+FPN"]
    print("SPEED " + json.dumps(out), flush=True)


#: (label, torch threads, OMP_WAIT_POLICY or None for OpenMP's default, input width or None
#: for the network's)
SPEED_SETTINGS: tuple[tuple[str, int, str | None, int | None], ...] = (
    ("2 threads, OMP_WAIT_POLICY=PASSIVE", 2, "PASSIVE", None),
    ("2 threads, default wait policy", 2, None, None),
    ("1 thread", 1, "PASSIVE", None),
    (f"accuracy variant ({ACCURACY_WIDTH} px input), 2 passive threads", 2, "PASSIVE",
     ACCURACY_WIDTH),
)  # fmt: skip


def _speed(
    checkpoint: Path, accuracy_checkpoint: Path, root: Path, frames: int, rounds: int
) -> list[dict[str, Any]]:
    rows = []
    for label, threads, policy, width in SPEED_SETTINGS:
        env = dict(os.environ)
        env.pop("OMP_WAIT_POLICY", None)
        if policy is not None:
            env["OMP_WAIT_POLICY"] = policy
        env["OMP_NUM_THREADS"] = str(threads)
        cmd = [sys.executable, __file__, "--speed-worker", "--threads", str(threads)]
        ck = checkpoint if width is None else accuracy_checkpoint
        cmd += ["--checkpoint", str(ck), "--data", str(root)]
        cmd += ["--speed-frames", str(frames), "--rounds", str(rounds)]
        if width is not None:
            cmd += ["--input-width", str(width)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("SPEED "))
        result = json.loads(line[len("SPEED ") :])
        print(label, json.dumps(result), flush=True)
        rows.append({"setting": label, **result})
    return rows


def _speed_table(rows: list[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        for path in ("folded", "reference"):
            name = "BN folded (shipped)" if path == "folded" else "reference (BN not folded)"
            out.append({"setting": r["setting"], "input px": r["input"], "path": name, **r[path]})
    return _table(out)


def main() -> None:
    """Run the benchmark and write the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument(
        "--accuracy-checkpoint",
        type=Path,
        default=ACCURACY_CHECKPOINT,
        help="the accuracy variant's network (default the shipped P6 network)",
    )
    parser.add_argument("--data", type=Path, default=None, help="MOTChallenge folder")
    parser.add_argument("--threads", type=int, default=2, help="(speed worker) torch threads")
    parser.add_argument("--input-width", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--speed-frames", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--speed-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--with-train", action="store_true", help="also score training seqs")
    parser.add_argument("--out-md", type=Path, default=OUT_MD)
    parser.add_argument(
        "--no-speed", action="store_true", help="detection and tracking only (no speed section)"
    )
    parser.add_argument(
        "--postprocess",
        type=int,
        nargs=2,
        default=None,
        metavar=("MAX_GAP", "MIN_LENGTH"),
        help="also score every tracker row post-processed offline (assoc.postprocess_tracks: "
        "tracks shorter than MIN_LENGTH dropped, gaps up to MAX_GAP filled), next to its raw "
        "row (docs/history/mot.md rule 7)",
    )
    parser.add_argument(
        "--smooth",
        type=float,
        default=None,
        metavar="TAU0",
        help="with --postprocess: also score every tracker row post-processed and then "
        "smoothed (assoc.smooth_tracks with this tau0; docs/history/mot.md rule 8)",
    )
    parser.add_argument(
        "--speed-only",
        action="store_true",
        help=f"only the speed settings, written to {SPEED_MD.relative_to(ROOT)}",
    )
    args = parser.parse_args()
    if args.smooth is not None and (args.postprocess is None or not args.smooth > 0):
        parser.error("--smooth needs --postprocess and a tau0 > 0")

    root = args.data or default_mot_root()
    if args.speed_worker:
        _speed_worker(
            args.checkpoint, root, args.threads, args.speed_frames, args.rounds, args.input_width
        )
        return
    if args.speed_only:
        t0 = time.perf_counter()
        speed = _speed(
            args.checkpoint, args.accuracy_checkpoint, root, args.speed_frames, args.rounds
        )
        name = RETINATRACK_VALIDATION_SEQUENCES[0]
        text = [
            "# RetinaTrack: end-to-end speed only",
            "",
            f"Generated by `python benchmarks/retinatrack.py --speed-only --speed-frames "
            f"{args.speed_frames} --rounds {args.rounds}` in {time.perf_counter() - t0:.0f} s "
            f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
            f"{torch.__version__}). `RetinaTrackMOT` (IoU + embedding, tracker settings) on the "
            f"first {args.speed_frames} frames of {name}, median of {args.rounds} passes per "
            "path, milliseconds per frame (wall clock; `CPU ms`: CPU time per frame); `load` is "
            "the 1-minute load average at the end of each setting. The full benchmark "
            "(detection, tracking and speed) is [retinatrack.md](retinatrack.md).",
            "",
            _speed_table(speed),
            "",
        ]
        SPEED_MD.write_text("\n".join(text))
        print(f"wrote {SPEED_MD}")
        return
    net, meta = load_retinatrack_checkpoint(args.checkpoint)
    acc_net, acc_meta = load_retinatrack_checkpoint(args.accuracy_checkpoint)
    shipped = net.config
    thr = TRACKING_SCORE_THRESHOLD
    torch.set_num_threads(1)
    names = list(RETINATRACK_VALIDATION_SEQUENCES)
    if args.with_train:
        names += [n for n in RETINATRACK_TRAIN_SEQUENCES if not n.startswith("MOT17")]
    ds = read_motchallenge(root, names=names)
    det_rows: list[dict[str, Any]] = []
    trk_rows: list[dict[str, Any]] = []
    bot = assoc.StateLayout.botsort()
    other = "history" if TRACKING_IOU_SOURCE == "latest" else "latest"
    for name in names:
        seq = ds[name]
        split = "validation" if name in RETINATRACK_VALIDATION_SEQUENCES else "training (seen)"
        t0 = time.perf_counter()
        for width in (ACCURACY_WIDTH, None):  # the default's detections stay in det / emb
            px = width or shipped.input_width
            wide = width is not None
            the_net = acc_net if wide else net
            nms_track = ACCURACY_NMS_THRESHOLD if wide else TRACKING_NMS_THRESHOLD
            for nms in (the_net.config.nms_threshold, nms_track):
                det, emb = _detect(the_net, seq, nms, width)
                det_rows.append(
                    {"sequence": name, "split": split, "input px": px, "NMS": nms}
                    | detection_columns(seq, det, ACCURACY_SCORE_THRESHOLD if wide else thr)
                )
            if width is not None:
                wide_det, wide_emb = det, emb
        print(f"{name}: {len(det)} detections in {time.perf_counter() - t0:.1f} s", flush=True)
        keep = det.confidences >= thr
        d, e = det.select(keep), emb[keep]
        for label, make, use_emb, every in (
            ("(a) IoU only", lambda: make_association("iou"), False, False),
            ("(b) IoU + embedding (paper)", lambda: make_association("iou+embedding"), True, False),
            (
                f"(a) IoU only, IoU with {other}",
                lambda: make_association("iou", iou_source=other),
                False,
                False,
            ),
            (
                f"(b) IoU + embedding, IoU with {other}",
                lambda: make_association("iou+embedding", iou_source=other),
                True,
                False,
            ),
            (
                "(b) with assoc's default gate 0.5",
                lambda: make_association("iou+embedding", max_cosine_distance=0.5),
                True,
                False,
            ),
            ("(c) embedding only", lambda: make_association("embedding"), True, False),
            ("(d) SORT", lambda: make_association("sort"), False, False),
            ("(e) IoU + motion model", lambda: make_association("iou", motion=bot), False, False),
            (
                "(g) IoU + embedding + motion model",
                lambda: make_association("iou+embedding", motion=bot),
                True,
                False,
            ),
            ("(f) MotionTracker", assoc.MotionTracker, False, True),
            ("(f) MotionTracker + embedding", assoc.MotionTracker, True, True),
            (
                "(f') MotionTracker, thresholds chosen on training",
                lambda: assoc.MotionTracker(assoc.MotionConfig(**MOTION_THRESHOLDS)),
                False,
                True,
            ),
        ):
            rows, embs = (det, emb) if every else (d, e)
            tracks, _ = associate(
                make(), rows, seq.num_frames, embeddings=embs if use_emb else None
            )
            _add_rows(
                trk_rows,
                {"sequence": name, "split": split, "input px": shipped.input_width},
                label,
                seq,
                tracks,
                args.postprocess,
                args.smooth,
            )
        keep = wide_det.confidences >= ACCURACY_SCORE_THRESHOLD
        wd, we = wide_det.select(keep), wide_emb[keep]
        for label, make, use_emb, every in (
            ("(a) IoU only", lambda: make_association("iou"), False, False),
            ("(b) IoU + embedding (paper)", lambda: make_association("iou+embedding"), True, False),
            ("(d) SORT", lambda: make_association("sort"), False, False),
            ("(f) MotionTracker", assoc.MotionTracker, False, True),
            (
                "(f') MotionTracker, thresholds chosen on training",
                lambda: assoc.MotionTracker(assoc.MotionConfig(**ACCURACY_MOTION_THRESHOLDS)),
                False,
                True,
            ),
        ):
            rows, embs = (wide_det, wide_emb) if every else (wd, we)
            tracks, _ = associate(
                make(), rows, seq.num_frames, embeddings=embs if use_emb else None
            )
            _add_rows(
                trk_rows,
                {"sequence": name, "split": split, "input px": ACCURACY_WIDTH},
                label,
                seq,
                tracks,
                args.postprocess,
                args.smooth,
            )
        public, _ = make_tracker("sort").track(seq)
        _add_rows(
            trk_rows,
            {"sequence": name, "split": split, "input px": "-"},
            "SORT on public det.txt (Faster R-CNN)",
            seq,
            public,
            args.postprocess,
            args.smooth,
        )
        print(_table([r for r in trk_rows if r["sequence"] == name]), flush=True)

    val = ds[RETINATRACK_VALIDATION_SEQUENCES[0]]
    speed = (
        []
        if args.no_speed
        else _speed(args.checkpoint, args.accuracy_checkpoint, root, args.speed_frames, args.rounds)
    )
    load = os.getloadavg()

    lines = [
        "# RetinaTrack: detection, tracking and speed",
        "",
        "Written by `python3 benchmarks/retinatrack.py"
        + (" --with-train" if args.with_train else "")
        + (
            f" --postprocess {args.postprocess[0]} {args.postprocess[1]}"
            if args.postprocess
            else ""
        )
        + (f" --smooth {args.smooth:g}" if args.smooth else "")
        + (" --no-speed" if args.no_speed else "")
        + "` (see its docstring). Network: `"
        + str(args.checkpoint.relative_to(ROOT) if args.checkpoint.is_relative_to(ROOT) else "")
        + f"` ({meta.get('steps', '?')} training steps, {meta.get('train_seconds', '?')} s).",
        "",
        f"Validation sequence(s), never trained on: {', '.join(RETINATRACK_VALIDATION_SEQUENCES)}."
        f" Training sequences: {', '.join(RETINATRACK_TRAIN_SEQUENCES)}.",
        f"Network input {shipped.input_width} px wide, at most {shipped.max_detections} "
        f"detections per frame. Tracker settings (chosen on the training sequences, "
        f"docs/mot.md): score threshold {thr}, NMS {TRACKING_NMS_THRESHOLD}, embedding gate "
        f"max_cosine_distance {EMBEDDING_GATE}, IoU source `{TRACKING_IOU_SOURCE}` "
        "(`assoc.RetinaTrackConfig.iou_source`: `history` = any of a track's H = 8 stored "
        "boxes, the paper's reading; `latest` = its newest box; (a) and (b) always use the "
        "same one) (the detector's own: score "
        f"{shipped.score_threshold}, NMS {shipped.nms_threshold}).",
        "",
        "## Detection (pedestrians, IoU 0.5)",
        "",
        _table(det_rows),
        "",
        f"`AP50`: all-point AP over detections scoring >= {AP_THRESHOLD}; `recall@thr`, "
        f"`precision@thr`, `dets@thr`: at the tracking threshold {thr}.",
        "",
        "## Tracking (same detections, different association)",
        "",
        "Detections of the tracker's settings (score >= "
        f"{thr}, NMS {TRACKING_NMS_THRESHOLD}); the (f) rows get every detection >= "
        f"{AP_THRESHOLD} and apply `assoc.MotionTracker`'s own thresholds (defaults; (f'): "
        f"{MOTION_THRESHOLDS}, chosen on the training sequences). `input px`: the width "
        f"frames are resized to; {ACCURACY_WIDTH} is the accuracy variant (the P6 network "
        f"`{args.accuracy_checkpoint.name}`, {acc_meta.get('steps', '?')} fine-tuning steps, "
        f"with its own settings chosen on the training sequences at {ACCURACY_WIDTH} px: "
        f"score >= {ACCURACY_SCORE_THRESHOLD}, NMS {ACCURACY_NMS_THRESHOLD}, the same gate and "
        f"IoU source, (f') {ACCURACY_MOTION_THRESHOLDS}; its detection rows' `@thr` columns "
        f"are at score {ACCURACY_SCORE_THRESHOLD}).",
        "",
        _table(trk_rows),
        "",
    ]
    if args.postprocess is not None:
        lines += [
            f"`post`: `raw` is the tracker's own output; `G={args.postprocess[0]}, "
            f"N={args.postprocess[1]}` the same tracks post-processed offline "
            "(`assoc.postprocess_tracks`: tracks with fewer than N reported boxes removed, "
            "then gaps of at most G missing frames filled linearly; docs/history/mot.md rule 7)"
            + (
                f"; `{_post_tag(args.postprocess, args.smooth)}` the post-processed tracks "
                "then smoothed by Gaussian-process regression (`assoc.smooth_tracks`, Du et al. "
                "2023's GSI, with this tau0 and noise 1e-4; docs/history/mot.md rule 8)."
                if args.smooth
                else "."
            ),
            "",
            *_post_summary(trk_rows, args.postprocess, args.smooth),
            "",
        ]
    if speed:
        lines += [
            "## Speed",
            "",
            "`RetinaTrackMOT` (IoU + embedding, tracker settings) on the first "
            f"{args.speed_frames} "
            f"frames of {val.name} ({val.image_size[0]}x{val.image_size[1]}), median of "
            f"{args.rounds} passes per path, milliseconds per frame (wall clock; `CPU ms`: CPU "
            "time the process used per frame). Each setting runs in its own process, which "
            "alternates the shipped path (frozen BatchNorm folded into the convolutions, "
            "`detheads.fold_frozen_batchnorm`) with the reference path (the trunk as trained); "
            "`load` is the 1-minute load average at the end of that setting.",
            "",
            _speed_table(speed),
            "",
            "Same-run ratios reference / folded: "
            + "; ".join(
                f"{r['setting']}: total {r['total ratio']:.2f}x, trunk+FPN {r['trunk ratio']:.2f}x"
                for r in speed
            )
            + ".",
            "",
        ]
    lines += [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs shared "
        f"with other jobs; load average after the run {load[0]:.1f} / {load[1]:.1f} / "
        f"{load[2]:.1f} (1 / 5 / 15 min). torch {torch.__version__}. On a loaded machine the "
        "wall clock measures the contention more than the network; `CPU ms` is closer to the "
        "time on idle cores. OpenMP's default wait policy spins while waiting, which a "
        "shared, oversubscribed machine punishes; `OMP_WAIT_POLICY=PASSIVE` (set before "
        "torch starts) avoids that.",
        "",
    ]
    args.out_md.parent.mkdir(parents=True, exist_ok=True)
    args.out_md.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
