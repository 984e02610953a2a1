"""Complete visual object trackers composed from the trackkit libraries.

Subpackages: ``trackkit.data`` (sequences, dataset readers, video IO, synthetic scenes, crops,
samplers, data roots), ``trackkit.eval`` (SOT and MOT metrics, benchmark runners, tables,
plots), ``trackkit.sot`` (single-object trackers, one subpackage per family), ``trackkit.mot``
(multi-object tracking: association runs on detection files, RetinaTrack, MAML-MOT),
``trackkit.train`` (training recipes on one shared loop), ``trackkit.registry`` (every
tracker by name) and ``trackkit.cli`` (the ``trackkit`` command).

``import trackkit`` is light (no torch): the names below are imported on first access.

References:
    Wang, Luo, Sun, Xiong, Zeng 2020. Tracking by Instance Detection: A Meta-Learning
        Approach. CVPR 2020. arXiv:2004.00830.
    Chen and Deng 2024. MAML MOT: Multiple Object Tracking based on Meta-Learning.
        arXiv:2405.07272.
    Kim, Lee, Ok, Han, Cho 2022. Towards Sequence-Level Training for Visual Tracking. ECCV 2022.
        arXiv:2112.02838.
    Dunnhofer, Martinel, Micheloni 2020. Tracking-by-Trackers with a Distilled and Reinforced
        Model. ACCV 2020. arXiv:2007.04108.
    Lu, Rathod, Votel, Huang 2020. RetinaTrack: Online Single Stage Joint Detection and
        Tracking. CVPR 2020. arXiv:2003.13870.
    Wang, Xiang, Cheng, Yuille 2017. NormFace: L2 Hypersphere Embedding for Face Verification.
        ACM MM 2017. arXiv:1704.06369 (the normalised-softmax form of MAML-MOT's loss).
    Each library (assoc, metalearn, seqrl, detheads, distill) lists the further works it
    implements in its own References.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first attribute access)
_LAZY: dict[str, str] = {
    "InstanceTracker": "trackkit.sot",
    "fcos_maml": "trackkit.sot",
    "retina_maml": "trackkit.sot",
    "make_tracker": "trackkit.registry",
    "tracker_names": "trackkit.registry",
}

__all__ = ["InstanceTracker", "fcos_maml", "make_tracker", "retina_maml", "tracker_names"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trackkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
