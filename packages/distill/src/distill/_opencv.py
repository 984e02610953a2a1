"""OpenCV trackers as teachers (KCF, CSRT, MIL, MedianFlow, Boosting, MOSSE, TLD).

OpenCV is optional (the ``opencv`` extra installs ``opencv-contrib-python-headless``); it is
imported only when an OpenCV teacher is built, so ``import distill`` works without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._teacher import check_box_xywh, check_frame

__all__ = ["OpenCVTeacher", "available_opencv_kinds"]

# kind -> constructor names tried in order: the main-module API first (OpenCV >= 4.5.1 keeps
# KCF, CSRT and MIL there), then cv2.legacy (contrib), which also has the older trackers.
_CONSTRUCTORS: dict[str, tuple[str, ...]] = {
    "KCF": ("TrackerKCF_create", "legacy.TrackerKCF_create"),
    "CSRT": ("TrackerCSRT_create", "legacy.TrackerCSRT_create"),
    "MIL": ("TrackerMIL_create", "legacy.TrackerMIL_create"),
    "MedianFlow": ("legacy.TrackerMedianFlow_create",),
    "Boosting": ("legacy.TrackerBoosting_create",),
    "MOSSE": ("legacy.TrackerMOSSE_create",),
    "TLD": ("legacy.TrackerTLD_create",),
}

#: Smallest integer rectangle (side, area) each kind starts on; measured with OpenCV 5.0.
#: Below it CSRT and MOSSE raise inside OpenCV, TLD (1 px) and the Haar features of MIL and
#: Boosting (3x5, 4x4, 2x9, 1xN) loop forever in ``init``.
MIN_INIT_BOX: dict[str, tuple[int, int]] = {
    "CSRT": (2, 4),
    "MOSSE": (2, 4),
    "TLD": (2, 4),
    "MIL": (3, 18),
    "Boosting": (3, 18),
}

_INSTALL_HINT = (
    "OpenCV teachers need OpenCV with the contrib trackers: "
    "pip install 'trackkit-distill[opencv]' (opencv-contrib-python-headless)"
)


def _import_cv2() -> ModuleType:
    try:
        return importlib.import_module("cv2")
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err


def _lookup(cv2: ModuleType, dotted: str) -> Any:
    obj: Any = cv2
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def available_opencv_kinds() -> tuple[str, ...]:
    """The teacher kinds the installed OpenCV provides, in a fixed order.

    Raises:
        ImportError: OpenCV is not installed (install the ``opencv`` extra).
    """
    cv2 = _import_cv2()
    return tuple(
        kind
        for kind, names in _CONSTRUCTORS.items()
        if any(_lookup(cv2, name) is not None for name in names)
    )


class OpenCVTeacher:
    """An OpenCV single-object tracker behind the `Teacher` protocol.

    Args:
        kind: ``"KCF"``, ``"CSRT"``, ``"MIL"``, ``"MedianFlow"``, ``"Boosting"``, ``"MOSSE"`` or
            ``"TLD"`` (case-insensitive), as far as the installed OpenCV provides it
            (`available_opencv_kinds`). KCF, CSRT and MIL use the main ``cv2`` API when present,
            the others ``cv2.legacy``. Dunnhofer et al. 2020 uses KCF as one of its teachers.
        params: optional OpenCV parameters, ``{field: value}`` set on a fresh
            ``cv2.Tracker<kind>_Params()`` (only KCF, CSRT and MIL have one). Unknown fields raise
            ``ValueError`` listing the valid ones; a value of the wrong type raises ``TypeError``.
            Useful: ``OpenCVTeacher("KCF", params={"detect_thresh": 0.0})``. OpenCV's KCF stops
            moving for good once its peak response falls below ``detect_thresh`` (0.5 by
            default): it reports failure and keeps searching around the frozen box, so on real
            sequences it usually never recovers; with 0 it always follows the peak like the
            original KCF and rarely reports failure. Parameters appear in ``name``.

    Behaviour: the initial box must have positive size and overlap the frame (else
    ``ValueError``); a partly outside box is clipped to the frame before OpenCV sees it. A box
    OpenCV cannot start on (MIL on a box spanning nearly the whole frame: no room for its
    negative samples) is a one-line ``ValueError`` naming the box. Frames must be
    ``H x W x 3`` uint8 BGR and keep the initial frame's size. OpenCV is initialised on the
    smallest integer-pixel rectangle that contains the (clipped) box. When OpenCV reports a
    lost target, returns an empty or non-finite box or one wholly outside the frame (TLD did,
    reporting success), or raises inside ``update``, the teacher returns its last good box
    with ``success=False`` and keeps trying on later frames: no OpenCV exception escapes
    mid-sequence. The returned box is that of OpenCV (integer pixels for the main-module API,
    float for ``cv2.legacy``). MIL and TLD sample at random inside OpenCV and
    ``cv2.setRNGSeed`` does not make them repeatable (checked with OpenCV 5.0), so two runs
    can differ slightly; `TeacherPool`'s cache pins one run.

    Raises:
        ImportError: OpenCV is missing.
        ValueError: ``kind`` is unknown or not provided by the installed OpenCV; the message
            lists the available kinds.
    """

    def __init__(
        self, kind: str, *, params: Mapping[str, bool | int | float] | None = None
    ) -> None:
        if not isinstance(kind, str):
            raise TypeError(f"kind must be a string, got {type(kind).__name__}")
        canonical = {k.lower(): k for k in _CONSTRUCTORS}.get(kind.lower())
        available = available_opencv_kinds()
        if canonical is None or canonical not in available:
            raise ValueError(
                f"kind {kind!r} is not an OpenCV tracker available here; available kinds: "
                f"{', '.join(available) or 'none'}"
            )
        self.kind = canonical
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping or None, got {type(params).__name__}")
        self.params: dict[str, bool | int | float] = dict(params or {})
        if self.params:
            self._make_params(_import_cv2())  # validate now, not at init
        self._tracker: Any = None
        self._last = np.zeros(4, dtype=np.float64)
        self._frame_shape: tuple[int, ...] | None = None

    @property
    def name(self) -> str:
        """``"opencv-<kind>"``, or ``"opencv-<kind>(field=value,...)"`` with ``params``."""
        if not self.params:
            return f"opencv-{self.kind}"
        fields = ",".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"opencv-{self.kind}({fields})"

    def __repr__(self) -> str:
        extra = f", params={self.params!r}" if self.params else ""
        return f"OpenCVTeacher({self.kind!r}{extra})"

    def _make_params(self, cv2: ModuleType) -> Any:
        params_class = getattr(cv2, f"Tracker{self.kind}_Params", None)
        if params_class is None:
            raise ValueError(
                f"params: OpenCV has no Tracker{self.kind}_Params; parameters can be set for "
                f"{[k for k in _CONSTRUCTORS if hasattr(cv2, f'Tracker{k}_Params')]}"
            )
        opencv_params = params_class()
        fields = sorted(f for f in dir(opencv_params) if not f.startswith("_"))
        for field, value in self.params.items():
            if field not in fields:
                raise ValueError(
                    f"params: {field!r} is not a field of Tracker{self.kind}_Params; "
                    f"fields: {', '.join(fields)}"
                )
            try:
                setattr(opencv_params, field, value)
            except (TypeError, cv2.error) as err:
                raise TypeError(f"params[{field!r}] = {value!r} rejected by OpenCV: {err}") from err
        return opencv_params

    def __getstate__(self) -> dict[str, Any]:
        # OpenCV tracker objects do not pickle; a copy sent to a worker process starts fresh.
        state = dict(self.__dict__)
        state["_tracker"] = None
        state["_frame_shape"] = None
        return state

    def _create(self) -> Any:
        cv2 = _import_cv2()
        for dotted in _CONSTRUCTORS[self.kind]:
            ctor = _lookup(cv2, dotted)
            if ctor is not None:
                if self.params:
                    return ctor(self._make_params(cv2))
                return ctor()
        raise ValueError(  # pragma: no cover - checked in __init__
            f"kind {self.kind!r} vanished from OpenCV; available: {available_opencv_kinds()}"
        )

    def init(self, frame: NDArray[np.uint8], box_xywh: ArrayLike) -> None:
        """Start tracking ``box_xywh`` (x, y, w, h pixels) on ``frame`` (H x W x 3 uint8 BGR)."""
        frame = check_frame(frame)
        box = check_box_xywh(box_xywh, frame_shape=frame.shape)
        height, width = frame.shape[:2]
        x1, y1 = max(box[0], 0.0), max(box[1], 0.0)
        x2, y2 = min(box[0] + box[2], float(width)), min(box[1] + box[3], float(height))
        tracker = self._create()
        cv2 = _import_cv2()
        # Integer pixels for every kind: the main API requires them, and cv2.legacy Boosting
        # segfaults on its first update after a fractional box (seen with OpenCV 5.0).
        xi, yi = int(np.floor(x1)), int(np.floor(y1))
        wi = max(1, min(int(np.ceil(x2)), width) - xi)
        hi = max(1, min(int(np.ceil(y2)), height) - yi)
        rect = (xi, yi, wi, hi)
        side, area = MIN_INIT_BOX.get(self.kind, (1, 1))
        if min(wi, hi) < side or wi * hi < area:
            raise ValueError(
                f"OpenCV {self.kind} needs an initial box of at least {side} pixels a side and "
                f"{area} pixels inside the frame, got {wi}x{hi} at ({xi}, {yi}) (from box_xywh "
                f"{[round(float(v), 3) for v in box]}); OpenCV fails or never returns on less"
            )
        try:
            result = tracker.init(frame, rect)
        except cv2.error as err:
            # OpenCV asserts on boxes it cannot sample around (MIL: a box spanning the frame
            # leaves no room for its negative samples); one line, naming the box.
            reason = str(err).strip().splitlines()[-1] if str(err).strip() else "cv2.error"
            raise ValueError(
                f"OpenCV {self.kind} cannot start on box {rect} in a {width}x{height} frame "
                f"({reason})"
            ) from err
        if result is False:
            raise ValueError(
                f"OpenCV {self.kind} refused to start on box {rect} in a {width}x{height} frame"
            )
        self._tracker = tracker
        self._last = box.copy()
        self._frame_shape = frame.shape

    def update(self, frame: NDArray[np.uint8]) -> tuple[NDArray[np.float64], bool]:
        """Track into ``frame``; return ``(box_xywh, success)`` (last box and False if lost)."""
        if self._tracker is None:
            raise RuntimeError(f"{self.name}: call init(frame, box_xywh) before update(frame)")
        frame = check_frame(frame)
        if frame.shape != self._frame_shape:
            raise ValueError(
                f"frame has shape {frame.shape}, but the track started on {self._frame_shape}"
            )
        cv2 = _import_cv2()
        try:
            ok, rect = self._tracker.update(frame)
        except cv2.error:
            return self._last.copy(), False
        box = np.asarray(rect, dtype=np.float64).reshape(-1)
        if not ok or box.shape != (4,) or not np.all(np.isfinite(box)) or np.any(box[2:] <= 0):
            return self._last.copy(), False
        height, width = frame.shape[:2]
        if box[0] >= width or box[1] >= height or box[0] + box[2] <= 0 or box[1] + box[3] <= 0:
            return self._last.copy(), False  # "found" wholly outside the frame (seen from TLD)
        self._last = box
        return box.copy(), True
