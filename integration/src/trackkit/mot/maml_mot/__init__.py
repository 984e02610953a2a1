"""MAML-MOT (Chen and Deng 2024): meta-learned re-identification for multi-object tracking.

The frozen RetinaTrack network (:mod:`trackkit.mot.retinatrack`) detects; only its last
re-identification layer is meta-learned (``trackkit train maml-mot``: ``metalearn.MetaLearner``,
one inner step, on cached detection features). Online, every new track is a new task: its layer
starts from the similarity-weighted average of a bank of training tasks' adapted layers (eqs.
6-7, ``metalearn.similarity_weighted_init``), adapts on its first detections
(``metalearn.adapt_batched``) and scores detections by cosine similarity under its own layer,
fused with IoU and matched through :mod:`assoc`. All live tracks run batched.
"""

from trackkit.mot.maml_mot._features import ReidDetections, detect_reid, reid_layer, reid_layer_name
from trackkit.mot.maml_mot._model import (
    CHECKPOINT_FORMAT,
    ROLE_ANCHOR,
    ROLE_NEGATIVE,
    ROLE_PAD,
    ROLE_POSITIVE,
    ROLE_QUERY,
    MAMLMOTBank,
    MAMLMOTCheckpoint,
    ReidLayer,
    cosine_classification_loss,
    cosine_classification_losses,
    file_sha256,
    load_maml_mot_checkpoint,
    save_maml_mot_checkpoint,
)
from trackkit.mot.maml_mot._tracker import (
    APPEARANCE_GATE,
    DEFAULT_CHECKPOINT,
    DEFAULT_DETECTOR,
    INITS,
    MAMLMOT,
    MAMLMOTAssociation,
    MAMLMOTConfig,
)

__all__ = [
    "APPEARANCE_GATE",
    "CHECKPOINT_FORMAT",
    "DEFAULT_CHECKPOINT",
    "DEFAULT_DETECTOR",
    "INITS",
    "MAMLMOT",
    "ROLE_ANCHOR",
    "ROLE_NEGATIVE",
    "ROLE_PAD",
    "ROLE_POSITIVE",
    "ROLE_QUERY",
    "MAMLMOTAssociation",
    "MAMLMOTBank",
    "MAMLMOTCheckpoint",
    "MAMLMOTConfig",
    "ReidDetections",
    "ReidLayer",
    "cosine_classification_loss",
    "cosine_classification_losses",
    "detect_reid",
    "file_sha256",
    "load_maml_mot_checkpoint",
    "reid_layer",
    "reid_layer_name",
    "save_maml_mot_checkpoint",
]
