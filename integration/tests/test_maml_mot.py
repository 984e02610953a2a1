"""MAML-MOT (Chen and Deng 2024): meta-learned per-track re-identification layers."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.func import functional_call

import metalearn
from trackkit.data import default_mot_root, read_motchallenge
from trackkit.mot.maml_mot import (
    DEFAULT_CHECKPOINT,
    DEFAULT_DETECTOR,
    ROLE_ANCHOR,
    ROLE_NEGATIVE,
    ROLE_POSITIVE,
    ROLE_QUERY,
    MAMLMOTAssociation,
    MAMLMOTBank,
    MAMLMOTCheckpoint,
    MAMLMOTConfig,
    ReidLayer,
    cosine_classification_loss,
    cosine_classification_losses,
    file_sha256,
    load_maml_mot_checkpoint,
    save_maml_mot_checkpoint,
)
from trackkit.train import MAMLMOTTrainConfig, ReidFeatureCache, maml_mot_tasks


def _checkpoint(
    weight: torch.Tensor,
    bias: torch.Tensor,
    bank: MAMLMOTBank,
    *,
    inner_lr: float = 5e-3,
    scale: float = 10.0,
    k: int = 3,
    max_negatives: int = 4,
) -> MAMLMOTCheckpoint:
    return MAMLMOTCheckpoint(
        layer=ReidLayer(weight, bias),
        bank=bank,
        inner_lr=inner_lr,
        scale=scale,
        k=k,
        max_negatives=max_negatives,
        detector={"name": "none", "sha256": ""},
        meta={},
    )


def _random_checkpoint(seed: int = 0, e: int = 4, d: int = 6, t: int = 5) -> MAMLMOTCheckpoint:
    g = torch.Generator().manual_seed(seed)
    bank = MAMLMOTBank(
        torch.randn(t, e, d, generator=g),
        torch.randn(t, e, generator=g),
        torch.rand(t, 3, d, generator=g),
    )
    return _checkpoint(torch.randn(e, d, generator=g), torch.randn(e, generator=g), bank)


# --------------------------------------------------------------------------- the loss
def test_loss_hand_computed() -> None:
    emb = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]), dim=1)
    roles = torch.tensor([ROLE_ANCHOR, ROLE_QUERY, ROLE_NEGATIVE])
    # Prototype = the anchor (1, 0); cos(query) = 0.6, cos(negative) = 0.
    s = 5.0
    expected = -math.log(math.exp(s * 0.6) / (math.exp(s * 0.6) + math.exp(0.0)))
    per_row = cosine_classification_losses(emb, roles, scale=s)
    torch.testing.assert_close(per_row, torch.tensor([0.0, expected, 0.0]))
    torch.testing.assert_close(cosine_classification_loss(emb, roles, scale=s), per_row[1])
    # No negatives: nothing to tell apart, zero loss with finite gradients.
    w = torch.eye(2, requires_grad=True)
    out = torch.nn.functional.normalize(emb @ w, dim=1)
    loss = cosine_classification_loss(out, torch.tensor([ROLE_POSITIVE] * 3), scale=s)
    loss.backward()
    assert float(loss.detach()) < 1e-6 and w.grad is not None and bool(torch.isfinite(w.grad).all())


# --------------------------------------------------------------------- eqs. 6-7, online
def test_weighted_init_against_hand_computation() -> None:
    bank = MAMLMOTBank(
        torch.tensor([[[1.0, 0.0]], [[0.0, 2.0]], [[4.0, 4.0]]]),  # T=3, E=1, D=2
        torch.tensor([[1.0], [3.0], [5.0]]),
        torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 1.0]]]),  # k=1
    )
    ckpt = _checkpoint(torch.zeros(1, 2), torch.zeros(1), bank)
    a = MAMLMOTAssociation(ckpt)
    new = torch.tensor([[2.0, 0.0], [3.0, 4.0]])
    got = a.initial_params(new)
    # gamma = cos(new, bank features): [1, 0, 1/sqrt 2] and [0.6, 0.8, 0.7 sqrt 2].
    for i, gamma in enumerate(([1.0, 0.0, 1 / math.sqrt(2)], [0.6, 0.8, 0.7 * math.sqrt(2)])):
        w = torch.tensor(gamma) / sum(gamma)
        torch.testing.assert_close(got["weight"][i], (w[:, None, None] * bank.weight).sum(0))
        torch.testing.assert_close(got["bias"][i], (w[:, None] * bank.bias).sum(0))
    mean = MAMLMOTAssociation(ckpt, MAMLMOTConfig(init="mean")).initial_params(new)
    torch.testing.assert_close(mean["bias"], torch.tensor([[3.0], [3.0]]))
    meta = MAMLMOTAssociation(ckpt, MAMLMOTConfig(init="meta")).initial_params(new)
    torch.testing.assert_close(meta["bias"], torch.zeros(2, 1))


def test_new_track_params_are_a_convex_combination_of_the_bank() -> None:
    t, e, d = 6, 2, 4
    g = torch.Generator().manual_seed(1)
    # Bank task i's flattened layer is the i-th unit vector: the init's coordinates are the
    # mixing weights themselves.
    flat = torch.zeros(t, e * d + e)
    flat[torch.arange(t), torch.arange(t)] = 1.0
    bank = MAMLMOTBank(
        flat[:, : e * d].reshape(t, e, d), flat[:, e * d :], torch.rand(t, 3, d, generator=g)
    )
    a = MAMLMOTAssociation(_checkpoint(torch.zeros(e, d), torch.zeros(e), bank))
    boxes = np.array([[0, 0, 10, 20], [50, 0, 60, 20], [100, 0, 110, 20]], dtype=float)
    a.update(boxes, np.ones(3), torch.rand(3, d, generator=g))
    init = torch.cat([a.init_weight.reshape(3, -1), a.init_bias], 1)
    w = init[:, :t]
    assert bool((w >= 0).all())
    torch.testing.assert_close(w.sum(1), torch.ones(3))
    assert float(init[:, t:].abs().max()) == 0.0


def test_batched_adaptation_equals_adapting_each_track_alone() -> None:
    ckpt = _random_checkpoint(2, e=4, d=6)
    ckpt = _checkpoint(
        ckpt.layer.weight.detach(), ckpt.layer.bias.detach(), ckpt.bank, inner_lr=0.5,
        max_negatives=2,
    )  # fmt: skip
    a = MAMLMOTAssociation(ckpt)
    g = torch.Generator().manual_seed(3)
    xs = np.array([0.0, 30.0, 60.0, 90.0, 120.0])
    boxes = np.stack([xs, xs * 0, xs + 20, xs * 0 + 40], axis=1)
    for _ in range(2):  # birth, then a second support frame for every track
        a.update(boxes, np.ones(5), torch.rand(5, 6, generator=g))
        boxes = boxes + 1.0
    assert len(a) == 5 and bool((a.support_count == 2).all())
    moved = (a.weight - a.init_weight).abs().amax(dim=(1, 2))
    assert bool((moved > 1e-4).all())  # the step did something for every track
    for i in range(5):
        sup = a.support[i].reshape(-1, 6)
        roles = a.support_roles[i].reshape(-1)

        def loss(theta: dict[str, torch.Tensor], sup: torch.Tensor = sup, r: torch.Tensor = roles):
            out = functional_call(a.layer, theta, (sup,))
            return cosine_classification_loss(out, r, scale=ckpt.scale)

        alone = metalearn.gradient_descent(
            loss, {"weight": a.init_weight[i], "bias": a.init_bias[i]}, steps=1, lr=0.5,
            track_graph=False,
        )[-1]  # fmt: skip
        torch.testing.assert_close(a.weight[i], alone["weight"], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(a.bias[i], alone["bias"], rtol=1e-5, atol=1e-6)


def _crossing(frames: int = 21) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two people walking towards each other; their boxes almost coincide in the middle frame.

    Returns per frame ``(boxes [2, 4], identities [2])`` in detector order, shuffled per frame.
    """
    rng = np.random.default_rng(0)
    out = []
    for t in range(frames):
        xa, xb = 10.0 + 5.0 * t, 110.0 - 5.0 * t
        boxes = np.array([[xa, 20, xa + 20, 70], [xb, 22, xb + 20, 72]])
        ids = np.array([0, 1])
        if rng.random() < 0.5:
            boxes, ids = boxes[::-1].copy(), ids[::-1].copy()
        out.append((boxes, ids))
    return out


def _features(ids: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    centres = np.array([[1.0, 0.2, 0.0, 0.5], [0.0, 0.3, 1.0, 0.5]])
    return torch.as_tensor(
        np.maximum(centres[ids] + rng.normal(0, 0.05, (2, 4)), 0), dtype=torch.float32
    )


def _id_switches(track_ids: list[np.ndarray]) -> int:
    """Frames where an identity's track id differs from its previous one."""
    switches = 0
    last: dict[int, int] = {}
    for per_identity in track_ids:
        for who, tid in enumerate(per_identity):
            if who in last and last[who] != tid:
                switches += 1
            last[who] = int(tid)
    return switches


@pytest.mark.parametrize("init", ["weighted", "mean", "meta"])
def test_tracker_keeps_two_identities_apart_through_a_crossing(init: str) -> None:
    g = torch.Generator().manual_seed(0)
    bank = MAMLMOTBank(
        torch.eye(4).expand(3, 4, 4).clone() + 0.01 * torch.randn(3, 4, 4, generator=g),
        torch.zeros(3, 4),
        torch.rand(3, 2, 4, generator=g),
    )
    ckpt = _checkpoint(torch.eye(4), torch.zeros(4), bank, max_negatives=1)
    rng = np.random.default_rng(1)

    def run(config: MAMLMOTConfig) -> tuple[list[np.ndarray], int]:
        a = MAMLMOTAssociation(ckpt, config)
        per_frame = []
        for boxes, ids in _crossing():
            out = a.update(boxes, np.ones(2), _features(ids, rng))
            # track id of identity 0 and 1: the reported box equal to each identity's box
            tid = np.array(
                [
                    out.ids[np.flatnonzero((out.boxes_xyxy == boxes[ids == w]).all(1))[0]]
                    for w in (0, 1)
                ]
            )
            per_frame.append(tid)
        return per_frame, len(a.store.ids)

    per_frame, _ = run(MAMLMOTConfig(init=init))
    assert _id_switches(per_frame) == 0
    assert set(per_frame[0].tolist()) == {1, 2} and (per_frame[-1] == per_frame[0]).all()
    # Control: without the appearance term, matching any of the H stored boxes (the paper's
    # reading), the coinciding boxes swap the identities.
    iou_only, _ = run(
        MAMLMOTConfig(
            init=init, appearance_weight=0.0, max_appearance_distance=2.0, iou_source="history"
        )
    )
    assert _id_switches(iou_only) > 0


# ------------------------------------------------------------------------- meta-training
def _synthetic_cache(
    seed: int, identities: int = 24, frames: int = 12, extra_dims: int = 0
) -> ReidFeatureCache:
    """Identities that differ in the first 8 feature dims; dims 8-15 are large per-frame noise
    (lighting, pose) that the initial layer mostly looks at; ``extra_dims`` more noise dims."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(identities, 8, generator=g) * 2.0
    feats, ids, fr = [], [], []
    for f in range(frames):
        present = torch.randperm(identities, generator=g)[: identities // 2]
        for i in present.tolist():
            ident = centres[i] + 0.15 * torch.randn(8, generator=g)
            nuisance = 2.0 * torch.rand(8 + extra_dims, generator=g)
            feats.append(torch.cat([ident, nuisance]).clamp_min(0))
            ids.append(i)
            fr.append(f)
    return ReidFeatureCache(
        torch.stack(feats), torch.tensor(ids), torch.tensor(fr), ("synthetic",),
        {"name": "none", "sha256": ""}, 0.0,
    )  # fmt: skip


def _query_loss_after_step(layer: ReidLayer, tasks: metalearn.Task, lr: float) -> float:
    learner = metalearn.MetaLearner(
        layer,
        lambda o, r: cosine_classification_loss(o, r, scale=10.0),
        lr=metalearn.FixedLR(lr),
        adapted=["weight", "bias"],
        config=metalearn.MAMLConfig(
            inner_steps=1, schedule=metalearn.MultiStepSchedule(last_only=True), batching="vmap"
        ),
    )
    (sf, sr), (qf, qr) = tasks
    task_list = [metalearn.Task((sf[i], sr[i]), (qf[i], qr[i])) for i in range(sf.shape[0])]
    return float(learner.query_losses(task_list)[:, 1].mean().detach())


def test_meta_training_lowers_the_query_loss_after_the_inner_step() -> None:
    torch.manual_seed(0)
    e, d, lr = 8, 16, 5e-3
    w0 = torch.cat([0.2 * torch.eye(8), torch.eye(8)], 1) + 0.05 * torch.randn(e, d)
    b0 = torch.zeros(e)
    train, test = _synthetic_cache(0), _synthetic_cache(1)  # test: unseen identities
    gen = torch.Generator().manual_seed(5)
    test_tasks, _ = maml_mot_tasks(test, 128, k=3, max_negatives=4, generator=gen)
    layer = ReidLayer(w0, b0)
    learner = metalearn.MetaLearner(
        layer,
        lambda o, r: cosine_classification_loss(o, r, scale=10.0),
        lr=metalearn.FixedLR(lr),
        adapted=["weight", "bias"],
        config=metalearn.MAMLConfig(
            inner_steps=1,
            outer_lr=1e-2,
            schedule=metalearn.MultiStepSchedule(last_only=True, first_order_epochs=0.0),
            batching="vmap",
        ),
    )
    for _ in range(60):
        (sf, sr), (qf, qr) = maml_mot_tasks(train, 16, k=3, max_negatives=4, generator=gen)[0]
        learner.step([metalearn.Task((sf[i], sr[i]), (qf[i], qr[i])) for i in range(16)])
    meta = _query_loss_after_step(layer, test_tasks, lr)
    plain = _query_loss_after_step(ReidLayer(w0, b0), test_tasks, lr)
    assert meta < 0.7 * plain, (meta, plain)


def test_recipe_checkpoint_bank_log_and_resume(tmp_path: Path) -> None:
    import json

    from trackkit.train import train_maml_mot

    train, val = _synthetic_cache(6, extra_dims=48), _synthetic_cache(7, extra_dims=48)  # D = 64
    cfg = MAMLMOTTrainConfig(steps=6, tasks_per_step=4, bank_size=5, eval_tasks=8)

    def run(out: Path, **kw: object) -> Path:
        ckpt, _ = train_maml_mot(
            cfg, out, cache=train, validation_cache=val, checkpoint_every=2, progress=False,
            **kw,  # type: ignore[arg-type]
        )  # fmt: skip
        return ckpt

    full = load_maml_mot_checkpoint(run(tmp_path / "full"))
    assert full.detector == {"name": DEFAULT_DETECTOR.name, "sha256": file_sha256(DEFAULT_DETECTOR)}
    assert len(full.bank) == 5 and full.bank.features.shape == (5, 3, 64)
    assert full.meta["steps"] == 6 and "val_meta_query_loss" in full.meta["eval"]
    log = [json.loads(line) for line in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    assert any("eval" in r for r in log) and any("query_loss" in r for r in log)
    run(tmp_path / "half", stop_after=3)
    resumed = load_maml_mot_checkpoint(
        run(tmp_path / "half", resume=tmp_path / "half" / "train_state.pt")
    )
    torch.testing.assert_close(resumed.layer.weight, full.layer.weight)
    torch.testing.assert_close(resumed.bank.weight, full.bank.weight)
    with pytest.raises(ValueError, match="re-identification layer reads 64"):
        train_maml_mot(cfg, tmp_path / "bad", cache=_synthetic_cache(8), progress=False)
    with pytest.raises(ValueError, match="training sequences or a feature cache"):
        train_maml_mot(cfg, tmp_path / "none", progress=False)


def test_tasks_follow_eq1() -> None:
    cache = _synthetic_cache(3)
    gen = torch.Generator().manual_seed(0)
    (sf, sr), (qf, qr) = maml_mot_tasks(cache, 20, k=3, max_negatives=4, generator=gen)[0]
    assert sf.shape == (20, 3 + 3 * 4, 16) and qf.shape == (20, 3 + 1 + 4, 16)
    assert bool((sr[:, :3] == ROLE_POSITIVE).all()) and bool((qr[:, 3] == ROLE_QUERY).all())
    assert bool((qr[:, :3] == ROLE_ANCHOR).all())
    # The query's positive is not one of the support features.
    assert not bool((qf[:, 3:4] == sf[:, :3]).all(-1).any())


# --------------------------------------------------------------- checkpoints, bad input
def test_checkpoint_round_trip_weights_only(tmp_path: Path) -> None:
    ckpt = _random_checkpoint(4)
    path = tmp_path / "m.pt"
    save_maml_mot_checkpoint(
        path, ckpt.layer, ckpt.bank, inner_lr=0.01, scale=7.0, k=3, max_negatives=4,
        detector={"name": "rt.pt", "sha256": "ab"}, meta={"steps": 3},
    )  # fmt: skip
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["format"] == "trackkit.maml_mot/1"
    back = load_maml_mot_checkpoint(path)
    torch.testing.assert_close(back.layer.weight, ckpt.layer.weight)
    torch.testing.assert_close(back.bank.features, ckpt.bank.features)
    assert (back.inner_lr, back.scale, back.k, back.detector["name"]) == (0.01, 7.0, 3, "rt.pt")
    assert back.meta == {"steps": 3}
    torch.save({"format": "other"}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a trackkit MAML-MOT checkpoint"):
        load_maml_mot_checkpoint(tmp_path / "x.pt")
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"bad\.pt"):
        load_maml_mot_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError, match="MAML-MOT checkpoint"):
        load_maml_mot_checkpoint(tmp_path / "missing.pt")


def test_bad_input() -> None:
    a = MAMLMOTAssociation(_random_checkpoint(5))
    box = np.array([[0.0, 0.0, 10.0, 10.0]])
    with pytest.raises(ValueError, match="features must be given"):
        a.update(box, np.ones(1))
    with pytest.raises(ValueError, match=r"features must have shape \(1, 6\)"):
        a.update(box, np.ones(1), np.ones((1, 5)))
    with pytest.raises(ValueError, match="features must be finite"):
        a.update(box, np.ones(1), np.full((1, 6), np.nan))
    with pytest.raises(ValueError, match="boxes_xyxy"):
        a.update(np.array([[10.0, 0.0, 0.0, 10.0]]), np.ones(1), np.ones((1, 6)))
    with pytest.raises(ValueError, match="scores"):
        a.update(box, np.ones(2), np.ones((1, 6)))
    assert len(a.update(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 6)))) == 0
    with pytest.raises(ValueError, match="init must be one of"):
        MAMLMOTConfig(init="best")
    with pytest.raises(ValueError, match="iou_weight"):
        MAMLMOTConfig(iou_weight=-1.0)
    with pytest.raises(ValueError, match="adapt_frames"):
        MAMLMOTConfig(adapt_frames=0)
    with pytest.raises(ValueError, match="iou_source"):
        MAMLMOTConfig(iou_source="newest")
    with pytest.raises(TypeError, match="MAMLMOTCheckpoint"):
        MAMLMOTAssociation("x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inner_lr"):
        MAMLMOTTrainConfig(inner_lr=float("nan"))
    with pytest.raises(ValueError, match="k must be"):
        MAMLMOTTrainConfig(k=0)
    with pytest.raises(ValueError, match="bank must hold"):
        MAMLMOTBank(torch.zeros(2, 3, 4), torch.zeros(2, 3), torch.zeros(2, 1, 5))


# ------------------------------------------------------------ on the shipped networks
def _tud() -> object:
    root = default_mot_root()
    if not (root / "TUD-Campus" / "img1").is_dir():
        pytest.skip(f"no TUD-Campus images under {root}")
    return read_motchallenge(root, names=["TUD-Campus"])["TUD-Campus"]


def test_reid_features_reproduce_retinatrack_detections() -> None:
    from trackkit.mot.maml_mot import detect_reid, reid_layer
    from trackkit.mot.retinatrack import detect_frames, load_default_network

    seq = _tud()
    net = load_default_network()
    frame = seq.frames[5]  # type: ignore[attr-defined]
    (ref,) = detect_frames(net, [frame])
    (got,) = detect_reid(net, [frame])
    np.testing.assert_array_equal(got.boxes_xyxy, ref.boxes_xyxy)
    np.testing.assert_allclose(got.embeddings, ref.embeddings, atol=1e-5)
    w, b = reid_layer(net)
    emb = torch.nn.functional.normalize(got.features @ w.T + b, dim=1)
    np.testing.assert_allclose(emb.numpy(), ref.embeddings, atol=1e-5)
    assert bool((got.features >= 0).all())  # post-ReLU features


def test_maml_mot_links_the_retinatrack_trackers_detections() -> None:
    from trackkit.mot.maml_mot import MAMLMOT, detect_reid
    from trackkit.mot.retinatrack import (
        TRACKING_NMS_THRESHOLD,
        TRACKING_SCORE_THRESHOLD,
        RetinaTrackMOT,
        detect_frames,
        load_default_network,
    )

    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped maml_mot.pt")
    seq = _tud()
    net = load_default_network()
    frame = seq.frames[5]  # type: ignore[attr-defined]
    mm = MAMLMOT(net=net)
    assert (mm.score_threshold, mm.nms_threshold) == (
        TRACKING_SCORE_THRESHOLD,
        TRACKING_NMS_THRESHOLD,
    )
    got = mm.detect(frame)
    ref = RetinaTrackMOT(net).detect(frame)
    np.testing.assert_array_equal(got.boxes_xyxy, ref.boxes_xyxy)
    np.testing.assert_allclose(got.embeddings, ref.embeddings, atol=1e-5)
    # Overrides reach the decoder: a looser NMS and a lower score threshold keep more boxes.
    (loose,) = detect_reid(net, [frame], score_threshold=0.2, nms_threshold=0.7)
    (loose_ref,) = detect_frames(net, [frame], score_threshold=0.2, nms_threshold=0.7)
    np.testing.assert_array_equal(loose.boxes_xyxy, loose_ref.boxes_xyxy)
    assert len(loose) > len(got)
    with pytest.raises(ValueError, match="score_threshold"):
        detect_reid(net, [frame], score_threshold=1.5)
    with pytest.raises(ValueError, match="nms_threshold"):
        detect_reid(net, [frame], nms_threshold=0.0)
    with pytest.raises(ValueError, match="nms_threshold"):
        MAMLMOT(net=net, nms_threshold=-0.1)


def test_shipped_checkpoint_records_its_detector() -> None:
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped maml_mot.pt")
    ckpt = load_maml_mot_checkpoint(DEFAULT_CHECKPOINT)
    assert ckpt.detector["name"] == DEFAULT_DETECTOR.name
    assert len(ckpt.detector["sha256"]) == 64
    assert ckpt.meta["steps"] >= 1 and len(ckpt.bank) >= 1


def test_registry_tracker_on_frames_and_detector_mismatch_warning(tmp_path: Path) -> None:
    from trackkit.data import synthetic_mot_sequence
    from trackkit.mot.maml_mot import MAMLMOT
    from trackkit.registry import make_tracker

    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip("no shipped maml_mot.pt")
    seq = synthetic_mot_sequence(length=4, num_objects=3, seed=1)
    tracker = make_tracker("maml-mot")
    rows, seconds = tracker.track(seq)
    assert seconds > 0 and rows.boxes_xywh.shape[1] == 4
    other = tmp_path / "retinatrack.pt"
    other.write_bytes(DEFAULT_DETECTOR.read_bytes() + b"")  # same bytes: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MAMLMOT(detector=other)
    raw = torch.load(DEFAULT_DETECTOR, map_location="cpu", weights_only=True)
    raw["meta"] = {**raw.get("meta", {}), "note": "changed"}
    torch.save(raw, other)
    with pytest.warns(UserWarning, match="trained on the features of detector"):
        MAMLMOT(detector=other)


def test_cli_train_maml_mot_errors_and_cache_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trackkit.cli import main

    assert main(["train", "maml-mot", "--out", str(tmp_path), "--data", str(tmp_path / "no")]) != 0
    assert "MOTChallenge folder not found" in capsys.readouterr().err
    torch.save({"features": torch.zeros(1, 2)}, tmp_path / "c.pt")
    with pytest.raises(ValueError, match="not a MAML-MOT feature cache"):
        ReidFeatureCache.load(tmp_path / "c.pt")
    cache = _synthetic_cache(9)
    cache.save(tmp_path / "ok.pt")
    back = ReidFeatureCache.load(tmp_path / "ok.pt")
    torch.testing.assert_close(back.features, cache.features)
    assert back.sequences == cache.sequences
