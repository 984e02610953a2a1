"""Parsing numeric annotation text files (any mix of comma, tab and space delimiters)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["line_of_row", "read_numeric_rows"]

_SPLIT = re.compile(r"[,;\s]+")


def read_numeric_rows(path: str | Path, *, min_cols: int = 1) -> NDArray[np.float64]:
    """Read a text file of numbers into ``float64 [N, C]``; blank lines are skipped.

    Values may be separated by commas, tabs, semicolons or spaces (OTB-2015 files mix them);
    ``NaN``/``nan`` are accepted. Lines starting with ``#`` are comments (trackkit's result
    files name their coordinate base in one) and are skipped like blank lines. Rows must all
    have the same number of values, at least ``min_cols``. Raises ``FileNotFoundError`` or
    ``ValueError`` naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    rows: list[list[float]] = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip().strip(",")
        if not text or text.startswith("#"):
            continue
        try:
            values = [float(v) for v in _SPLIT.split(text) if v]
        except ValueError:
            raise ValueError(
                f"{path}:{lineno}: not a row of numbers: {line.strip()[:60]!r}"
            ) from None
        if rows and len(values) != len(rows[0]):
            raise ValueError(
                f"{path}:{lineno}: expected {len(rows[0])} values, found {len(values)}"
            )
        if len(values) < min_cols:
            raise ValueError(f"{path}:{lineno}: expected at least {min_cols} values")
        rows.append(values)
    if not rows:
        return np.zeros((0, min_cols), dtype=np.float64)
    return np.asarray(rows, dtype=np.float64)


def line_of_row(path: str | Path, row: int) -> int:
    """1-based line number of data row ``row`` (0-based) of a file read by
    :func:`read_numeric_rows`, counting the blank and comment lines it skipped; for messages."""
    seen = -1
    for lineno, line in enumerate(Path(path).read_text().splitlines(), start=1):
        text = line.strip().strip(",")
        if text and not text.startswith("#"):
            seen += 1
            if seen == row:
                return lineno
    raise IndexError(f"{path} has no data row {row}")
