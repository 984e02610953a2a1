"""RetinaTrack's tracking settings, chosen on the *training* sequences only.

Reproduces the choice of ``TRACKING_SCORE_THRESHOLD``, ``TRACKING_NMS_THRESHOLD``,
``TRACKING_IOU_SOURCE`` and ``EMBEDDING_GATE`` (``trackkit.mot.retinatrack``) on the shipped
network's detections of the training sequences TUD-Stadtmitte and PETS09-S3MF1 (the
validation sequence is never read):

- the cosine similarity of same-identity and different-identity detection pairs 1-8 frames
  apart (detections matched to the ground truth at IoU >= 0.5, score >= 0.4), whose 5th
  percentile for the same identity set the first network's embedding gate;
- mean HOTA / IDF1 and summed ID switches of (a) IoU only and (b) IoU + embedding (with
  ``EMBEDDING_GATE`` and with ``assoc``'s default 0.5) over a grid of NMS and score thresholds
  and the IoU source (``assoc.RetinaTrackConfig.iou_source``: any of a track's H stored boxes,
  the paper's reading, or its newest box); the best mean HOTA of (b) sets the three;
- at that setting, the embedding gate and the IoU / embedding weights of (b) (the best mean
  HOTA sets ``EMBEDDING_GATE``; the paper's weights unless others are better);
- ``assoc.MotionTracker``'s detection thresholds (``high_threshold``,
  ``new_track_threshold``) on every detection scoring >= 0.05 at that NMS (the benchmark's
  row (f'); the best mean HOTA sets ``MOTION_THRESHOLDS`` in benchmarks/retinatrack.py);
- the H ablation: stored observations per track (H = 1 vs 8) for (a) and (b);
- a summary line: (b) (best gate and weights) against (a) at the chosen setting, the
  training-side test of docs/history/mot.md's selection rule 3.

Run: ``python3 benchmarks/retinatrack_settings.py`` (writes
docs/benchmarks/retinatrack_settings.md; about 6 minutes with one thread; ``--cache DIR``
keeps the detections as .npz files for a rerun; ``--input-width W`` detects at another input
width than the checkpoint's; ``--gate G`` runs the threshold grid with
another embedding gate, ``--checkpoint`` another network).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import assoc
from trackkit.data import MOTRows, MOTSequence, default_mot_root, read_motchallenge
from trackkit.eval import evaluate_mot, markdown_table
from trackkit.mot import associate
from trackkit.mot.retinatrack import (
    DEFAULT_CHECKPOINT,
    EMBEDDING_GATE,
    detect_frames,
    load_retinatrack_checkpoint,
    make_association,
)

ROOT = Path(__file__).resolve().parents[1]
OUT_MD = ROOT / "docs" / "benchmarks" / "retinatrack_settings.md"
SEQUENCES = ("TUD-Stadtmitte", "PETS09-S3MF1")
NMS = (0.5, 0.4, 0.3)
SCORES = (0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
IOU_SOURCES = ("history", "latest")
GATES = (0.5, 1.0, 1.3, 1.6, 2.0)
MOTION_HIGH = (0.3, 0.4, 0.5, 0.6, 0.7)
MOTION_NEW = (0.4, 0.5, 0.6, 0.7, 0.8)
IOU_WEIGHTS = (0.3, 0.5, 0.7)


def _detect_cached(
    net: Any, seq: MOTSequence, nms: float, cache: Path | None, width: int | None = None
) -> tuple[MOTRows, np.ndarray]:
    path = None if cache is None else cache / f"{seq.name}_nms{nms:g}.npz"
    if path is not None and path.is_file():
        z = np.load(path, allow_pickle=False)
        rows = MOTRows(z["frames"], z["ids"], z["xywh"], z["scores"])
        return rows, z["embeddings"]
    det, emb = _detect(net, seq, nms, width)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            frames=det.frames,
            ids=det.ids,
            xywh=det.boxes_xywh,
            scores=det.confidences,
            embeddings=emb,
        )
    return det, emb


def _detect(
    net: Any, seq: MOTSequence, nms: float, width: int | None = None
) -> tuple[MOTRows, np.ndarray]:
    assert seq.frames is not None
    parts, embs = [], []
    for t in range(seq.num_frames):
        (d,) = detect_frames(
            net, [seq.frames[t]], score_threshold=0.05, nms_threshold=nms, input_width=width
        )
        b = d.boxes_xyxy
        xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
        parts.append(MOTRows(np.full(len(b), t), np.full(len(b), -1), xywh, d.scores))
        embs.append(d.embeddings)
    return MOTRows.concatenate(parts), np.concatenate(embs)


def _gt(seq: MOTSequence) -> MOTRows:
    assert seq.gt is not None
    return seq.gt.select((seq.gt.confidences != 0) & (seq.gt.classes == 1))


def _gt_all(seq: MOTSequence) -> MOTRows:
    assert seq.gt is not None
    return seq.gt


def _pair_cosines(seq: MOTSequence, det: MOTRows, emb: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cosine similarity of same- / different-identity detection pairs 1-8 frames apart."""
    gt = _gt(seq)
    gi, di = gt.split_by_frame(seq.num_frames), det.split_by_frame(seq.num_frames)
    ids, vecs, frames = [], [], []
    for t in range(seq.num_frames):
        if len(gi[t]) == 0 or len(di[t]) == 0:
            continue
        iou = assoc.iou_matrix(det.boxes_xyxy[di[t]], gt.boxes_xyxy[gi[t]])
        matches, _, _ = assoc.greedy_match(np.where(iou >= 0.5, iou, -np.inf), maximize=True)
        for r, c in matches:
            ids.append(gt.ids[gi[t]][c])
            vecs.append(emb[di[t]][r])
            frames.append(t)
    v, i, f = np.asarray(vecs), np.asarray(ids), np.asarray(frames)
    cos = v @ v.T
    gap = np.abs(f[:, None] - f[None])
    near = (gap >= 1) & (gap <= 8)
    same = i[:, None] == i[None]
    return cos[near & same], cos[near & ~same]


def _track(seq: MOTSequence, det: MOTRows, emb: np.ndarray, thr: float, **kw: Any) -> Any:
    keep = det.confidences >= thr
    name = kw.pop("association")
    use_emb = name != "iou"
    tracks, _ = associate(
        make_association(name, **kw),
        det.select(keep),
        seq.num_frames,
        embeddings=emb[keep] if use_emb else None,
    )
    assert seq.gt is not None
    return evaluate_mot(seq.gt, tracks, seq.num_frames).summary()


def _table(rows: list[dict[str, Any]]) -> str:
    return markdown_table(rows, list(rows[0]))


def main() -> None:
    """Run the sweep and write the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--out-md", type=Path, default=OUT_MD)
    parser.add_argument("--cache", type=Path, default=None, help="detection cache folder")
    parser.add_argument(
        "--gate",
        type=float,
        default=EMBEDDING_GATE,
        help="max_cosine_distance of (b) in the score / NMS grid (default EMBEDDING_GATE; a "
        "second pass with the gate the first one chose)",
    )
    parser.add_argument(
        "--input-width",
        type=int,
        default=None,
        help="network input width (default the checkpoint's; a cache folder holds one width)",
    )
    args = parser.parse_args()
    gate_grid = args.gate
    torch.set_num_threads(1)
    net, _ = load_retinatrack_checkpoint(args.checkpoint)
    ds = read_motchallenge(args.data or default_mot_root(), names=list(SEQUENCES))
    t0 = time.perf_counter()
    dets = {
        (n, nms): _detect_cached(net, ds[n], nms, args.cache, args.input_width)
        for n in SEQUENCES
        for nms in NMS
    }
    print(f"input width {args.input_width or net.config.input_width} px", flush=True)
    print(f"detections in {time.perf_counter() - t0:.0f} s", flush=True)

    same, diff = [], []
    for n in SEQUENCES:
        det, emb = dets[(n, 0.5)]
        keep = det.confidences >= 0.4
        s, d = _pair_cosines(ds[n], det.select(keep), emb[keep])
        same.append(s)
        diff.append(d)
    s_all, d_all = np.concatenate(same), np.concatenate(diff)
    pct = (5, 25, 50, 75, 95)
    cos_rows = [
        {"pairs": "same identity", "count": len(s_all)}
        | {f"p{p}": float(np.percentile(s_all, p)) for p in pct}
        | {
            "cos >= 0.5": float(np.mean(s_all >= 0.5)),
            "cos >= -0.3": float(np.mean(s_all >= -0.3)),
        },
        {"pairs": "different identities", "count": len(d_all)}
        | {f"p{p}": float(np.percentile(d_all, p)) for p in pct}
        | {
            "cos >= 0.5": float(np.mean(d_all >= 0.5)),
            "cos >= -0.3": float(np.mean(d_all >= -0.3)),
        },
    ]
    print(_table(cos_rows), flush=True)

    def mean_scores(nms: float, thr: float, **kw: Any) -> dict[str, Any]:
        res = [_track(ds[n], *dets[(n, nms)], thr, **dict(kw)) for n in SEQUENCES]
        return {
            "HOTA": float(np.mean([r["HOTA"] for r in res])),
            "IDF1": float(np.mean([r["IDF1"] for r in res])),
            "MOTA": float(np.mean([r["MOTA"] for r in res])),
            "IDSW": int(sum(r["IDSW"] for r in res)),
        }

    grid = []
    for nms in NMS:
        for thr in SCORES:
            for source in IOU_SOURCES:
                row: dict[str, Any] = {"NMS": nms, "score": thr, "IoU with": source}
                for label, kw in (
                    ("(a)", {"association": "iou"}),
                    ("(b)", {"association": "iou+embedding", "max_cosine_distance": gate_grid}),
                    ("(b) gate 0.5", {"association": "iou+embedding", "max_cosine_distance": 0.5}),
                ):
                    m = mean_scores(nms, thr, iou_source=source, **kw)
                    row |= {f"{label} HOTA": m["HOTA"], f"{label} IDF1": m["IDF1"]}
                    row[f"{label} IDSW"] = m["IDSW"]
                grid.append(row)
                print(row, flush=True)
    best = max(grid, key=lambda r: r["(b) HOTA"])
    b_nms, b_thr, b_source = best["NMS"], best["score"], best["IoU with"]
    print(f"best (b): NMS {b_nms}, score {b_thr}, IoU with {b_source}", flush=True)
    weights = []
    for gate in GATES:
        for w_iou in IOU_WEIGHTS:
            kw = {"max_cosine_distance": gate, "iou_weight": w_iou, "embedding_weight": 1 - w_iou}
            weights.append(
                {"gate": gate, "IoU weight": w_iou, "embedding weight": 1 - w_iou}
                | mean_scores(b_nms, b_thr, association="iou+embedding", iou_source=b_source, **kw)
            )
            print(weights[-1], flush=True)
    motion = []
    for high in MOTION_HIGH:
        for new in MOTION_NEW:
            if new < high:
                continue
            cfg = assoc.MotionConfig(high_threshold=high, new_track_threshold=new)
            res = []
            for n in SEQUENCES:
                det, _ = dets[(n, b_nms)]
                tracks, _ = associate(assoc.MotionTracker(cfg), det, ds[n].num_frames)
                res.append(evaluate_mot(_gt_all(ds[n]), tracks, ds[n].num_frames).summary())
            motion.append(
                {"high_threshold": high, "new_track_threshold": new}
                | {k: float(np.mean([r[k] for r in res])) for k in ("HOTA", "DetA", "IDF1")}
                | {"IDSW": int(sum(r["IDSW"] for r in res))}
            )
            print(motion[-1], flush=True)
    best_motion = max(motion, key=lambda r: r["HOTA"])
    best_w = max(weights, key=lambda r: r["HOTA"])
    a_at = mean_scores(b_nms, b_thr, association="iou", iou_source=b_source)
    summary = (
        f"At the chosen setting (NMS {b_nms}, score {b_thr}, IoU with {b_source}, gate "
        f"{best_w['gate']}, weights {best_w['IoU weight']} / {best_w['embedding weight']}): "
        f"(b) HOTA {best_w['HOTA']:.3f}, IDF1 {best_w['IDF1']:.3f}, {best_w['IDSW']} ID "
        f"switches; (a) HOTA {a_at['HOTA']:.3f}, IDF1 {a_at['IDF1']:.3f}, {a_at['IDSW']} ID "
        f"switches: (b) - (a) IDF1 {best_w['IDF1'] - a_at['IDF1']:+.3f}, switches (a) - (b) "
        f"{a_at['IDSW'] - best_w['IDSW']:+d}."
    )
    print(summary, flush=True)
    hist = []
    for h in (1, 2, 4, 8):
        for source in IOU_SOURCES:
            for label, name in (
                ("(a) IoU only", "iou"),
                ("(b) IoU + embedding", "iou+embedding"),
            ):
                hist.append(
                    {"H": h, "IoU with": source, "association": label}
                    | mean_scores(b_nms, b_thr, association=name, history=h, iou_source=source)
                )
    lines = [
        "# RetinaTrack: tracking settings chosen on the training sequences",
        "",
        "Written by `python3 benchmarks/retinatrack_settings.py` (see its docstring). "
        f"Sequences (seen in training): {', '.join(SEQUENCES)}; means over the two, ID "
        f"switches summed. Embedding gate of (b) in the threshold grid: max_cosine_distance "
        f"{gate_grid} (`EMBEDDING_GATE` = {EMBEDDING_GATE}). Network: "
        f"`{args.checkpoint.name}`, input width "
        f"{args.input_width or net.config.input_width} px.",
        "",
        summary,
        "",
        "## Cosine similarity of detection pairs 1-8 frames apart",
        "",
        _table(cos_rows),
        "",
        "## Score and NMS thresholds, IoU source",
        "",
        "`IoU with`: `history` compares a detection with each of a track's H = 8 stored "
        "boxes (the paper's reading), `latest` with its newest box only (the embedding term "
        "still uses all H stored embeddings); `assoc.RetinaTrackConfig.iou_source`.",
        "",
        _table(grid),
        "",
        f"Best mean HOTA of (b): NMS {b_nms}, score {b_thr}, IoU with {b_source}.",
        "",
        f"## Embedding gate and weights of (b) (NMS {b_nms}, score {b_thr}, IoU with {b_source})",
        "",
        _table(weights),
        "",
        f"## assoc.MotionTracker's thresholds (every detection >= 0.05, NMS {b_nms})",
        "",
        "Other fields: `assoc.MotionConfig()` defaults (`low_threshold` 0.1).",
        "",
        _table(motion),
        "",
        f"Best mean HOTA: high_threshold {best_motion['high_threshold']}, "
        f"new_track_threshold {best_motion['new_track_threshold']}.",
        "",
        f"## Stored observations per track (NMS {b_nms}, score {b_thr})",
        "",
        _table(hist),
        "",
    ]
    args.out_md.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
