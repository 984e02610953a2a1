"""Any single-object tracker as a teacher: `TrackerTeacher` wraps a tracker factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._teacher import check_box_xywh, check_frame

__all__ = ["TrackerTeacher"]


class TrackerTeacher:
    """A `Teacher` backed by any single-object tracker built by a zero-argument ``factory``.

    Dunnhofer et al. 2020 (Sec. 3.1) treat a teacher as any tracker ``t: I -> R^4``; their
    pools are deep trackers. ``factory()`` must return an object with ``init(frame, box_xywh)``
    and ``update(frame)``, where ``update`` returns either a box ``x, y, w, h`` or a pair
    ``(box, ok)``. Each ``init`` builds a fresh tracker, so one `TrackerTeacher` can run several
    sequences one after another.

    Success rule: ``update`` reports ``success=False`` (and returns the last good box, as
    `OpenCVTeacher` does for a lost track) when the tracker says ``ok`` is false or returns a box
    that is not 4 finite numbers with positive width and height. Exceptions raised by the
    tracker propagate (a `TeacherPool` run then stops; TRAST/TRASFUST callers drop the teacher
    for the frame).

    The teacher is picklable before ``init`` when ``factory`` is (a module-level function or a
    ``functools.partial`` of one), so `TeacherPool` can run it in worker processes.

    Args:
        factory: zero-argument callable returning a fresh tracker.
        name: teacher name; keys the `TeacherPool` cache, so it must identify the tracker and
            its configuration (weights, options).
    """

    def __init__(self, factory: Callable[[], Any], *, name: str) -> None:
        if not callable(factory):
            raise TypeError(f"factory must be callable, got {type(factory).__name__}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        self.factory = factory
        self._name = name
        self._tracker: Any = None
        self._last = np.zeros(4)

    @property
    def name(self) -> str:
        """The name given at construction."""
        return self._name

    def __repr__(self) -> str:
        return f"TrackerTeacher({self.factory!r}, name={self._name!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_tracker"] = None  # a started tracker need not be picklable; workers start anew
        return state

    def init(self, frame: NDArray[np.uint8], box_xywh: ArrayLike) -> None:
        """Build a fresh tracker from ``factory`` and start it on ``frame``."""
        frame = check_frame(frame)
        box = check_box_xywh(box_xywh, frame_shape=frame.shape)
        tracker = self.factory()
        for method in ("init", "update"):
            if not callable(getattr(tracker, method, None)):
                raise TypeError(
                    f"factory of teacher {self._name!r} returned {type(tracker).__name__}, "
                    f"which has no {method}() method"
                )
        tracker.init(frame, box.copy())
        self._tracker = tracker
        self._last = box.copy()

    def update(self, frame: NDArray[np.uint8]) -> tuple[NDArray[np.float64], bool]:
        """Track into ``frame``: ``(box, True)``, or ``(last good box, False)`` when lost."""
        if self._tracker is None:
            raise RuntimeError(f"{self._name}: call init(frame, box_xywh) before update(frame)")
        out = self._tracker.update(check_frame(frame))
        ok = True
        if isinstance(out, tuple) and len(out) == 2:
            out, ok = out
        try:
            box = np.asarray(out, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            return self._last.copy(), False
        if (
            not ok
            or box.shape != (4,)
            or not np.all(np.isfinite(box))
            or box[2] <= 0
            or box[3] <= 0
        ):
            return self._last.copy(), False
        self._last = box.copy()
        return box.copy(), True
