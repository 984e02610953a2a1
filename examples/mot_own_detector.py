"""Multi-object tracking from your own detector's output with `assoc`, scored by `trackkit.eval`.

A detector here is any callable ``detector(frame) -> (boxes_xyxy [N, 4], scores [N])`` taking a
``uint8`` BGR frame. Its detections are associated over time by two trackers that follow the
`trackkit` runner's MOT protocol (``reset()``; ``update(boxes_xyxy, scores, embeddings=None)``
returning an object with ``ids``, ``boxes_xyxy``, ``scores``): `assoc`'s SORT, and a ten-line
greedy IoU tracker assembled from `assoc` parts. `trackkit.mot.DetectionTracker` runs them over
a sequence's detections for `trackkit.eval.run_mot_benchmark`, which writes MOTChallenge files
and, when ground truth exists, scores HOTA / MOTA / IDF1.

    python examples/mot_own_detector.py                       # synthetic scene (default)
    python examples/mot_own_detector.py --mot ../shared/data/mot/TUD-Campus --detector hog
    python examples/mot_own_detector.py --video street.mp4 --detector hog --annotate out.mp4

The synthetic scene comes with a *simulated* detector's output (its true boxes with noise,
misses and false positives), replayed by ``--detector replay`` since OpenCV's HOG people
detector finds no people in textured rectangles; on real footage of pedestrians use
``--detector hog`` (or ``replay`` of a MOTChallenge folder's ``det/det.txt``), or plug in your
own callable.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

import assoc
from trackkit.data import (
    AnnotatedVideoWriter,
    MOTRows,
    MOTSequence,
    open_frames,
    read_motchallenge,
    synthetic_mot_sequence,
    write_mot_rows,
)
from trackkit.eval import mot_results_table, run_mot_benchmark
from trackkit.mot import DetectionTracker, associate

Detector = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class HOGPeopleDetector:
    """OpenCV's HOG + linear SVM pedestrian detector (Dalal and Triggs 2005) as a callable."""

    def __init__(self, *, scale: float = 1.05) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor.getDefaultPeopleDetector())
        self.scale = scale

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rects, weights = self.hog.detectMultiScale(
            frame, winStride=(8, 8), padding=(8, 8), scale=self.scale
        )
        xywh = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(weights, dtype=np.float64).reshape(-1)
        return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1), scores


class ReplayDetector:
    """Replays stored detections (``MOTRows``), one frame per call, in order."""

    def __init__(self, rows: MOTRows, num_frames: int) -> None:
        self.rows, self.per_frame, self.t = rows, rows.split_by_frame(num_frames), 0

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = self.per_frame[self.t]
        self.t += 1
        return self.rows.boxes_xyxy[idx], self.rows.confidences[idx]


def detect_all(detector: Detector, frames, num_frames: int) -> MOTRows:
    """Run ``detector`` on every frame; 0-based frame indices, ``xywh`` rows (MOTRows)."""
    parts = []
    for t in range(num_frames):
        boxes_xyxy, scores = detector(frames[t])
        boxes_xyxy = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        xywh = np.concatenate([boxes_xyxy[:, :2], boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]], axis=1)
        n = len(xywh)
        parts.append(MOTRows(np.full(n, t), np.full(n, -1), xywh, np.asarray(scores).reshape(-1)))
    return MOTRows.concatenate(parts)


class GreedyIoUTracker:
    """IoU + greedy matching + track store, from `assoc` parts (no motion model).

    Follows the MOT protocol of `trackkit.eval`: ``reset()`` and ``update(boxes_xyxy, scores,
    embeddings=None) -> assoc.Tracks`` (tracks matched or born this frame, once confirmed).
    """

    def __init__(self, *, min_iou: float = 0.3, min_hits: int = 2, max_age: int = 5) -> None:
        self.min_iou = min_iou
        self.store = assoc.TrackStore(min_hits=min_hits, max_age=max_age, history=1)

    def reset(self) -> None:
        self.store.reset()

    def update(self, boxes_xyxy, scores, embeddings=None) -> assoc.Tracks:
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        iou = assoc.iou_matrix(self.store.latest_boxes_xyxy(), boxes)  # [tracks, detections]
        matches, _, new = assoc.greedy_match(iou, threshold=self.min_iou, maximize=True)
        self.store.update(matches[:, 0], boxes[matches[:, 1]], scores[matches[:, 1]])
        self.store.spawn(boxes[new], scores[new])
        self.store.prune()
        store = self.store
        shown = (store.time_since_update == 0) & (store.states == assoc.TrackState.CONFIRMED)
        return assoc.Tracks(
            self.store.ids[shown],
            self.store.latest_boxes_xyxy()[shown],
            self.store.latest_scores()[shown],
        )


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--mot", type=Path, help="a MOTChallenge sequence folder with img1/")
    source.add_argument("--video", type=Path, help="your video file or image folder (no scores)")
    parser.add_argument(
        "--detector",
        choices=["replay", "hog"],
        help="replay: the sequence's own detections (simulated ones for the synthetic scene, "
        "det/det.txt for --mot); hog: OpenCV's people detector (default with --mot/--video)",
    )
    parser.add_argument("--frames", type=int, default=60, help="frames to track (0 = all)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic scene seed")
    parser.add_argument("--min-score", type=float, default=0.0, help="drop weaker detections")
    parser.add_argument("--out", type=Path, default=Path("runs/examples/mot"))
    parser.add_argument("--annotate", type=Path, help="write an annotated video of SORT's tracks")
    args = parser.parse_args(argv)

    # 1. Frames (and ground truth, when there is any) and a detector.
    if args.mot is not None:
        seq = read_motchallenge(args.mot.parent, names=[args.mot.name])[args.mot.name]
        if seq.frames is None:
            parser.error(f"--mot: {args.mot} has no img1/ frames to run a detector on")
    elif args.video is not None:
        frames = open_frames(args.video)
        seq = MOTSequence(args.video.stem, len(frames), frames, gt=None, det=None)
    else:
        seq = synthetic_mot_sequence(length=args.frames or 60, seed=args.seed)
    num_frames = min(seq.num_frames, args.frames) if args.frames else seq.num_frames
    kind = args.detector or ("replay" if args.mot is None and args.video is None else "hog")
    if kind == "replay":
        if seq.det is None:
            parser.error("--detector replay needs stored detections (synthetic scene or --mot)")
        detector: Detector = ReplayDetector(seq.det, seq.num_frames)
    else:
        detector = HOGPeopleDetector()

    # 2. Your detector's output, as detection rows of the sequence.
    detections = detect_all(detector, seq.frames, num_frames)
    gt = None if seq.gt is None else seq.gt.select(seq.gt.frames < num_frames)
    seq = dataclasses.replace(seq, num_frames=num_frames, det=detections, gt=gt)
    print(f"{seq.name}: {num_frames} frames, {len(detections)} detections ({kind})")

    # 3. Association; MOTChallenge files under --out/<tracker>/<sequence>.txt; scores.
    trackers = {"sort": assoc.SortTracker(), "greedy-iou": GreedyIoUTracker()}
    summary: dict[str, dict[str, float]] = {}
    results = []
    for name, tracker in trackers.items():
        path = args.out / name / f"{seq.name}.txt"
        if gt is not None:  # the trackkit runner: tracks, MOTChallenge file, scores
            runner = DetectionTracker(tracker, min_score=args.min_score)  # feeds seq.det
            result = run_mot_benchmark(runner, [seq], name=name, results_dir=args.out,
                                       progress=False)  # fmt: skip
            results.append(result)
            summary[name] = result.combined.summary()
        else:  # no ground truth: tracks and the MOTChallenge file only
            rows, _ = associate(tracker, detections, num_frames, min_score=args.min_score)
            write_mot_rows(path, rows)
            summary[name] = {"tracks": float(np.unique(rows.ids).size)}
            print(f"{name}: {np.unique(rows.ids).size} tracks, {len(rows)} boxes")
        print(f"{name}: MOTChallenge file {path}")
    if results:
        print(mot_results_table(results))
    if args.annotate is not None:
        rows, _ = associate(trackers["sort"], detections, num_frames, min_score=args.min_score)
        per_frame = rows.split_by_frame(num_frames)
        with AnnotatedVideoWriter(args.annotate) as video:
            for t in range(num_frames):
                r = rows.select(per_frame[t])
                video.write(seq.frames[t], r.boxes_xywh, ids=r.ids, label=f"frame {t}")
        print(f"annotated video -> {args.annotate}")
    return summary


if __name__ == "__main__":
    main()
