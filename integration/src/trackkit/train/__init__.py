"""Training recipes and the one training loop they share.

:func:`run_training` (with :class:`TrainState`) is the loop: resumable state, periodic
checkpoints, ``resume=``, a JSON-lines log and a tqdm bar; a recipe supplies a step function.
Recipes, one module each: offline MAML (and the plain-GD baseline) of the instance detectors
(:func:`train_instance_detector`, ``trackkit train maml``).
"""

from trackkit.train._cache import CacheConfig, FeatureCache, build_feature_cache, sample_cache_pairs
from trackkit.train._data import (
    DEFAULT_HOLDOUT,
    synthetic_training_sequences,
    training_sequences,
)
from trackkit.train._loop import TrainResult, TrainState, load_train_state, run_training
from trackkit.train._maml import MAMLTrainConfig, train_instance_detector
from trackkit.train._select import (
    VALIDATION_SEQUENCES,
    choose_lost_threshold,
    validation_sequences,
)

__all__ = [
    "DEFAULT_HOLDOUT",
    "VALIDATION_SEQUENCES",
    "CacheConfig",
    "FeatureCache",
    "MAMLTrainConfig",
    "TrainResult",
    "TrainState",
    "build_feature_cache",
    "choose_lost_threshold",
    "load_train_state",
    "run_training",
    "sample_cache_pairs",
    "synthetic_training_sequences",
    "train_instance_detector",
    "training_sequences",
    "validation_sequences",
]
