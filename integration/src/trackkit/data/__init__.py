"""Tracking data: the `Sequence` type, dataset readers, synthetic scenes, crops, samplers,
default data roots and MOT identities as single-object sequences.

Coordinate convention: every box in trackkit is ``float64`` in 0-based pixel coordinates
(pixel ``(i, j)`` covers ``[i, i+1) x [j, j+1)``); ``boxes_xywh`` = top-left corner, width,
height; ``boxes_xyxy`` = corners. Readers convert 1-based benchmark files (OTB-2015, UAV123,
DTB70, LaSOT, MOTChallenge) on reading; writers convert back. Frames are ``HxWx3`` uint8 BGR
arrays, read with OpenCV when accessed.
"""

from trackkit.data._benchmarks import (
    OTB_START_FRAMES,
    polygons_to_xywh,
    read_got10k,
    read_lasot,
    read_otb,
    read_trackingnet,
    read_uav123,
    read_vot,
)
from trackkit.data._camera_motion import estimate_camera_motion
from trackkit.data._crop import (
    boxes_from_crop,
    boxes_to_crop,
    context_size,
    crop_and_resize,
    enlarge_boxes_xywh,
    search_region_xywh,
)
from trackkit.data._dataset import Dataset
from trackkit.data._identities import mot_track_sequences
from trackkit.data._mot import (
    MOT17_CLASSES,
    MOTRows,
    MOTSequence,
    is_mot_sequence,
    read_mot_rows,
    read_motchallenge,
    read_seqinfo,
    write_mot_rows,
)
from trackkit.data._roots import default_data_root, default_mot_root
from trackkit.data._samplers import (
    EpisodeIndex,
    IdentityTasks,
    PairIndex,
    sample_episodes,
    sample_identity_tasks,
    sample_pairs,
)
from trackkit.data._sequence import ArrayFrames, FrameSource, ImageFiles, Sequence, read_image
from trackkit.data._simple import list_images, read_simple_sot
from trackkit.data._synthetic_mot import synthetic_mot_sequence
from trackkit.data._synthetic_sot import synthetic_sot_sequence
from trackkit.data._text import read_numeric_rows
from trackkit.data._video import (
    AnnotatedVideoWriter,
    VideoFrames,
    draw_boxes,
    id_color,
    open_frames,
)

__all__ = [
    "MOT17_CLASSES",
    "OTB_START_FRAMES",
    "AnnotatedVideoWriter",
    "ArrayFrames",
    "Dataset",
    "EpisodeIndex",
    "FrameSource",
    "IdentityTasks",
    "ImageFiles",
    "MOTRows",
    "MOTSequence",
    "PairIndex",
    "Sequence",
    "VideoFrames",
    "boxes_from_crop",
    "boxes_to_crop",
    "context_size",
    "crop_and_resize",
    "default_data_root",
    "default_mot_root",
    "draw_boxes",
    "enlarge_boxes_xywh",
    "estimate_camera_motion",
    "id_color",
    "is_mot_sequence",
    "list_images",
    "mot_track_sequences",
    "open_frames",
    "polygons_to_xywh",
    "read_got10k",
    "read_image",
    "read_lasot",
    "read_mot_rows",
    "read_motchallenge",
    "read_numeric_rows",
    "read_otb",
    "read_seqinfo",
    "read_simple_sot",
    "read_trackingnet",
    "read_uav123",
    "read_vot",
    "sample_episodes",
    "sample_identity_tasks",
    "sample_pairs",
    "search_region_xywh",
    "synthetic_mot_sequence",
    "synthetic_sot_sequence",
    "write_mot_rows",
]
