"""``trackkit train maml`` and ``trackkit train finalize`` end to end on synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trackkit.cli import main
from trackkit.sot import load_detector, tracker_config_for

pytestmark = pytest.mark.usefixtures("one_thread")


def test_train_then_finalize(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    common = ["--no-data", "--synthetic", "1", "--frames-per-sequence", "3", "--no-progress"]
    cache = tmp_path / "cache.pt"
    rc = main(["train", "maml", "--out", str(tmp_path / "run"), "--cache", str(cache),
               "--steps", "2", "--pairs", "2", "--checkpoint-every", "1", *common])  # fmt: skip
    assert rc == 0 and cache.is_file()
    assert (tmp_path / "run" / "detector.pt").is_file()
    assert len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == 2
    # resume a finished run to a longer one, reusing the cache
    rc = main(["train", "maml", "--out", str(tmp_path / "run"), "--cache", str(cache),
               "--steps", "3", "--pairs", "2", "--checkpoint-every", "1",
               "--resume", str(tmp_path / "run" / "train_state.pt"), *common])  # fmt: skip
    assert rc == 0
    assert json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[-1])["step"] == 3
    capsys.readouterr()

    out = tmp_path / "model.pt"
    run = str(tmp_path / "run" / "detector.pt")
    rc = main(["train", "finalize", run, "--out", str(out), "--no-data", "--synthetic", "1",
               "--thresholds", "0.1,0.05", "--no-trunk"])  # fmt: skip
    assert rc == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["lost_threshold"] in (0.1, 0.05)
    assert set(report["validation_auc"]) == {"0.1", "0.05"}
    det = load_detector(out, trunk=load_detector(tmp_path / "run" / "detector.pt").trunk)
    assert det.meta["lost_threshold"] == report["lost_threshold"]
    assert tracker_config_for(det).postprocess.lost_threshold == report["lost_threshold"]
    assert det.meta["train_steps"] == 3


def test_finalize_bad_input_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rc = main(["train", "finalize", "x.pt", "--out", str(tmp_path / "m.pt"), "--no-data",
               "--thresholds", "0.1,abc"])  # fmt: skip
    assert rc != 0 and "--thresholds must be comma-separated numbers" in capsys.readouterr().err
    rc = main(["train", "finalize", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "m.pt"),
               "--no-data"])  # fmt: skip
    assert rc != 0 and "missing.pt" in capsys.readouterr().err


def test_train_slt_from_the_shipped_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "slt"
    rc = main(["train", "slt", "--from", "fcos-maml", "--out", str(out), "--no-data",
               "--synthetic", "2", "--steps", "1", "--episodes", "1", "--length", "2",
               "--no-progress"])  # fmt: skip
    assert rc == 0
    det = load_detector(out / "detector.pt")
    assert det.meta["slt_config"]["source"] == "fcos-maml"
    assert det.meta["lost_threshold"] == load_detector_meta_threshold()
    records = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    (record,) = [r for r in records if "eval" not in r]
    assert {"ao_sample", "ao_argmax", "loss", "pg", "bbox", "grad_pg", "grad_bbox"} <= set(record)
    # the probe (16 fixed training episodes by default) before and after the iteration
    probes = [(r["step"], r["eval"]["probe_episodes"]) for r in records if "eval" in r]
    assert probes == [(0, 16), (1, 16)]
    capsys.readouterr()
    rc = main(["train", "slt", "--from", str(tmp_path / "nope.pt"), "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--from" in err[0]


def load_detector_meta_threshold() -> object:
    from trackkit.sot import shipped_checkpoint

    return load_detector(shipped_checkpoint("fcos-maml")).meta.get("lost_threshold")


def test_train_tras_rejects_a_missing_device_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rc = main(["train", "tras", "--out", str(tmp_path / "run"), "--device", "cuda:7"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "cuda:7" in err[0] and "not available" in err[0]
    assert not (tmp_path / "run").exists()


def test_train_tras_value_reports_a_missing_data_folder_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    missing = tmp_path / "nowhere"
    rc = main(["train", "tras-value", "--out", str(tmp_path / "v"), "--data", str(missing)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "not found" in err[0]
    assert not (tmp_path / "v").exists()
    with pytest.raises(SystemExit):
        main(["train", "tras-value", "--out", str(tmp_path / "v"), "--target", "q"])
