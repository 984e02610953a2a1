"""Output paths the commands cannot write fail before the work, in one line naming the path, and
the up-front check leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import trackkit.data
from trackkit.cli import main

PROC = Path("/proc")
needs_proc = pytest.mark.skipif(
    not (PROC / "self").is_dir(), reason="no /proc pseudo file system here"
)


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("trackkit: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _frames(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for t in range(3):
        cv2.imwrite(str(folder / f"{t + 1:06d}.png"), np.full((40, 40, 3), 60 * t, np.uint8))
    return folder


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make the work of the commands impossible: reading frames or MOT data raises
    AssertionError (not caught by the CLI), the data roots point nowhere."""

    def boom(*_: Any, **__: Any) -> Any:
        raise AssertionError("the work started before the output check")

    monkeypatch.setattr(trackkit.data, "open_frames", boom)
    monkeypatch.setattr(trackkit.data, "read_motchallenge", boom)
    monkeypatch.setattr("trackkit._cli.demo.run_demo", boom)
    monkeypatch.setattr("trackkit._cli.eval.open_sot_dataset", boom)
    monkeypatch.setenv("TRACKKIT_DATA", str(tmp_path / "no-data"))


def _argvs(tmp_path: Path, bad_file: str, bad_dir: str) -> list[tuple[list[str], str]]:
    """(argv, the output path the error must name) for every command that writes."""
    frames = str(tmp_path / "frames")
    data = str(tmp_path / "data")  # exists (a folder of frames is enough to get past --data)
    track = ["track", frames, "--init", "5,5,10,10", "--tracker", "opencv-kcf", "--no-progress"]
    return [
        ([*track, "--boxes", bad_file], bad_file),
        ([*track, "--out", bad_file], bad_file),
        (["mot", frames, "--tracker", "retinatrack", "--out", bad_file], bad_file),
        (
            ["mot", frames, "--tracker", "retinatrack", "--out", "t.txt", "--video", bad_file],
            bad_file,
        ),
        (["mot", "--data", data, "--out", bad_dir], bad_dir),
        (["demo", "--out", bad_file], bad_file),
        (["demo", "--frame-png", bad_file], bad_file),
        (["eval", "sot", "--data", data, "--tracker", "opencv-kcf", "--out", bad_dir], bad_dir),
        (["eval", "sot", "--data", data, "--results", data, "--plot", bad_file], bad_file),
        (["eval", "mot", "--gt", data, "--tracker", "sort", "--out", bad_dir], bad_dir),
        (["train", "maml", "--out", bad_dir, "--data", data + "x"], bad_dir),
        (["train", "maml", "--out", "o", "--cache-only", "--cache", bad_file], bad_file),
        (["train", "finalize", "missing.pt", "--out", bad_file], bad_file),
        (["train", "soup", "--from", "a.pt", "b.pt", "--out", bad_file], bad_file),
        (["train", "slt", "--out", bad_dir, "--data", data + "x"], bad_dir),
        (["train", "tras", "--out", bad_dir], bad_dir),
        (["train", "tras-value", "--out", bad_dir], bad_dir),
        (["train", "retinatrack", "--out", bad_dir], bad_dir),
        (["train", "maml-mot", "--out", bad_dir], bad_dir),
    ]


@needs_proc
@pytest.mark.usefixtures("no_work")
def test_outputs_under_proc_fail_first_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """/proc accepts no new file, not even from root (os.access says yes there): every command
    that writes says so before reading its input, naming the path."""
    _frames(tmp_path / "frames")
    _frames(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    for argv, path in _argvs(tmp_path, "/proc/x/out.png", "/proc/x/runs"):
        assert main(argv) == 2, argv
        err = _one_line_error(capsys)
        assert f"{path} cannot be written" in err and "in /proc" in err, (argv, err)
    assert not (tmp_path / "o").exists() and not (tmp_path / "t.txt").exists()


@needs_proc
def test_an_existing_file_that_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = _frames(tmp_path / "frames")
    argv = ["track", str(frames), "--init", "5,5,10,10", "--tracker", "opencv-kcf"]
    assert main([*argv, "--boxes", "/proc/version"]) == 2
    assert "--boxes /proc/version cannot be written" in _one_line_error(capsys)


@pytest.mark.usefixtures("no_work")
def test_an_ancestor_that_is_a_file_fails_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path through a file (``results.txt/x``) is found up front too, for files and folders."""
    _frames(tmp_path / "frames")
    _frames(tmp_path / "data")
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("keep me\n")
    for argv, path in _argvs(tmp_path, str(a_file / "sub" / "out.png"), str(a_file / "runs")):
        assert main(argv) == 2, argv
        err = _one_line_error(capsys)
        assert path in err and f"{a_file} is a file" in err, (argv, err)
    assert a_file.read_text() == "keep me\n"


def _chmod_restricts(folder: Path) -> bool:
    """Whether a folder without write permission refuses new files here (not for root or a
    process with CAP_DAC_OVERRIDE)."""
    try:
        (folder / "probe").touch()
    except PermissionError:
        return True
    (folder / "probe").unlink()
    return False


@pytest.mark.usefixtures("no_work")
def test_read_only_folders_fail_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _frames(tmp_path / "frames")
    _frames(tmp_path / "data")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not _chmod_restricts(locked):
            pytest.skip("chmod does not make a folder read-only here (root); see the /proc test")
        for argv, path in _argvs(tmp_path, str(locked / "new" / "out.png"), str(locked / "runs")):
            assert main(argv) == 2, argv
            err = _one_line_error(capsys)
            assert f"{path} cannot be written" in err, (argv, err)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_the_check_leaves_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A writable output passes the check without a stray file or folder (the command then fails
    on its input here), and an existing output file keeps its bytes and its time stamp."""
    frames = tmp_path / "empty"
    frames.mkdir()
    existing = tmp_path / "boxes.txt"
    existing.write_text("old\n")
    os.utime(existing, (1_000_000_000, 1_000_000_000))
    new = tmp_path / "new" / "deeper" / "boxes.txt"
    for boxes in (existing, new):
        argv = ["track", str(frames), "--init", "5,5,10,10", "--tracker", "opencv-kcf"]
        assert main([*argv, "--boxes", str(boxes), "--no-progress"]) == 2
        assert "cannot be written" not in _one_line_error(capsys)
    assert existing.read_text() == "old\n" and existing.stat().st_mtime == 1_000_000_000
    assert not (tmp_path / "new").exists()
    argv = ["train", "finalize", str(tmp_path / "missing.pt"), "--out", str(new), "--no-data"]
    assert main(argv) == 2
    assert "missing.pt" in _one_line_error(capsys)
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes.txt", "empty"]


def test_plot_and_frame_png_formats_fail_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_work: None
) -> None:
    """A plot name matplotlib cannot write and a --frame-png name OpenCV cannot write were
    errors (a cv2.error traceback for the PNG) only after tracking."""
    data = _frames(tmp_path / "data")
    argv = ["eval", "sot", "--data", str(data), "--results", str(data)]
    assert main([*argv, "--plot", str(tmp_path / "plot.xyz")]) == 2
    assert "matplotlib cannot write .xyz files" in _one_line_error(capsys)
    assert main(["demo", "--frame-png", str(tmp_path / "frame.xyz")]) == 2
    assert "--frame-png" in _one_line_error(capsys)
