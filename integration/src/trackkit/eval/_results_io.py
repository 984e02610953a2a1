"""OTB-style single-object result files (one ``x,y,w,h`` line per frame)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trackkit.data import read_numeric_rows

__all__ = ["read_otb_results", "write_otb_results"]


def write_otb_results(path: str | Path, boxes_xywh: ArrayLike, *, coordinate_base: int = 1) -> None:
    """Write 0-based boxes ``[T, 4]`` as ``x,y,w,h`` lines in the given coordinate base.

    ``coordinate_base=1`` (default) produces files comparable with OTB-2015/UAV123 ground truth
    and toolkits; 0 keeps trackkit's numbers (VOT, GOT-10k, TrackingNet).
    """
    if coordinate_base not in (0, 1):
        raise ValueError(f"coordinate_base must be 0 or 1, got {coordinate_base!r}")
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4).copy()
    boxes[:, :2] += coordinate_base
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(f"{v:.4f}" for v in row) + "\n" for row in boxes))


def read_otb_results(path: str | Path, *, coordinate_base: int = 1) -> NDArray[np.float64]:
    """Read an OTB-style result file back into 0-based boxes ``[T, 4]``."""
    if coordinate_base not in (0, 1):
        raise ValueError(f"coordinate_base must be 0 or 1, got {coordinate_base!r}")
    rows = read_numeric_rows(path, min_cols=4)
    if rows.shape[1] != 4:
        raise ValueError(f"{path}: expected 4 values per line, got {rows.shape[1]}")
    rows[:, :2] -= coordinate_base
    return rows
