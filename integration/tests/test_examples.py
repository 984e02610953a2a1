"""The scripts in ``examples/`` run as-is at small sizes and print what they achieved.

Each example is executed in a subprocess (exactly as a user runs it, from a fresh interpreter)
on synthetic data with small sizes; the checks are on what it prints and writes. Examples that
can also run on real data are run on ``../shared/data`` when it is present.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DATA = ROOT.parent / "shared" / "data"


def run_example(name: str, *args: str, cwd: Path, timeout: float = 900) -> str:
    """Run ``examples/<name>`` with one torch thread; return its stdout (fail on exit != 0)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    return proc.stdout


def table_rows(text: str) -> dict[str, list[str]]:
    """Rows of the markdown tables in ``text``, keyed by their first cell."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1:]
    return rows


def test_examples_folder_holds_the_four_examples() -> None:
    names = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert names == [
        "distill_student.py",
        "mot_own_detector.py",
        "scst_finetune.py",
        "sot_meta_adapted.py",
    ]


def test_mot_own_detector_synthetic(tmp_path: Path) -> None:
    out = run_example("mot_own_detector.py", "--frames", "20", "--out", "runs", cwd=tmp_path)
    rows = table_rows(out)
    assert {"sort", "greedy-iou"} <= set(rows)
    for name in ("sort", "greedy-iou"):
        hota, mota = float(rows[name][0]), float(rows[name][3])
        # The simulated detector is good (10 % misses, 0.5 false positives per frame): both
        # trackers must do far better than nothing.
        assert 0.3 < hota <= 1.0 and 0.3 < mota <= 1.0, out
        result = tmp_path / "runs" / name / "synthetic-mot-0.txt"
        lines = result.read_text().splitlines()
        assert lines and all(len(line.split(",")) >= 9 for line in lines)
        assert min(int(line.split(",")[0]) for line in lines) >= 1  # MOTChallenge: 1-based


@pytest.mark.skipif(not (DATA / "mot" / "TUD-Campus").is_dir(), reason="needs ../shared/data/mot")
def test_mot_own_detector_hog_on_real_frames(tmp_path: Path) -> None:
    args = ["--mot", str(DATA / "mot" / "TUD-Campus"), "--frames", "8", "--out", "runs"]
    out = run_example("mot_own_detector.py", *args, "--annotate", "a.mp4", cwd=tmp_path)
    assert re.search(r"TUD-Campus: 8 frames, [1-9]\d* detections \(hog\)", out), out
    assert {"sort", "greedy-iou"} <= set(table_rows(out))
    assert (tmp_path / "a.mp4").stat().st_size > 0


def test_mot_own_detector_video_without_ground_truth(tmp_path: Path) -> None:
    from trackkit.data import AnnotatedVideoWriter, synthetic_mot_sequence

    seq = synthetic_mot_sequence(length=6, seed=3)
    with AnnotatedVideoWriter(tmp_path / "clip.mp4") as video:
        for t in range(6):
            video.write(seq.frames[t], seq.gt.at_frame(t).boxes_xywh[:0])
    out = run_example("mot_own_detector.py", "--video", "clip.mp4", "--out", "runs", cwd=tmp_path)
    assert "sort:" in out and (tmp_path / "runs" / "sort" / "clip.txt").is_file()


def test_sot_meta_adapted_synthetic(tmp_path: Path) -> None:
    args = ["--frames", "16", "--eval-seqs", "1", "--train-seqs", "1", "--train-iters", "3"]
    out = run_example("sot_meta_adapted.py", *args, cwd=tmp_path)
    rows = table_rows(out)
    shipped = float(rows["shipped meta-learned head + learned rates"][0])
    packaged = float(rows["trackkit.sot.fcos_maml()"][0])
    # The tracker written out from the pieces is the packaged tracker (up to the loss
    # normaliser of the support loss): same AUC within a few points, and it tracks.
    assert abs(shipped - packaged) < 0.05 and shipped > 0.5, out
    losses = re.search(r"learned rates: first-frame support loss ([\d.]+) -> ([\d.]+)", out)
    assert losses and float(losses[2]) < float(losses[1]), out
    # Plain gradient descent from an untrained head: scores never reach the lost threshold.
    assert re.search(r"untrained head \+ fixed rate 0.001: .* lost on 100% of frames", out), out


def test_sot_meta_adapted_on_a_video(tmp_path: Path) -> None:
    from trackkit.data import AnnotatedVideoWriter, synthetic_sot_sequence

    seq = synthetic_sot_sequence(length=8, seed=4)
    with AnnotatedVideoWriter(tmp_path / "clip.mp4") as video:
        for t in range(len(seq)):
            video.write(seq[t], seq.boxes_xywh[:0])
    x, y, w, h = seq.boxes_xywh[0]
    args = ["--frames", "8", "--eval-seqs", "1", "--train-seqs", "1", "--train-iters", "1"]
    video = ["--video", "clip.mp4", "--init", f"{x},{y},{w},{h}", "--boxes", "boxes.txt"]
    out = run_example("sot_meta_adapted.py", *args, *video, cwd=tmp_path)
    assert "clip.mp4: tracked 8 frames" in out
    assert len((tmp_path / "boxes.txt").read_text().split()) >= 8


def test_scst_finetune_synthetic(tmp_path: Path) -> None:
    args = ["--frames", "16", "--train-seqs", "2", "--eval-seqs", "1", "--batch", "2"]
    iters = ["--supervised-iters", "4", "--scst-iters", "4", "--episode", "4"]
    out = run_example("scst_finetune.py", *args, *iters, cwd=tmp_path)
    for name in ("supervised", "supervised+SCST"):
        auc = re.search(rf"^{re.escape(name)}: held-out success AUC ([\d.]+)", out, re.M)
        assert auc and 0.0 <= float(auc[1]) <= 1.0, out
    assert re.search(r"SCST greedy episode reward .* first 1 iterations [\d.]+, last 1", out), out


def test_distill_student_synthetic(tmp_path: Path) -> None:
    args = ["--frames", "16", "--train-seqs", "2", "--eval-seqs", "1", "--iters", "5"]
    teachers = ["--teachers", "KCF", "MedianFlow", "template", "--cache", "cache"]
    out = run_example("distill_student.py", *args, *teachers, cwd=tmp_path)
    rows = table_rows(out)
    names = {"KCF", "MedianFlow", "template", "student", "student+teachers (fused by value)"}
    names.add("teachers fused by value")
    assert names <= set(rows), out
    assert all(0.0 <= float(rows[n][0]) <= 1.0 for n in names)
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 2 * 3  # 2 sequences x 3 teachers
