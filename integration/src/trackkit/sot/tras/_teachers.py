"""The teacher trackers of TRAS/TRAST/TRASFUST: OpenCV trackers behind ``distill.Teacher``."""

from __future__ import annotations

from collections.abc import Sequence

from distill import OpenCVTeacher, Teacher

__all__ = ["DEFAULT_TEACHERS", "TEACHER_KINDS", "make_teacher", "make_teachers", "parse_teachers"]

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

#: The teacher pool used for training and by default in TRASFUST (Dunnhofer et al. 2020 use
#: KCF, MDNet, ECO and SiamRPN; here the OpenCV trackers that run on this CPU).
DEFAULT_TEACHERS: tuple[str, ...] = ("csrt", "kcf", "mil", "medianflow")


def make_teacher(name: str) -> Teacher:
    """A fresh ``distill.OpenCVTeacher`` for a short name of :data:`TEACHER_KINDS`."""
    if not isinstance(name, str) or name.lower() not in TEACHER_KINDS:
        raise ValueError(f"unknown teacher {name!r}; choose from {sorted(TEACHER_KINDS)}")
    kind, params = TEACHER_KINDS[name.lower()]
    return OpenCVTeacher(kind, params=params or None)


def parse_teachers(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"csrt,kcf"`` (or a list) -> validated, lower-case, duplicate-free teacher names."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(dict.fromkeys(s.strip().lower() for s in items if s.strip()))
    if not names:
        raise ValueError("teachers: give at least one teacher name (e.g. csrt,kcf)")
    for n in names:
        if n not in TEACHER_KINDS:
            raise ValueError(
                f"teachers: unknown teacher {n!r}; choose from {sorted(TEACHER_KINDS)}"
            )
    return names


def make_teachers(names: Sequence[str]) -> list[Teacher]:
    """Fresh teachers for ``names`` (see :func:`make_teacher`)."""
    return [make_teacher(n) for n in names]
