"""Instance-detection trackers: Retina-MAML and FCOS-MAML (Wang et al. 2020).

``fcos_maml()`` / ``retina_maml()`` load the shipped checkpoints; :class:`InstanceTracker` runs
Algorithm 1 for one sequence (``init``/``update``) or several in lock step (``init_batch``/
``update_batch``); :class:`InstanceStep` is the same tracker as a functional, stochastic step
for sequence-level training (Kim et al. 2022); the post-processing functions are pure, batched
torch functions.
"""

from trackkit.sot.instance._checkpoint import (
    SHIPPED_MODELS,
    detector_from_state,
    detector_state,
    fcos_maml,
    load_detector,
    retina_maml,
    save_detector,
    shipped_checkpoint,
    soup_detector_states,
    tracker_config_for,
)
from trackkit.sot.instance._config import (
    AdaptationConfig,
    DetectorConfig,
    PostprocessConfig,
    SearchRegionConfig,
    TrackerConfig,
)
from trackkit.sot.instance._crop import (
    crop_search_regions,
    crop_to_image,
    image_to_crop,
    search_scale,
)
from trackkit.sot.instance._detector import InstanceDetector, build_trunk
from trackkit.sot.instance._head_ops import FCOSOps, RetinaOps, locations
from trackkit.sot.instance._images import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, images_to_tensor
from trackkit.sot.instance._postprocess import (
    change_penalty,
    cosine_window,
    distractor_ratio,
    penalized_scores,
    select_and_interpolate,
)
from trackkit.sot.instance._step import InstanceStep, InstanceStepOutput, InstanceStepState
from trackkit.sot.instance._tracker import InstanceTracker, check_init_boxes

__all__ = [
    "IMAGENET_MEAN_RGB",
    "IMAGENET_STD_RGB",
    "SHIPPED_MODELS",
    "AdaptationConfig",
    "DetectorConfig",
    "FCOSOps",
    "InstanceDetector",
    "InstanceStep",
    "InstanceStepOutput",
    "InstanceStepState",
    "InstanceTracker",
    "PostprocessConfig",
    "RetinaOps",
    "SearchRegionConfig",
    "TrackerConfig",
    "build_trunk",
    "change_penalty",
    "check_init_boxes",
    "cosine_window",
    "crop_search_regions",
    "crop_to_image",
    "detector_from_state",
    "detector_state",
    "distractor_ratio",
    "fcos_maml",
    "image_to_crop",
    "images_to_tensor",
    "load_detector",
    "locations",
    "penalized_scores",
    "retina_maml",
    "save_detector",
    "search_scale",
    "select_and_interpolate",
    "shipped_checkpoint",
    "soup_detector_states",
    "tracker_config_for",
]
