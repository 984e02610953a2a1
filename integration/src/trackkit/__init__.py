"""Complete visual object trackers composed from the trackkit libraries.

Subpackages: ``trackkit.data`` (sequences, dataset readers, video IO, synthetic scenes, crops,
samplers, data roots), ``trackkit.eval`` (SOT and MOT metrics, benchmark runners, tables,
plots), ``trackkit.sot`` (single-object trackers, one subpackage per family), ``trackkit.mot``
(multi-object tracking: association runs on detection files), ``trackkit.train`` (training
recipes on one shared loop), ``trackkit.registry`` (every tracker by name) and
``trackkit.cli`` (the ``trackkit`` command).

``import trackkit`` is light (no torch): the names below are imported on first access.
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
