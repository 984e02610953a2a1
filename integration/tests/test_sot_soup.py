"""Weight-averaged detectors (model soups): ``soup_detector_states`` and ``trackkit train soup``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from metalearn import ScalarLR
from trackkit.cli import main
from trackkit.sot import (
    DetectorConfig,
    InstanceDetector,
    detector_state,
    load_detector,
    save_detector,
    shipped_checkpoint,
    soup_detector_states,
)

pytestmark = pytest.mark.usefixtures("one_thread")


class TinyTrunk(nn.Module):
    out_channels = 8

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _detector(seed: int, trunk: nn.Module, head: str = "fcos") -> InstanceDetector:
    det = InstanceDetector(DetectorConfig(head=head, head_channels=4), trunk=trunk)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in det.head.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
        for p in det.lr.parameters():
            p.copy_(torch.rand(p.shape, generator=g) * 0.1)
    return det


def test_soup_is_the_parameter_mean_and_loads(tmp_path: Path) -> None:
    trunk = TinyTrunk()
    a, b = _detector(0, trunk), _detector(1, trunk)
    meta_a = {"lost_threshold": 0.1, "slt_config": {"seed": 0, "head_lr": 5e-4}, "wall": 10.0}
    meta_b = {"lost_threshold": 0.1, "slt_config": {"seed": 1, "head_lr": 5e-4}, "wall": 12.0}
    sa, sb = detector_state(a, meta=meta_a), detector_state(b, meta=meta_b)
    soup = soup_detector_states([sa, sb], names=["a.pt", "b.pt"])
    for part in ("head", "lr"):
        for k, v in soup[part].items():
            assert torch.equal(v, (sa[part][k] + sb[part][k]) / 2), (part, k)
    # the shared (frozen) trunk is kept bit for bit, integer buffers included
    assert all(torch.equal(soup["trunk"][k], v) for k, v in sa["trunk"].items())
    assert soup["meta"] == {
        "lost_threshold": 0.1,
        "slt_config": {"head_lr": 5e-4},
        "soup": {
            "members": ["a.pt", "b.pt"],
            "weights": [0.5, 0.5],
            "member_meta": [
                {"slt_config": {"seed": 0}, "wall": 10.0},
                {"slt_config": {"seed": 1}, "wall": 12.0},
            ],
        },
    }
    path = tmp_path / "soup.pt"
    torch.save(soup, path)
    det = load_detector(path, trunk=trunk)  # weights_only
    for n, p in det.head.named_parameters():
        torch.testing.assert_close(p, (a.head.state_dict()[n] + b.head.state_dict()[n]) / 2)
    assert det.meta["soup"]["members"] == ["a.pt", "b.pt"]


def test_weighted_soup_and_scalar_rates() -> None:
    trunk = TinyTrunk()
    dets = [_detector(s, trunk) for s in range(3)]
    for i, d in enumerate(dets):
        d.lr = ScalarLR(dict(d.head.named_parameters()), init=0.01 * (1 + i))
    states = [detector_state(d) for d in dets]
    w = [0.5, 0.25, 0.25]
    soup = soup_detector_states(states, weights=w)
    for k, v in soup["head"].items():
        want = 0.5 * states[0]["head"][k] + 0.25 * states[1]["head"][k]
        want = want + 0.25 * states[2]["head"][k]
        torch.testing.assert_close(v, want)
    assert soup["lr_kind"] == "scalar"
    for v in soup["lr"].values():
        torch.testing.assert_close(v, torch.full_like(v, 0.5 * 0.01 + 0.25 * 0.02 + 0.25 * 0.03))
    assert soup["meta"]["soup"]["weights"] == w
    assert soup["meta"]["soup"]["members"] == ["member 0", "member 1", "member 2"]


def test_soup_meta_with_tensors_and_lists() -> None:
    trunk = TinyTrunk()
    metas = [
        {"t": [torch.tensor(1.0), 2], "same": [torch.tensor([1, 2])], "only_a": "x"},
        {"t": [torch.tensor(3.0), 2], "same": [torch.tensor([1, 2])]},
    ]
    states = [detector_state(_detector(i, trunk), meta=m) for i, m in enumerate(metas)]
    meta = soup_detector_states(states)["meta"]
    assert set(meta) == {"same", "soup"} and torch.equal(meta["same"][0], torch.tensor([1, 2]))
    a, b = meta["soup"]["member_meta"]
    assert set(a) == {"t", "only_a"} and set(b) == {"t"}
    assert torch.equal(b["t"][0], torch.tensor(3.0))


def test_soup_rejects_checkpoints_of_different_detectors() -> None:
    trunk = TinyTrunk()
    fcos = detector_state(_detector(0, trunk))
    with pytest.raises(ValueError, match="config"):
        soup_detector_states([fcos, detector_state(_detector(1, trunk, head="retina"))])
    with pytest.raises(ValueError, match="only one of them stores the trunk"):
        soup_detector_states([fcos, detector_state(_detector(1, trunk), include_trunk=False)])
    other_trunk = detector_state(_detector(1, TinyTrunk()))
    other_trunk["trunk"]["net.1.num_batches_tracked"] = torch.tensor(7)
    with pytest.raises(ValueError, match=r"trunk: 'net\.1\.num_batches_tracked' is a torch\.int64"):
        soup_detector_states([fcos, other_trunk])
    nan = detector_state(_detector(1, trunk))
    nan["head"]["bbox_pred.bias"][0] = float("nan")
    with pytest.raises(ValueError, match=r"head: states\[1\]\['bbox_pred.bias'\] has NaN"):
        soup_detector_states([fcos, nan])
    with pytest.raises(ValueError, match="at least two"):
        soup_detector_states([fcos])
    with pytest.raises(ValueError, match="not a trackkit instance-detector checkpoint"):
        soup_detector_states([fcos, {"format": "x"}])
    with pytest.raises(ValueError, match="got 1 names for 2"):
        soup_detector_states([fcos, fcos], names=["a"])
    with pytest.raises(ValueError, match="sum to 1"):
        soup_detector_states([fcos, fcos], weights=[0.5, 0.4])


def test_cli_soup_of_shipped_and_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "soup" / "fcos_soup.pt"
    # fcos-maml-slt is fcos-maml fine-tuned: the two share their trunk and configuration
    rc = main(["train", "soup", "--from", "fcos-maml", "fcos-maml-slt", "--out", str(out)])
    assert rc == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["weights"] == [0.5, 0.5]
    base = torch.load(shipped_checkpoint("fcos-maml"), map_location="cpu", weights_only=True)
    slt = torch.load(shipped_checkpoint("fcos-maml-slt"), map_location="cpu", weights_only=True)
    det = load_detector(out)
    for n, p in det.head.state_dict().items():
        assert torch.equal(p, (base["head"][n] + slt["head"][n]) / 2), n
    assert det.meta["lost_threshold"] == base["meta"]["lost_threshold"]
    assert det.meta["soup"]["members"] == ["fcos-maml", "fcos-maml-slt"]
    rc = main(["train", "soup", "--from", "fcos-maml", str(out), "--out", str(tmp_path / "w.pt"),
               "--weights", "0.75,0.25"])  # fmt: skip
    assert rc == 0
    w = load_detector(tmp_path / "w.pt")
    k = "bbox_pred.bias"
    want = 0.75 * base["head"][k] + 0.25 * det.head.state_dict()[k]
    torch.testing.assert_close(w.head.state_dict()[k], want)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "fcos-maml"], "at least two"),
        (["--from", "fcos-maml", "retina-maml"], "config"),
        (["--from", "fcos-maml", "nope.pt"], "nope.pt"),
        (["--from", "fcos-maml", "fcos-maml-slt", "--weights", "a,b"], "--weights"),
        (["--from", "fcos-maml", "fcos-maml-slt", "--weights", "0.9,0.9"], "--weights must be"),
        (["--from", "fcos-maml", "fcos-maml-slt", "--weights", "1.5,-0.5"], "--weights must be"),
        (["--from", "fcos-maml", "fcos-maml-slt", "--weights", "nan,0.5"], "--weights must be"),
        (["--from", "fcos-maml", "fcos-maml-slt", "--weights", "1"], "--weights: 1 weights"),
    ],
)
def test_cli_soup_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    rc = main(["train", "soup", *args, "--out", str(tmp_path / "x.pt")])
    assert rc != 0 and not (tmp_path / "x.pt").exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_cli_soup_out_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["train", "soup", "--from", "fcos-maml", "fcos-maml-slt", "--out", str(tmp_path)])
    assert rc != 0 and "is a folder" in capsys.readouterr().err


def test_soup_state_saved_by_save_detector_round_trip(tmp_path: Path) -> None:
    trunk = TinyTrunk()
    a, b = _detector(3, trunk), _detector(4, trunk)
    save_detector(tmp_path / "a.pt", a)
    save_detector(tmp_path / "b.pt", b)
    rc = main(["train", "soup", "--from", str(tmp_path / "a.pt"), str(tmp_path / "b.pt"),
               "--out", str(tmp_path / "s.pt")])  # fmt: skip
    assert rc == 0
    s = load_detector(tmp_path / "s.pt", trunk=trunk)
    for (n, p), q, r in zip(s.lr.named_parameters(), a.lr.parameters(), b.lr.parameters()):
        torch.testing.assert_close(p, (q + r) / 2, msg=n)
