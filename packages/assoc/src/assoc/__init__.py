"""Association for multi-object tracking, in numpy.

Cost matrices on ``boxes_xyxy`` arrays (IoU, GIoU, cosine distance, RetinaTrack's fused
similarity, Mahalanobis gating), greedy and Hungarian matching, a constant-velocity box Kalman
filter batched over all tracks, a track store with a lifecycle and per-track history, three
trackers composed from these parts (SORT-style, RetinaTrack-style, and `MotionTracker` with
ByteTrack's, OC-SORT's and BoT-SORT's mechanisms as options), and offline post-processing of
finished tracks (`SequenceTracks`: gap interpolation, short-track removal, Gaussian-process
smoothing).

References:
    Bewley, A., Ge, Z., Ott, L., Ramos, F., Upcroft, B. 2016. Simple Online and Realtime Tracking.
        ICIP 2016. arXiv:1602.00763.
    Wojke, N., Bewley, A., Paulus, D. 2017. Simple Online and Realtime Tracking with a Deep
        Association Metric. ICIP 2017. arXiv:1703.07402.
    Zhang, Y., Sun, P., Jiang, Y., Yu, D., Weng, F., Yuan, Z., Luo, P., Liu, W., Wang, X. 2022.
        ByteTrack: Multi-Object Tracking by Associating Every Detection Box. ECCV 2022.
        arXiv:2110.06864.
    Cao, J., Pang, J., Weng, X., Khirodkar, R., Kitani, K. 2023. Observation-Centric SORT:
        Rethinking SORT for Robust Multi-Object Tracking. CVPR 2023. arXiv:2203.14360.
    Du, Y., Zhao, Z., Song, Y., Zhao, Y., Su, F., Gong, T., Meng, H. 2023. StrongSORT: Make
        DeepSORT Great Again. IEEE Transactions on Multimedia 25. arXiv:2202.13514.
    Aharon, N., Orfaig, R., Bobrovsky, B.-Z. 2022. BoT-SORT: Robust Associations Multi-Pedestrian
        Tracking. arXiv:2206.14651.
    Lu, Z., Rathod, V., Votel, R., Huang, J. 2020. RetinaTrack: Online Single Stage Joint Detection
        and Tracking. CVPR 2020. arXiv:2003.13870.
    Rezatofighi, H., Tsoi, N., Gwak, J., Sadeghian, A., Reid, I., Savarese, S. 2019. Generalized
        Intersection over Union: A Metric and A Loss for Bounding Box Regression. CVPR 2019.
        arXiv:1902.09630.
    Kuhn, H. W. 1955. The Hungarian Method for the Assignment Problem. Naval Research Logistics
        Quarterly 2. no arXiv.
    Jonker, R., Volgenant, A. 1987. A Shortest Augmenting Path Algorithm for Dense and Sparse Linear
        Assignment Problems. Computing 38. no arXiv.
"""

from ._costs import (
    cosine_distance,
    cosine_similarity,
    fused_similarity,
    giou_matrix,
    iou_matrix,
    iou_xywh,
)
from ._fuse import fuse_appearance
from ._gating import chi2_gating_threshold, gate_cost, mahalanobis_gate, squared_mahalanobis
from ._kalman import BatchedKalmanFilter, kalman_predict, kalman_update
from ._layout import StateLayout, boxes_to_measurements, measurements_to_boxes
from ._matching import MatchResult, greedy_match, hungarian_match
from ._motion import MotionConfig, MotionTracker
from ._postprocess import (
    SequenceTracks,
    drop_short_tracks,
    gsi_length_scale,
    interpolate_tracks,
    postprocess_tracks,
    smooth_tracks,
)
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
    "SequenceTracks",
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
    "drop_short_tracks",
    "fuse_appearance",
    "fused_similarity",
    "gate_cost",
    "giou_matrix",
    "greedy_match",
    "gsi_length_scale",
    "hungarian_match",
    "interpolate_tracks",
    "iou_matrix",
    "iou_xywh",
    "kalman_predict",
    "kalman_update",
    "mahalanobis_gate",
    "measurements_to_boxes",
    "postprocess_tracks",
    "reduce_by_owner",
    "smooth_tracks",
    "squared_mahalanobis",
]
