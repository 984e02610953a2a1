"""RetinaTrack's test-time augmentation (docs/history/mot.md round 10): DetectionTTA, the fused
path, the unchanged default path, the registry, the command line and the benchmark's rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
import torch

import detheads
from trackkit.data import read_mot_rows
from trackkit.mot.retinatrack import (
    DetectionTTA,
    FrameDetections,
    RetinaTrackMOT,
    RetinaTrackNet,
    RetinaTrackNetConfig,
    detect_frames,
    detect_passes,
    fuse_passes,
    preprocess_frames,
    save_retinatrack_checkpoint,
)
from trackkit.registry import make_tracker, parse_tta_spec, tracker_options

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def net(tiny_rt_config: RetinaTrackNetConfig) -> RetinaTrackNet:
    """An untrained tiny network whose classification prior is raised so that it detects
    plenty (scores spread around 0.5)."""
    torch.manual_seed(3)
    n = RetinaTrackNet(tiny_rt_config).eval()
    with torch.no_grad():
        n.head.cls_logits.bias.fill_(0.0)
    return n


def _frames(k: int = 3, symmetric: bool = False) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    out = []
    for _ in range(k):
        f = rng.integers(0, 255, size=(128, 192, 3), dtype=np.uint8)
        f = cv2.GaussianBlur(f, (9, 9), 3)
        if symmetric:
            f[:, 96:] = f[:, :96][:, ::-1]
        out.append(np.ascontiguousarray(f))
    return out


def _old_detect_frames(
    net: RetinaTrackNet, frames: list[np.ndarray], score: float, nms: float
) -> list[FrameDetections]:
    """The plain path as it was before TTA existed (copied from the round-9 code)."""
    images, scale = preprocess_frames(frames, net.config.input_width)
    with torch.inference_mode():
        outputs = net.run_head(net.features(images))
        dets = net.decode(
            outputs, (images.shape[-2], images.shape[-1]), score_threshold=score, nms_threshold=nms
        )
    h, w = frames[0].shape[:2]
    out = []
    for d in dets:
        boxes = d["boxes_xyxy"].double().cpu().numpy() / scale
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        out.append(
            FrameDetections(
                boxes, d["scores"].double().cpu().numpy(), d["embeddings"].float().cpu().numpy()
            )
        )
    return out


def test_default_path_is_byte_identical_to_the_plain_path(net: RetinaTrackNet) -> None:
    frames = _frames(2)
    got = detect_frames(net, frames, score_threshold=0.2, nms_threshold=0.4)
    ref = _old_detect_frames(net, frames, 0.2, 0.4)
    assert sum(len(d.scores) for d in ref) > 4
    for a, b in zip(got, ref, strict=True):
        assert a.boxes_xyxy.tobytes() == b.boxes_xyxy.tobytes()
        assert a.scores.tobytes() == b.scores.tobytes()
        assert a.embeddings.tobytes() == b.embeddings.tobytes()
    tracker = RetinaTrackMOT(net, association="iou+motion")
    assert tracker.tta is None
    # iou+motion's default low threshold since round 11 (docs/mot.md); the others' is 0.55
    plain = detect_frames(net, frames[:1], score_threshold=0.35, nms_threshold=0.4)[0]
    assert tracker.detect(frames[0]).boxes_xyxy.tobytes() == plain.boxes_xyxy.tobytes()


def test_one_pass_fused_path_equals_the_plain_path(net: RetinaTrackNet) -> None:
    """With one pass decoded at the final threshold (this untrained network scores every
    anchor about 0.5, so at the passes' usual 0.1 the top-100 cap would cut other boxes)."""
    frames = _frames(3)
    one_pass = DetectionTTA(widths=(192,), pass_score_threshold=0.3)
    for f in frames:
        (plain,) = detect_frames(net, [f], score_threshold=0.3, nms_threshold=0.4)
        (one,) = detect_frames(net, [f], score_threshold=0.3, nms_threshold=0.4, tta=one_pass)
        assert len(plain.scores) > 0
        np.testing.assert_array_equal(one.boxes_xyxy, plain.boxes_xyxy)
        np.testing.assert_array_equal(one.scores, plain.scores)
        np.testing.assert_allclose(one.embeddings, plain.embeddings, atol=1e-6)
        # tta without widths runs at the network's (or input_width's) width
        (same,) = detect_frames(
            net,
            [f],
            score_threshold=0.3,
            tta=DetectionTTA(pass_score_threshold=0.3),
            nms_threshold=0.4,
        )
        np.testing.assert_array_equal(same.boxes_xyxy, plain.boxes_xyxy)


def _mirror(boxes: np.ndarray, width: int) -> np.ndarray:
    out = boxes.copy()
    out[:, [0, 2]] = width - boxes[:, [2, 0]]
    return out


def test_flip_tta_on_a_horizontally_symmetric_frame(net: RetinaTrackNet) -> None:
    (frame,) = _frames(1, symmetric=True)
    np.testing.assert_array_equal(frame, frame[:, ::-1])
    tta = DetectionTTA(flip=True)
    ((direct, mirrored),) = detect_passes(net, [frame], tta, nms_threshold=0.4)
    assert len(direct.scores) > 2
    # the mirror image is the same image: the mirrored-back pass is the first pass mirrored
    np.testing.assert_array_equal(mirrored.scores, direct.scores)
    np.testing.assert_allclose(mirrored.boxes_xyxy, _mirror(direct.boxes_xyxy, 192), atol=1e-9)
    (fused,) = detect_frames(net, [frame], score_threshold=0.5, nms_threshold=0.4, tta=tta)
    # = weighted box fusion of the two passes, then NMS
    ref = detheads.weighted_box_fusion(
        torch.from_numpy(np.concatenate([direct.boxes_xyxy, mirrored.boxes_xyxy])),
        torch.from_numpy(np.concatenate([direct.scores, mirrored.scores])),
        torch.tensor([0] * len(direct.scores) + [1] * len(mirrored.scores)),
        2,
    )
    keep = detheads.nms_mask(ref.boxes_xyxy, ref.scores, 0.4) & (ref.scores >= 0.5)
    assert 4 < int(keep.sum()) < 100  # below the top-100 cap
    np.testing.assert_allclose(fused.scores, ref.scores[keep].numpy())
    np.testing.assert_allclose(fused.boxes_xyxy, ref.boxes_xyxy[keep].numpy())
    # the fused set is mirror-symmetric: every fused box has its mirror image, same score
    for box, score in zip(_mirror(fused.boxes_xyxy, 192), fused.scores, strict=True):
        d = np.abs(fused.boxes_xyxy - box).max(axis=1) + np.abs(fused.scores - score)
        assert d.min() < 1e-6
    # a box both passes find (its own mirror image) keeps its score; a box one pass finds
    # alone is halved
    assert fused.scores.max() <= direct.scores.max() + 1e-12


def test_tracker_registry_and_widths(net: RetinaTrackNet, tmp_path: Path) -> None:
    frames = _frames(4)
    tta = DetectionTTA(flip=True, widths=(160, 192, 224), score_threshold=0.3)
    assert tta.passes(192) == [(w, f) for w in (160, 192, 224) for f in (False, True)]
    passes = detect_passes(net, frames[:2], tta, nms_threshold=0.4)
    assert [len(p) for p in passes] == [6, 6]
    for f, p in zip(frames[:2], passes, strict=True):
        (d,) = detect_frames(net, [f], nms_threshold=0.4, tta=tta)
        want = fuse_passes(p, nms_threshold=0.4, score_threshold=0.3)
        np.testing.assert_allclose(d.boxes_xyxy, want.boxes_xyxy, atol=1e-4)
        assert d.scores.min(initial=1.0) >= 0.3
    tracker = RetinaTrackMOT(net, tta="flip,160,192,224,score=0.3", association="iou+motion")
    assert tracker.tta == tta
    rows, _ = tracker.track_frames(frames)
    assert len(rows) > 0
    path = tmp_path / "rt.pt"
    save_retinatrack_checkpoint(path, net)
    assert "tta" in tracker_options("retinatrack")
    reg = make_tracker("retinatrack", checkpoint=path, tta="flip")
    assert (
        reg.tta == DetectionTTA(flip=True)
        and make_tracker("retinatrack", checkpoint=path).tta is None
    )
    with pytest.raises(TypeError, match="tta must be"):
        RetinaTrackMOT(net, tta=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("flip", (True, None, None)),
        ("448,512,576", (False, (448, 512, 576), None)),
        ("flip, 448,512,576,score=0.45", (True, (448, 512, 576), 0.45)),
    ],
)
def test_parse_tta_spec(spec: str, want: tuple[object, ...]) -> None:
    assert parse_tta_spec(spec) == want
    flip, widths, score = want
    assert DetectionTTA.parse(spec) == DetectionTTA(
        flip=bool(flip),
        widths=widths,  # type: ignore[arg-type]
        score_threshold=score,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("mirror", "cannot read 'mirror'"),
        ("flip,flip", "cannot read 'flip'"),
        ("512,512", "cannot read '512'"),
        ("16", "input widths must be >= 32"),
        ("flip,score=2", "score must lie in"),
        ("flip,score=x", "score must lie in"),
        ("score=0.5", "names no augmentation"),
        ("", "cannot read ''"),
    ],
)
def test_bad_tta_spec_one_line_errors(spec: str, match: str) -> None:
    for parse in (parse_tta_spec, DetectionTTA.parse):
        with pytest.raises(ValueError, match=match) as info:
            parse(spec)
        assert "--tta" in str(info.value) and "\n" not in str(info.value)


def test_detection_tta_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="widths must hold"):
        DetectionTTA(widths=())
    with pytest.raises(ValueError, match="distinct"):
        DetectionTTA(widths=(64, 64))
    with pytest.raises(ValueError, match="input_width must be >= 32"):
        DetectionTTA(widths=(8,))
    with pytest.raises(ValueError, match="iou_threshold"):
        DetectionTTA(iou_threshold=0.0)
    with pytest.raises(ValueError, match="score_threshold"):
        DetectionTTA(score_threshold=1.5)
    with pytest.raises(TypeError, match="flip must be a bool"):
        DetectionTTA(flip="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="passes must hold"):
        fuse_passes([])


def test_cli_tta_option(
    net: RetinaTrackNet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackkit.cli import main

    path = tmp_path / "rt.pt"
    save_retinatrack_checkpoint(path, net)
    folder = tmp_path / "img1"
    folder.mkdir()
    for t, f in enumerate(_frames(3)):
        cv2.imwrite(str(folder / f"{t + 1:06d}.png"), f)
    out = tmp_path / "t.txt"
    argv = ["mot", str(folder), "--tracker", "retinatrack", "--checkpoint", str(path)]
    assert main([*argv, "--tta", "flip,160,192,score=0.3", "--out", str(out), "--no-progress"]) == 0
    want, _ = RetinaTrackMOT(net, tta="flip,160,192,score=0.3").track_frames(
        [cv2.imread(str(p)) for p in sorted(folder.iterdir())]
    )
    np.testing.assert_allclose(read_mot_rows(out).boxes_xywh, want.boxes_xywh, atol=0.01)
    with pytest.raises(SystemExit) as info:
        main([*argv, "--tta", "mirror", "--out", str(out)])
    assert info.value.code == 2
    assert "--tta 'mirror': cannot read 'mirror'" in capsys.readouterr().err
    assert main(["mot", str(folder), "--tracker", "sort", "--tta", "flip", "--out", str(out)]) != 0
    assert "--tta does not apply to tracker 'sort'" in capsys.readouterr().err


def test_cli_eval_mot_tta_only_with_retinatrack(
    write_mot_folder: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackkit.cli import main

    write_mot_folder(tmp_path / "data", length=5, num_objects=2, seed=1)
    data = tmp_path / "data"
    code = main(["eval", "mot", "--tracker", "sort", "--data", str(data), "--tta", "flip",
                 "--out", str(tmp_path / "o")])  # fmt: skip
    assert code != 0
    assert "--tta applies only to --tracker retinatrack" in capsys.readouterr().err


def test_benchmark_rule_helpers(bench_script: Callable[[str], ModuleType]) -> None:
    bench = bench_script("retinatrack_tta")
    assert bench._setting_keys("off") == ["512_single_0"]
    assert bench._setting_keys("flip") == ["512_pair_0", "512_pair_1"]
    assert bench._setting_keys("448,512,576") == ["448_single_0", "512_single_0", "576_single_0"]
    assert len(bench._setting_keys("flip,448,512,576")) == 6
    pick = bench._pick_threshold
    assert pick({0.5: 0.60, 0.55: 0.61, 0.6: 0.59}) == 0.55
    assert pick({0.45: 0.6101, 0.5: 0.6099, 0.7: 0.5}) == 0.5  # tie: nearer 0.55
    assert pick({0.5: 0.61, 0.6: 0.61}) == 0.6  # equally near: the higher
    assert bench.THRESHOLDS[0] == 0.3 and bench.THRESHOLDS[-1] == 0.7 and len(bench.THRESHOLDS) == 9


def test_benchmark_detection_and_tracker_columns(
    bench_script: Callable[[str], ModuleType],
) -> None:
    """The validation's columns (benchmarks/retinatrack.py's): AP50 and the counts at the
    score threshold against counts by hand; the tracker columns in the reports' order."""
    from trackkit.data import MOTRows, synthetic_mot_sequence
    from trackkit.eval import evaluate_mot

    bench = bench_script("retinatrack")
    seq = synthetic_mot_sequence(length=6, num_objects=2, seed=1, render=False)
    gt = seq.gt
    assert gt is not None
    n = len(gt)
    far = gt.boxes_xywh + np.array([500.0, 500.0, 0.0, 0.0])  # a false positive by each
    det = MOTRows(
        np.concatenate([gt.frames, gt.frames]),
        np.full(2 * n, -1),
        np.concatenate([gt.boxes_xywh, far]),
        np.concatenate([np.full(n, 0.9), np.full(n, 0.3)]),
    )
    expected = {"AP50": 1.0, "recall@thr": 1.0, "precision@thr": 1.0, "gt": n, "dets@thr": n}
    assert bench.detection_columns(seq, det, 0.5) == pytest.approx(expected)
    low = bench.detection_columns(seq, det, 0.2)
    assert low == pytest.approx(expected | {"precision@thr": 0.5, "dets@thr": 2 * n})
    cols = bench.mot_columns(evaluate_mot(gt, gt, seq.num_frames))
    assert list(cols) == ["HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW", "FP", "FN"]
    assert cols["HOTA"] == pytest.approx(1.0) and [cols[k] for k in ("IDSW", "FP", "FN")] == [0] * 3
    assert all(type(cols[k]) is int for k in ("IDSW", "FP", "FN"))
