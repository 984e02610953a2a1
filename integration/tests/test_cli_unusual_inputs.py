"""The command line on inputs a user may have: image folders of other kinds and names, empty
or broken videos, MOTChallenge folders without seqinfo.ini, odd --init spellings, video
outputs of the wrong kind, and the ``--threads`` / ``--cache-only`` / ``--workers`` options.

Every case ends in a correct result, a one-line error naming what was wrong, or a documented
fallback (docs/trackkit.md, "Command line"). Tiny synthetic files only; the trackers are
OpenCV's KCF and SORT (no network).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from trackkit.cli import build_parser, main
from trackkit.data import (
    AnnotatedVideoWriter,
    VideoFrames,
    is_mot_sequence,
    list_images,
    open_frames,
    read_mot_rows,
    read_motchallenge,
    read_seqinfo,
    read_simple_sot,
)

pytestmark = pytest.mark.usefixtures("one_thread")

W, H = 64, 48


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("trackkit: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _frame(t: int) -> np.ndarray:
    """Frame ``t``: a bright block at x = 10 + 3t on a dark, textured background."""
    img = np.random.default_rng(0).integers(20, 60, (H, W, 3)).astype(np.uint8)
    img[12:30, 10 + 3 * t : 22 + 3 * t] = (40, 200, 230)
    return img


def _rows(n: int, fmt: str, sep: str = ",") -> str:
    """Two objects per frame, ``fmt`` a MOTChallenge row with ``{f}``, ``{id}``, ``{x}``."""
    lines = [
        sep.join(fmt.format(f=t + 1, id=i + 1, x=x + 2 * t).split(","))
        for t in range(n)
        for i, x in enumerate((5, 35))
    ]
    return "\n".join(lines) + "\n"


GT = "{f},{id},{x},10,12,20,1,-1,-1,-1"
DET = "{f},-1,{x},10,12,20,0.9,-1,-1,-1"


def _mot_sequence(
    root: Path, *, n: int = 4, seqinfo: str | None = "", images: bool = True, ext: str = ".png"
) -> Path:
    """``root/S1`` with gt, det and (``images``) ``n`` frames; ``seqinfo=""`` writes a full
    seqinfo.ini, ``None`` none, other text that text."""
    seq = root / "S1"
    (seq / "gt").mkdir(parents=True)
    (seq / "det").mkdir()
    (seq / "gt" / "gt.txt").write_text(_rows(n, GT))
    (seq / "det" / "det.txt").write_text(_rows(n, DET, "\t"))
    if images:
        (seq / "img1").mkdir()
        for t in range(n):
            cv2.imwrite(str(seq / "img1" / f"{t + 1:06d}{ext}"), _frame(t))
    if seqinfo == "":
        seqinfo = f"[Sequence]\nname=S1\nimDir=img1\nframeRate=10\nseqLength={n}\nimExt={ext}\n"
    if seqinfo is not None:
        (seq / "seqinfo.ini").write_text(seqinfo)
    return seq


# --- Task A: --threads, train maml --cache-only, train tras --workers ------------------------


def test_every_tracking_command_defaults_to_one_thread_and_training_keeps_torchs() -> None:
    """track, demo, mot, eval sot and eval mot all default to 1 thread (0 = torch's default);
    the training recipes keep torch's default (None), and their help says so."""
    parser = build_parser()
    tracking = {
        "track": ["track", "x", "--init", "1,2,3,4"],
        "demo": ["demo"],
        "mot": ["mot", "x", "--out", "o.txt"],
        "eval sot": ["eval", "sot", "--data", "d"],
        "eval mot": ["eval", "mot", "--gt", "g"],
    }
    for argv in tracking.values():
        assert parser.parse_args(argv).threads == 1, argv
    training = [["train", "maml"], ["train", "slt", "--out", "o"], ["train", "tras", "--out", "o"]]
    for argv in training:
        assert parser.parse_args(argv).threads is None, argv
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {}
    for name in ("track", "mot"):
        helps[name] = next(a.help for a in subparsers.choices[name]._actions if a.dest == "threads")
    assert helps["track"] == helps["mot"] and "default 1" in helps["mot"]


def test_threads_are_set_once_torch_is_loaded_and_checked_always() -> None:
    from trackkit._cli._datasets import set_torch_threads

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        set_torch_threads(1, if_loaded=True)  # torch is imported here: applied
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="--threads must be >= 1"):
            set_torch_threads(-1, if_loaded=True)
    finally:
        torch.set_num_threads(before)


def test_train_maml_cache_only_needs_no_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--cache-only writes the cache and nothing else; without --cache it, and a training run
    without --out, are one-line errors before any work."""
    monkeypatch.chdir(tmp_path)
    assert main(["train", "maml", "--cache-only", "--no-data", "--synthetic", "1"]) == 2
    assert "--cache-only needs --cache" in _one_line_error(capsys)
    assert main(["train", "maml", "--no-data", "--synthetic", "1", "--steps", "1"]) == 2
    assert "--out DIR is required" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []
    argv = ["train", "maml", "--cache-only", "--cache", "c.pt", "--no-data", "--synthetic", "1"]
    assert main([*argv, "--frames-per-sequence", "2", "--no-progress"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_train_tras_workers_help_is_the_same_on_every_machine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from trackkit._cli._train_tras import default_workers

    texts = []
    for cores in (1, 64):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert default_workers() == max(2, cores)
        assert build_parser().parse_args(["train", "tras", "--out", "o"]).workers is None
        with pytest.raises(SystemExit):
            main(["train", "tras", "--help"])
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] and "64" not in texts[1]


# --- image folders ---------------------------------------------------------------------------


def test_image_folders_sort_naturally_and_skip_hidden_files(tmp_path: Path) -> None:
    """1.jpg, 2.jpg, 10.jpg in that order (name order gave 1, 10, 2: a silently shuffled
    sequence); macOS's ._ files and other hidden files are not frames (one stopped `track` with
    "cannot decode"); tif and webp are frames; non-images and folders are not."""
    for t in (1, 2, 10, 11):
        cv2.imwrite(str(tmp_path / f"{t}.jpg"), _frame(t))
    cv2.imwrite(str(tmp_path / "12.tif"), _frame(12))
    cv2.imwrite(str(tmp_path / "13.webp"), _frame(13))
    (tmp_path / "._1.jpg").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    (tmp_path / ".DS_Store").write_bytes(bytes(10))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub.png").mkdir()
    names = [p.name for p in list_images(tmp_path)]
    assert names == ["1.jpg", "2.jpg", "10.jpg", "11.jpg", "12.tif", "13.webp"]
    assert len(open_frames(tmp_path)) == 6
    # the simple SOT layout reads frames in the same order
    seq = tmp_path / "sot" / "seqA"
    (seq / "img").mkdir(parents=True)
    for t in range(12):
        cv2.imwrite(str(seq / "img" / f"{t + 1}.png"), _frame(t))
    (seq / "groundtruth.txt").write_text("".join(f"{10 + 3 * t},12,12,18\n" for t in range(12)))
    frames = read_simple_sot(tmp_path / "sot", coordinate_base=0)["seqA"].frames
    assert [p.name for p in frames.paths][:3] == ["1.png", "2.png", "3.png"]  # type: ignore[attr-defined]


def test_track_accepts_grayscale_rgba_and_16_bit_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds = {
        "gray.jpg": lambda t: cv2.cvtColor(_frame(t), cv2.COLOR_BGR2GRAY),
        "rgba.png": lambda t: cv2.cvtColor(_frame(t), cv2.COLOR_BGR2BGRA),
        "deep.png": lambda t: _frame(t).astype(np.uint16) * 257,
    }
    for name, make in kinds.items():
        folder = tmp_path / name
        folder.mkdir()
        for t in range(4):
            cv2.imwrite(str(folder / f"{t + 1:03d}{Path(name).suffix}"), make(t))
        assert open_frames(folder)[0].shape == (H, W, 3)
        boxes = tmp_path / f"{name}.txt"
        argv = ["track", str(folder), "--init", "10,12,12,18", "--tracker", "opencv-kcf"]
        assert main([*argv, "--boxes", str(boxes), "--no-progress"]) == 0, name
        rows = np.loadtxt(boxes, delimiter=",")
        assert rows.shape == (4, 4) and np.isfinite(rows).all()
    capsys.readouterr()


# --- --init ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["10,12,12,18", "10 12 12 18", "10\t12\t12\t18", "[10, 12, 12, 18]", "(10;12;12;18)"]
)
def test_init_box_takes_commas_spaces_tabs_and_brackets(text: str) -> None:
    from trackkit._cli.track import parse_box

    assert parse_box(text) == [10.0, 12.0, 12.0, 18.0]


@pytest.mark.parametrize("text", ["10,12,12", "10,12,12,18,5", "a,b,c,d", "[10,12,12,18"])
def test_init_box_of_other_shapes_is_an_error(text: str) -> None:
    from trackkit._cli.track import parse_box

    with pytest.raises(ValueError, match="--init must be four numbers"):
        parse_box(text)


def test_track_with_a_tab_separated_init_and_one_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pasted ground-truth line works; one frame prints no 'nan frames per second'."""
    cv2.imwrite(str(tmp_path / "1.png"), _frame(0))
    argv = ["track", str(tmp_path), "--init", "11\t13\t12\t18", "--init-base", "1"]
    boxes = tmp_path / "b.txt"
    assert main([*argv, "--tracker", "opencv-kcf", "--boxes", str(boxes), "--no-progress"]) == 0
    assert "nan" not in capsys.readouterr().err
    assert boxes.read_text().splitlines()[1] == "11.0000,13.0000,12.0000,18.0000"


# --- videos ----------------------------------------------------------------------------------


def test_video_outputs_of_a_kind_opencv_cannot_write_fail_before_the_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """demo --out x.txt tracked the whole sequence first, then failed with an OpenCV message
    on stderr; now every annotated-video option checks its suffix first."""
    cv2.imwrite(str(tmp_path / "1.png"), _frame(0))
    mot = ["mot", str(tmp_path), "--tracker", "retinatrack", "--out", str(tmp_path / "t.txt")]
    cases = [
        ["demo", "--out", str(tmp_path / "demo.txt")],
        ["track", str(tmp_path), "--init", "10,12,12,18", "--out", str(tmp_path / "a.png")],
        [*mot, "--video", str(tmp_path / "v.gif")],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        assert "an annotated video needs one of the suffixes .mp4" in _one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.png"]


def test_annotated_video_of_mixed_frame_sizes_is_scaled_to_the_first(tmp_path: Path) -> None:
    """``resize=True`` (trackkit mot --video on a folder of mixed sizes) scales later frames;
    the default still refuses them."""
    path = tmp_path / "v.mp4"
    with AnnotatedVideoWriter(path, fps=5, resize=True) as video:
        video.write(_frame(0), [[10, 12, 12, 18]])
        video.write(cv2.resize(_frame(1), (W * 2, H * 2)), [[20, 24, 24, 36]])
    frames = VideoFrames(path)
    assert len(frames) == 2 and frames[1].shape == (H, W, 3)
    with AnnotatedVideoWriter(tmp_path / "w.mp4") as strict:
        strict.write(_frame(0))
        with pytest.raises(ValueError, match="differs from the first frame"):
            strict.write(cv2.resize(_frame(1), (W * 2, H * 2)))


def test_videos_without_frames_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An AVI without frames opens in OpenCV: it gave 'no frames' only after the tracker was
    built (and `mot` wrote an empty result); a garbage .mp4 is named as not a video."""
    empty = tmp_path / "empty.avi"
    cv2.VideoWriter(str(empty), cv2.VideoWriter.fourcc(*"MJPG"), 10, (W, H)).release()
    with pytest.raises(ValueError, match="no frames that OpenCV can decode"):
        VideoFrames(empty)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00garbage" * 50)
    for source, expected in ((empty, "no frames"), (garbage, "not a video")):
        argv = ["mot", str(source), "--tracker", "retinatrack", "--out", str(tmp_path / "t.txt")]
        assert main(argv) == 2
        assert expected in _one_line_error(capsys)
        assert main(["track", str(source), "--init", "1,1,5,5", "--tracker", "opencv-kcf"]) == 2
        assert expected in _one_line_error(capsys)
    assert not (tmp_path / "t.txt").exists()


# --- MOTChallenge folders --------------------------------------------------------------------


def test_mot_sequences_without_seqinfo_take_their_length_from_images_or_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No seqinfo.ini (or no seqLength in it): img1/'s image count, else the last frame of
    gt/det; both commands say so in a note and score the sequence."""
    _mot_sequence(tmp_path / "a", seqinfo=None)
    _mot_sequence(tmp_path / "b", seqinfo=None, images=False)
    _mot_sequence(tmp_path / "c", seqinfo="[Sequence]\nname=S1\nseqLength=\nframeRate=\n")
    for root, n, source in (("a", 4, "img1"), ("b", 4, "gt/det"), ("c", 4, "img1")):
        assert is_mot_sequence(tmp_path / root / "S1")
        seq = read_motchallenge(tmp_path / root)["S1"]
        assert (seq.num_frames, seq.meta["seqlength_from"], seq.frame_rate) == (n, source, 0.0)
    out = tmp_path / "out"
    assert main(["mot", "--data", str(tmp_path / "a"), "--out", str(out), "--no-progress"]) == 0
    assert "S1: no seqLength" in capsys.readouterr().err
    argv = ["eval", "mot", "--gt", str(tmp_path / "b"), "--results", str(out / "sort")]
    assert main(argv) == 0
    text = capsys.readouterr()
    assert "from the last frame of gt.txt/det.txt" in text.err
    assert "| sort | 1.000 |" in text.out  # det == gt: SORT tracks them exactly
    with pytest.raises(FileNotFoundError, match="no sequence folders"):
        read_motchallenge(tmp_path / "out" / "sort")


def test_seqinfo_numbers_blank_values_bom_and_section_case(tmp_path: Path) -> None:
    ini = tmp_path / "seqinfo.ini"
    ini.write_text("[Sequence]\nname=S\nseqLength=five\n")
    with pytest.raises(ValueError, match=r"seqinfo.ini: seqLength='five' is not an integer"):
        read_seqinfo(ini)
    ini.write_text("[Sequence]\nseqLength=4\nimWidth=-3\n")
    with pytest.raises(ValueError, match="imWidth='-3'"):
        read_seqinfo(ini)
    ini.write_text("\ufeff[sequence]\nseqLength = 4\nframeRate =\nimWidth=640.0\n", "utf-8")
    info = read_seqinfo(ini)
    assert info["seqlength"] == 4 and info["imwidth"] == 640 and "framerate" not in info
    ini.write_text("[Sequence]\nname=S\n")
    with pytest.raises(ValueError, match="seqLength missing"):
        read_seqinfo(ini)


def test_imext_picks_the_frames_and_a_stray_image_is_left_out(tmp_path: Path) -> None:
    seq = _mot_sequence(tmp_path, ext=".png")
    cv2.imwrite(str(seq / "img1" / "000000-thumb.jpg"), _frame(9))
    frames = read_motchallenge(tmp_path)["S1"].frames
    assert [p.suffix for p in frames.paths] == [".png"] * 4  # type: ignore[union-attr]


def test_frames_beyond_the_sequence_and_frame_zero_name_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seq = _mot_sequence(tmp_path)
    with (seq / "det" / "det.txt").open("a") as f:
        f.write("9,-1,5,5,10,10,0.8,-1,-1,-1\n")
    with pytest.raises(ValueError, match=r"det.txt:9: frame 9 is beyond the sequence's 4 frames"):
        read_motchallenge(tmp_path)["S1"]
    (seq / "det" / "det.txt").write_text("0,-1,5,5,10,10,0.8\n")
    with pytest.raises(ValueError, match=r"det.txt:1: frame 0: frame numbers .* >= 1"):
        read_mot_rows(seq / "det" / "det.txt")
    (seq / "det" / "det.txt").write_text(_rows(4, DET))
    results = tmp_path / "res"
    results.mkdir()
    (results / "S1.txt").write_text(_rows(4, GT) + "7,1,5,10,12,20,1,-1,-1,-1\n")
    assert main(["eval", "mot", "--gt", str(tmp_path), "--results", str(results)]) == 2
    assert "S1.txt:9: frame 7 is beyond the sequence's 4 frames" in _one_line_error(capsys)
    (results / "S1.txt").write_text("1,1,5,10,12,20\n1,1,35,10,12,20\n")
    assert main(["eval", "mot", "--gt", str(tmp_path), "--results", str(results)]) == 2
    err = _one_line_error(capsys)
    assert "res/S1.txt: " in err and "repeated id in frame 1" in err


def test_eval_mot_takes_one_sequence_folder_and_notes_other_classes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``eval mot --gt SEQ`` works like ``mot --data SEQ`` (it said "not a MOTChallenge
    folder"); considered non-pedestrian gt rows are named unless --mot17."""
    seq = _mot_sequence(tmp_path)
    (seq / "gt" / "gt.txt").write_text(
        _rows(4, "{f},{id},{x},10,12,20,1,1,1.0") + "1,9,50,30,10,10,1,3,1.0\n"
    )
    results = tmp_path / "res"
    results.mkdir()
    (results / "S1.txt").write_text(_rows(4, GT))
    assert main(["eval", "mot", "--gt", str(seq), "--results", str(results)]) == 0
    text = capsys.readouterr()
    assert "1 considered row(s) of class(es) 3" in text.err and "unless --mot17" in text.err
    assert "| res | " in text.out
    assert main(["eval", "mot", "--gt", str(seq), "--results", str(results), "--mot17"]) == 0
    text = capsys.readouterr()
    assert "considered" not in text.err and "| res | 1.000 |" in text.out


def test_a_polygon_groundtruth_in_the_simple_layout_points_to_the_vot_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seq = tmp_path / "seqA"
    (seq / "img").mkdir(parents=True)
    cv2.imwrite(str(seq / "img" / "1.png"), _frame(0))
    (seq / "groundtruth.txt").write_text("10,12,22,12,22,30,10,30\n")
    argv = ["eval", "sot", "--data", str(tmp_path), "--coordinate-base", "0"]
    assert main([*argv, "--tracker", "opencv-kcf", "--out", str(tmp_path / "o")]) == 2
    err = _one_line_error(capsys)
    assert "groundtruth.txt: expected 4 values per line (x,y,w,h), got 8" in err
    assert "--format vot" in err
