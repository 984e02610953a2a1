"""``trackkit track`` and ``trackkit demo`` end to end on synthetic frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from trackkit.cli import main
from trackkit.data import synthetic_sot_sequence

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    seq = synthetic_sot_sequence(length=12, seed=5, target_size=(40.0, 36.0))
    root = tmp_path_factory.mktemp("frames")
    for t in range(len(seq)):
        cv2.imwrite(str(root / f"{t + 1:06d}.png"), seq[t])
    return root, seq.boxes_xywh


@pytest.mark.parametrize("tracker", ["fcos-maml", "retina-maml", "fcos-maml-slt", "opencv-kcf"])
def test_track_folder_writes_boxes_and_video(
    folder: tuple[Path, np.ndarray], tmp_path: Path, tracker: str
) -> None:
    root, gt = folder
    init = ",".join(f"{v:.1f}" for v in gt[0])
    code = main(
        [
            "track", str(root), "--init", init, "--tracker", tracker, "--boxes",
            str(tmp_path / "b.txt"), "--out", str(tmp_path / "v.mp4"), "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    boxes = np.loadtxt(tmp_path / "b.txt", delimiter=",")
    assert boxes.shape == (12, 4) and np.isfinite(boxes).all()
    np.testing.assert_allclose(boxes[0], gt[0], atol=0.06)  # --init was written with 1 decimal
    assert (tmp_path / "v.mp4").stat().st_size > 1000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--init", "1,2,3"], "four numbers x,y,w,h"),
        (["--init", "a,b,c,d"], "four numbers x,y,w,h"),
        (["--init", "5000,5000,10,10"], "does not overlap"),
        (["--init", "1,2,nan,4"], "--init must be finite"),
        (["--init", "1,2,-3,4"], "--init must have positive width"),
        (["--init", "1,2,3,0"], "--init must have positive width"),
    ],
)
def test_track_bad_init_is_one_line_error(
    folder: tuple[Path, np.ndarray], argv: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    root, _ = folder
    assert main(["track", str(root), *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_track_missing_source(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["track", str(tmp_path / "nope.mp4"), "--init", "1,1,5,5"]) == 2
    assert "no such video" in capsys.readouterr().err


def test_demo_prints_auc(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    png = tmp_path / "f.png"
    assert (
        main(["demo", "--out", str(tmp_path / "d.mp4"), "--length", "16", "--frame-png", str(png)])
        == 0
    )
    out = capsys.readouterr().out
    assert "success AUC" in out
    assert (tmp_path / "d.mp4").stat().st_size > 1000 and cv2.imread(str(png)) is not None


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    """``python -m trackkit`` is the console script: same one-line error and exit status."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trackkit",
            "track",
            str(tmp_path / "nope.mp4"),
            "--init",
            "1,2,3,4",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("trackkit: error: no such video")


def test_track_trasfust_value_ema(
    folder: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root, gt = folder
    base = ["track", str(root), "--init", ",".join(f"{v:.1f}" for v in gt[0]), "--no-progress"]
    out = tmp_path / "b.txt"
    code = main([*base, "--tracker", "trasfust", "--teachers", "kcf", "--value-ema", "0.8",
                 "--boxes", str(out), "--max-frames", "6"])  # fmt: skip
    assert code == 0 and np.isfinite(np.loadtxt(out, delimiter=",")).all()
    assert main([*base, "--tracker", "trasfust", "--value-ema", "1"]) == 2
    assert "value_ema must lie in [0, 1)" in capsys.readouterr().err
    assert main([*base, "--tracker", "opencv-kcf", "--value-ema", "0.5"]) == 2
    assert "--value-ema is for tras, trast and trasfust" in capsys.readouterr().err


def test_track_trasfust_average_iou(
    folder: tuple[Path, np.ndarray],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    tras_options_seen: Callable[..., list[tuple[Any, ...]]],
) -> None:
    seen = tras_options_seen("average_iou", "average_temperature")
    root, gt = folder
    base = ["track", str(root), "--init", ",".join(f"{v:.1f}" for v in gt[0]), "--no-progress"]
    out = tmp_path / "b.txt"
    options = ["--teachers", "kcf", "--average-iou", "0.6", "--average-temperature", "0.1"]
    code = main(
        [*base, "--tracker", "trasfust", *options, "--boxes", str(out), "--max-frames", "4"]
    )
    assert code == 0 and np.isfinite(np.loadtxt(out, delimiter=",")).all()
    assert seen == [(0.6, 0.1)]
    assert main([*base, "--tracker", "trasfust", "--average-iou", "1.5"]) == 2
    assert "average_iou must lie in [0, 1]" in capsys.readouterr().err
    for flag in ("--average-iou", "--average-temperature"):
        assert main([*base, "--tracker", "opencv-kcf", flag, "0.5"]) == 2
        assert f"{flag} is for tras, trast and trasfust" in capsys.readouterr().err
