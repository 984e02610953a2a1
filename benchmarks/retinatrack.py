"""RetinaTrack (Lu et al. 2020): detection AP, tracking scores and speed of the shipped network.

On the validation sequence(s) of ``../shared/data/mot`` that ``trackkit train retinatrack``
never trains on (``RETINATRACK_VALIDATION_SEQUENCES``: TUD-Campus), in one run:

- detection: AP at IoU 0.5 of the network's detections (score threshold lowered to 0.05 for
  the curve), and recall at the shipped tracking threshold;
- tracking, all on the *same* detections (those above the shipped score threshold, with
  their embeddings): (a) IoU-only association, (b) IoU + embedding (the paper's fused
  similarity), (c) embedding only, (d) SORT; and SORT on the public Faster R-CNN detections
  of ``det/det.txt`` (SORT's own, Bewley et al. 2016) on the same sequences. Scores: HOTA,
  MOTA, IDF1, ID switches from ``trackkit.eval`` (TrackEval-equal);
- speed: end-to-end frames per second of ``RetinaTrackMOT`` on the sequence's 640x480 frames
  with ``--threads`` torch threads, split into preprocessing, trunk + FPN, head, decoding +
  NMS and association (median over ``--rounds`` passes). The machine is shared; its load
  average is printed with the numbers.

With ``--with-train`` the training sequences are scored too (marked as seen in training).

Run: ``python3 benchmarks/retinatrack.py`` (writes docs/benchmarks/retinatrack.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trackkit.data import MOTRows, MOTSequence, default_mot_root, read_motchallenge
from trackkit.eval import MOTScores, detection_average_precision, evaluate_mot
from trackkit.mot import associate
from trackkit.mot.retinatrack import (
    DEFAULT_CHECKPOINT,
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
AP_THRESHOLD = 0.05


def _gt_rows(seq: MOTSequence) -> MOTRows:
    assert seq.gt is not None
    g = seq.gt
    return g.select((g.confidences != 0) & (g.classes == 1))


def _detect(net: RetinaTrackNet, seq: MOTSequence) -> tuple[MOTRows, np.ndarray]:
    """All detections (score >= AP_THRESHOLD) of a sequence with their embeddings."""
    assert seq.frames is not None
    parts, embs = [], []
    for t in range(seq.num_frames):
        (d,) = detect_frames(net, [seq.frames[t]])
        b = d.boxes_xyxy
        xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
        parts.append(MOTRows(np.full(len(b), t), np.full(len(b), -1), xywh, d.scores))
        embs.append(d.embeddings)
    return MOTRows.concatenate(parts), np.concatenate(embs)


def _ap(seq: MOTSequence, det: MOTRows, threshold: float) -> dict[str, float]:
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


def _row(name: str, s: MOTScores) -> dict[str, Any]:
    v = s.summary()
    return {
        "tracker": name,
        **{k: v[k] for k in ("HOTA", "DetA", "AssA", "MOTA", "IDF1")},
        **{k: int(v[k]) for k in ("IDSW", "FP", "FN")},
    }


def _table(rows: list[dict[str, Any]]) -> str:
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        cells = [f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _speed(
    net: RetinaTrackNet, seq: MOTSequence, threads: int, frames: int, rounds: int
) -> dict[str, float]:
    assert seq.frames is not None
    torch.set_num_threads(threads)
    imgs = [seq.frames[t] for t in range(min(frames, seq.num_frames))]
    per_round = []
    for _ in range(rounds):
        tracker = RetinaTrackMOT(net)
        tracker.reset()
        times = StageTimes()
        tracker.times = times
        (_,) = detect_frames(net, [imgs[0]])  # warm-up
        cpu0 = time.process_time()
        for img in imgs:
            tracker.update(img)
        ms = times.per_frame_ms()
        ms["CPU ms"] = 1000.0 * (time.process_time() - cpu0) / len(imgs)
        per_round.append(ms)
    out = {k: statistics.median(r[k] for r in per_round) for k in per_round[0]}
    out["fps"] = 1000.0 / out["total"]
    return out


def main() -> None:
    """Run the benchmark and write the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--data", type=Path, default=None, help="MOTChallenge folder")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the speed run")
    parser.add_argument("--speed-frames", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--with-train", action="store_true", help="also score training seqs")
    parser.add_argument("--out-md", type=Path, default=OUT_MD)
    args = parser.parse_args()

    root = args.data or default_mot_root()
    net, meta = load_retinatrack_checkpoint(args.checkpoint)
    shipped = net.config
    thr = shipped.score_threshold
    torch.set_num_threads(1)
    net.config = dataclasses.replace(shipped, score_threshold=AP_THRESHOLD)
    names = list(RETINATRACK_VALIDATION_SEQUENCES)
    if args.with_train:
        names += [n for n in RETINATRACK_TRAIN_SEQUENCES if not n.startswith("MOT17")]
    ds = read_motchallenge(root, names=names)
    det_rows: list[dict[str, Any]] = []
    trk_rows: list[dict[str, Any]] = []
    for name in names:
        seq = ds[name]
        split = "validation" if name in RETINATRACK_VALIDATION_SEQUENCES else "training (seen)"
        t0 = time.perf_counter()
        det, emb = _detect(net, seq)
        print(f"{name}: {len(det)} detections in {time.perf_counter() - t0:.1f} s", flush=True)
        det_rows.append({"sequence": name, "split": split, **_ap(seq, det, thr)})
        keep = det.confidences >= thr
        d, e = det.select(keep), emb[keep]
        for label, assoc_name, use_emb in (
            ("(a) IoU only", "iou", False),
            ("(b) IoU + embedding (paper)", "iou+embedding", True),
            ("(c) embedding only", "embedding", True),
            ("(d) SORT", "sort", False),
        ):
            tracks, _ = associate(
                make_association(assoc_name), d, seq.num_frames, embeddings=e if use_emb else None
            )
            trk_rows.append({"sequence": name, "split": split, **_row(label, _score(seq, tracks))})
        public, _ = make_tracker("sort").track(seq)
        trk_rows.append(
            {
                "sequence": name,
                "split": split,
                **_row("SORT on public det.txt (Faster R-CNN)", _score(seq, public)),
            }
        )
        print(_table([r for r in trk_rows if r["sequence"] == name]), flush=True)

    net.config = shipped
    val = ds[RETINATRACK_VALIDATION_SEQUENCES[0]]
    speed = {th: _speed(net, val, th, args.speed_frames, args.rounds) for th in (args.threads, 1)}
    load = os.getloadavg()

    lines = [
        "# RetinaTrack: detection, tracking and speed",
        "",
        "Written by `python3 benchmarks/retinatrack.py"
        + (" --with-train" if args.with_train else "")
        + "` (see its docstring). Network: `"
        + str(args.checkpoint.relative_to(ROOT) if args.checkpoint.is_relative_to(ROOT) else "")
        + f"` ({meta.get('steps', '?')} training steps, {meta.get('train_seconds', '?')} s).",
        "",
        f"Validation sequence(s), never trained on: {', '.join(RETINATRACK_VALIDATION_SEQUENCES)}."
        f" Training sequences: {', '.join(RETINATRACK_TRAIN_SEQUENCES)}.",
        f"Network input {shipped.input_width} px wide, tracking score threshold {thr}, "
        f"NMS {shipped.nms_threshold}, at most {shipped.max_detections} detections per frame.",
        "",
        "## Detection (pedestrians, IoU 0.5)",
        "",
        _table(det_rows),
        "",
        f"`AP50`: all-point AP over detections scoring >= {AP_THRESHOLD}; `recall@thr`, "
        f"`precision@thr`: at the tracking threshold {thr}.",
        "",
        "## Tracking (same detections, different association)",
        "",
        _table(trk_rows),
        "",
        "## Speed",
        "",
        f"`RetinaTrackMOT` (IoU + embedding) on the first {args.speed_frames} frames of "
        f"{val.name} ({val.image_size[0]}x{val.image_size[1]}), median of {args.rounds} passes, "
        "milliseconds per frame (wall clock; `CPU ms`: CPU time the process used per frame):",
        "",
        _table(
            [
                {"torch threads": th, **{k: v for k, v in s.items() if k != "fps"}, "FPS": s["fps"]}
                for th, s in speed.items()
            ]
        ),
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs shared "
        f"with other jobs; load average after the run {load[0]:.1f} / {load[1]:.1f} / "
        f"{load[2]:.1f} (1 / 5 / 15 min). torch {torch.__version__}. With the machine this "
        "loaded the wall-clock numbers measure the contention more than the network; with one "
        "thread, `CPU ms` (the CPU time the process got) approximates the time per frame on an "
        "idle core.",
        "",
    ]
    args.out_md.parent.mkdir(parents=True, exist_ok=True)
    args.out_md.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
