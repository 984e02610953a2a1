"""MotionTracker: each mechanism in a scripted scenario where it matters; filter equality;
properties of the two-stage matching; bad input."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import assoc
from assoc._motion import _BlockKalman


def box(cx: float, cy: float, w: float = 40.0, h: float = 100.0) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def run(tracker: assoc.MotionTracker, frames, **kwargs) -> list[assoc.Tracks]:
    out = []
    for item in frames:
        boxes, scores = item[0], item[1]
        extra = dict(kwargs)
        if len(item) > 2:
            extra["camera_motion"] = item[2]
        out.append(tracker.update(np.array(boxes).reshape(-1, 4), np.array(scores), **extra))
    return out


# -- the filter -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layout", [assoc.StateLayout.sort(), assoc.StateLayout.deepsort(), assoc.StateLayout.botsort()]
)
def test_block_filter_equals_batched_filter(layout: assoc.StateLayout) -> None:
    rng = np.random.default_rng(3)
    n = 9
    corner = rng.uniform(0, 500, size=(n, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(20, 120, size=(n, 2))], axis=1)
    full = assoc.BatchedKalmanFilter(layout)
    block = _BlockKalman(layout)
    full.initiate(boxes)
    block.initiate(assoc.boxes_to_measurements(boxes, layout.measurement))
    for _ in range(25):
        full.freeze_shrinking_sizes()
        full.predict()
        block.freeze_shrinking_sizes()
        block.predict()
        boxes = boxes + rng.normal(0, 2, size=(n, 4)) + np.array([2.0, 1.0, 2.0, 1.0])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 5.0)
        rows = np.flatnonzero(rng.random(n) < 0.6)
        full.update(rows, boxes[rows])
        block.update(rows, assoc.boxes_to_measurements(boxes[rows], layout.measurement))
        mean, cov = block.full()
        np.testing.assert_allclose(mean, full.mean, rtol=1e-9, atol=1e-7)
        np.testing.assert_allclose(cov, full.covariance, rtol=1e-8, atol=1e-6)


# -- ByteTrack: low-score detections continue a track through an occlusion -------------------


def occluded_walk(low_score: float) -> list:
    """One person walking right; frames 10-14 partly occluded: the detector's score drops."""
    frames = []
    for t in range(25):
        score = low_score if 10 <= t < 15 else 0.9
        frames.append(([box(100 + 4 * t, 200)], [score]))
    return frames


def test_low_score_detection_continues_track_through_occlusion() -> None:
    two = run(assoc.MotionTracker(assoc.MotionConfig.bytetrack()), occluded_walk(0.3))
    one = run(
        assoc.MotionTracker(assoc.MotionConfig.bytetrack().with_options(two_stage=False)),
        occluded_walk(0.3),
    )
    # Two stages: the track is reported on every occluded frame, with one identity throughout.
    assert all(len(t) == 1 for t in two[1:])
    assert {int(t.ids[0]) for t in two} == {1}
    # One stage drops the low detections: the track is not reported during the occlusion.
    assert all(len(t) == 0 for t in one[10:15])


def test_low_score_detection_never_starts_a_track() -> None:
    tracker = assoc.MotionTracker(assoc.MotionConfig.bytetrack())
    out = run(tracker, [([box(100, 100)], [0.3])] * 5)
    assert all(len(t) == 0 for t in out)
    assert len(tracker.store) == 0


# -- OC-SORT: re-update after a gap corrects the velocity ------------------------------------


def turn_behind_occluder() -> list:
    """Walks right at 6 px/frame, unseen for 8 frames during which it turns to walk down at 6
    px/frame; reappears 48 px lower, then keeps walking down."""
    frames = []
    x, y = 100.0, 100.0
    for t in range(40):
        if t < 12:
            x += 6
        else:
            y += 6
        visible = not 12 <= t < 20
        frames.append(([box(x, y)] if visible else [], [0.9] if visible else []))
    return frames


def test_re_update_after_gap_equals_replay_reference_and_corrects_velocity() -> None:
    """ORU: after the gap the filter equals a BatchedKalmanFilter restarted from the last
    observation and run over the interpolated virtual path (slow reference, written out)."""
    layout = assoc.StateLayout.botsort()
    base = assoc.MotionConfig.ocsort().with_options(
        momentum=0.0, layout=layout, recovery_iou=0.1, reconfirm_hits=0
    )
    frames = turn_behind_occluder()
    tracker = assoc.MotionTracker(base.with_options(re_update=True))
    run(tracker, frames[:12])  # last observation at frame 11
    saved_mean, saved_cov = tracker._saved.full()
    last_box = tracker.store.latest_boxes_xyxy()[0]
    run(tracker, frames[12:20])  # unseen
    new_box = np.array(frames[20][0][0])
    out = run(tracker, frames[20:21])
    assert [int(i) for i in out[0].ids] == [1]
    reference = assoc.BatchedKalmanFilter(layout)
    reference.mean, reference.covariance = saved_mean.copy(), saved_cov.copy()
    gap = 9
    for k in range(1, gap):
        reference.freeze_shrinking_sizes()
        reference.predict()
        virtual = last_box + k / gap * (new_box - last_box)
        reference.update(np.array([0]), virtual[None])
    reference.freeze_shrinking_sizes()
    reference.predict()
    reference.update(np.array([0]), new_box[None])
    mean, cov = tracker.state()
    np.testing.assert_allclose(mean, reference.mean, rtol=1e-9, atol=1e-7)
    np.testing.assert_allclose(cov, reference.covariance, rtol=1e-8, atol=1e-6)
    # The velocity before the gap pointed right (vy = 0); after the re-update it points down.
    assert saved_mean[0, 5] == pytest.approx(0.0, abs=1e-9)
    assert mean[0, 5] > 2.0


def test_momentum_bonus_is_ocsorts_angle_term() -> None:
    """OC-SORT eq. 6 by hand: direction of the track from its observation delta_t = 3 steps
    back to the newest; direction from the observation 2 steps back to each detection; bonus
    lambda * score * (pi/2 - angle) / pi."""
    cfg = assoc.MotionConfig.ocsort().with_options(min_hits=1)
    tracker = assoc.MotionTracker(cfg)
    centres = [(100, 200), (110, 200), (120, 200), (130, 200)]
    for c in centres:
        tracker.update(np.array([box(*c)]), np.array([0.9]))
    dets = np.array([box(140, 200), box(120, 230), box(100, 200)])
    scores = np.array([0.9, 0.8, 0.5])
    bonus = tracker._momentum_bonus(dets, scores, np.array([0]))[0]
    velocity = np.array([1.0, 0.0])  # (130 - 100, 0) normalised
    anchor = np.array([110.0, 200.0])  # 2 steps back from the newest
    expected = []
    for (cx, cy), s in zip([(140, 200), (120, 230), (100, 200)], scores):
        d = np.array([cx, cy]) - anchor
        angle = np.arccos(np.dot(d, velocity) / np.linalg.norm(d))
        expected.append(0.2 * s * (np.pi / 2 - angle) / np.pi)
    np.testing.assert_allclose(bonus, expected, atol=1e-12)
    assert bonus[0] > 0 > bonus[2]  # along the motion rewarded, against it penalised


# -- lost tracks --------------------------------------------------------------------------


@pytest.mark.parametrize("lost_last, expected", [(True, 2), (False, 1)])
def test_lost_last_gives_active_tracks_first_pick(lost_last: bool, expected: int) -> None:
    """Person 1 stands at x = 100 and is hidden from frame 8 by person 2, who walks left
    10 px/frame and reaches x = 100 at frame 10. The lost track's stale prediction overlaps
    person 2's detection better than person 2's own prediction: one joint assignment hands
    the detection to the lost track (an identity switch), the cascade does not."""
    frames = []
    for t in range(11):
        walker = box(200 - 10 * t, 200)
        if t < 8:
            frames.append(([box(100, 200), walker], [0.9, 0.9]))
        else:
            frames.append(([walker], [0.9]))
    cfg = assoc.MotionConfig.bytetrack().with_options(lost_last=lost_last)
    out = run(assoc.MotionTracker(cfg), frames)
    assert [int(i) for i in out[-1].ids] == [expected]


# -- BoT-SORT: camera motion keeps identities under a global shift --------------------------


def panning_scene(shift: float) -> list:
    """Three people standing still while the camera pans by `shift` px per frame from frame 5."""
    frames = []
    offset = 0.0
    for t in range(15):
        step = shift if t >= 5 else 0.0
        offset -= step
        boxes = [box(100 + offset, 200), box(150 + offset, 200), box(200 + offset, 200)]
        affine = np.array([[1.0, 0.0, -step], [0.0, 1.0, 0.0]])
        frames.append((boxes, [0.9] * 3, affine))
    return frames


def test_camera_motion_keeps_identities_under_global_shift() -> None:
    frames = panning_scene(shift=35.0)
    with_cmc = run(assoc.MotionTracker(assoc.MotionConfig.botsort()), frames)
    without = run(assoc.MotionTracker(assoc.MotionConfig.botsort()), [f[:2] for f in frames])
    ids_with = {int(i) for t in with_cmc for i in t.ids}
    ids_without = {int(i) for t in without for i in t.ids}
    assert ids_with == {1, 2, 3}
    assert len(ids_without) > 3  # a 35 px jump on 40 px wide boxes breaks every track


def test_camera_motion_identity_matrix_changes_nothing() -> None:
    frames = turn_behind_occluder()
    plain = run(assoc.MotionTracker(), frames)
    eye = run(assoc.MotionTracker(), [(b, s, np.eye(3)) for b, s in frames])
    for a, b in zip(plain, eye):
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_allclose(a.boxes_xyxy, b.boxes_xyxy)


# -- embeddings ---------------------------------------------------------------------------


def test_embeddings_resolve_a_crossing() -> None:
    """Two people cross; IoU alone swaps them, BoT-SORT's fused appearance cost does not."""
    cfg = assoc.MotionConfig.botsort().with_options(match_iou=0.1)
    emb_a, emb_b = np.array([1.0, 0.0, 0.1]), np.array([0.0, 1.0, 0.1])
    frames, embs = [], []
    for t in range(12):
        # A moves right fast, B stands; at t = 6 A's prediction overlaps B.
        a = box(100 + 8 * t, 200) if t < 6 else box(140, 200)
        b = box(150, 200)
        frames.append(([a, b], [0.9, 0.9]))
        embs.append(np.stack([emb_a, emb_b]))
    tracker = assoc.MotionTracker(cfg)
    out = [tracker.update(np.array(f[0]), np.array(f[1]), e) for f, e in zip(frames, embs)]
    last = out[-1]
    order = np.argsort(last.boxes_xyxy[:, 0])
    assert [int(i) for i in last.ids[order]] == [1, 2]


# -- properties of the two-stage matcher ----------------------------------------------------


@st.composite
def scenes(draw):
    n_frames = draw(st.integers(1, 6))
    frames = []
    for _ in range(n_frames):
        m = draw(st.integers(0, 6))
        xy = draw(st.lists(st.tuples(st.floats(0, 200), st.floats(0, 200)), min_size=m, max_size=m))
        wh = draw(st.lists(st.tuples(st.floats(5, 60), st.floats(5, 60)), min_size=m, max_size=m))
        sc = draw(st.lists(st.floats(0, 1), min_size=m, max_size=m))
        boxes = np.array([[x, y, x + w, y + h] for (x, y), (w, h) in zip(xy, wh)]).reshape(-1, 4)
        frames.append((boxes, np.array(sc)))
    return frames


@given(scenes(), st.sampled_from(["bytetrack", "ocsort", "botsort", "default"]))
def test_two_stage_matcher_properties(frames, preset: str) -> None:
    cfg = assoc.MotionConfig() if preset == "default" else getattr(assoc.MotionConfig, preset)()
    tracker = assoc.MotionTracker(cfg.with_options(min_hits=1))
    for boxes, scores in frames:
        before = set(tracker.store.ids.tolist())
        out = tracker.update(boxes, scores)
        ids = out.ids.tolist()
        assert len(ids) == len(set(ids))  # no track twice
        # Each reported track owns one detection (no detection used twice), with a score
        # that passed the thresholds; new tracks only from detections above the birth score.
        det_used = [int(np.argmin(np.abs(scores - s))) for s in out.scores] if len(out) else []
        assert len(out) <= len(boxes)
        floor = cfg.low_threshold if cfg.two_stage else cfg.high_threshold
        assert np.all(out.scores >= floor - 1e-12)
        for track_id, s in zip(ids, out.scores):
            if track_id not in before:
                assert s >= cfg.new_track_threshold
        del det_used
        latest = tracker.store.latest_boxes_xyxy()[tracker.store.time_since_update == 0]
        if len(latest):
            # Every matched track stores a detection box of this frame, and no box more often
            # than the frame holds it (identical detections may feed one track each).
            matched = Counter(tuple(np.round(b, 6)) for b in latest)
            frame_boxes = Counter(tuple(np.round(b, 6)) for b in boxes)
            assert all(n <= frame_boxes[b] for b, n in matched.items())


@pytest.mark.parametrize("shift, matched", [(14.0, False), (8.0, True)])
def test_second_stage_respects_its_iou_threshold(shift: float, matched: bool) -> None:
    cfg = assoc.MotionConfig.bytetrack()
    tracker = assoc.MotionTracker(cfg)
    for _ in range(3):
        tracker.update(np.array([box(100, 100)]), np.array([0.9]))
    shifted = box(100 + shift, 100)
    iou = assoc.iou_matrix(np.array([box(100, 100)]), np.array([shifted]))[0, 0]
    assert (iou >= cfg.second_iou) == matched  # 0.48 and 0.67 against second_iou = 0.5
    out = tracker.update(np.array([shifted]), np.array([0.3]))
    assert [int(i) for i in out.ids] == ([1] if matched else [])


# -- lost tracks: re-confirmation, velocity damping, memory that grows with evidence ------


def walk_with_gap(gap: range, frames: int = 20) -> list:
    """One person walking right 5 px per frame, unseen during ``gap``."""
    return [
        ([] if t in gap else [box(100 + 5 * t, 200)], [] if t in gap else [0.9])
        for t in range(frames)
    ]


@pytest.mark.parametrize("reconfirm, first_report", [(0, 10), (1, 10), (3, 12)])
def test_reconfirm_hits_delays_reporting_after_a_gap(reconfirm: int, first_report: int) -> None:
    """SORT/OC-SORT's rule: after a gap the track is reported again once it has
    ``reconfirm_hits`` consecutive matches; its identity is kept either way."""
    config = assoc.MotionConfig().with_options(max_age=30, reconfirm_hits=reconfirm)
    out = run(assoc.MotionTracker(config), walk_with_gap(range(6, 10)))
    reported = [t for t, tracks in enumerate(out) if len(tracks)]
    assert reported == [*range(0, 6), *range(first_report, 20)]
    assert {int(i) for t in reported for i in out[t].ids} == {1}


def test_lost_velocity_decay_scales_the_velocity_of_lost_tracks_only() -> None:
    frames = walk_with_gap(range(8, 20))
    damped = assoc.MotionTracker(assoc.MotionConfig().with_options(lost_velocity_decay=0.5))
    plain = assoc.MotionTracker(assoc.MotionConfig())
    run(damped, frames[:8])
    run(plain, frames[:8])
    np.testing.assert_array_equal(damped.state()[0], plain.state()[0])  # never lost so far
    run(damped, frames[8:9])  # first miss: predicted with the full velocity
    run(plain, frames[8:9])
    np.testing.assert_array_equal(damped.state()[0], plain.state()[0])
    vx = plain.state()[0][0, 4]
    assert vx > 3.0
    run(damped, frames[9:10])  # lost since last frame: velocity halved before predicting
    run(plain, frames[9:10])
    assert damped.state()[0][0, 4] == pytest.approx(vx / 2, rel=1e-12)
    x_damped, x_plain = damped.state()[0][0, 0], plain.state()[0][0, 0]
    assert x_plain - x_damped == pytest.approx(vx / 2, rel=1e-9)


def test_memory_per_hit_drops_short_tracks_and_keeps_established_ones() -> None:
    """Two people: A seen 10 frames, B 2 frames, both unseen from frame 10. With
    ``memory_per_hit = 1`` B is removed after 2 missed frames, A after 10 (``max_age`` 30)."""
    frames = []
    for t in range(25):
        boxes = [box(100 + 5 * t, 200)] if t < 10 else []
        boxes += [box(600, 200)] if 8 <= t < 10 else []
        frames.append((boxes, [0.9] * len(boxes)))
    config = assoc.MotionConfig().with_options(max_age=30, memory_per_hit=1.0)
    tracker = assoc.MotionTracker(config)
    alive = []
    for item in frames:
        run(tracker, [item])
        alive.append(sorted(int(i) for i in tracker.store.ids))
    assert alive[9] == [1, 2]
    assert alive[11] == [1, 2] and alive[12] == [1]  # B: 2 hits, gone after 2 misses
    assert alive[19] == [1] and alive[20] == []  # A: 10 hits, gone after 10 misses
    plain = assoc.MotionTracker(assoc.MotionConfig().with_options(max_age=30))
    run(plain, frames)
    assert sorted(int(i) for i in plain.store.ids) == [1, 2]


@pytest.mark.parametrize("gate, same_id", [(None, True), (0.95, False), (0.999999, True)])
def test_lost_gate_rejects_implausible_sizes_for_lost_tracks(gate, same_id: bool) -> None:
    """A person standing still, unseen for 2 frames, then a box half the size at the same
    centre: IoU 0.25 passes the IoU gate, but the height is about 3.8 predicted standard
    deviations off, so the 95 % chi-square gate refuses it (a very wide gate does not)."""
    frames = [([box(100, 200)], [0.9])] * 10 + [([], [])] * 2
    frames += [([box(100, 200, w=20.0, h=50.0)], [0.9])]
    tracker = assoc.MotionTracker(assoc.MotionConfig().with_options(lost_gate=gate))
    run(tracker, frames)
    assert sorted(int(i) for i in tracker.store.ids[tracker.store.time_since_update == 0]) == (
        [1] if same_id else [2]
    )


def test_ocsort_preset_drops_detections_below_det_thresh() -> None:
    """OC-SORT's ``det_thresh`` 0.6: a 0.5 detection neither starts nor continues a track."""
    tracker = assoc.MotionTracker(assoc.MotionConfig.ocsort())
    run(tracker, [([box(100, 200)], [0.5])] * 3)
    assert len(tracker.store) == 0
    run(tracker, [([box(100, 200)], [0.7])])
    assert len(tracker.store) == 1


def test_re_update_of_several_tracks_equals_one_tracker_per_track() -> None:
    """The vectorised replay (tracks with different gaps at once) equals replaying each track
    alone: three far-apart people with gaps of 2, 5 and 9 frames, all re-found together."""

    def person(x0: float, gap: int, frames: int = 30) -> list:
        seen = [t for t in range(frames) if not 20 - gap <= t < 20]
        return [([box(x0 + 6 * t, 200 + 2 * t)] if t in seen else []) for t in range(frames)]

    people = [person(100, 2), person(700, 5), person(1300, 9)]
    config = assoc.MotionConfig().with_options(max_age=30)
    together = assoc.MotionTracker(config)
    for t in range(30):
        boxes = [b for p in people for b in p[t]]
        together.update(np.array(boxes).reshape(-1, 4), np.full(len(boxes), 0.9))
    mean, cov = together.state()
    for row, p in enumerate(people):
        alone = assoc.MotionTracker(config)
        for t in range(30):
            alone.update(np.array(p[t]).reshape(-1, 4), np.full(len(p[t]), 0.9))
        mean_1, cov_1 = alone.state()
        np.testing.assert_array_equal(mean[row], mean_1[0])
        np.testing.assert_array_equal(cov[row], cov_1[0])


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"high_threshold": 1.5}, "high_threshold"),
        ({"low_threshold": 0.9}, "low_threshold"),
        ({"momentum": -1.0}, "momentum"),
        ({"max_age": -1}, "max_age"),
        ({"lost_iou": 2.0}, "lost_iou"),
        ({"report": "box"}, "report"),
        ({"backend": "x"}, "backend"),
        ({"layout": "xywh"}, "layout"),
        ({"history": 1, "momentum": 0.2, "delta_t": 3}, "history"),
        ({"two_stage": 1}, "two_stage"),
        ({"reconfirm_hits": -1}, "reconfirm_hits"),
        ({"lost_velocity_decay": 1.5}, "lost_velocity_decay"),
        ({"memory_per_hit": -0.5}, "memory_per_hit"),
        ({"memory_per_hit": float("nan")}, "memory_per_hit"),
        ({"lost_gate": 1.0}, "lost_gate"),
        ({"lost_gate": 0}, "lost_gate"),
    ],
)
def test_bad_config(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        assoc.MotionConfig(**kwargs)


def test_bad_update_input() -> None:
    tracker = assoc.MotionTracker()
    with pytest.raises(ValueError, match="boxes_xyxy"):
        tracker.update(np.array([[0.0, 0.0, 0.0, 5.0]]), np.array([0.9]))
    with pytest.raises(ValueError, match="boxes_xyxy"):
        tracker.update(np.array([[0.0, 0.0, np.nan, 5.0]]), np.array([0.9]))
    with pytest.raises(ValueError, match="scores"):
        tracker.update(np.array([box(10, 10)]), np.array([0.9, 0.8]))
    with pytest.raises(ValueError, match="camera_motion"):
        tracker.update(np.array([box(10, 10)]), np.array([0.9]), camera_motion=np.eye(2))
    with pytest.raises(ValueError, match="camera_motion"):
        tracker.update(np.array([box(10, 10)]), np.array([0.9]), camera_motion=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="config"):
        assoc.MotionTracker(assoc.SortConfig())  # type: ignore[arg-type]
    tracker.update(np.array([box(10, 10)]), np.array([0.9]))
    with pytest.raises(ValueError, match="embeddings"):
        tracker.update(np.array([box(10, 10)]), np.array([0.9]), np.ones((1, 4)))


def test_empty_frames_and_reset() -> None:
    tracker = assoc.MotionTracker()
    assert len(tracker.update(np.zeros((0, 4)), np.zeros(0))) == 0
    run(tracker, occluded_walk(0.3))
    tracker.reset()
    out = run(tracker, occluded_walk(0.3))
    assert {int(i) for t in out for i in t.ids} == {1}
