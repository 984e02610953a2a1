"""Training recipes: offline MAML (and the plain-GD baseline) for the paper-000 trackers."""

from trackkit.train._cache import CacheConfig, FeatureCache, build_feature_cache, sample_cache_pairs
from trackkit.train._data import (
    DEFAULT_HOLDOUT,
    default_data_root,
    default_mot_root,
    mot_track_sequences,
    synthetic_training_sequences,
    training_sequences,
)
from trackkit.train._maml import MAMLTrainConfig, train_instance_detector
from trackkit.train._retinatrack import (
    RETINATRACK_TRAIN_SEQUENCES,
    RETINATRACK_VALIDATION_SEQUENCES,
    RetinaTrackTrainConfig,
    load_retinatrack_sequences,
    retinatrack_losses,
    train_retinatrack,
)
from trackkit.train._retinatrack_data import ClipBatch, ClipConfig, MOTClipSampler
from trackkit.train._select import (
    VALIDATION_SEQUENCES,
    choose_lost_threshold,
    validation_sequences,
)

__all__ = [
    "DEFAULT_HOLDOUT",
    "RETINATRACK_TRAIN_SEQUENCES",
    "RETINATRACK_VALIDATION_SEQUENCES",
    "VALIDATION_SEQUENCES",
    "CacheConfig",
    "ClipBatch",
    "ClipConfig",
    "FeatureCache",
    "MAMLTrainConfig",
    "MOTClipSampler",
    "RetinaTrackTrainConfig",
    "build_feature_cache",
    "choose_lost_threshold",
    "default_data_root",
    "default_mot_root",
    "load_retinatrack_sequences",
    "mot_track_sequences",
    "retinatrack_losses",
    "sample_cache_pairs",
    "synthetic_training_sequences",
    "train_instance_detector",
    "train_retinatrack",
    "training_sequences",
    "validation_sequences",
]
