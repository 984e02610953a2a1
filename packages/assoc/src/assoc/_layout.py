"""State layouts for the constant-velocity box Kalman filter and box <-> measurement maps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ._validate import FloatArray, as_real_array, check_boxes_xyxy, check_finite, check_number

Measurement = Literal["xysr", "xyah", "cxcywh"]
MEASUREMENTS: tuple[str, ...] = ("xysr", "xyah", "cxcywh")
NoiseScale = Literal["absolute", "box"]
NOISE_SCALES: tuple[str, ...] = ("absolute", "box")
# Box-relative noise: which box size scales each measured component's standard deviation
# ("w", "h", "wh" = area, "1" = unscaled), per measurement parametrisation.
_SCALE_OF: dict[str, tuple[str, str, str, str]] = {
    "xysr": ("w", "h", "wh", "1"),
    "xyah": ("h", "h", "1", "h"),  # DeepSORT scales x, y and h by the height
    "cxcywh": ("w", "h", "w", "h"),  # BoT-SORT: x and w by the width, y and h by the height
}


@dataclass(frozen=True)
class StateLayout:
    """Layout of a constant-velocity box state: 4 measured components, then velocities.

    The state is ``[z_0, z_1, z_2, z_3, v_k for k in velocity_of]``, the measurement
    ``z = H x`` its first four entries. The defaults are SORT's 7-dim state
    ``[x, y, s, r, vx, vy, vs]`` with centre ``(x, y)``, area ``s`` and aspect ratio ``r = w/h``
    and SORT's noise settings (Bewley et al. 2016, ``sort.py``: ``R[2:, 2:] *= 10``,
    ``P[4:, 4:] *= 1000; P *= 10``, ``Q[-1, -1] *= 0.01; Q[4:, 4:] *= 0.01``).

    Attributes:
        measurement: box parametrisation of ``z``: ``"xysr"`` (SORT), ``"xyah"`` (centre,
            aspect ``w/h``, height; DeepSORT's) or ``"cxcywh"`` (centre, width, height).
        velocity_of: indices (0-3) of measured components that get a velocity state, in order.
        measurement_noise: diagonal of ``R`` (4 values, > 0).
        initial_covariance: diagonal of the initial ``P`` (``dim_x`` values, > 0).
        process_noise: diagonal of ``Q`` (``dim_x`` values, >= 0).
        dt: time step between frames in the transition ``F``.
        noise_scale: ``"absolute"`` (SORT): the three noise tuples are variances in the
            measurement's units. ``"box"`` (DeepSORT, Wojke et al. 2017; ByteTrack, Zhang et al.
            2022; BoT-SORT, Aharon et al. 2022): they are *standard-deviation weights*
            relative to the current box size; the standard deviation of a component is its
            weight times the box width (x, w), height (y, h; DeepSORT's ``xyah`` scales x by
            the height too), area (``s``) or 1 (aspect ratios). ``P0`` scales with the first
            measurement, ``Q`` with the mean before each prediction and ``R`` with the predicted
            mean at each update, as those papers' filters do. Box-relative noise keeps the
            Mahalanobis gate meaningful at every box size; SORT's absolute variances do not
            (an area variance of ~100 px^2 rejects the frame-to-frame area change of a real
            pedestrian box, thousands of px^2).

    Presets: :meth:`sort` (the default), :meth:`deepsort` and :meth:`botsort`.
    """

    measurement: Measurement = "xysr"
    velocity_of: tuple[int, ...] = (0, 1, 2)
    measurement_noise: tuple[float, ...] = (1.0, 1.0, 10.0, 10.0)
    initial_covariance: tuple[float, ...] = (10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4)
    process_noise: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1e-2, 1e-2, 1e-4)
    dt: float = 1.0
    noise_scale: NoiseScale = "absolute"

    @classmethod
    def sort(cls) -> StateLayout:
        """SORT's 7-dim ``xysr`` state with absolute noise (Bewley et al. 2016); the default."""
        return cls()

    @classmethod
    def deepsort(cls) -> StateLayout:
        """DeepSORT's / ByteTrack's 8-dim ``[x, y, a, h, vx, vy, va, vh]`` state.

        Box-relative noise with ``std_weight_position = 1/20`` and ``std_weight_velocity =
        1/160`` of the height (Wojke et al. 2017; Zhang et al. 2022 keep it); aspect-ratio
        standard deviations are absolute (``R``: 0.1, ``Q``: 0.01 / 1e-5, ``P0``: 0.01 / 1e-5).
        """
        p, v = 1.0 / 20.0, 1.0 / 160.0
        return cls(
            measurement="xyah",
            velocity_of=(0, 1, 2, 3),
            measurement_noise=(p, p, 1e-1, p),
            initial_covariance=(2 * p, 2 * p, 1e-2, 2 * p, 10 * v, 10 * v, 1e-5, 10 * v),
            process_noise=(p, p, 1e-2, p, v, v, 1e-5, v),
            noise_scale="box",
        )

    @classmethod
    def botsort(cls) -> StateLayout:
        """BoT-SORT's 8-dim ``[x, y, w, h, vx, vy, vw, vh]`` state (Aharon et al. 2022, sec. 3.1).

        Box-relative noise, eqs. 1-2: position and size standard deviations ``1/20`` and
        velocities ``1/160`` of the width (x, w) or height (y, h); ``P0`` twice the position
        and ten times the velocity weights, as the authors' code initialises it.
        """
        p, v = 1.0 / 20.0, 1.0 / 160.0
        return cls(
            measurement="cxcywh",
            velocity_of=(0, 1, 2, 3),
            measurement_noise=(p, p, p, p),
            initial_covariance=(2 * p,) * 4 + (10 * v,) * 4,
            process_noise=(p,) * 4 + (v,) * 4,
            noise_scale="box",
        )

    def __post_init__(self) -> None:
        if self.noise_scale not in NOISE_SCALES:
            raise ValueError(f"noise_scale must be one of {NOISE_SCALES}, got {self.noise_scale!r}")
        if self.measurement not in MEASUREMENTS:
            raise ValueError(f"measurement must be one of {MEASUREMENTS}, got {self.measurement!r}")
        if not isinstance(self.velocity_of, tuple | list):
            raise ValueError(f"velocity_of must be a tuple of ints, got {self.velocity_of!r}")
        velocity = tuple(self.velocity_of)
        if len(set(velocity)) != len(velocity) or any(
            isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < 4 for k in velocity
        ):
            raise ValueError(f"velocity_of must hold distinct ints in 0..3, got {velocity!r}")
        dim_x = 4 + len(velocity)
        checks = (
            ("measurement_noise", self.measurement_noise, 4, False),
            ("initial_covariance", self.initial_covariance, dim_x, False),
            ("process_noise", self.process_noise, dim_x, True),
        )
        for name, values, length, zero_ok in checks:
            array = as_real_array(name, values)
            if array.shape != (length,):
                raise ValueError(f"{name} must hold {length} values, got {values!r}")
            if not np.all(np.isfinite(array)) or np.any(array < 0 if zero_ok else array <= 0):
                sign = ">= 0" if zero_ok else "> 0"
                raise ValueError(f"{name} must be finite and {sign}, got {values!r}")
        check_number("dt", self.dt, low=0.0, low_open=True)

    @property
    def dim_x(self) -> int:
        """Number of state components."""
        return 4 + len(self.velocity_of)

    def transition(self) -> FloatArray:
        """Constant-velocity transition matrix ``F``, ``Array[dim_x, dim_x]``."""
        f = np.eye(self.dim_x)
        for offset, k in enumerate(self.velocity_of):
            f[k, 4 + offset] = self.dt
        return f

    def measurement_matrix(self) -> FloatArray:
        """``H``, ``Array[4, dim_x]``, selecting the measured components."""
        return np.eye(4, self.dim_x)

    def noise_matrices(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(R[4, 4], P0[dim_x, dim_x], Q[dim_x, dim_x])`` as diagonal matrices.

        With ``noise_scale="box"`` these are the squared weights (the variances of a 1x1 box);
        :meth:`scaled_variances` gives the per-track diagonals.
        """
        if self.noise_scale == "box":
            return (
                np.diag(np.square(np.asarray(self.measurement_noise, dtype=np.float64))),
                np.diag(np.square(np.asarray(self.initial_covariance, dtype=np.float64))),
                np.diag(np.square(np.asarray(self.process_noise, dtype=np.float64))),
            )
        return (
            np.diag(np.asarray(self.measurement_noise, dtype=np.float64)),
            np.diag(np.asarray(self.initial_covariance, dtype=np.float64)),
            np.diag(np.asarray(self.process_noise, dtype=np.float64)),
        )

    def component_scales(self, z: FloatArray) -> FloatArray:
        """``Array[N, dim_x]`` box size scaling each state component's standard deviation.

        ``z`` is ``Array[N, 4]`` measurement-space means; velocities take the scale of the
        component they move. Only meaningful with ``noise_scale="box"``.
        """
        # Magnitudes, as the papers' squared standard deviations (a predicted size may be < 0).
        a, b = np.abs(z[:, 2]), np.abs(z[:, 3])
        if self.measurement == "xysr":
            w = np.sqrt(a * b)
            h = np.divide(a, w, out=np.zeros_like(w), where=w > 0)
        elif self.measurement == "xyah":
            w, h = a * b, b
        else:
            w, h = a, b
        base = _SCALE_OF[self.measurement]
        names = base + tuple(base[k] for k in self.velocity_of)
        out = np.empty((z.shape[0], len(names)))
        for column, name in enumerate(names):
            if name == "w":
                out[:, column] = w
            elif name == "h":
                out[:, column] = h
            elif name == "wh":
                out[:, column] = w * h
            else:
                out[:, column] = 1.0
        return out


def boxes_to_measurements(boxes_xyxy: ArrayLike, measurement: Measurement = "xysr") -> FloatArray:
    """Map ``Array[N, 4]`` xyxy boxes with positive width and height to ``Array[N, 4]`` ``z``.

    Args:
        boxes_xyxy: boxes ``(x1, y1, x2, y2)``, ``x2 > x1`` and ``y2 > y1``.
        measurement: ``"xysr"``, ``"xyah"`` or ``"cxcywh"`` (see :class:`StateLayout`).
    """
    if measurement not in MEASUREMENTS:
        raise ValueError(f"measurement must be one of {MEASUREMENTS}, got {measurement!r}")
    boxes = check_positive_boxes("boxes_xyxy", boxes_xyxy)
    return measurements_unchecked(boxes, measurement)


def check_positive_boxes(name: str, value: ArrayLike) -> FloatArray:
    """Validate xyxy boxes with strictly positive width and height."""
    if (
        type(value) is np.ndarray
        and value.dtype == np.float64
        and value.ndim == 2
        and value.shape[1] == 4
        and np.isfinite(value).all()
        and (value[:, 2:] > value[:, :2]).all()
    ):  # the common case in two reductions; anything else gets the detailed checks
        return value
    boxes = check_boxes_xyxy(name, value)
    flat = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    if np.any(flat):
        row = int(np.flatnonzero(flat)[0])
        raise ValueError(
            f"{name} must have positive width and height for the Kalman filter, row {row} "
            f"is {boxes[row].tolist()}"
        )
    return boxes


def measurements_unchecked(boxes: FloatArray, measurement: str) -> FloatArray:
    """:func:`boxes_to_measurements` on validated boxes (trackers' hot path)."""
    out = np.empty((boxes.shape[0], 4))
    wh = boxes[:, 2:] - boxes[:, :2]
    out[:, :2] = boxes[:, :2] + wh / 2.0
    w, h = wh[:, 0], wh[:, 1]
    if measurement == "xysr":
        out[:, 2] = w * h
        out[:, 3] = w / h
    elif measurement == "xyah":
        out[:, 2] = w / h
        out[:, 3] = h
    else:
        out[:, 2:] = wh
    return out


def measurements_to_boxes(measurements: ArrayLike, measurement: Measurement = "xysr") -> FloatArray:
    """Inverse of :func:`boxes_to_measurements`; ``Array[N, 4]`` ``z`` -> xyxy boxes.

    Negative sizes, which a filter can predict, collapse to zero width/height rather than
    producing NaN (SORT returns NaN there and drops the track).
    """
    if measurement not in MEASUREMENTS:
        raise ValueError(f"measurement must be one of {MEASUREMENTS}, got {measurement!r}")
    z = as_real_array("measurements", measurements)
    if z.ndim != 2 or z.shape[1] != 4:
        raise ValueError(f"measurements must have shape (N, 4), got shape {z.shape}")
    check_finite("measurements", z)
    return boxes_unchecked(z, measurement)


def boxes_unchecked(z: FloatArray, measurement: str) -> FloatArray:
    """:func:`measurements_to_boxes` on a float ``Array[N, 4]`` (trackers' hot path)."""
    half = np.empty((z.shape[0], 2))
    if measurement == "xysr":
        a, b = np.maximum(z[:, 2], 0.0), np.maximum(z[:, 3], 0.0)
        w = np.sqrt(a * b)
        half[:, 0] = w / 2.0
        half[:, 1] = np.divide(a, w, out=np.zeros_like(w), where=w > 0) / 2.0
    elif measurement == "xyah":
        a, b = np.maximum(z[:, 2], 0.0), np.maximum(z[:, 3], 0.0)
        half[:, 0] = a * b / 2.0
        half[:, 1] = b / 2.0
    else:
        np.maximum(z[:, 2:], 0.0, out=half)
        half /= 2.0
    out = np.empty((z.shape[0], 4))
    np.subtract(z[:, :2], half, out=out[:, :2])
    np.add(z[:, :2], half, out=out[:, 2:])
    return out
