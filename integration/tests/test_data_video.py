"""Video IO: reading image folders and video files, writing annotated video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trackkit.data import AnnotatedVideoWriter, ImageFiles, VideoFrames, draw_boxes, open_frames


def _flat_frames(n: int) -> list[np.ndarray]:
    return [np.full((48, 64, 3), 20 + 20 * i, dtype=np.uint8) for i in range(n)]


def test_write_then_read_video_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    frames = _flat_frames(6)
    with AnnotatedVideoWriter(path, fps=10) as video:
        for i, f in enumerate(frames):
            video.write(f, np.array([[5.0, 5, 20, 10]]), ids=[i], scores=[0.5])
    assert video.frames_written == 6 and path.stat().st_size > 0
    src = open_frames(path)
    assert isinstance(src, VideoFrames) and len(src) == 6
    assert abs(src.fps - 10) < 1e-6
    # Flat grey levels survive compression; the middle is far from the drawn box.
    levels = np.array([int(src[i][40, 50, 0]) for i in range(6)])
    np.testing.assert_allclose(levels, [int(f[40, 50, 0]) for f in frames], atol=8)
    assert abs(int(src[2][40, 50, 0]) - 60) <= 8  # random access after sequential reads
    assert len(list(iter(src))) == 6
    with pytest.raises(IndexError):
        src[6]


def test_open_frames_image_folder_and_errors(tmp_path: Path) -> None:
    for i, f in enumerate(_flat_frames(3)):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), f)
    src = open_frames(tmp_path)
    assert isinstance(src, ImageFiles) and len(src) == 3
    with pytest.raises(FileNotFoundError):
        open_frames(tmp_path / "nope.mp4")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a video"):
        open_frames(tmp_path / "notes.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no images"):
        open_frames(empty)


def test_draw_boxes_draws_on_a_copy() -> None:
    frame = np.zeros((40, 40, 3), np.uint8)
    out = draw_boxes(frame, [[10, 10, 20, 20], [np.nan] * 4], ids=[3, 4], color=(0, 0, 255))
    assert frame.max() == 0  # input untouched
    assert (out[10, 15] == [0, 0, 255]).all() and (out[20, 20] == 0).all()  # outline only
    with pytest.raises(ValueError, match="ids"):
        draw_boxes(frame, [[0, 0, 5, 5]], ids=[1, 2])


def test_writer_rejects_size_change(tmp_path: Path) -> None:
    with AnnotatedVideoWriter(tmp_path / "a.mp4", fps=5) as video:
        video.write(np.zeros((32, 32, 3), np.uint8))
        with pytest.raises(ValueError, match="size"):
            video.write(np.zeros((16, 32, 3), np.uint8))
    with pytest.raises(FileNotFoundError):
        AnnotatedVideoWriter(tmp_path / "missing" / "a.mp4")
