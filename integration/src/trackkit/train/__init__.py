"""Training recipes and the one training loop they share.

:func:`run_training` (with :class:`TrainState`) is the loop: resumable state, periodic
checkpoints, ``resume=``, a JSON-lines log and a tqdm bar; a recipe supplies a step function.
Recipes, one module each: offline MAML (and the plain-GD baseline) of the instance detectors
(:func:`train_instance_detector`, ``trackkit train maml``); sequence-level fine-tuning of
those trackers (Kim et al. 2022; :func:`train_slt`, ``trackkit train slt``); RetinaTrack's joint
detection + embedding network (Lu et al. 2020; :func:`train_retinatrack`,
``trackkit train retinatrack``).
"""

from trackkit.train._cache import CacheConfig, FeatureCache, build_feature_cache, sample_cache_pairs
from trackkit.train._data import (
    DEFAULT_HOLDOUT,
    synthetic_training_sequences,
    training_sequences,
)
from trackkit.train._loop import TrainResult, TrainState, load_train_state, run_training
from trackkit.train._maml import MAMLTrainConfig, train_instance_detector
from trackkit.train._retinatrack import (
    RETINATRACK_TRAIN_SEQUENCES,
    RETINATRACK_VALIDATION_SEQUENCES,
    RetinaTrackTrainConfig,
    export_retinatrack,
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
from trackkit.train._slt import SLTTrainConfig, train_slt

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
    "SLTTrainConfig",
    "TrainResult",
    "TrainState",
    "build_feature_cache",
    "choose_lost_threshold",
    "export_retinatrack",
    "load_retinatrack_sequences",
    "load_train_state",
    "retinatrack_losses",
    "run_training",
    "sample_cache_pairs",
    "synthetic_training_sequences",
    "train_instance_detector",
    "train_retinatrack",
    "train_slt",
    "training_sequences",
    "validation_sequences",
]
