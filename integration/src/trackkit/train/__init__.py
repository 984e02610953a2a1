"""Training recipes and the one training loop they share.

:func:`run_training` (with :class:`TrainState`) is the loop: resumable state, periodic
checkpoints, ``resume=``, a JSON-lines log and a tqdm bar; a recipe supplies a step function.
Recipes, one module each: offline MAML (and the plain-GD baseline) of the instance detectors
(:func:`train_instance_detector`, ``trackkit train maml``); sequence-level fine-tuning of
those trackers (Kim et al. 2022; :func:`train_slt`, ``trackkit train slt``); RetinaTrack's joint
detection + embedding network (Lu et al. 2020; :func:`train_retinatrack`,
``trackkit train retinatrack``); MAML-MOT's meta-learned re-identification layer (Chen and Deng
2024; :func:`train_maml_mot`, ``trackkit train maml-mot``);
the TRAS student of Dunnhofer et al. 2020 (:func:`train_tras`, ``trackkit train tras``:
``seqrl.run_a3c`` in rounds, one round per step of the shared loop; :func:`fit_tras_value`,
``trackkit train tras-value``, refits its value head to rank teachers' states for TRASFUST).
"""

from trackkit.train._cache import CacheConfig, FeatureCache, build_feature_cache, sample_cache_pairs
from trackkit.train._data import (
    DEFAULT_HOLDOUT,
    synthetic_training_sequences,
    training_sequences,
)
from trackkit.train._loop import (
    NonFiniteLossError,
    TrainResult,
    TrainState,
    load_train_state,
    run_training,
)
from trackkit.train._maml import MAMLTrainConfig, train_instance_detector
from trackkit.train._maml_mot import (
    MAMLMOTTrainConfig,
    ReidFeatureCache,
    build_reid_cache,
    maml_mot_tasks,
    train_maml_mot,
)
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
    SLT_VALIDATION_SEQUENCES,
    VALIDATION_SEQUENCES,
    choose_lost_threshold,
    validation_sequences,
)
from trackkit.train._slt import SLTTrainConfig, train_slt
from trackkit.train._tras import (
    TRAS_OBJECTIVES,
    TRASEnv,
    TRASEpisodeData,
    TRASLossHook,
    TRASTrainConfig,
    make_tras_env,
    train_tras,
    tras_episode_data,
    tras_policy_step,
    tras_worker_role,
)
from trackkit.train._tras_data import (
    TeacherRuns,
    TRASChunk,
    build_tras_chunks,
    run_teachers,
    tras_training_sequences,
)
from trackkit.train._tras_pretrain import (
    TRASPretrainConfig,
    TRASReplaySet,
    build_replay_windows,
    extract_replay_features,
    pretrain_loss,
    pretrain_tras,
    replay_window_iou,
)
from trackkit.train._tras_value import (
    TRASValueFitConfig,
    TRASValueSet,
    build_value_windows,
    fit_tras_value,
    tras_replay_auc,
    tras_replay_run,
    value_head_inputs,
    value_set_features,
    with_student_runs,
)

__all__ = [
    "DEFAULT_HOLDOUT",
    "RETINATRACK_TRAIN_SEQUENCES",
    "RETINATRACK_VALIDATION_SEQUENCES",
    "SLT_VALIDATION_SEQUENCES",
    "TRAS_OBJECTIVES",
    "VALIDATION_SEQUENCES",
    "CacheConfig",
    "ClipBatch",
    "ClipConfig",
    "FeatureCache",
    "MAMLMOTTrainConfig",
    "MAMLTrainConfig",
    "MOTClipSampler",
    "NonFiniteLossError",
    "ReidFeatureCache",
    "RetinaTrackTrainConfig",
    "SLTTrainConfig",
    "TRASChunk",
    "TRASEnv",
    "TRASEpisodeData",
    "TRASLossHook",
    "TRASPretrainConfig",
    "TRASReplaySet",
    "TRASTrainConfig",
    "TRASValueFitConfig",
    "TRASValueSet",
    "TeacherRuns",
    "TrainResult",
    "TrainState",
    "build_feature_cache",
    "build_reid_cache",
    "build_replay_windows",
    "build_tras_chunks",
    "build_value_windows",
    "choose_lost_threshold",
    "export_retinatrack",
    "extract_replay_features",
    "fit_tras_value",
    "load_retinatrack_sequences",
    "load_train_state",
    "make_tras_env",
    "maml_mot_tasks",
    "pretrain_loss",
    "pretrain_tras",
    "replay_window_iou",
    "retinatrack_losses",
    "run_teachers",
    "run_training",
    "sample_cache_pairs",
    "synthetic_training_sequences",
    "train_instance_detector",
    "train_maml_mot",
    "train_retinatrack",
    "train_slt",
    "train_tras",
    "training_sequences",
    "tras_episode_data",
    "tras_policy_step",
    "tras_replay_auc",
    "tras_replay_run",
    "tras_training_sequences",
    "tras_worker_role",
    "validation_sequences",
    "value_head_inputs",
    "value_set_features",
    "with_student_runs",
]
