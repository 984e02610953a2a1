"""SORT-style and RetinaTrack-style trackers on scripted scenarios, plus an equivalence check."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import assoc

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "assoc_speed.py"


def box_at(x: float, y: float = 100.0, w: float = 40.0, h: float = 100.0) -> np.ndarray:
    return np.array([[x, y, x + w, y + h]])


def frame(*boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    stacked = np.concatenate(boxes) if boxes else np.zeros((0, 4))
    return stacked, np.linspace(0.9, 0.5, len(stacked))


# --------------------------------------------------------------------------- SORT


def test_sort_defaults_are_the_papers() -> None:
    cfg = assoc.SortConfig()
    assert (cfg.iou_threshold, cfg.max_age, cfg.min_hits) == (0.3, 1, 3)
    assert cfg.layout == assoc.StateLayout() and cfg.layout.dim_x == 7


def test_sort_keeps_ids_of_two_moving_objects() -> None:
    tracker = assoc.SortTracker()
    for t in range(20):
        out = tracker.update(*frame(box_at(10 + 4 * t), box_at(400 - 3 * t, y=300)))
        assert out.ids.tolist() == [1, 2]  # warm-up frames report at once, then confirmed
        assert out.ids.dtype == np.int64 and out.boxes_xyxy.shape == (2, 4)
        np.testing.assert_allclose(out.scores, [0.9, 0.5])
        if t > 5:
            np.testing.assert_allclose(out.boxes_xyxy[0], box_at(10 + 4 * t)[0], atol=1.0)


def test_sort_min_hits_without_warmup() -> None:
    tracker = assoc.SortTracker(assoc.SortConfig(report_warmup=False))
    reported = [len(tracker.update(*frame(box_at(10 + 2 * t)))) for t in range(6)]
    # Born in frame 1, matched in frames 2, 3, 4: reported from the 3rd match on (sort.py).
    assert reported == [0, 0, 0, 1, 1, 1]


@pytest.mark.parametrize(("gap", "same_id"), [(3, True), (5, True), (6, False), (9, False)])
def test_sort_occlusion_shorter_and_longer_than_max_age(gap: int, same_id: bool) -> None:
    tracker = assoc.SortTracker(assoc.SortConfig(max_age=5))
    t = 0
    for t in range(10):
        out = tracker.update(*frame(box_at(10 + 3 * t)))
    first_id = out.ids[0]
    for _ in range(gap):
        assert len(tracker.update(*frame())) == 0  # occluded: nothing reported
    t = 10 + gap
    out = tracker.update(*frame(box_at(10 + 3 * t)))  # reappears where it would be
    if same_id:
        assert out.ids.tolist() == [first_id]
    else:
        # Removed after max_age: a new, tentative track that is not reported yet.
        assert len(out) == 0
        for later in range(t + 1, t + 4):
            out = tracker.update(*frame(box_at(10 + 3 * later)))
        assert out.ids.tolist() == [first_id + 1]


def test_sort_default_max_age_one_drops_after_two_missed_frames() -> None:
    tracker = assoc.SortTracker()
    for t in range(5):
        tracker.update(*frame(box_at(10 + t)))
    tracker.update(*frame())
    assert len(tracker.store) == 1  # one miss survives (time_since_update 1 <= max_age 1)
    tracker.update(*frame())
    assert len(tracker.store) == 0 and len(tracker.kalman) == 0


def test_sort_empty_frames_and_reset() -> None:
    tracker = assoc.SortTracker()
    for _ in range(3):
        out = tracker.update(np.zeros((0, 4)), np.zeros(0))
        assert len(out) == 0 and out.boxes_xyxy.shape == (0, 4)
    out = tracker.update(*frame(box_at(0)))
    assert len(out) == 0  # frame 4 is past the warm-up: the new track is tentative
    assert tracker.store.ids.tolist() == [1]
    tracker.reset()
    assert tracker.update(*frame(box_at(500))).ids.tolist() == [1]


def test_sort_bad_input_names_the_argument() -> None:
    tracker = assoc.SortTracker()
    with pytest.raises(ValueError, match="boxes_xyxy"):
        tracker.update(np.array([[0.0, 0.0, np.nan, 1.0]]), [1.0])
    with pytest.raises(ValueError, match="boxes_xyxy"):
        tracker.update(np.array([[5.0, 0.0, 1.0, 1.0]]), [1.0])
    with pytest.raises(ValueError, match="boxes_xyxy"):
        tracker.update(np.array([[0.0, 0.0, 0.0, 1.0]]), [1.0])  # zero width
    with pytest.raises(ValueError, match="boxes_xyxy"):
        tracker.update(np.zeros((1, 5)), [1.0])
    with pytest.raises(ValueError, match="scores"):
        tracker.update(box_at(0), [1.0, 2.0])
    with pytest.raises(ValueError, match="scores"):
        tracker.update(box_at(0), [np.inf])
    with pytest.raises(ValueError, match="iou_threshold"):
        assoc.SortConfig(iou_threshold=1.5)
    with pytest.raises(ValueError, match="backend"):
        assoc.SortConfig(backend="munkres")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="config"):
        assoc.SortTracker(assoc.RetinaTrackConfig())  # type: ignore[arg-type]
    assert tracker.frame_count == 0  # failed calls did not advance the tracker


def load_benchmark() -> ModuleType:
    if not BENCHMARK.exists():
        pytest.skip(f"{BENCHMARK} not present (installed without the repository)")
    spec = importlib.util.spec_from_file_location("assoc_speed", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "config",
    [
        assoc.SortConfig(),
        assoc.SortConfig(max_age=4, min_hits=2, report_warmup=False, backend="scipy"),
        assoc.SortConfig(
            max_age=2,
            min_hits=0,
            layout=assoc.StateLayout(
                measurement="cxcywh",
                velocity_of=(0, 1, 2, 3),
                initial_covariance=(10.0,) * 4 + (100.0,) * 4,
                process_noise=(1.0,) * 4 + (0.01,) * 4,
            ),
        ),
    ],
)
def test_batched_sort_equals_per_track_filterpy_sort(config: assoc.SortConfig) -> None:
    """The benchmark's classic formulation (one filterpy filter per track) gives the same tracks."""
    bench = load_benchmark()
    batched, classic = assoc.SortTracker(config), bench.ClassicSortTracker(config)
    scene = bench.make_scene(30, 60, seed=3)
    rng = np.random.default_rng(0)
    for t, (boxes, scores) in enumerate(scene):
        if 20 <= t < 23:  # a few empty frames: everything misses
            boxes, scores = boxes[:0], scores[:0]
        keep = rng.random(len(boxes)) > 0.2  # extra misses to exercise the lifecycle
        a = batched.update(boxes[keep], scores[keep])
        b = classic.update(boxes[keep], scores[keep])
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_allclose(a.boxes_xyxy, b.boxes_xyxy, rtol=0, atol=1e-8)
        np.testing.assert_array_equal(a.scores, b.scores)


# --------------------------------------------------------------------------- RetinaTrack


def unit(angle_deg: float, dim: int = 8) -> np.ndarray:
    e = np.zeros((1, dim))
    e[0, 0], e[0, 1] = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    return e


def test_retinatrack_defaults_are_the_papers() -> None:
    cfg = assoc.RetinaTrackConfig()
    assert (cfg.iou_weight, cfg.embedding_weight, cfg.iou_truncation) == (0.5, 0.5, 0.4)
    assert cfg.max_age == 40 and cfg.min_hits == 1


@pytest.mark.parametrize(("gap", "same_id"), [(10, True), (40, True), (41, False)])
def test_retinatrack_reidentifies_by_embedding_within_max_age(gap: int, same_id: bool) -> None:
    tracker = assoc.RetinaTrackTracker()
    other = unit(90.0)
    for t in range(5):
        out = tracker.update(
            *frame(box_at(10 + 2 * t), box_at(600, y=400)), np.concatenate([unit(0), other])
        )
    assert out.ids.tolist() == [1, 2]
    for _ in range(gap):  # target occluded, the other object stays
        tracker.update(*frame(box_at(600, y=400)), other)
    # Reappears far away (no overlap with anything stored): only the embedding can match it.
    out = tracker.update(
        *frame(box_at(300, y=10), box_at(600, y=400)), np.concatenate([unit(5), other])
    )
    assert out.ids.tolist() == ([1, 2] if same_id else [2, 3])


@pytest.mark.parametrize(("history", "same_id"), [(1, False), (8, True)])
def test_retinatrack_matches_any_of_the_h_most_recent_embeddings(
    history: int, same_id: bool
) -> None:
    tracker = assoc.RetinaTrackTracker(assoc.RetinaTrackConfig(history=history))
    # Appearance drifts 30 degrees per frame: each step is close to the last one.
    for t in range(5):
        out = tracker.update(*frame(box_at(10 + 2 * t)), unit(30.0 * t))
        assert out.ids.tolist() == [1]
    tracker.update(*frame(), np.zeros((0, 8)))
    # Back with its first appearance, elsewhere: cosine distance 1.5 to the newest entry,
    # 0 to the oldest.
    out = tracker.update(*frame(box_at(400, y=300)), unit(0.0))
    assert out.ids.tolist() == ([1] if same_id else [2])


def crossing_ids_of_a(config: assoc.RetinaTrackConfig, embeddings: bool) -> list[int]:
    """Two people walk towards each other and cross; the ids reported for person a."""
    e_a, e_b = unit(0.0), unit(90.0)
    tracker = assoc.RetinaTrackTracker(config)
    ids_of_a = []
    for t in range(21):
        xa, xb = 100 + 10 * t, 300 - 10 * t  # they meet at t = 10
        boxes, scores = frame(box_at(xb), box_at(xa))  # detection order: b, a
        emb = np.concatenate([e_b, e_a]) if embeddings else None
        out = tracker.update(boxes, scores, emb)
        if xa == xb:  # identical boxes: the output cannot tell which is which
            continue
        ids_of_a.append(int(out.ids[np.flatnonzero(out.boxes_xyxy[:, 0] == xa)[0]]))
    return ids_of_a


@pytest.mark.parametrize("motion", [None, assoc.StateLayout.botsort()])
def test_retinatrack_embeddings_keep_identities_through_a_crossing(motion) -> None:
    ids = crossing_ids_of_a(assoc.RetinaTrackConfig(motion=motion), embeddings=True)
    assert set(ids) == {ids[0]}


def test_retinatrack_motion_model_keeps_identities_without_embeddings() -> None:
    # The paper's tracker: IoU alone with stored boxes swaps the identities at the crossing.
    paper = crossing_ids_of_a(assoc.RetinaTrackConfig(motion=None), embeddings=False)
    assert len(set(paper)) > 1
    # With the motion model the predicted boxes carry both people through.
    moving = crossing_ids_of_a(assoc.RetinaTrackConfig(), embeddings=False)
    assert set(moving) == {moving[0]}


def test_retinatrack_iou_only_mode_and_lifecycle() -> None:
    tracker = assoc.RetinaTrackTracker(assoc.RetinaTrackConfig(max_age=2, min_hits=2))
    outs = [tracker.update(*frame(box_at(10 + 3 * t))) for t in range(4)]
    assert [o.ids.tolist() for o in outs] == [[], [1], [1], [1]]
    np.testing.assert_array_equal(outs[-1].boxes_xyxy, box_at(19))  # detection box
    for _ in range(3):
        tracker.update(*frame())
    assert len(tracker.store) == 0


def test_retinatrack_empty_and_bad_input() -> None:
    tracker = assoc.RetinaTrackTracker()
    assert len(tracker.update(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 4)))) == 0
    assert len(tracker.update(np.zeros((0, 4)), np.zeros(0))) == 0
    tracker.update(*frame(box_at(0)), unit(0.0))
    with pytest.raises(ValueError, match="embeddings"):
        tracker.update(*frame(box_at(0)))
    with pytest.raises(ValueError, match="embeddings"):
        tracker.update(*frame(box_at(0)), np.zeros((1, 8)))
    with pytest.raises(ValueError, match="embeddings"):
        tracker.update(*frame(box_at(0)), np.ones((2, 8)))
    with pytest.raises(ValueError, match="boxes_xyxy"):
        tracker.update(np.array([[0.0, 0.0, 1.0, np.inf]]), [1.0], unit(0.0))
    with pytest.raises(ValueError, match="max_cosine_distance"):
        assoc.RetinaTrackConfig(max_cosine_distance=3.0)
    with pytest.raises(ValueError, match="history"):
        assoc.RetinaTrackConfig(history=0)
    tracker.reset()
    assert tracker.update(*frame(box_at(0))).ids.tolist() == [1]


def test_retinatrack_embedding_dimension_may_change_once_all_tracks_died() -> None:
    tracker = assoc.RetinaTrackTracker(assoc.RetinaTrackConfig(max_age=0))
    tracker.update(*frame(box_at(0)), np.ones((1, 4)))
    tracker.update(*frame(), np.zeros((0, 4)))  # the only track dies
    out = tracker.update(*frame(box_at(0)), np.ones((1, 16)))
    assert out.ids.tolist() == [2]
    out = tracker.update(*frame(box_at(1)), np.ones((1, 16)))
    assert out.ids.tolist() == [2]


def test_tracks_is_frozen_and_read_only() -> None:
    tracks = assoc.Tracks(np.array([3]), box_at(0), np.array([0.5]))
    with pytest.raises(AttributeError):
        tracks.ids = np.array([4])  # type: ignore[misc]
    with pytest.raises(ValueError):
        tracks.boxes_xyxy[0, 0] = 1.0
    with pytest.raises(ValueError, match="equal length"):
        assoc.Tracks(np.array([1, 2]), box_at(0), np.array([0.5]))
    assert len(assoc.Tracks.empty()) == 0


# ----------------------------------------------- RetinaTrack: IoU with history or newest box


def slow_iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def slow_cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


class SlowRetinaTrack:
    """Lu et al. 2020, sec. 3.5 written out with loops (no motion model), with this library's
    ``birth_threshold`` (an unmatched detection scoring below it starts no track) and
    ``min_hits`` (reported from the ``min_hits``-th consecutive hit on; confirmed stays
    confirmed)."""

    def __init__(self, cfg: assoc.RetinaTrackConfig) -> None:
        self.cfg = cfg
        self.tracks: list[dict] = []  # id, boxes / embeddings newest first, since, streak
        self.next_id = 1

    def similarity(self, track: dict, box: np.ndarray, emb: np.ndarray | None) -> float:
        cfg = self.cfg
        best = -np.inf
        for box_k, emb_k in zip(track["boxes"], track["embs"], strict=True):
            ref = track["boxes"][0] if cfg.iou_source == "latest" else box_k
            iou = slow_iou(ref, box)
            if emb is None:
                value = iou if iou >= cfg.min_iou else -np.inf
            else:
                cos = slow_cos(emb_k, emb)
                if 1.0 - cos > cfg.max_cosine_distance:
                    continue
                value = cfg.iou_weight * (iou if iou >= cfg.iou_truncation else 0.0)
                value += cfg.embedding_weight * cos
            best = max(best, value)
        return best

    def update(
        self, boxes: np.ndarray, embs: np.ndarray | None, scores: np.ndarray | None = None
    ) -> dict[int, int]:
        """Returns ``{detection index: track id}`` of the detections reported this frame."""
        cfg = self.cfg
        scores = np.ones(len(boxes)) if scores is None else scores
        pairs = []
        for r, track in enumerate(self.tracks):
            for c, box in enumerate(boxes):
                s = self.similarity(track, box, None if embs is None else embs[c])
                if np.isfinite(s):
                    pairs.append((-s, r, c))
        used_r, used_c, assigned = set(), set(), {}
        for _, r, c in sorted(pairs):  # best first; ties by row, then column
            if r not in used_r and c not in used_c:
                used_r.add(r)
                used_c.add(c)
                assigned[c] = r
        for track in self.tracks:
            track["since"] += 1
            track["streak"] = 0
        out = {}
        for c, box in enumerate(boxes):
            emb = None if embs is None else embs[c]
            if c in assigned:
                track = self.tracks[assigned[c]]
                track["since"] = 0
                track["streak"] = track["old_streak"] + 1
            elif cfg.birth_threshold is None or scores[c] >= cfg.birth_threshold:
                track = {"id": self.next_id, "boxes": [], "embs": [], "since": 0, "streak": 1}
                track["confirmed"] = False
                self.next_id += 1
                self.tracks.append(track)
            else:
                continue  # too weak to start a track
            track["confirmed"] = track["confirmed"] or track["streak"] >= cfg.min_hits
            track["boxes"] = [box, *track["boxes"]][: cfg.history]
            track["embs"] = [emb, *track["embs"]][: cfg.history]
            if track["confirmed"]:
                out[c] = track["id"]
        self.tracks = [t for t in self.tracks if t["since"] <= cfg.max_age]
        for track in self.tracks:
            track["old_streak"] = track["streak"]
        return out


def random_scene(seed: int, frames: int = 30) -> list[tuple[np.ndarray, np.ndarray]]:
    """Five people walking about a small area, missed at random, with drifting embeddings."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 200, (5, 2))
    vel = rng.normal(0, 6, (5, 2))
    base = rng.normal(size=(5, 8))
    scene = []
    for _ in range(frames):
        pos += vel + rng.normal(0, 2, pos.shape)
        seen = rng.random(5) > 0.25
        wh = rng.uniform(35, 45, (5, 2)) * [1.0, 2.5]
        boxes = np.concatenate([pos, pos + wh], axis=1)[seen]
        embs = (base + rng.normal(0, 0.7, base.shape))[seen]
        order = rng.permutation(len(boxes))
        scene.append((boxes[order], embs[order]))
    return scene


@pytest.mark.parametrize("iou_source", ["history", "latest"])
@pytest.mark.parametrize("embeddings", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_retinatrack_equals_a_slow_loop_reference(
    iou_source: str, embeddings: bool, seed: int
) -> None:
    cfg = assoc.RetinaTrackConfig(
        motion=None, iou_source=iou_source, history=4, max_age=5, max_cosine_distance=1.2
    )  # type: ignore[arg-type]
    fast, slow = assoc.RetinaTrackTracker(cfg), SlowRetinaTrack(cfg)
    for boxes, embs in random_scene(seed):
        e = embs if embeddings else None
        out = fast.update(boxes, np.ones(len(boxes)), e)
        ids = slow.update(boxes, e)
        assert len(ids) == len(boxes)
        assert as_box_ids(out) == {tuple(boxes[c]): i for c, i in ids.items()}


def as_box_ids(out: assoc.Tracks) -> dict[tuple[float, ...], int]:
    # Tracks come out in birth order, detections in input order: compare as box -> id.
    return {tuple(b): i for b, i in zip(out.boxes_xyxy.tolist(), out.ids.tolist(), strict=True)}


@pytest.mark.parametrize("min_hits", [1, 2, 3])
@pytest.mark.parametrize("birth", [None, 0.5, 0.8])
@pytest.mark.parametrize("embeddings", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_retinatrack_birth_threshold_and_min_hits_equal_a_slow_loop_reference(
    min_hits: int, birth: float | None, embeddings: bool, seed: int
) -> None:
    cfg = assoc.RetinaTrackConfig(
        motion=None,
        iou_source="latest",
        history=4,
        max_age=5,
        max_cosine_distance=1.2,
        birth_threshold=birth,
        min_hits=min_hits,
    )
    fast, slow = assoc.RetinaTrackTracker(cfg), SlowRetinaTrack(cfg)
    rng = np.random.default_rng(100 + seed)
    reported = 0
    for boxes, embs in random_scene(seed, frames=40):
        scores = rng.uniform(0.3, 1.0, len(boxes))
        e = embs if embeddings else None
        out = fast.update(boxes, scores, e)
        ids = slow.update(boxes, e, scores)
        assert as_box_ids(out) == {tuple(boxes[c]): i for c, i in ids.items()}
        np.testing.assert_array_equal(
            out.scores, [scores[np.flatnonzero((boxes == b).all(1))[0]] for b in out.boxes_xyxy]
        )
        reported += len(out)
    assert reported > 0


def test_retinatrack_birth_threshold_continues_but_never_starts_tracks_on_weak_detections() -> None:
    for motion in (None, assoc.StateLayout.botsort()):
        tracker = assoc.RetinaTrackTracker(
            assoc.RetinaTrackConfig(birth_threshold=0.6, motion=motion)
        )
        # A weak detection alone starts nothing; a strong one starts track 1.
        assert len(tracker.update(box_at(0), [0.4])) == 0
        assert len(tracker.store) == 0
        assert tracker.update(box_at(0), [0.7]).ids.tolist() == [1]
        # Track 1 continues on weak detections (reported with their scores); a second weak
        # person far away starts no track, a strong one does (id 2).
        out = tracker.update(np.concatenate([box_at(3), box_at(300)]), [0.3, 0.5])
        assert out.ids.tolist() == [1]
        np.testing.assert_array_equal(out.scores, [0.3])
        out = tracker.update(np.concatenate([box_at(6), box_at(300)]), [0.35, 0.6])
        assert sorted(out.ids.tolist()) == [1, 2]
        # Without the option every detection starts a track (today's tracker).
        plain = assoc.RetinaTrackTracker(assoc.RetinaTrackConfig(motion=motion))
        assert plain.update(box_at(0), [0.01]).ids.tolist() == [1]


def test_retinatrack_min_hits_reports_from_the_confirming_frame_on_never_retroactively() -> None:
    tracker = assoc.RetinaTrackTracker(assoc.RetinaTrackConfig(min_hits=3, max_age=5))
    seen = [tracker.update(box_at(10 + 3 * t), [0.9]).ids.tolist() for t in range(4)]
    assert seen == [[], [], [1], [1]]
    # A miss resets only a tentative track's streak: a confirmed track is reported on its
    # next hit, while a new track that misses needs three consecutive hits again.
    assert len(tracker.update(np.zeros((0, 4)), np.zeros(0))) == 0
    assert tracker.update(box_at(22), [0.9]).ids.tolist() == [1]
    young = assoc.RetinaTrackTracker(assoc.RetinaTrackConfig(min_hits=2, max_age=5))
    assert len(young.update(box_at(0), [0.9])) == 0
    assert len(young.update(np.zeros((0, 4)), np.zeros(0))) == 0
    assert len(young.update(box_at(2), [0.9])) == 0  # streak 1 again, still tentative
    assert young.update(box_at(4), [0.9]).ids.tolist() == [1]


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf"), "0.5", True])
def test_retinatrack_birth_threshold_is_checked(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^birth_threshold must be None or a number in"):
        assoc.RetinaTrackConfig(birth_threshold=bad)  # type: ignore[arg-type]
    assert assoc.RetinaTrackConfig().birth_threshold is None
    assert assoc.RetinaTrackConfig(birth_threshold=0).birth_threshold == 0


@pytest.mark.parametrize(("iou_source", "same_id"), [("history", True), ("latest", False)])
def test_retinatrack_iou_source_decides_whether_old_boxes_claim_detections(
    iou_source: str, same_id: bool
) -> None:
    cfg = assoc.RetinaTrackConfig(motion=None, iou_source=iou_source)  # type: ignore[arg-type]
    tracker = assoc.RetinaTrackTracker(cfg)
    for t in range(4):  # a person walks right, 20 px a frame
        assert tracker.update(*frame(box_at(20 * t))).ids.tolist() == [1]
    # It is missed; someone else stands where it was three frames ago.
    out = tracker.update(*frame(box_at(0)))
    assert out.ids.tolist() == ([1] if same_id else [2])


def test_retinatrack_iou_source_is_checked() -> None:
    with pytest.raises(ValueError, match="iou_source"):
        assoc.RetinaTrackConfig(iou_source="newest")  # type: ignore[arg-type]
    assert assoc.RetinaTrackConfig().iou_source == "history"
