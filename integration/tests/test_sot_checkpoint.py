"""Detector checkpoints: round trip, weights_only loading, and the shipped models tracking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from metalearn import ScalarLR
from trackkit.data import synthetic_sot_sequence
from trackkit.eval import evaluate_sot
from trackkit.sot import (
    SHIPPED_MODELS,
    DetectorConfig,
    InstanceDetector,
    InstanceTracker,
    fcos_maml,
    load_detector,
    retina_maml,
    save_detector,
    shipped_checkpoint,
)

#: Lower bound on the success AUC of the shipped models on the synthetic test sequence below
#: (measured at shipping time: FCOS-MAML 0.680, Retina-MAML 0.761; an untrained head ~0.1).
SHIPPED_AUC_BOUND = 0.5


class TinyTrunk(nn.Module):
    out_channels = 8

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.Conv2d(8, 8, 3, 4, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("head", ["fcos", "retina"])
@pytest.mark.parametrize("lr", ["kernelwise", "scalar"])
def test_round_trip_weights_only(tmp_path: Path, head: str, lr: str) -> None:
    det = InstanceDetector(DetectorConfig(head=head, head_channels=4), trunk=TinyTrunk())
    if lr == "scalar":
        det.lr = ScalarLR(dict(det.head.named_parameters()), init=0.02)
    with torch.no_grad():
        for p in det.head.parameters():
            p.normal_()
        for p in det.lr.parameters():
            p.uniform_(0.0, 0.1)
    path = tmp_path / "det.pt"
    save_detector(path, det, meta={"note": "test"})
    # plain tensors, strings and numbers only
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["config"]["head"] == head and "trunk" in raw
    trunk = TinyTrunk()
    back = load_detector(path, trunk=trunk)
    assert back.lr_kind == lr and back.meta == {"note": "test"}
    for (n, p), (_, q) in zip(det.head.named_parameters(), back.head.named_parameters()):
        torch.testing.assert_close(p, q, msg=n)
    for p, q in zip(det.lr.parameters(), back.lr.parameters()):
        torch.testing.assert_close(p, q)
    for k, v in det.trunk.state_dict().items():
        torch.testing.assert_close(raw["trunk"][k], v)
    f = torch.randn(2, 8, 33, 33)
    params = {n: p.detach()[None].expand(2, *p.shape) for n, p in det.initial_params().items()}
    torch.testing.assert_close(det.detect(params, f), back.detect(params, f))


def test_bad_checkpoint_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_detector(tmp_path / "missing.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="checkpoint"):
        load_detector(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="shipped model"):
        shipped_checkpoint("siamrpn")


def test_shipped_checkpoints_are_small_and_self_contained() -> None:
    for name in SHIPPED_MODELS:
        path = shipped_checkpoint(name)
        assert path.stat().st_size < 5_000_000
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert "trunk" in state and state["lr_kind"] == "kernelwise"


def _synthetic_auc(tracker: InstanceTracker) -> float:
    """Success AUC of ``tracker`` on a fixed 40-frame synthetic sequence with one distractor."""
    seq = synthetic_sot_sequence(length=40, seed=123, target_size=(48.0, 40.0), distractors=1)
    boxes = np.empty((len(seq), 4))
    boxes[0] = seq.boxes_xywh[0]
    tracker.init(seq[0], seq.boxes_xywh[0])
    for t in range(1, len(seq)):
        boxes[t] = tracker.update(seq[t])
    return float(evaluate_sot(boxes, seq.boxes_xywh, seq.absent).auc)


@pytest.mark.parametrize("factory", [fcos_maml, retina_maml])
def test_shipped_model_tracks_a_synthetic_sequence(factory: object) -> None:
    tracker = factory()  # type: ignore[operator]
    assert isinstance(tracker, InstanceTracker)
    auc = _synthetic_auc(tracker)
    assert auc > SHIPPED_AUC_BOUND, f"{factory.__name__}: AUC {auc:.3f}"  # type: ignore[attr-defined]


def test_shipped_slt_model_is_fcos_maml_fine_tuned_and_tracks() -> None:
    from trackkit.registry import make_tracker

    base = torch.load(shipped_checkpoint("fcos-maml"), map_location="cpu", weights_only=True)
    slt = torch.load(shipped_checkpoint("fcos-maml-slt"), map_location="cpu", weights_only=True)
    assert slt["config"] == base["config"] and slt["lr_kind"] == base["lr_kind"]
    # SLT trains the head and its inner rates only: the trunk is the base's, bit for bit
    assert all(torch.equal(slt["trunk"][k], v) for k, v in base["trunk"].items())
    assert any(not torch.equal(slt["head"][k], v) for k, v in base["head"].items())
    # since SLT round 6: the uniform weight average (model soup) of the recipe's seeds 0 and 1
    cfg = slt["meta"]["slt_config"]
    assert cfg["source"] == "fcos-maml" and cfg["bbox_weight"] == 0.2 and "seed" not in cfg
    assert slt["meta"]["slt_steps"] == 40
    soup = slt["meta"]["soup"]
    assert soup["weights"] == [0.5, 0.5]
    assert [m["slt_config"]["seed"] for m in soup["member_meta"]] == [0, 1]
    assert slt["meta"]["lost_threshold"] == base["meta"]["lost_threshold"]
    tracker = make_tracker("fcos-maml-slt")
    assert isinstance(tracker, InstanceTracker) and tracker.detector.config.head == "fcos"
    auc = _synthetic_auc(tracker)
    assert auc > SHIPPED_AUC_BOUND, f"fcos-maml-slt: AUC {auc:.3f}"
