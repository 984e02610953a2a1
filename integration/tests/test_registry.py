"""The tracker registry: names, kinds, options, and every entry builds a working tracker."""

from __future__ import annotations

import numpy as np
import pytest

from trackkit.data import synthetic_mot_sequence, synthetic_sot_sequence
from trackkit.eval import SequenceMOTTracker, SOTTracker, run_mot_benchmark, run_sot_benchmark
from trackkit.registry import TRACKERS, make_tracker, tracker_names, tracker_options

pytestmark = pytest.mark.usefixtures("one_thread")


def test_names_and_kinds() -> None:
    sot, mot = tracker_names("sot"), tracker_names("mot")
    assert {"fcos-maml", "retina-maml", "fcos-maml-slt", "opencv-csrt", "opencv-kcf"} <= set(sot)
    assert set(mot) == {
        "sort",
        "retinatrack-iou",
        "retinatrack",
        "maml-mot",
        "motion",
        "bytetrack",
        "ocsort",
        "botsort",
    }
    assert set(tracker_names()) == set(sot) | set(mot) == set(TRACKERS)
    assert all(TRACKERS[n].help for n in TRACKERS)
    with pytest.raises(ValueError, match="kind"):
        tracker_names("other")  # type: ignore[arg-type]


def test_every_available_opencv_kind_is_registered() -> None:
    distill = pytest.importorskip("distill")
    try:
        kinds = distill.available_opencv_kinds()
    except ImportError:
        pytest.skip("OpenCV not installed")
    for kind in kinds:
        assert f"opencv-{kind.lower()}" in tracker_names("sot")


@pytest.mark.parametrize("name", tracker_names("sot"))
def test_every_sot_entry_tracks(name: str) -> None:
    if name.startswith("opencv-"):
        distill = pytest.importorskip("distill")
        if name.split("-", 1)[1] not in [k.lower() for k in distill.available_opencv_kinds()]:
            with pytest.raises(ValueError, match="available"):
                make_tracker(name)
            return
    seq = synthetic_sot_sequence(length=6, seed=3, image_size=(160, 120), target_size=(30, 24))
    tracker = make_tracker(name)
    assert isinstance(tracker, SOTTracker)
    result = run_sot_benchmark(lambda: make_tracker(name), [seq], name=name, progress=False)
    assert np.isfinite(result.runs[seq.name].boxes_xywh).all()


# ``retinatrack`` detects on the images with a trained network; its registry entry is tested on
# rendered frames with a small trained network in test_mot_retinatrack.py; ``maml-mot`` (the
# shipped networks) in test_maml_mot.py.
@pytest.mark.parametrize(
    "name", [n for n in tracker_names("mot") if n not in ("retinatrack", "maml-mot")]
)
def test_every_mot_entry_tracks(name: str) -> None:
    pytest.importorskip("assoc")
    seq = synthetic_mot_sequence(length=20, num_objects=3, seed=2, render=False)
    tracker = make_tracker(name, min_score=0.0)
    assert isinstance(tracker, SequenceMOTTracker)
    result = run_mot_benchmark(tracker, [seq], name=name, progress=False)
    assert result.combined.clear.mota > 0.5


def test_options() -> None:
    assert {"device", "checkpoint", "detector", "online_update", "config"} <= set(
        tracker_options("fcos-maml")
    )
    assert tracker_options("opencv-kcf") == ("params",)
    with pytest.raises(ValueError, match="unknown tracker 'nope'"):
        make_tracker("nope")
    with pytest.raises(TypeError, match="takes no option 'colour'"):
        make_tracker("opencv-kcf", colour=1)
    with pytest.raises(TypeError, match="'max_agee'"):
        make_tracker("sort", max_agee=3)
    sort = make_tracker("sort", min_score=0.4, max_age=3)
    assert sort.min_score == 0.4 and sort.tracker.config.max_age == 3


def test_instance_tracker_options() -> None:
    from trackkit.sot import load_detector, shipped_checkpoint

    det = load_detector(shipped_checkpoint("retina-maml"))
    tracker = make_tracker("retina-maml", detector=det, online_update=False)
    assert tracker.detector is det and not tracker.config.adaptation.online_update
    with pytest.raises(ValueError, match="'fcos' detector"):
        make_tracker("fcos-maml", detector=det)
    with pytest.raises(ValueError, match="not both"):
        make_tracker("retina-maml", detector=det, checkpoint="x.pt")
    with pytest.raises(TypeError, match="InstanceDetector"):
        make_tracker("retina-maml", detector=object())
