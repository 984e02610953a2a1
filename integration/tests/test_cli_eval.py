"""`trackkit eval sot` / `trackkit eval mot` on small data written by the tests."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import pytest

from trackkit.cli import main
from trackkit.data import synthetic_sot_sequence, write_mot_rows
from trackkit.eval import write_otb_results


def _sot_dataset(root: Path) -> list[str]:
    names = []
    manifest = []
    for seed in (0, 1):
        seq = synthetic_sot_sequence(length=8, seed=seed, image_size=(96, 72), target_size=(16, 12))
        (root / seq.name / "img").mkdir(parents=True)
        for t in range(len(seq)):
            cv2.imwrite(str(root / seq.name / "img" / f"{t + 1:06d}.png"), seq[t])
        write_otb_results(
            root / seq.name / "groundtruth.txt", seq.boxes_xywh, coordinate_base=1, header=False
        )
        manifest.append({"name": seq.name, "coordinate_base": 1})
        names.append(seq.name)
    (root / "manifest.json").write_text(json.dumps(manifest))
    return names


def test_eval_sot_scores_results_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    names = _sot_dataset(data)
    for name in names:  # a perfect tracker: the ground truth itself, and a lazy one
        gt = (data / name / "groundtruth.txt").read_text()
        (tmp_path / "res" / "perfect").mkdir(parents=True, exist_ok=True)
        (tmp_path / "res" / "perfect" / f"{name}.txt").write_text(gt)
        first = gt.splitlines()[0]
        (tmp_path / "res" / "lazy").mkdir(parents=True, exist_ok=True)
        (tmp_path / "res" / "lazy" / f"{name}.txt").write_text((first + "\n") * 8)
    code = main(
        [
            "eval",
            "sot",
            "--data",
            str(data),
            "--results",
            str(tmp_path / "res"),
            "--plot",
            str(tmp_path / "p.png"),
            "--per-sequence",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "| perfect | 0.952 | 1.000 |" in out and "| lazy |" in out
    assert (tmp_path / "p.png").stat().st_size > 5000


@pytest.mark.parametrize("how", [["--tracker", "opencv-kcf"], ["--opencv", "KCF"]])
def test_eval_sot_runs_registered_trackers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: list[str]
) -> None:
    data = tmp_path / "data"
    _sot_dataset(data)
    code = main(["eval", "sot", "--data", str(data), *how, "--out", str(tmp_path / "out")])
    assert code == 0 and "| opencv-kcf |" in capsys.readouterr().out
    assert len(list((tmp_path / "out" / "opencv-kcf").glob("*.txt"))) == 2
    assert (tmp_path / "out" / "success.png").stat().st_size > 5000


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--tracker", "nope", "--out", "o"], "unknown tracker 'nope'"),
        (["--tracker", "opencv-kcf"], "needs --out"),
        (["--tracker", "opencv-kcf", "--out", "o", "--batch", "0"], "--batch"),
    ],
)
def test_eval_sot_tracker_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    data = tmp_path / "data"
    _sot_dataset(data)
    assert main(["eval", "sot", "--data", str(data), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("trackkit: error:") and message in err


def test_eval_mot_runs_registered_trackers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write_mot_folder: Any
) -> None:
    write_mot_folder(tmp_path / "data", length=12, num_objects=3, seed=5)
    argv = ["eval", "mot", "--data", str(tmp_path / "data"), "--tracker", "sort"]
    extra = ["retinatrack-iou", "motion", "bytetrack", "ocsort", "botsort"]
    code = main([*argv, *extra, "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0 and all(f"| {name} |" in out for name in ["sort", *extra])
    assert (tmp_path / "out" / "sort" / "SYN-01.txt").is_file()
    assert (tmp_path / "out" / "bytetrack" / "SYN-01.txt").is_file()
    assert main(argv) == 2 and "needs --out" in capsys.readouterr().err
    # --no-progress: no tqdm bar on stderr
    assert main([*argv, "--out", str(tmp_path / "o2"), "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
    # --association is RetinaTrack's: an error for det.txt trackers alone, passed to retinatrack
    assert main([*argv, "--out", str(tmp_path / "o3"), "--association", "iou"]) == 2
    assert "--association applies only to --tracker retinatrack" in capsys.readouterr().err


def test_eval_mot_association_reaches_retinatrack_only(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    write_mot_folder: Any,
) -> None:
    import trackkit.registry as registry

    write_mot_folder(tmp_path / "data", length=8, num_objects=2, seed=1)
    calls: dict[str, dict[str, object]] = {}
    real = registry.make_tracker

    def recording(name: str, **options: object) -> object:
        calls[name] = options
        return real("sort")  # links det.txt, so no network is needed here

    monkeypatch.setattr(registry, "make_tracker", recording)
    argv = ["eval", "mot", "--data", str(tmp_path / "data"), "--tracker", "retinatrack", "sort"]
    code = main([*argv, "--out", str(tmp_path / "o"), "--association", "iou+motion"])
    assert code == 0, capsys.readouterr().err
    assert calls["retinatrack"]["association"] == "iou+motion"
    assert "association" not in calls["sort"]
    # round 11's --score / --birth-score / --min-hits reach retinatrack only, unset: absent
    assert all(k not in calls["retinatrack"] for k in ("score", "birth_score", "min_hits"))
    hyst = ["--score", "0.3", "--birth-score", "0.6", "--min-hits", "2"]
    assert main([*argv, "--out", str(tmp_path / "o2"), *hyst]) == 0, capsys.readouterr().err
    assert calls["retinatrack"]["score"] == 0.3 and calls["retinatrack"]["birth_score"] == 0.6
    assert calls["retinatrack"]["min_hits"] == 2
    assert not {"score", "birth_score", "min_hits"} & set(calls["sort"])
    sort_only = ["eval", "mot", "--data", str(tmp_path / "data"), "--tracker", "sort"]
    assert main([*sort_only, "--out", str(tmp_path / "o3"), "--min-hits", "2"]) == 2
    assert "--min-hits applies only to --tracker retinatrack" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["eval", "sot", "--data", "/nonexistent", "--results", "/tmp"], "not found"),
        (["eval", "sot", "--data", ".", "--results", "/tmp"], "does not look like"),
        (["eval", "mot", "--gt", "/nonexistent", "--results", "/tmp"], "not found"),
    ],
)
def test_bad_paths_give_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("trackkit: error:") and message in err and "\n" not in err


def test_eval_sot_missing_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    _sot_dataset(data)
    (tmp_path / "res" / "t").mkdir(parents=True)
    (tmp_path / "res" / "t" / "other.txt").write_text("1,1,1,1\n")
    assert main(["eval", "sot", "--data", str(data), "--results", str(tmp_path / "res")]) == 2
    assert "no result file" in capsys.readouterr().err


def test_eval_mot_perfect_tracker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write_mot_folder: Any
) -> None:
    gt = write_mot_folder(tmp_path / "gt", length=12, num_objects=3, seed=5)[1].gt
    write_mot_rows(tmp_path / "perfect" / "SYN-01.txt", gt)
    code = main(
        [
            "eval",
            "mot",
            "--gt",
            str(tmp_path / "gt"),
            "--results",
            str(tmp_path / "perfect"),
            "--per-sequence",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "| perfect | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |" in out
    (tmp_path / "empty").mkdir()
    assert (
        main(["eval", "mot", "--gt", str(tmp_path / "gt"), "--results", str(tmp_path / "empty")])
        == 2
    )
    assert "no <SEQ>.txt" in capsys.readouterr().err


def test_help_is_there(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["eval", "sot", "--help"], ["eval", "mot", "--help"], ["mot", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
        assert "examples:" in capsys.readouterr().out


def test_eval_sot_value_ema_reaches_trasfust(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tras_options_seen: Callable[..., list[tuple[Any, ...]]],
) -> None:
    seen = tras_options_seen("value_ema")
    data = tmp_path / "data"
    _sot_dataset(data)
    base = ["eval", "sot", "--data", str(data), "--tracker", "trasfust", "--teachers", "kcf"]
    code = main([*base, "--value-ema", "0.8", "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 0 and "| trasfust |" in capsys.readouterr().out
    assert seen and set(seen) == {(0.8,)}
    assert main([*base, "--value-ema", "1.5", "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("trackkit: error:") and "value_ema must lie in [0, 1)" in err


def test_eval_sot_average_iou_reaches_trasfust(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tras_options_seen: Callable[..., list[tuple[Any, ...]]],
) -> None:
    seen = tras_options_seen("average_iou", "average_temperature")
    data = tmp_path / "data"
    _sot_dataset(data)
    base = ["eval", "sot", "--data", str(data), "--tracker", "trasfust", "--teachers", "kcf"]
    average = ["--average-iou", "0.7", "--average-temperature", "inf"]  # inf: equal weights
    code = main([*base, *average, "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 0 and "| trasfust |" in capsys.readouterr().out
    assert seen and set(seen) == {(0.7, math.inf)}
    assert main([*base, "--average-temperature", "-1", "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("trackkit: error:") and "average_temperature must be > 0" in err
