"""MAML-MOT (Chen and Deng 2024) against RetinaTrack's association on the same detections.

On the validation sequence(s) of ``../shared/data/mot`` that neither ``trackkit train
retinatrack`` nor ``trackkit train maml-mot`` trains on (``RETINATRACK_VALIDATION_SEQUENCES``:
TUD-Campus), the shipped RetinaTrack network detects once per frame with RetinaTrack's tracking
thresholds (``TRACKING_SCORE_THRESHOLD``, ``TRACKING_NMS_THRESHOLD``: the detections of the
``retinatrack`` and ``maml-mot`` trackers); every tracker below links exactly these detections:

- IoU only (``make_association("iou")``, RetinaTrack's IoU-only ablation);
- RetinaTrack embeddings (``make_association("iou+embedding")``: the paper's fused IoU +
  embedding similarity, Lu et al. 2020, with ``EMBEDDING_GATE``; the ``retinatrack`` tracker);
- MAML-MOT, similarity-weighted initialisation (eqs. 6-7; the paper's);
- MAML-MOT, plain (unweighted) mean of the bank;
- ablations: MAML-MOT from the meta-learned layer alone (no bank); MAML-MOT weighted without
  the online adaptation step (``inner_steps=0``); the same per-track prototype scoring with the
  detector's own, never meta-learned, layer and no step (what the scoring alone does); MAML-MOT
  weighted without the appearance gate (``max_appearance_distance=2``).

The MAML-MOT rows use the same fusion weights, IoU truncation, matching and track lifetime as
the RetinaTrack row (``assoc.fuse_appearance`` with RetinaTrack's weights); the appearance score
differs, and so does its gate: each embedding has its own, calibrated the same way on the
training sequences (``EMBEDDING_GATE`` by ``benchmarks/retinatrack_settings.py``,
``APPEARANCE_GATE`` by ``benchmarks/maml_mot_settings.py``).
Scores: HOTA, MOTA, IDF1, ID switches (``trackkit.eval``, TrackEval-equal); frames per second:
end to end (the shared detection time plus the tracker's association time) and association
alone, with one torch thread. ``--with-train`` also scores the training sequences (seen).

Run: ``python3 benchmarks/maml_mot.py`` (writes docs/benchmarks/maml_mot.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import metalearn
from trackkit.data import MOTRows, MOTSequence, default_mot_root, read_motchallenge
from trackkit.eval import MOTScores, evaluate_mot
from trackkit.mot import associate
from trackkit.mot.maml_mot import (
    APPEARANCE_GATE,
    DEFAULT_CHECKPOINT,
    DEFAULT_DETECTOR,
    MAMLMOTAssociation,
    MAMLMOTConfig,
    ReidLayer,
    detect_reid,
    file_sha256,
    load_maml_mot_checkpoint,
    reid_layer,
)
from trackkit.mot.retinatrack import (
    EMBEDDING_GATE,
    TRACKING_NMS_THRESHOLD,
    TRACKING_SCORE_THRESHOLD,
    load_retinatrack_checkpoint,
    make_association,
)
from trackkit.train import RETINATRACK_TRAIN_SEQUENCES, RETINATRACK_VALIDATION_SEQUENCES

ROOT = Path(__file__).resolve().parents[1]
OUT_MD = ROOT / "docs" / "benchmarks" / "maml_mot.md"


def _detect(net: Any, seq: MOTSequence) -> tuple[MOTRows, np.ndarray, np.ndarray, float]:
    """Detections of every frame with RetinaTrack embeddings and re-identification features."""
    assert seq.frames is not None
    parts, embs, feats = [], [], []
    t0 = time.perf_counter()
    for t in range(seq.num_frames):
        (d,) = detect_reid(
            net,
            [seq.frames[t]],
            score_threshold=TRACKING_SCORE_THRESHOLD,
            nms_threshold=TRACKING_NMS_THRESHOLD,
        )
        b = d.boxes_xyxy
        xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
        parts.append(MOTRows(np.full(len(b), t), np.full(len(b), -1), xywh, d.scores))
        embs.append(d.embeddings)
        feats.append(d.features.cpu().numpy())
    seconds = time.perf_counter() - t0
    return MOTRows.concatenate(parts), np.concatenate(embs), np.concatenate(feats), seconds


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
        cells = [
            f"{r[c]:.1f}"
            if isinstance(r[c], float) and "FPS" in c
            else f"{r[c]:.3f}"
            if isinstance(r[c], float)
            else str(r[c])
            for c in cols
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _init_diagnostics(name: str, ckpt: Any, feats: np.ndarray) -> dict[str, Any]:
    """How far eqs. 6-7 move a new track's layer from the plain mean, over all detections."""
    f = torch.as_tensor(feats)
    gamma = metalearn.task_similarity(f, ckpt.bank.features)  # [N, T]
    w = gamma.clamp_min(0) / gamma.clamp_min(0).sum(1, keepdim=True)
    weighted = MAMLMOTAssociation(ckpt, MAMLMOTConfig(init="weighted")).initial_params(f)
    mean = MAMLMOTAssociation(ckpt, MAMLMOTConfig(init="mean")).initial_params(f)
    spread = (ckpt.bank.weight - ckpt.bank.weight.mean(0)).norm(dim=(1, 2)).mean()
    return {
        "sequence": name,
        "gamma min": float(gamma.min()),
        "gamma median": float(gamma.median()),
        "gamma max": float(gamma.max()),
        "largest weight (uniform 1/T)": f"{float(w.max()):.4f} ({1 / len(ckpt.bank):.4f})",
        "|W_weighted - W_mean| (mean)": "{:.2e}".format(
            float((weighted["weight"] - mean["weight"]).norm(dim=(1, 2)).mean())
        ),
        "|W_i - W_mean| over the bank": f"{float(spread):.2e}",
        "|W_meta|": float(ckpt.layer.weight.detach().norm()),
    }


def main() -> None:
    """Run the benchmark and write the Markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--detector", type=Path, default=DEFAULT_DETECTOR)
    parser.add_argument("--data", type=Path, default=None, help="MOTChallenge folder")
    parser.add_argument("--with-train", action="store_true", help="also score training seqs")
    parser.add_argument("--out-md", type=Path, default=OUT_MD)
    args = parser.parse_args()

    torch.set_num_threads(1)
    root = args.data or default_mot_root()
    net, det_meta = load_retinatrack_checkpoint(args.detector)
    ckpt = load_maml_mot_checkpoint(args.checkpoint)
    same_detector = file_sha256(args.detector) == ckpt.detector.get("sha256")
    # The same machinery with the detector's own (never meta-learned) layer.
    plain = dataclasses.replace(ckpt, layer=ReidLayer(*reid_layer(net)))
    names = list(RETINATRACK_VALIDATION_SEQUENCES)
    if args.with_train:
        names += [n for n in RETINATRACK_TRAIN_SEQUENCES if not n.startswith("MOT17")]
    ds = read_motchallenge(root, names=names)
    variants: list[tuple[str, Any, str]] = [
        ("IoU only", lambda: make_association("iou"), "none"),
        ("RetinaTrack embeddings", lambda: make_association("iou+embedding"), "embeddings"),
        (
            "MAML-MOT, weighted init (eqs. 6-7)",
            lambda: MAMLMOTAssociation(ckpt, MAMLMOTConfig(init="weighted")),
            "features",
        ),
        (
            "MAML-MOT, plain-mean init",
            lambda: MAMLMOTAssociation(ckpt, MAMLMOTConfig(init="mean")),
            "features",
        ),
        (
            "ablation: MAML-MOT, meta-learned layer as init (no bank)",
            lambda: MAMLMOTAssociation(ckpt, MAMLMOTConfig(init="meta")),
            "features",
        ),
        (
            "ablation: MAML-MOT, weighted init, no online step",
            lambda: MAMLMOTAssociation(ckpt, MAMLMOTConfig(init="weighted", inner_steps=0)),
            "features",
        ),
        (
            "ablation: MAML-MOT, weighted init, no appearance gate",
            lambda: MAMLMOTAssociation(
                ckpt, MAMLMOTConfig(init="weighted", max_appearance_distance=2.0)
            ),
            "features",
        ),
        (
            "ablation: detector's own layer, prototype scoring, no step",
            lambda: MAMLMOTAssociation(plain, MAMLMOTConfig(init="meta", inner_steps=0)),
            "features",
        ),
    ]
    rows: list[dict[str, Any]] = []
    diag: list[dict[str, Any]] = []
    for name in names:
        seq = ds[name]
        split = "validation" if name in RETINATRACK_VALIDATION_SEQUENCES else "training (seen)"
        det, emb, feats, det_s = _detect(net, seq)
        print(f"{name}: {len(det)} detections in {det_s:.1f} s", flush=True)
        assert seq.gt is not None
        for label, build, extra in variants:
            per_row = {"none": None, "embeddings": emb, "features": feats}[extra]
            # Two passes (the first warms torch.func up); the faster one's time is reported,
            # the tracks are the same.
            runs = [associate(build(), det, seq.num_frames, embeddings=per_row) for _ in range(2)]
            tracks, assoc_s = runs[0][0], min(r[1] for r in runs)
            scores = evaluate_mot(seq.gt, tracks, seq.num_frames)
            rows.append(
                {
                    "sequence": name,
                    "split": split,
                    **_row(label, scores),
                    "FPS (end to end)": seq.num_frames / (det_s + assoc_s),
                    "FPS (association)": seq.num_frames / max(assoc_s, 1e-9),
                }
            )
        print(_table([r for r in rows if r["sequence"] == name]), flush=True)
        diag.append(_init_diagnostics(name, ckpt, feats))
    load = os.getloadavg()
    meta = ckpt.meta
    ev = meta.get("eval", {})
    lines = [
        "# MAML-MOT: meta-learned re-identification on RetinaTrack's detections",
        "",
        "Written by `python3 benchmarks/maml_mot.py"
        + (" --with-train" if args.with_train else "")
        + "` (see its docstring). Detector: `"
        + (str(args.detector.relative_to(ROOT)) if args.detector.is_relative_to(ROOT) else "")
        + f"` ({det_meta.get('steps', '?')} training steps); MAML-MOT checkpoint: `"
        + (str(args.checkpoint.relative_to(ROOT)) if args.checkpoint.is_relative_to(ROOT) else "")
        + f"` ({meta.get('steps', '?')} outer steps, bank of {len(ckpt.bank)} tasks, inner lr "
        f"{ckpt.inner_lr:g}, k = {ckpt.k}; trained on "
        + ("this detector" if same_detector else "ANOTHER detector (rerun the recipe)")
        + ").",
        "",
        f"Validation sequence(s), never trained on: {', '.join(RETINATRACK_VALIDATION_SEQUENCES)}."
        f" Training sequences: {', '.join(RETINATRACK_TRAIN_SEQUENCES)}. Detections: the "
        f"network's with RetinaTrack's tracking thresholds (score >= {TRACKING_SCORE_THRESHOLD},"
        f" NMS {TRACKING_NMS_THRESHOLD}; the checkpoint's own: {net.config.score_threshold} / "
        f"{net.config.nms_threshold}), identical for every row. Appearance gates "
        f"(max 1 - similarity), each calibrated on the training sequences: RetinaTrack "
        f"embeddings {EMBEDDING_GATE:g} (`EMBEDDING_GATE`), MAML-MOT rows {APPEARANCE_GATE:g} "
        f"(`APPEARANCE_GATE`, docs/benchmarks/maml_mot_settings.md).",
        "",
        "## Tracking (same detections, different association)",
        "",
        _table(rows),
        "",
        "`FPS (end to end)`: frames / (detection time of the sequence, shared, + the tracker's "
        "association time); `FPS (association)`: association alone.",
        "",
        "## Weighted versus plain-mean initialisation",
        "",
        "eq. 6's similarities of every detection's feature to the bank tasks, the largest "
        "normalised weight of eq. 7, and how far the weighted initial layer lies from the "
        "plain mean (Frobenius norms, mean over detections):",
        "",
        _table(diag),
        "",
        "## Meta-training record (from the checkpoint)",
        "",
        "Query loss and top-1 identification (the query beats every negative of its frame) "
        "after one inner step, on fixed tasks, for the meta-learned layer and for the "
        "detector's own layer (the same step):",
        "",
        "| tasks | layer | query loss | top-1 |",
        "|---|---|---|---|",
        *[
            f"| {split} | {layer} | {ev.get(f'{split}_{layer}_query_loss', float('nan')):.4f} | "
            f"{ev.get(f'{split}_{layer}_top1', float('nan')):.4f} |"
            for split in ("train", "val")
            for layer in ("detector", "meta")
        ],
        "",
        f"Command: `{meta.get('command', '?')}`; wall {meta.get('wall_seconds', '?')} s "
        f"(feature cache {meta.get('cache_seconds', '?')} s, meta-training "
        f"{meta.get('train_seconds', '?')} s).",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs shared "
        f"with other jobs; load average after the run {load[0]:.1f} / {load[1]:.1f} / "
        f"{load[2]:.1f}; torch {torch.__version__}, one thread.",
        "",
    ]
    args.out_md.parent.mkdir(parents=True, exist_ok=True)
    args.out_md.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
