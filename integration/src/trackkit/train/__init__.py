"""Training recipes: offline MAML (and the plain-GD baseline) for the paper-000 trackers."""

from trackkit.train._cache import CacheConfig, FeatureCache, build_feature_cache, sample_cache_pairs
from trackkit.train._data import (
    DEFAULT_HOLDOUT,
    default_data_root,
    synthetic_training_sequences,
    training_sequences,
)
from trackkit.train._maml import MAMLTrainConfig, train_instance_detector

__all__ = [
    "DEFAULT_HOLDOUT",
    "CacheConfig",
    "FeatureCache",
    "MAMLTrainConfig",
    "build_feature_cache",
    "default_data_root",
    "sample_cache_pairs",
    "synthetic_training_sequences",
    "train_instance_detector",
    "training_sequences",
]
