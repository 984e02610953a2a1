"""OpenCV teachers on ../shared/data/sot: accuracy, speed and the best-teacher-per-frame oracle.

Every OpenCV tracker kind the installed OpenCV provides (``distill.available_opencv_kinds``),
plus KCF with ``detect_thresh=0`` (OpenCV's default KCF freezes for good after one low peak),
runs the one-pass protocol on every single-object sequence through ``distill.TeacherPool``
(initialised on the first ground-truth box, one ``update`` per later frame; a lost target keeps
its last box). Per sequence: mean IoU and success AUC (mean success rate over the OTB
thresholds 0, 0.05, ..., 1; a frame succeeds when IoU > threshold) over the frames where the
target is present, the initial frame included (OTB convention). Table rows average the
per-sequence numbers over sequences. FPS = frames / teacher time (``init`` plus ``update``
calls; JPEG decoding excluded), summed over sequences; the machine is shared, so compare speeds
as ratios to KCF from the same run.

The oracle picks, on every frame, the teacher whose box has the highest IoU with the ground
truth (Dunnhofer et al. 2020, eq. 4, the selection used to distil): an upper bound for any fusion
of these teachers' boxes such as TRASFUST's value-based choice (which is causal and cannot see the
ground truth). "Best single teacher per sequence" picks one teacher per sequence in hindsight.

Trajectories are cached (``TeacherPool`` cache, default ``/tmp/distill_teachers_cache``), so a
rerun only recomputes the metrics; FPS comes from the run that filled the cache.

Run: ``python3 benchmarks/distill_teachers.py [--data ../shared/data/sot] [--kinds KCF ...]
[--max-frames N] [--processes 2]``. Writes docs/benchmarks/distill.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from distill import TeacherPool, available_opencv_kinds, box_iou_xywh

ROOT = Path(__file__).resolve().parents[1]
OUT_MD = ROOT / "docs" / "benchmarks" / "distill.md"
THRESHOLDS = np.linspace(0.0, 1.0, 21)


def read_sequence(folder: Path, coordinate_base: int) -> tuple[list[Path], np.ndarray]:
    """Frame paths and 0-based ``[T, 4]`` ground truth (NaN rows = target absent)."""
    frames = sorted((folder / "img").glob("*.jpg"))
    gt = np.loadtxt(folder / "groundtruth.txt", delimiter=",", dtype=np.float64, ndmin=2)
    if len(gt) != len(frames):
        raise ValueError(f"{folder.name}: {len(frames)} frames but {len(gt)} ground-truth lines")
    gt[:, :2] -= coordinate_base
    return frames, gt


def success_auc(iou: np.ndarray) -> float:
    """Mean success rate over the OTB thresholds 0:0.05:1 (success = IoU > threshold)."""
    return float((iou[None, :] > THRESHOLDS[:, None]).mean(axis=1).mean())


def oracle_share(ious: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Share of frames each teacher is the oracle's choice; ties split the frame equally.

    Counted over frames after the first (where every teacher has the ground-truth box) with the
    target present and at least one teacher overlapping it.
    """
    later = present.copy()
    later[0] = False
    sub = ious[:, later[present]]  # [K, T']
    best = sub.max(axis=0)
    sub, best = sub[:, best > 0], best[best > 0]
    if sub.shape[1] == 0:
        return np.zeros(len(ious))
    tied = sub == best[None, :]
    return (tied / tied.sum(axis=0, keepdims=True)).sum(axis=1) / sub.shape[1]


def main() -> None:
    """Run the teachers, compute the metrics and write the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = Path(os.environ.get("TRACKKIT_DATA", ROOT / "../shared/data")) / "sot"
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--kinds", nargs="+", default=None, help="default: all available")
    parser.add_argument("--max-frames", type=int, default=None, help="cap frames per sequence")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument(
        "--no-kcf-variant", action="store_true", help="skip KCF with detect_thresh=0"
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/distill_teachers_cache"))
    parser.add_argument("--out-md", type=Path, default=OUT_MD)
    args = parser.parse_args()
    manifest_path = args.data / "manifest.json"
    if not manifest_path.is_file():
        print(f"skipped: single-object data not found at {args.data.resolve()}")
        return

    import cv2  # the benchmark needs the opencv extra; the library does not

    from distill import OpenCVTeacher

    cv2.setNumThreads(1)
    kinds = args.kinds or list(available_opencv_kinds())
    teachers = [OpenCVTeacher(kind) for kind in kinds]
    if "KCF" in kinds and not args.no_kcf_variant:
        # OpenCV's KCF freezes once its peak response drops below detect_thresh (0.5); with 0 it
        # always follows the peak like the original KCF.
        teachers.append(OpenCVTeacher("KCF", params={"detect_thresh": 0.0}))
    labels = [t.name.removeprefix("opencv-") for t in teachers]
    pool = TeacherPool(teachers, cache_dir=args.cache, processes=args.processes)
    manifest = json.loads(manifest_path.read_text())
    load_start = os.getloadavg()[0]
    wall = time.time()

    per_seq: list[dict[str, object]] = []
    cached_runs = fresh_runs = 0
    for entry in manifest:
        name = entry["name"]
        frames, gt = read_sequence(args.data / name, int(entry["coordinate_base"]))
        if args.max_frames is not None:
            frames, gt = frames[: args.max_frames], gt[: args.max_frames]
        start = time.time()
        trajectories = pool.run(frames, gt[0], sequence=name)
        present = np.all(np.isfinite(gt), axis=1)
        ious = np.stack([box_iou_xywh(tr.boxes_xywh, gt) for tr in trajectories.values()])
        ious = ious[:, present]  # [K, T_present]
        for tr in trajectories.values():
            cached_runs += tr.from_cache
            fresh_runs += not tr.from_cache
        oracle = ious.max(axis=0)
        row: dict[str, object] = {
            "name": name,
            "frames": len(frames),
            "mean_iou": ious.mean(axis=1),
            "auc": np.array([success_auc(i) for i in ious]),
            "seconds": np.array([tr.seconds for tr in trajectories.values()]),
            "lost": np.array([1.0 - tr.success.mean() for tr in trajectories.values()]),
            "oracle_iou": float(oracle.mean()),
            "oracle_auc": success_auc(oracle),
            "oracle_share": oracle_share(ious, present),
        }
        per_seq.append(row)
        print(f"{name}: {len(frames)} frames, {time.time() - start:.1f}s", flush=True)

    write_report(args, labels, per_seq, load_start, time.time() - wall, cached_runs, fresh_runs)
    print(f"wrote {args.out_md}")


def write_report(
    args: argparse.Namespace,
    kinds: list[str],
    per_seq: list[dict[str, object]],
    load_start: float,
    wall: float,
    cached_runs: int,
    fresh_runs: int,
) -> None:
    """Write docs/benchmarks/distill.md."""
    import cv2
    import torch

    def stack(key: str) -> np.ndarray:
        return np.stack([np.asarray(row[key]) for row in per_seq])

    mean_iou, auc, seconds, lost = stack("mean_iou"), stack("auc"), stack("seconds"), stack("lost")
    frames = np.array([row["frames"] for row in per_seq], dtype=np.float64)
    fps = frames.sum() / seconds.sum(axis=0)
    kcf = kinds.index("KCF") if "KCF" in kinds else None
    oracle_iou = np.array([row["oracle_iou"] for row in per_seq])
    oracle_auc = np.array([row["oracle_auc"] for row in per_seq])
    share = stack("oracle_share").mean(axis=0)
    best_single = auc.argmax(axis=1)
    best_single_auc = auc.max(axis=1)
    best_single_iou = mean_iou[np.arange(len(per_seq)), best_single]
    best_overall = int(auc.mean(axis=0).argmax())

    lines = [
        "# distill benchmark: OpenCV teachers and the best-teacher oracle",
        "",
        f"Produced by `python3 benchmarks/distill_teachers.py"
        f"{'' if args.max_frames is None else f' --max-frames {args.max_frames}'}` on "
        f"{len(per_seq)} single-object sequences of `../shared/data/sot` "
        f"({int(frames.sum())} frames{'' if args.max_frames is None else ', capped'}). "
        f"OpenCV {cv2.__version__} (one thread), torch {torch.__version__}, "
        f"{os.cpu_count()} CPU cores ({platform.machine()}), load average at start "
        f"{load_start:.1f} (a machine shared with other jobs: absolute FPS are noisy, the ratios "
        "to KCF less so). Trajectories: "
        f"{fresh_runs} teacher runs computed, {cached_runs} reloaded from the `TeacherPool` cache; "
        f"wall time {wall / 60:.1f} min."
        + (
            " FPS of reloaded trajectories are those of the run that filled the cache."
            if cached_runs
            else ""
        ),
        "",
        "Protocol: one-pass, initialised on the first ground-truth box (0-based, converted with "
        "the manifest's `coordinate_base`); a lost target keeps its last box. Mean IoU and "
        "success AUC (thresholds 0:0.05:1) over frames with the target present (first frame "
        "included), averaged over sequences. FPS = frames / teacher time (init + updates, JPEG "
        "decoding excluded). *Lost* = share of frames the teacher reported failure.",
        "",
        "## Teachers",
        "",
        "| teacher | mean IoU | success AUC | FPS | FPS / KCF | lost |",
        "|---|---|---|---|---|---|",
    ]
    for k, kind in enumerate(kinds):
        ratio = f"{fps[k] / fps[kcf]:.2f}" if kcf is not None else "-"
        lines.append(
            f"| {kind} | {mean_iou[:, k].mean():.3f} | {auc[:, k].mean():.3f} | {fps[k]:.1f} | "
            f"{ratio} | {lost[:, k].mean():.1%} |"
        )
    lines += [
        f"| best single teacher per sequence (hindsight) | {best_single_iou.mean():.3f} | "
        f"{best_single_auc.mean():.3f} | - | - | - |",
        f"| **oracle: best teacher per frame (eq. 4)** | **{oracle_iou.mean():.3f}** | "
        f"**{oracle_auc.mean():.3f}** | - | - | - |",
        "",
        f"Best single teacher on average: {kinds[best_overall]} (AUC "
        f"{auc[:, best_overall].mean():.3f}). The per-frame oracle reaches AUC "
        f"{oracle_auc.mean():.3f}, {oracle_auc.mean() - auc[:, best_overall].mean():+.3f} over it: "
        "the head-room a perfect value-based fusion of these teachers (TRASFUST) could reach; the "
        "oracle cannot be reached causally because it looks at the ground truth.",
        "",
        "Share of frames on which each teacher is the oracle's choice, averaged over sequences "
        "(frames after the first, target present, at least one teacher overlapping it; a tie "
        "splits the frame equally): "
        + ", ".join(f"{kind} {share[k]:.1%}" for k, kind in enumerate(kinds))
        + ".",
        "",
        "## Per sequence (success AUC)",
        "",
        "| sequence | frames | " + " | ".join(kinds) + " | oracle |",
        "|---|---|" + "---|" * len(kinds) + "---|",
    ]
    for s, row in enumerate(per_seq):
        cells = " | ".join(
            f"**{auc[s, k]:.3f}**" if k == best_single[s] else f"{auc[s, k]:.3f}"
            for k in range(len(kinds))
        )
        lines.append(f"| {row['name']} | {row['frames']} | {cells} | {oracle_auc[s]:.3f} |")
    lines += ["", "Bold: the best single teacher on that sequence.", ""]
    args.out_md.parent.mkdir(parents=True, exist_ok=True)
    args.out_md.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
