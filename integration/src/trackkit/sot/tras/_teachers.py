"""The teacher trackers of TRAS/TRAST/TRASFUST behind ``distill.Teacher``.

OpenCV trackers (``distill.OpenCVTeacher``) and trackkit's own deep trackers (Retina-MAML,
FCOS-MAML, through ``distill.TrackerTeacher``), each by a short name.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from distill import OpenCVTeacher, Teacher, TrackerTeacher

__all__ = [
    "DEEP_TEACHERS",
    "DEFAULT_TEACHERS",
    "TEACHER_KINDS",
    "TEACHER_NAMES",
    "make_teacher",
    "make_teachers",
    "parse_teachers",
]

#: Short teacher names -> (OpenCV kind, OpenCV parameters). KCF runs with ``detect_thresh=0``:
#: OpenCV's default 0.5 freezes KCF for good after one weak response (see ``distill``).
TEACHER_KINDS: dict[str, tuple[str, dict[str, bool | int | float]]] = {
    "csrt": ("CSRT", {}),
    "kcf": ("KCF", {"detect_thresh": 0.0}),
    "mil": ("MIL", {}),
    "medianflow": ("MedianFlow", {}),
    "mosse": ("MOSSE", {}),
    "boosting": ("Boosting", {}),
    "tld": ("TLD", {}),
}

#: trackkit's deep single-object trackers usable as teachers (``trackkit.registry`` names):
#: the shipped Retina-MAML / FCOS-MAML (Wang et al. 2020) with online update, on the CPU.
DEEP_TEACHERS: tuple[str, ...] = ("retina-maml", "fcos-maml")

#: Every teacher name :func:`make_teacher` accepts.
TEACHER_NAMES: tuple[str, ...] = (*TEACHER_KINDS, *DEEP_TEACHERS)

#: The teacher pool used for training and by default in TRASFUST (Dunnhofer et al. 2020 use
#: KCF, MDNet, ECO and SiamRPN; here the OpenCV trackers that run on this CPU).
DEFAULT_TEACHERS: tuple[str, ...] = ("csrt", "kcf", "mil", "medianflow")


def _shipped_detector(name: str) -> Any:
    """The shipped detector of ``name``, loaded afresh for every tracker (each teacher owns its
    weights; ``metalearn.functional_forward`` also makes a shared detector safe across threads,
    but a TRASFUST pool should not depend on another tracker's detector)."""
    from trackkit.sot import load_detector, shipped_checkpoint

    return load_detector(shipped_checkpoint(name), device="cpu")


def _deep_tracker(name: str) -> Any:
    """A fresh ``InstanceTracker`` of ``name`` on the shipped detector (module level: picklable)."""
    from trackkit.registry import make_tracker

    return make_tracker(name, detector=_shipped_detector(name))


def make_teacher(name: str) -> Teacher:
    """A fresh teacher for a short name of :data:`TEACHER_NAMES`.

    OpenCV names give a ``distill.OpenCVTeacher``; ``retina-maml`` / ``fcos-maml`` give a
    ``distill.TrackerTeacher`` around the shipped deep tracker (a fresh tracker per ``init``,
    its detector loaded afresh for each tracker).
    """
    key = name.lower() if isinstance(name, str) else None
    if key in DEEP_TEACHERS:
        return TrackerTeacher(partial(_deep_tracker, key), name=key)
    if key not in TEACHER_KINDS:
        raise ValueError(f"unknown teacher {name!r}; choose from {sorted(TEACHER_NAMES)}")
    kind, params = TEACHER_KINDS[key]
    return OpenCVTeacher(kind, params=params or None)


def parse_teachers(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"csrt,kcf"`` (or a list) -> validated, lower-case, duplicate-free teacher names."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(dict.fromkeys(s.strip().lower() for s in items if s.strip()))
    if not names:
        raise ValueError("teachers: give at least one teacher name (e.g. csrt,kcf)")
    for n in names:
        if n not in TEACHER_NAMES:
            raise ValueError(
                f"teachers: unknown teacher {n!r}; choose from {sorted(TEACHER_NAMES)}"
            )
    return names


def make_teachers(names: Sequence[str]) -> list[Teacher]:
    """Fresh teachers for ``names`` (see :func:`make_teacher`)."""
    return [make_teacher(n) for n in names]
