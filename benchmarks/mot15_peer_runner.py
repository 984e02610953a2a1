"""Run one peer tracker (boxmot, trackers or norfair) on prepared MOT15 detections.

Runs inside the peer's own virtualenv (it imports only numpy and the peer library; never
`assoc` or `trackkit`), called by ``benchmarks/mot15_public.py`` as a subprocess:

    <venv>/bin/python benchmarks/mot15_peer_runner.py --tracker trackers.ByteTrack \
        --input in.npz --output out.npz --rounds 3

``in.npz`` holds, per sequence ``<s>``: ``<s>/frames`` (0-based), ``<s>/boxes`` (xyxy),
``<s>/scores`` (already rescaled), ``<s>/meta`` ``[num_frames, width, height, frame_rate]``.
``out.npz`` gets ``<s>/frames, ids, boxes, scores`` of the reported tracks and
``<s>/seconds`` (median over rounds of the time spent in the tracker's update calls).
Each peer runs with its documented defaults; only what the API requires is given (boxmot's
image argument: a blank frame of the sequence's size; BoT-SORT's ReID and camera-motion
compensation are off: det.txt has no appearance and MOT15 here has no images).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

Frame = tuple[np.ndarray, np.ndarray]  # boxes xyxy [M, 4], scores [M]
# (prepare inputs, the timed update call, read outputs): only the update call is timed, as
# for the assoc trackers (association time only).
Step = tuple[
    Callable[[np.ndarray, np.ndarray], Any],
    Callable[[Any], Any],
    Callable[[Any], tuple[np.ndarray, ...]],
]


def make_trackers_lib(kind: str, meta: np.ndarray) -> Step:
    import supervision as sv
    import trackers

    cls = {
        "SORT": trackers.SORTTracker,
        "ByteTrack": trackers.ByteTrackTracker,
        "OC-SORT": trackers.OCSORTTracker,
        "BoT-SORT": trackers.BoTSORTTracker,
    }[kind]
    tracker: Any = cls()

    def prepare(boxes: np.ndarray, scores: np.ndarray) -> Any:
        return sv.Detections(
            xyxy=boxes.astype(np.float32).reshape(-1, 4),
            confidence=scores.astype(np.float32),
            class_id=np.zeros(len(scores), dtype=int),
        )

    def read(out: Any) -> tuple[np.ndarray, ...]:
        ids = np.asarray(out.tracker_id if out.tracker_id is not None else [], dtype=np.int64)
        keep = ids >= 0
        conf = out.confidence if out.confidence is not None else np.zeros(len(ids))
        return ids[keep], np.asarray(out.xyxy)[keep], np.asarray(conf)[keep]

    return prepare, tracker.update, read


def make_boxmot(kind: str, meta: np.ndarray) -> Step:
    import boxmot

    width, height = int(meta[1]), int(meta[2])
    image = np.zeros((height, width, 3), dtype=np.uint8)
    if kind == "ByteTrack":
        tracker: Any = boxmot.ByteTrack()
    elif kind == "OC-SORT":
        tracker = boxmot.OcSort()
    else:
        # No ReID (det.txt has no appearance) and no camera-motion compensation (no images:
        # the assoc trackers get none either).
        tracker = boxmot.BotSort(use_embeddings=False, use_cmc=False, device="cpu")

    def prepare(boxes: np.ndarray, scores: np.ndarray) -> Any:
        return np.concatenate(
            [boxes.reshape(-1, 4), scores.reshape(-1, 1), np.zeros((len(scores), 1))], axis=1
        )

    def read(out: Any) -> tuple[np.ndarray, ...]:
        out = np.asarray(out).reshape(-1, 8)
        return out[:, 4].astype(np.int64), out[:, :4], out[:, 5]

    return prepare, lambda dets: tracker.update(dets, image), read


def make_norfair(kind: str, meta: np.ndarray) -> Step:
    import norfair

    # norfair's README recipe for boxes: IoU distance, threshold 0.7 (= IoU >= 0.3).
    tracker = norfair.Tracker(distance_function="iou", distance_threshold=0.7)

    def prepare(boxes: np.ndarray, scores: np.ndarray) -> Any:
        return [
            norfair.Detection(points=b.reshape(2, 2), scores=np.array([s, s]))
            for b, s in zip(boxes, scores)
        ]

    def read(objs: Any) -> tuple[np.ndarray, ...]:
        ids = np.array([o.id for o in objs], dtype=np.int64)
        out = np.array([o.estimate.reshape(4) for o in objs]).reshape(-1, 4)
        x1, x2 = np.minimum(out[:, 0], out[:, 2]), np.maximum(out[:, 0], out[:, 2])
        y1, y2 = np.minimum(out[:, 1], out[:, 3]), np.maximum(out[:, 1], out[:, 3])
        conf = np.array(
            [float(o.last_detection.scores[0]) if o.last_detection is not None else 0 for o in objs]
        )
        return ids, np.stack([x1, y1, x2, y2], axis=1), conf

    return prepare, lambda dets: tracker.update(detections=dets), read


FACTORIES = {"trackers": make_trackers_lib, "boxmot": make_boxmot, "norfair": make_norfair}


def run_sequence(make: Callable[[], Step], frames: list[Frame]) -> tuple[dict, float]:
    prepare, update, read = make()
    inputs = [prepare(boxes, scores) for boxes, scores in frames]
    parts: dict[str, list[np.ndarray]] = {"frames": [], "ids": [], "boxes": [], "scores": []}
    spent = 0.0
    for t, prepared in enumerate(inputs):
        start = time.perf_counter()
        out = update(prepared)
        spent += time.perf_counter() - start
        ids, out_boxes, out_scores = read(out)
        parts["frames"].append(np.full(len(ids), t, dtype=np.int64))
        parts["ids"].append(np.asarray(ids, dtype=np.int64))
        parts["boxes"].append(np.asarray(out_boxes, dtype=np.float64).reshape(-1, 4))
        parts["scores"].append(np.asarray(out_scores, dtype=np.float64).reshape(-1))
    return {k: np.concatenate(v) for k, v in parts.items()}, spent


def main() -> None:
    """Run the peer on every sequence of ``--input`` and write ``--output``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", required=True, help="LIB.KIND, e.g. boxmot.OC-SORT")
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lib, kind = args.tracker.split(".", 1)
    data = np.load(args.input)
    names = sorted({key.split("/")[0] for key in data.files})
    result: dict[str, np.ndarray] = {}
    for name in names:
        meta = data[f"{name}/meta"]
        det_frames, boxes, scores = (data[f"{name}/{k}"] for k in ("frames", "boxes", "scores"))
        frames = [(boxes[det_frames == t], scores[det_frames == t]) for t in range(int(meta[0]))]
        times = []
        first = None
        for _ in range(args.rounds):
            out, spent = run_sequence(functools.partial(FACTORIES[lib], kind, meta), frames)
            times.append(spent)
            first = out if first is None else first
        assert first is not None
        for key, value in first.items():
            result[f"{name}/{key}"] = value
        result[f"{name}/seconds"] = np.array(statistics.median(times))
        print(f"{args.tracker} {name}: {int(meta[0]) / statistics.median(times):.0f} frames/s")
    np.savez(args.output, **result)


if __name__ == "__main__":
    main()
