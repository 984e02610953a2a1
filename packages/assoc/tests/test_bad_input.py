"""Bad input to the public API gets a one-line ValueError/TypeError naming the argument.

Each case was a raw numpy traceback (IndexError, broadcasting or ufunc error, AttributeError)
or a silently wrong result (NaN out, a string array accepted) before the api12 audit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import assoc

B = np.array([[0, 0, 10, 10], [5, 5, 15, 20], [20, 20, 30, 35.0]])
IOU = assoc.iou_matrix(B, B[:2])
APP = np.full((3, 2), 0.5)


def _kalman_inputs() -> dict[str, np.ndarray]:
    layout = assoc.StateLayout()
    r, p0, q = layout.noise_matrices()
    mean = np.zeros((3, 7))
    mean[:, :4] = assoc.boxes_to_measurements(B)
    return {
        "mean": mean,
        "covariance": np.broadcast_to(p0, (3, 7, 7)).copy(),
        "transition": layout.transition(),
        "process_noise": q,
        "measurement": assoc.boxes_to_measurements(B),
        "measurement_matrix": layout.measurement_matrix(),
        "measurement_noise": r,
    }


def _predict(**changes: Any) -> Any:
    k = {**_kalman_inputs(), **changes}
    return assoc.kalman_predict(k["mean"], k["covariance"], k["transition"], k["process_noise"])


def _update(**changes: Any) -> Any:
    k = {**_kalman_inputs(), **changes}
    return assoc.kalman_update(
        k["mean"],
        k["covariance"],
        k["measurement"],
        k["measurement_matrix"],
        k["measurement_noise"],
    )


NAN_MEAN = np.zeros((3, 7))
NAN_MEAN[0, 0] = np.nan

CASES = [
    ("iou_weight", lambda: assoc.fuse_appearance(IOU, APP, iou_weight="a")),
    ("appearance_weight", lambda: assoc.fuse_appearance(IOU, APP, appearance_weight=None)),
    ("iou_truncation", lambda: assoc.fuse_appearance(IOU, APP, iou_truncation=[0.4])),
    (
        "max_appearance_distance",
        lambda: assoc.fuse_appearance(IOU, APP, max_appearance_distance="x"),
    ),
    ("iou_weight", lambda: assoc.fused_similarity(B, B, np.eye(3), np.eye(3), iou_weight=None)),
    ("probability", lambda: assoc.chi2_gating_threshold(4, probability="0.95")),
    ("gated_cost", lambda: assoc.gate_cost(1 - IOU, IOU > 0.5, gated_cost=float("nan"))),
    ("gated_cost", lambda: assoc.gate_cost(1 - IOU, IOU > 0.5, gated_cost=-np.inf)),
    ("gated_cost", lambda: assoc.gate_cost(1 - IOU, IOU > 0.5, gated_cost="a")),
    ("iou_threshold", lambda: assoc.SortConfig(iou_threshold=None)),  # type: ignore[arg-type]
    ("report_warmup", lambda: assoc.SortConfig(report_warmup="yes")),  # type: ignore[arg-type]
    ("momentum", lambda: assoc.MotionConfig(momentum="a")),  # type: ignore[arg-type]
    ("memory_per_hit", lambda: assoc.MotionConfig(memory_per_hit=None)),  # type: ignore[arg-type]
    # api13: RetinaTrackConfig's weights were a raw "'<' not supported" TypeError for a string
    ("iou_weight", lambda: assoc.RetinaTrackConfig(iou_weight="0.5")),  # type: ignore[arg-type]
    ("embedding_weight", lambda: assoc.RetinaTrackConfig(embedding_weight=None)),  # type: ignore[arg-type]
    ("embedding_weight", lambda: assoc.RetinaTrackConfig(embedding_weight=float("nan"))),
    ("iou_weight", lambda: assoc.RetinaTrackConfig(iou_weight=-0.1)),
    ("iou_truncation", lambda: assoc.RetinaTrackConfig(iou_truncation="a")),  # type: ignore[arg-type]
    ("min_iou", lambda: assoc.RetinaTrackConfig(min_iou=float("nan"))),
    ("max_cosine_distance", lambda: assoc.RetinaTrackConfig(max_cosine_distance=[0.5])),  # type: ignore[arg-type]
    ("dt", lambda: assoc.StateLayout(dt="1")),  # type: ignore[arg-type]
    ("velocity_of", lambda: assoc.StateLayout(velocity_of=None)),  # type: ignore[arg-type]
    ("process_noise", lambda: assoc.StateLayout(process_noise="abc")),  # type: ignore[arg-type]
    ("measurements", lambda: assoc.measurements_to_boxes(np.array([[1.0, 1.0, np.nan, 1.0]]))),
    ("measurements", lambda: assoc.measurements_to_boxes(np.array([["1", "2", "3", "4"]]))),
    ("values", lambda: assoc.reduce_by_owner(np.array([[np.nan]]), np.array([0]), 1)),
    ("values", lambda: assoc.reduce_by_owner(np.array([["a"]]), np.array([0]), 1)),
    ("length", lambda: assoc.gsi_length_scale(10.0, np.array(["3", "5"]))),
    ("boxes_a", lambda: assoc.iou_xywh(B[:, :3], B)),
    ("boxes_b", lambda: assoc.iou_xywh(B, None)),
    ("boxes_a and boxes_b", lambda: assoc.iou_xywh(B[:0], B[:2])),
    ("mean", lambda: _predict(mean=NAN_MEAN)),
    ("covariance", lambda: _predict(covariance=np.eye(7))),
    ("transition", lambda: _predict(transition=None)),
    ("process_noise", lambda: _predict(process_noise=np.eye(6))),
    ("measurement", lambda: _update(measurement=np.zeros((2, 4)))),
    ("measurement_matrix", lambda: _update(measurement_matrix="H")),
    ("measurement_noise", lambda: _update(measurement_noise=np.full((4, 4), np.inf))),
    ("boxes_xyxy", lambda: assoc.Tracks(np.array([1]), np.array([[0, 0, np.nan, 1.0]]), [0.5])),
    ("boxes_xyxy", lambda: assoc.Tracks(np.array([1, 2, 3]), B.reshape(-1), np.ones(3))),
    ("scores", lambda: assoc.Tracks(np.array([1]), B[:1], np.array([np.inf]))),
    ("ids", lambda: assoc.Tracks(np.array(["a"]), B[:1], np.ones(1))),
]


@pytest.mark.parametrize(("name", "call"), CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_bad_input_is_a_one_line_error_naming_the_argument(name: str, call: Any) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value)
    assert name in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "index",
    [
        np.ones(5, bool),
        np.ones((1, 6), bool),
        np.array([0.5]),
        np.array(["a"]),
        None,
        "x",
        np.array([[0, 1]]),
        np.array([6]),
        np.array([-7]),
    ],
)
def test_sequence_tracks_select_rejects_bad_index(index: Any) -> None:
    tracks = assoc.SequenceTracks(
        np.array([1, 2, 4, 1, 2, 3]),
        np.array([1, 1, 1, 2, 2, 2]),
        np.vstack([B, B + 1]),
        np.linspace(0.5, 0.9, 6),
    )
    with pytest.raises(ValueError, match="mask_or_index"):
        tracks.select(index)
    assert len(tracks.select(np.array([0, -1])).frames) == 2
    assert len(tracks.select([]).frames) == 0


def test_checked_kalman_functions_equal_the_filter() -> None:
    k = _kalman_inputs()
    mean, cov = _predict()
    kf = assoc.BatchedKalmanFilter()
    kf.initiate(B)
    kf.predict()
    np.testing.assert_array_equal(mean, kf.mean)
    np.testing.assert_array_equal(cov, kf.covariance)
    new_mean, _ = _update(mean=mean, covariance=cov)
    kf.update(np.arange(3), B)
    np.testing.assert_allclose(new_mean, kf.mean, rtol=1e-12, atol=1e-9)
    assert k["mean"].shape == (3, 7)


def test_iou_xywh_keeps_its_unvalidated_values_contract() -> None:
    a = np.array([[0.0, 0.0, 10.0, 10.0], [np.nan] * 4])
    out = assoc.iou_xywh(a, a[:1])
    assert out[0] == 1.0 and np.isnan(out[1])  # documented: callers filter absent boxes
