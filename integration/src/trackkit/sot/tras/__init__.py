"""TRAS, TRAST and TRASFUST (Dunnhofer et al. 2020, "Tracking-by-Trackers with a Distilled and
Reinforced Model", ACCV 2020, arXiv:1907.08716).

A student tracker distilled from teacher trackers and reinforced with A3C (trained by
``trackkit train tras``), used alone (TRAS), with one teacher whose box it takes when its value
head rates the teacher's state higher (TRAST), or choosing among a teacher pool by value
(TRASFUST, eq. 8). Box motion goes through ``seqrl.apply_box_action`` /
``seqrl.box_action_to_target``, fusion through ``distill.fuse_by_value``, teachers are
``distill.OpenCVTeacher`` objects.
"""

from trackkit.sot.tras._boxes import MIN_BOX_SIDE, clamp_box_centre, clamp_box_size
from trackkit.sot.tras._checkpoint import (
    STUDENT_FORMAT,
    load_student,
    save_student,
    shipped_student_path,
)
from trackkit.sot.tras._student import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    StudentConfig,
    TRASStudent,
    student_crops,
)
from trackkit.sot.tras._teachers import (
    DEEP_TEACHERS,
    DEFAULT_TEACHERS,
    TEACHER_KINDS,
    TEACHER_NAMES,
    make_teacher,
    make_teachers,
    parse_teachers,
)
from trackkit.sot.tras._tracker import MODES, TeacherSpec, TRASTracker

__all__ = [
    "DEEP_TEACHERS",
    "DEFAULT_TEACHERS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MIN_BOX_SIDE",
    "MODES",
    "STUDENT_FORMAT",
    "TEACHER_KINDS",
    "TEACHER_NAMES",
    "StudentConfig",
    "TRASStudent",
    "TRASTracker",
    "TeacherSpec",
    "clamp_box_centre",
    "clamp_box_size",
    "load_student",
    "make_teacher",
    "make_teachers",
    "parse_teachers",
    "save_student",
    "shipped_student_path",
    "student_crops",
]
