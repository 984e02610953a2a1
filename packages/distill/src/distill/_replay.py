"""Replaying tracker result files (OTB style: one ``x, y, w, h`` line per frame) as teachers."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._teacher import check_box_xywh, check_frame

__all__ = ["ReplayTeacher", "read_result_file", "write_result_file"]

_SEPARATORS = re.compile(r"[,\s;]+")


def _check_base(coordinate_base: object) -> int:
    if coordinate_base not in (0, 1) or isinstance(coordinate_base, bool):
        raise ValueError(f"coordinate_base must be 0 or 1, got {coordinate_base!r}")
    return int(coordinate_base)  # type: ignore[call-overload]


def read_result_file(path: str | os.PathLike[str], *, coordinate_base: int) -> NDArray[np.float64]:
    """Read an OTB-style result file into ``[T, 4]`` 0-based ``x, y, w, h`` boxes.

    One box per non-empty line, four numbers separated by commas, tabs, spaces or semicolons.
    A line of four ``NaN`` marks a frame without a box (kept as NaN). Any other line that is not
    exactly four numbers raises ``ValueError`` naming the file, the line number and its text.

    Args:
        path: the result file.
        coordinate_base: ``1`` for MATLAB-style files (OTB, UAV123 results: the top-left pixel is
            (1, 1)), ``0`` for 0-based files. Required, because guessing it silently shifts
            every box by a pixel.
    """
    base = _check_base(coordinate_base)
    path = Path(path)
    rows: list[list[float]] = []
    with path.open("r", encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line:
                continue
            parts = [p for p in _SEPARATORS.split(line) if p]
            try:
                values = [float(p) for p in parts]
            except ValueError:
                values = []
            if len(values) != 4 or any(np.isinf(values)):
                raise ValueError(f"{path}: line {number} is not 4 numbers x,y,w,h: {line[:80]!r}")
            rows.append(values)
    if not rows:
        raise ValueError(f"{path}: result file holds no boxes")
    boxes = np.asarray(rows, dtype=np.float64)
    boxes[:, :2] -= base
    return boxes


def write_result_file(
    path: str | os.PathLike[str], boxes_xywh: ArrayLike, *, coordinate_base: int
) -> None:
    """Write ``[T, 4]`` 0-based boxes as an OTB-style result file (``x,y,w,h`` per line).

    ``coordinate_base=1`` adds one to ``x, y`` (MATLAB convention); NaN rows are written as
    ``NaN,NaN,NaN,NaN``. Values keep full float precision: reading back is exact for
    ``coordinate_base=0`` and exact up to the last bit of the ``+1 / -1`` shift for ``1``.
    """
    base = _check_base(coordinate_base)
    boxes = np.asarray(boxes_xywh, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes_xywh must have shape [T, 4], got {boxes.shape}")
    shifted = boxes.copy()
    shifted[:, :2] += base
    lines = [",".join(repr(float(v)) if np.isfinite(v) else "NaN" for v in row) for row in shifted]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


class ReplayTeacher:
    """A teacher that replays stored boxes, so published tracker outputs can act as teachers.

    Frame ``0`` (``init``) consumes the first stored box, each ``update`` the next one. A stored
    NaN row (the tracker gave no box) returns the last good box with ``success=False``. Calling
    ``update`` more often than there are stored boxes raises ``RuntimeError``. The box passed
    to ``init`` is validated but not used: the replayed trajectory starts from its own first box.

    Args:
        boxes_xywh: ``[T, 4]`` 0-based ``x, y, w, h`` boxes; the first must be finite.
        name: teacher name (keys the `TeacherPool` cache).

    Use `ReplayTeacher.from_file` for result files.
    """

    def __init__(self, boxes_xywh: ArrayLike, *, name: str) -> None:
        boxes = np.asarray(boxes_xywh, dtype=np.float64)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.shape[0] < 1:
            raise ValueError(f"boxes_xywh must have shape [T, 4] with T >= 1, got {boxes.shape}")
        check_box_xywh(boxes[0], argument="boxes_xywh[0]")
        if not isinstance(name, str) or not name:
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        self.boxes_xywh = boxes
        self._name = name
        self._cursor = -1
        self._last = boxes[0].copy()

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, coordinate_base: int, name: str | None = None
    ) -> ReplayTeacher:
        """Load a result file (see `read_result_file`); ``name`` defaults to the file stem."""
        boxes = read_result_file(path, coordinate_base=coordinate_base)
        return cls(boxes, name=name if name is not None else f"replay-{Path(path).stem}")

    @property
    def name(self) -> str:
        """The name given at construction."""
        return self._name

    def __repr__(self) -> str:
        return f"ReplayTeacher(<{len(self.boxes_xywh)} boxes>, name={self._name!r})"

    def init(self, frame: NDArray[np.uint8], box_xywh: ArrayLike) -> None:
        """Restart the replay at the first stored box (``box_xywh`` is validated, not used)."""
        frame = check_frame(frame)
        check_box_xywh(box_xywh, frame_shape=frame.shape)
        self._cursor = 0
        self._last = self.boxes_xywh[0].copy()

    def update(self, frame: NDArray[np.uint8]) -> tuple[NDArray[np.float64], bool]:
        """Return the next stored box, or the last good one with ``False`` on a NaN row."""
        if self._cursor < 0:
            raise RuntimeError(f"{self.name}: call init(frame, box_xywh) before update(frame)")
        check_frame(frame)
        self._cursor += 1
        if self._cursor >= len(self.boxes_xywh):
            raise RuntimeError(
                f"{self.name}: the replayed result has {len(self.boxes_xywh)} boxes, but frame "
                f"{self._cursor} was requested"
            )
        box = self.boxes_xywh[self._cursor]
        if not np.all(np.isfinite(box)):
            return self._last.copy(), False
        self._last = box.copy()
        return box.copy(), True
