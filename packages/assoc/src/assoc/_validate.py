"""Input checks shared by the public functions: every failure names the argument."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__}"


def as_real_array(name: str, value: Any) -> FloatArray:
    """Convert ``value`` to a float64 array; reject bool, complex, object and string dtypes."""
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged nested lists and the like
        raise ValueError(f"{name} must be a numeric array, got {_describe(value)}") from error
    if array.dtype.kind not in "fiu":
        raise ValueError(f"{name} must have a real numeric dtype, got {_describe(array)}")
    return np.asarray(array, dtype=np.float64)


def check_finite(name: str, array: FloatArray) -> None:
    """Raise ValueError if ``array`` holds NaN or infinity."""
    if not np.all(np.isfinite(array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} must be finite, found {array[bad]} at index {bad}")


def check_boxes_xyxy(name: str, value: Any) -> FloatArray:
    """Validate ``Array[N, 4]`` boxes ``(x1, y1, x2, y2)`` with ``x2 >= x1`` and ``y2 >= y1``."""
    boxes = as_real_array(name, value)
    if boxes.shape == (0,):  # an empty list means "no boxes"
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) in xyxy format, got shape {boxes.shape}")
    check_finite(name, boxes)
    inverted = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if np.any(inverted):
        row = int(np.flatnonzero(inverted)[0])
        raise ValueError(
            f"{name} must satisfy x2 >= x1 and y2 >= y1 (xyxy format), row {row} is "
            f"{boxes[row].tolist()}"
        )
    return boxes


def check_vector(name: str, value: Any, length: int) -> FloatArray:
    """Validate a finite ``Array[length]``."""
    if (
        type(value) is np.ndarray
        and value.dtype == np.float64
        and value.shape == (length,)
        and np.isfinite(value).all()
    ):
        return value
    vector = as_real_array(name, value)
    if vector.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},), got shape {vector.shape}")
    check_finite(name, vector)
    return vector


def check_embeddings(name: str, value: Any, rows: int | None = None) -> FloatArray:
    """Validate a finite ``Array[N, D]`` with ``D >= 1`` and no all-zero row."""
    embeddings = as_real_array(name, value)
    if embeddings.ndim != 2 or embeddings.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, D) with D >= 1, got shape {embeddings.shape}")
    if rows is not None and embeddings.shape[0] != rows:
        raise ValueError(
            f"{name} must have {rows} rows (one per box), got shape {embeddings.shape}"
        )
    check_finite(name, embeddings)
    zero = ~np.any(embeddings != 0.0, axis=1)
    if np.any(zero):
        raise ValueError(
            f"{name} row {int(np.flatnonzero(zero)[0])} is all zeros; "
            "cosine similarity is undefined for it"
        )
    return embeddings


def check_cost_matrix(name: str, value: Any) -> FloatArray:
    """Validate an ``Array[N, M]`` cost matrix: no NaN and no -inf (+inf means forbidden)."""
    cost = as_real_array(name, value)
    if cost.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {cost.shape}")
    if np.any(np.isnan(cost)) or np.any(cost == -np.inf):
        raise ValueError(f"{name} must not hold NaN or -inf (use +inf for forbidden pairs)")
    return cost


def check_threshold(name: str, value: Any) -> float | None:
    """Validate an optional finite real threshold."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a real number or None, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite or None, got {value!r}")
    return float(value)


def check_number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    inf_ok: bool = False,
) -> float:
    """Validate a real number (not bool, not NaN; infinite only with ``inf_ok``) in a range.

    ``low``/``high`` bound it (inclusive unless ``low_open``/``high_open``); the message names
    ``name`` and the range. One scalar check, cheap enough for every config and call.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    number = float(value)
    finite = np.isfinite(number)
    if np.isnan(number) or not (finite or inf_ok):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must lie in {left}{lo}, {hi}{right}, got {value!r}")
    return number


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Validate an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
