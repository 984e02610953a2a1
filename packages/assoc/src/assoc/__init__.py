"""Association for multi-object tracking, in numpy.

Cost matrices on ``boxes_xyxy`` arrays (IoU, GIoU, cosine distance, RetinaTrack's fused
similarity, Mahalanobis gating), greedy and Hungarian matching, a constant-velocity box Kalman
filter batched over all tracks, a track store with a lifecycle and per-track history, and three
trackers composed from these parts (SORT-style, RetinaTrack-style, and `MotionTracker` with
ByteTrack's, OC-SORT's and BoT-SORT's mechanisms as options).
"""

from ._costs import (
    cosine_distance,
    cosine_similarity,
    fused_similarity,
    giou_matrix,
    iou_matrix,
)
from ._gating import chi2_gating_threshold, gate_cost, mahalanobis_gate, squared_mahalanobis
from ._kalman import BatchedKalmanFilter, kalman_predict, kalman_update
from ._layout import StateLayout, boxes_to_measurements, measurements_to_boxes
from ._matching import MatchResult, greedy_match, hungarian_match
from ._motion import MotionConfig, MotionTracker
from ._retinatrack import RetinaTrackConfig, RetinaTrackTracker
from ._sort import SortConfig, SortTracker
from ._store import History, TrackState, TrackStore, reduce_by_owner
from ._tracks import Tracks

__version__ = "0.1.0"

__all__ = [
    "BatchedKalmanFilter",
    "History",
    "MatchResult",
    "MotionConfig",
    "MotionTracker",
    "RetinaTrackConfig",
    "RetinaTrackTracker",
    "SortConfig",
    "SortTracker",
    "StateLayout",
    "TrackState",
    "TrackStore",
    "Tracks",
    "boxes_to_measurements",
    "chi2_gating_threshold",
    "cosine_distance",
    "cosine_similarity",
    "fused_similarity",
    "gate_cost",
    "giou_matrix",
    "greedy_match",
    "hungarian_match",
    "iou_matrix",
    "kalman_predict",
    "kalman_update",
    "mahalanobis_gate",
    "measurements_to_boxes",
    "reduce_by_owner",
    "squared_mahalanobis",
]
