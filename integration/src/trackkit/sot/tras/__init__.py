"""TRAS, TRAST and TRASFUST (Dunnhofer et al. 2021, "Tracking-by-Trackers with a Distilled and
Reinforced Model", arXiv:1907.08716): a student tracker distilled from teacher trackers and
reinforced with A3C, used alone (TRAS), with one teacher (TRAST) or fusing a teacher pool by
its learned value (TRASFUST)."""

from trackkit.sot.tras._teachers import (
    DEFAULT_TEACHERS,
    TEACHER_KINDS,
    make_teacher,
    make_teachers,
    parse_teachers,
)

__all__ = [
    "DEFAULT_TEACHERS",
    "TEACHER_KINDS",
    "make_teacher",
    "make_teachers",
    "parse_teachers",
]
