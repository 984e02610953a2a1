"""OTB-style single-object result files (one ``x,y,w,h`` line per frame).

Files written by trackkit start with one comment line naming their coordinate base,

    # trackkit x,y,w,h coordinate_base=0

so that trackkit reads them back right without being told the base. ``numpy.loadtxt`` and
pysot's readers skip ``#`` lines; files without the line (other toolkits' results) are read in
the base the caller gives.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.data import read_numeric_rows

__all__ = ["read_otb_results", "results_file_base", "write_otb_results"]

_HEADER = "# trackkit x,y,w,h coordinate_base={base}"
_HEADER_RE = re.compile(r"^#\s*trackkit\b.*\bcoordinate_base\s*=\s*(\S+)")


def write_otb_results(
    path: str | Path, boxes_xywh: ArrayLike, *, coordinate_base: int = 1, header: bool = True
) -> None:
    """Write 0-based boxes ``[T, 4]`` as ``x,y,w,h`` lines in the given coordinate base.

    ``coordinate_base=1`` (default) produces files comparable with OTB-2015/UAV123 ground truth
    and toolkits; 0 keeps trackkit's numbers (VOT, GOT-10k, TrackingNet). ``header`` (default)
    starts the file with ``# trackkit x,y,w,h coordinate_base=B``, which
    :func:`read_otb_results` uses to read the file back without being told the base.
    """
    if coordinate_base not in (0, 1):
        raise ValueError(f"coordinate_base must be 0 or 1, got {coordinate_base!r}")
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4).copy()
    boxes[:, :2] += coordinate_base
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = _HEADER.format(base=coordinate_base) + "\n" if header else ""
    path.write_text(head + "".join(",".join(f"{v:.4f}" for v in row) + "\n" for row in boxes))


def results_file_base(path: str | Path) -> int | None:
    """The coordinate base a trackkit header names in a result file, or ``None`` if none.

    Raises ``ValueError`` (naming the file) for a header with a base other than 0 or 1.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"result file not found: {path}")
    with path.open() as f:
        for line in f:
            text = line.strip()
            if not text:
                continue
            match = _HEADER_RE.match(text)
            if match is None:
                return None
            if match.group(1) not in ("0", "1"):
                raise ValueError(f"{path}:1: coordinate_base must be 0 or 1, got {match.group(1)}")
            return int(match.group(1))
    return None


def read_otb_results(
    path: str | Path, *, coordinate_base: int | None = None, fallback_base: int = 1
) -> NDArray[np.float64]:
    """Read an OTB-style result file back into 0-based boxes ``[T, 4]``.

    Args:
        path: the file.
        coordinate_base: the base of the numbers, 0 or 1. ``None`` (default) takes it from the
            file's trackkit header, else ``fallback_base``. Given explicitly while the header
            names another base, it raises ``ValueError`` instead of shifting every box by one.
        fallback_base: the base of files without a header (1: OTB-2015/UAV123 toolkits).
    """
    for name, value in (("coordinate_base", coordinate_base), ("fallback_base", fallback_base)):
        if value is not None and value not in (0, 1):
            raise ValueError(f"{name} must be 0 or 1, got {value!r}")
    stated = results_file_base(path)
    if coordinate_base is not None and stated is not None and stated != coordinate_base:
        raise ValueError(
            f"{path}: the file says coordinate_base={stated} in its header but "
            f"coordinate_base={coordinate_base} was requested"
        )
    base = (
        stated
        if stated is not None
        else (coordinate_base if coordinate_base is not None else fallback_base)
    )
    rows = read_numeric_rows(path, min_cols=4)
    if rows.shape[1] != 4:
        raise ValueError(f"{path}: expected 4 values per line, got {rows.shape[1]}")
    rows[:, :2] -= base
    return rows
