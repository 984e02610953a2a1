"""Bad input gets one clear line or a documented rule, never a silent wrong answer (issue 13).

Results written by trackkit read back right, bad devices and checkpoints, NaN in files and
options, frames of another size, negative ground-truth sizes, the MOT tracker protocol, and the
command line's help and option checks.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch

from trackkit.cli import build_parser, main
from trackkit.data import (
    MOTRows,
    read_mot_rows,
    read_simple_sot,
    synthetic_sot_sequence,
)
from trackkit.eval import (
    evaluate_sot,
    read_otb_results,
    results_file_base,
    write_otb_results,
)
from trackkit.mot import associate

pytestmark = pytest.mark.usefixtures("one_thread")


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("trackkit: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _sot_folder(root: Path, *, base: int | None = 1, length: int = 10) -> list:
    """A simple-layout dataset of two synthetic sequences, ground truth in ``base``."""
    seqs, manifest = [], []
    for seed in (0, 1):
        seq = synthetic_sot_sequence(
            length=length, seed=seed, image_size=(96, 72), target_size=(16, 12)
        )
        (root / seq.name / "img").mkdir(parents=True)
        for t in range(len(seq)):
            cv2.imwrite(str(root / seq.name / "img" / f"{t + 1:06d}.png"), seq[t])
        write_otb_results(
            root / seq.name / "groundtruth.txt",
            seq.boxes_xywh,
            coordinate_base=1 if base is None else base,
            header=False,
        )
        manifest.append({"name": seq.name, "coordinate_base": base})
        seqs.append(seq)
    if base is not None:
        (root / "manifest.json").write_text(json.dumps(manifest))
    return seqs


# --- item 2: results written by trackkit are read back by trackkit without flags -------------


@pytest.mark.parametrize("base", [0, 1])
def test_result_files_name_their_base_and_read_back_without_flags(tmp_path: Path, base: int):
    boxes = np.array([[0.0, 1.5, 20.0, 10.0], [3.25, 4.0, 18.0, 9.0]])
    write_otb_results(tmp_path / "r.txt", boxes, coordinate_base=base)
    assert results_file_base(tmp_path / "r.txt") == base
    for fallback in (0, 1):  # the header wins over whatever the dataset's base is
        np.testing.assert_allclose(
            read_otb_results(tmp_path / "r.txt", fallback_base=fallback), boxes, atol=1e-4
        )
    with pytest.raises(ValueError, match=f"says coordinate_base={base}"):
        read_otb_results(tmp_path / "r.txt", coordinate_base=1 - base)


def test_track_boxes_round_trip_through_eval_sot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`track --boxes` (0-based) then `eval sot --results` on a 1-based dataset, no flags."""
    data = tmp_path / "data"
    seqs = _sot_folder(data, base=1)
    expected = {}
    for seq in seqs:
        out = tmp_path / "res" / "kcf" / f"{seq.name}.txt"
        init = ",".join(f"{v:.4f}" for v in seq.boxes_xywh[0])
        argv = ["track", str(data / seq.name / "img"), "--init", init]
        argv += ["--tracker", "opencv-kcf", "--boxes", str(out), "--no-progress"]
        assert main(argv) == 0
        tracked = np.loadtxt(out, delimiter=",")  # 0-based numbers, '#' header skipped
        expected[seq.name] = evaluate_sot(tracked, seq.boxes_xywh)
    capsys.readouterr()
    argv = ["eval", "sot", "--data", str(data), "--results", str(tmp_path / "res")]
    assert main([*argv, "--per-sequence"]) == 0
    out = capsys.readouterr().out
    for name, scores in expected.items():
        row = next(line for line in out.splitlines() if line.startswith(f"| {name} |"))
        assert row == f"| {name} | {scores.auc:.3f} | {scores.precision:.3f} |", (row, out)


def test_track_init_base_one_takes_a_pasted_groundtruth_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seq = _sot_folder(data, base=1, length=6)[0]
    first_line = (data / seq.name / "groundtruth.txt").read_text().splitlines()[0]
    runs = {}
    for base, init in ((0, ",".join(f"{v:.4f}" for v in seq.boxes_xywh[0])), (1, first_line)):
        out = tmp_path / f"b{base}.txt"
        argv = ["track", str(data / seq.name / "img"), "--init", init, "--init-base", str(base)]
        assert main([*argv, "--tracker", "opencv-kcf", "--boxes", str(out), "--no-progress"]) == 0
        assert results_file_base(out) == base
        runs[base] = read_otb_results(out)  # 0-based, whatever the file's base
    np.testing.assert_allclose(runs[1], runs[0], atol=1e-3)
    np.testing.assert_allclose(runs[1][0], seq.boxes_xywh[0], atol=1e-3)


def test_eval_sot_skip_first_and_per_sequence_precision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    seqs = _sot_folder(data, base=1)
    for seq in seqs:  # a tracker that never moves: only frame 0 is right
        shifted = seq.boxes_xywh[:1] + np.array([3.0, 2.0, 0.0, 0.0])
        still = np.repeat(shifted, len(seq), axis=0)
        still[0] = seq.boxes_xywh[0]
        write_otb_results(tmp_path / "res" / "still" / f"{seq.name}.txt", still, coordinate_base=1)
    argv = ["eval", "sot", "--data", str(data), "--results", str(tmp_path / "res")]
    for skip in (False, True):
        assert main([*argv, "--per-sequence"] + (["--skip-first"] if skip else [])) == 0
        out = capsys.readouterr().out
        assert "| sequence | still AUC | still Prec |" in out
        for seq in seqs:
            still = read_otb_results(tmp_path / "res" / "still" / f"{seq.name}.txt")
            s = evaluate_sot(still, seq.boxes_xywh, skip_first=skip)
            assert f"| {seq.name} | {s.auc:.3f} | {s.precision:.3f} |" in out


# --- item 4: NaN options, frames of another size, negative ground-truth sizes ----------------


def test_mot_min_score_nan_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write_mot_folder: Any
) -> None:
    write_mot_folder(tmp_path / "mot", length=8, num_objects=2, seed=3)
    argv = ["mot", "--data", str(tmp_path / "mot"), "--out", str(tmp_path / "o")]
    assert main([*argv, "--min-score", "nan"]) == 2
    assert "--min-score must be a number, got nan" in _one_line_error(capsys)
    det = MOTRows([0], [-1], [[1, 2, 3, 4]], [0.9])
    with pytest.raises(ValueError, match="min_score must be a number, got nan"):
        associate(_TupleTracker(), det, 1, min_score=float("nan"))


def test_instance_tracker_rejects_a_frame_of_another_size() -> None:
    from trackkit.sot import fcos_maml

    seq = synthetic_sot_sequence(length=3, seed=2, image_size=(96, 72), target_size=(20, 16))
    tracker = fcos_maml()
    tracker.init(seq[0], seq.boxes_xywh[0])
    tracker.update(seq[1])
    bigger = cv2.resize(seq[2], (192, 144))
    with pytest.raises(ValueError, match=r"^the frame is 192x144 but its sequence started with"):
        tracker.update(bigger)
    batch = fcos_maml()
    batch.init_batch([seq[0], seq[0]], np.stack([seq.boxes_xywh[0]] * 2))
    with pytest.raises(ValueError, match=r"the frame of sequence 1 \(0-based\) is 192x144"):
        batch.update_batch([seq[1], bigger])


def test_negative_groundtruth_width_is_an_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seq = _sot_folder(data, base=1, length=5)[0]
    gt = data / seq.name / "groundtruth.txt"
    lines = gt.read_text().splitlines()
    x, y, w, h = lines[3].split(",")
    lines[3] = ",".join([x, y, "-" + w, h])
    gt.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{gt}:4:") + ".*negative width"):
        read_simple_sot(data)[seq.name]
    boxes = seq.boxes_xywh.copy()
    boxes[3, 2] = -boxes[3, 2]
    with pytest.raises(ValueError, match=r"gt_xywh\[3\].*negative width"):
        evaluate_sot(seq.boxes_xywh, boxes)
    absent = np.zeros(len(boxes), dtype=bool)
    absent[3] = True  # a frame marked absent is left out whatever its numbers
    assert evaluate_sot(seq.boxes_xywh, boxes, absent).frames == len(boxes) - 1


# --- item 6: devices -----------------------------------------------------------------------


def test_unknown_and_unavailable_devices_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackkit.sot import InstanceTracker, load_detector, shipped_checkpoint

    with pytest.raises(ValueError, match=r"device 'foo' is not a torch device name; .*cpu"):
        load_detector(shipped_checkpoint("fcos-maml"), device="foo")
    det = load_detector(shipped_checkpoint("fcos-maml"))
    with pytest.raises(ValueError, match="device 'foo'"):
        InstanceTracker(det, device="foo")
    gone = "cuda:99" if torch.cuda.is_available() else "cuda"
    with pytest.raises(ValueError, match=f"device '{gone}'.*available"):
        InstanceTracker(det, device=gone)
    frames = tmp_path / "f"
    frames.mkdir()
    cv2.imwrite(str(frames / "000001.png"), np.zeros((40, 40, 3), np.uint8))
    for name in ("foo", gone):
        assert main(["track", str(frames), "--init", "5,5,10,10", "--device", name]) == 2
        assert f"device '{name}'" in _one_line_error(capsys)
    assert main(["demo", "--out", str(tmp_path / "d.mp4"), "--device", "foo"]) == 2
    assert "device 'foo'" in _one_line_error(capsys)


def test_mot_tras_and_training_devices_fail_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """RetinaTrack, MAML-MOT, TRAS and the MOT training recipes check ``device`` first (they
    ended in torch's AssertionError / RuntimeError traceback before)."""
    from trackkit.mot.maml_mot import DEFAULT_CHECKPOINT as MAML_MOT_CHECKPOINT
    from trackkit.mot.maml_mot import load_maml_mot_checkpoint
    from trackkit.mot.retinatrack import DEFAULT_CHECKPOINT, load_retinatrack_checkpoint
    from trackkit.sot.tras import load_student

    gone = "cuda:99" if torch.cuda.is_available() else "cuda"
    for load, path in (
        (load_retinatrack_checkpoint, DEFAULT_CHECKPOINT),
        (load_maml_mot_checkpoint, MAML_MOT_CHECKPOINT),
        (load_student, None),
    ):
        for name in ("tpu", gone):
            with pytest.raises(ValueError, match=f"device '{name}'"):
                load(path, device=name)
    frames = tmp_path / "f"
    frames.mkdir()
    cv2.imwrite(str(frames / "000001.png"), np.zeros((40, 40, 3), np.uint8))
    for tracker in ("retinatrack", "maml-mot"):
        argv = ["mot", str(frames), "--tracker", tracker, "--out", str(tmp_path / "t.txt")]
        assert main([*argv, "--device", gone, "--no-progress"]) == 2
        assert f"device '{gone}'" in _one_line_error(capsys)
    argv = ["track", str(frames), "--init", "5,5,10,10", "--tracker", "tras", "--device", "tpu"]
    assert main(argv) == 2
    assert "device 'tpu'" in _one_line_error(capsys)
    for recipe in ("retinatrack", "maml-mot"):
        out = tmp_path / recipe
        assert main(["train", recipe, "--out", str(out), "--device", gone, "--steps", "1"]) == 2
        assert f"device '{gone}'" in _one_line_error(capsys)


def test_usage_errors_are_one_line_and_outputs_into_folders_fail_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse's errors (unknown tracker, association, bad --tta) are one line without the
    usage block; an output path that is a folder, --max-frames 0 and a file as --data's --out
    fail before tracking (an IsADirectoryError traceback after tracking before)."""
    frames = tmp_path / "f"
    frames.mkdir()
    for t in range(3):
        cv2.imwrite(str(frames / f"{t + 1:06d}.png"), np.full((40, 40, 3), 60 * t, np.uint8))
    track = ["track", str(frames), "--init", "5,5,10,10", "--no-progress"]
    video = ["mot", str(frames), "--tracker", "retinatrack", "--no-progress"]
    for argv, needle in (
        ([*track, "--tracker", "foo"], "argument --tracker: invalid choice: 'foo'"),
        ([*video, "--out", "t.txt", "--association", "foo"], "--association: invalid choice"),
        ([*video, "--out", "t.txt", "--tta", "flop"], "--tta 'flop'"),
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and "\n" not in err and "usage:" not in err, err
    folder = tmp_path / "folder"
    folder.mkdir()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for argv, needle in (
        ([*track, "--tracker", "opencv-kcf", "--boxes", str(folder)], "--boxes"),
        ([*track, "--tracker", "opencv-kcf", "--out", str(folder)], "--out"),
        ([*track, "--tracker", "opencv-kcf", "--max-frames", "0"], "--max-frames must be >= 1"),
        ([*video, "--out", str(folder)], "is a folder"),
        ([*video, "--out", str(a_file), "--video", str(folder)], "--video"),
    ):
        assert main(argv) == 2, argv
        assert needle in _one_line_error(capsys)
    assert main(["track", str(frames), "--init", "-2,-2,10,10", "--tracker", "opencv-kcf"]) == 0
    capsys.readouterr()


def test_teachers_for_a_non_tras_tracker_and_a_corrupt_tras_resume_fail_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--teachers`` was silently ignored by the other trackers; ``train tras --resume`` of a
    corrupt file ran the teachers over the data (minutes) before reading it."""
    frames = tmp_path / "f"
    frames.mkdir()
    cv2.imwrite(str(frames / "000001.png"), np.zeros((40, 40, 3), np.uint8))
    argv = ["track", str(frames), "--init", "5,5,10,10", "--teachers", "csrt"]
    assert main([*argv, "--tracker", "opencv-kcf"]) == 2
    assert "--teachers is for trast and trasfust" in _one_line_error(capsys)
    bad = tmp_path / "state.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    monkeypatch.setenv("TRACKKIT_DATA", str(tmp_path / "no-data"))
    assert main(["train", "tras", "--out", str(tmp_path / "o"), "--resume", str(bad)]) == 2
    assert str(bad) in _one_line_error(capsys)


# --- item 7: corrupt checkpoints -----------------------------------------------------------


def _bad_checkpoints(root: Path) -> dict[str, Path]:
    from trackkit.sot import shipped_checkpoint

    root.mkdir(parents=True, exist_ok=True)
    good = shipped_checkpoint("fcos-maml").read_bytes()
    files = {
        "truncated": root / "truncated.pt",
        "garbage": root / "garbage.pt",
        "objects": root / "objects.pt",
    }
    files["truncated"].write_bytes(good[: len(good) // 2])
    files["garbage"].write_bytes(b"not a checkpoint at all")
    torch.save({"format": "x", "when": datetime.date(2020, 1, 1)}, files["objects"])
    return files


def test_corrupt_checkpoints_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackkit.sot import load_detector

    frames = tmp_path / "f"
    frames.mkdir()
    cv2.imwrite(str(frames / "000001.png"), np.zeros((40, 40, 3), np.uint8))
    for kind, path in _bad_checkpoints(tmp_path / "ckpt").items():
        with pytest.raises(ValueError, match=re.escape(str(path))) as info:
            load_detector(path)
        assert "weights_only=False" not in str(info.value) and "\n" not in str(info.value), kind
        argv = ["track", str(frames), "--init", "5,5,10,10", "--checkpoint", str(path)]
        assert main(argv) == 2
        err = _one_line_error(capsys)
        assert str(path) in err and "weights_only=False" not in err
        argv = ["train", "finalize", str(path), "--out", str(tmp_path / "o.pt"), "--no-data"]
        assert main(argv) == 2
        assert str(path) in _one_line_error(capsys)


# --- item 9: NaN in a MOT result file ------------------------------------------------------


def test_eval_mot_names_file_and_line_of_a_nan_coordinate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write_mot_folder: Any
) -> None:
    gt = tmp_path / "gt"
    folder, _ = write_mot_folder(gt, length=8, num_objects=2, seed=3)
    res = tmp_path / "res" / "t"
    res.mkdir(parents=True)
    lines = (folder / "gt" / "gt.txt").read_text().splitlines()
    cols = lines[4].split(",")
    cols[3] = "nan"
    lines[4] = ",".join(cols)
    (res / "SYN-01.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"SYN-01\.txt:5: bb_top is not a finite number"):
        read_mot_rows(res / "SYN-01.txt")
    assert main(["eval", "mot", "--gt", str(gt), "--results", str(res)]) == 2
    assert f"{res / 'SYN-01.txt'}:5: bb_top" in _one_line_error(capsys)


# --- item 10: the MOTTracker protocol as documented -----------------------------------------


class _TupleTracker:
    """docs/trackkit.md's form: ``update`` returns ``(ids, boxes_xyxy, scores)``."""

    def reset(self) -> None:
        pass

    def update(self, boxes_xyxy, scores, embeddings=None):  # type: ignore[no-untyped-def]
        return np.arange(1, len(scores) + 1), boxes_xyxy, scores


@pytest.mark.parametrize("width", ["-20", "0"])
def test_mot_data_with_a_negative_or_zero_width_detection_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write_mot_folder: Any, width: str
) -> None:
    """A negative width in det.txt is named by file and line when read; a zero width by
    sequence and frame before association (both were an assoc error naming only 'row 2')."""
    folder, _ = write_mot_folder(tmp_path / "data", length=6, num_objects=3, seed=0)
    det = folder / "det" / "det.txt"
    lines = det.read_text().splitlines()
    cols = lines[2].split(",")
    cols[4] = width
    lines[2] = ",".join(cols)
    det.write_text("\n".join(lines) + "\n")
    for tracker in ("sort", "bytetrack"):
        argv = ["mot", "--data", str(folder), "--tracker", tracker, "--out", str(tmp_path / "o")]
        assert main([*argv, "--no-progress"]) == 2
        err = _one_line_error(capsys)
        if width == "0":
            assert "SYN-01 det/det.txt" in err and f"frame {cols[0]} (1-based)" in err, err
        else:
            assert f"{det}:3: box width -20" in err, err
    if width == "-20":
        with pytest.raises(ValueError, match="negative width or height"):
            read_mot_rows(det)


def test_mot_runner_accepts_the_documented_tuple_form() -> None:
    det = MOTRows([0, 0, 1], [-1, -1, -1], [[1, 2, 3, 4], [5, 6, 7, 8], [1, 1, 2, 2]], [1, 1, 1])
    tracks, _ = associate(_TupleTracker(), det, 2)
    np.testing.assert_array_equal(tracks.ids, [1, 2, 1])
    np.testing.assert_allclose(tracks.boxes_xywh, det.boxes_xywh)


def test_mot_runner_rejects_a_malformed_update_result() -> None:
    class Bad(_TupleTracker):
        def update(self, boxes_xyxy, scores, embeddings=None):  # type: ignore[no-untyped-def]
            return [1, 2]

    det = MOTRows([0], [-1], [[1, 2, 3, 4]], [1])
    with pytest.raises(TypeError, match=r"\(ids, boxes_xyxy, scores\)"):
        associate(Bad(), det, 1)


# --- items 11 and 12: help, defaults, option checks ----------------------------------------


@pytest.mark.parametrize(
    "argv", [["track"], ["demo"], ["train"], ["train", "maml"], ["train", "finalize"]]
)
def test_help_has_examples(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "trackkit " + argv[0] in out.split("examples:")[1]


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return capsys.readouterr().out


def test_help_texts_cite_papers_list_every_recipe_and_keep_continuations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Found in the help audit: demo cited an internal paper number, train's description
    named 4 of its 8 recipes, and eval sot's examples lost their line-continuation backslashes."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    recipes = list(commands.choices["train"]._actions[-1].choices)  # type: ignore[union-attr]
    assert len(recipes) >= 8
    texts = {
        " ".join(argv): _help(argv, capsys)
        for argv in (["demo"], ["track"], ["mot"], ["eval", "sot"], ["eval", "mot"], ["train"])
    }
    for name, text in texts.items():
        assert not re.search(r"paper \d{3}", text), name
        assert max(len(line) for line in text.splitlines() if not line.startswith(" ")) <= 100
    description = " ".join(texts["train"].split("positional arguments")[0].split())
    assert all(re.search(rf"\b{re.escape(r)}\b", description) for r in recipes), description
    examples = texts["eval sot"].split("examples:")[1]
    assert "--data ../shared/data/sot \\\n      --sequences" in examples
    assert "Wang et al. 2020" in " ".join(texts["demo"].split())


def test_track_help_names_the_init_base_and_thread_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(["track", "x", "--init", "1,2,3,4"])
    assert args.threads == 1 and args.init_base == 0
    with pytest.raises(SystemExit):
        main(["track", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--init-base" in out and "0-based" in out and "default 1" in out


def test_checkpoint_with_an_opencv_tracker_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = tmp_path / "f"
    frames.mkdir()
    cv2.imwrite(str(frames / "000001.png"), np.zeros((40, 40, 3), np.uint8))
    argv = ["track", str(frames), "--init", "5,5,10,10", "--tracker", "opencv-csrt"]
    assert main([*argv, "--checkpoint", str(tmp_path / "any.pt")]) == 2
    assert "--checkpoint is for the MAML trackers" in _one_line_error(capsys)


def test_no_manifest_error_names_the_flag_and_the_flag_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    seqs = _sot_folder(data, base=None)  # 1-based files, no manifest.json
    for seq in seqs:
        write_otb_results(tmp_path / "res" / "gt" / f"{seq.name}.txt", seq.boxes_xywh)
    argv = ["eval", "sot", "--data", str(data), "--results", str(tmp_path / "res")]
    assert main(argv) == 2
    assert "--coordinate-base 0 or 1" in _one_line_error(capsys)
    assert main([*argv, "--coordinate-base", "1"]) == 0
    assert "| gt | 0.952 | 1.000 |" in capsys.readouterr().out
