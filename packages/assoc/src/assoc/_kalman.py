"""Batched linear Kalman filter: predict and update all N tracks at once in numpy.

The update uses the same equations and order of operations as ``filterpy.kalman.KalmanFilter``
(Joseph-form covariance update), so a batch of N tracks equals N filterpy filters run one by one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._gating import chi2_gating_threshold, squared_mahalanobis
from ._layout import StateLayout, boxes_to_measurements, measurements_to_boxes
from ._validate import FloatArray, IntArray, as_real_array, check_finite


def kalman_predict(
    mean: FloatArray, covariance: FloatArray, transition: FloatArray, process_noise: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Kalman prediction for a batch: ``x = F x``, ``P = F P F^T + Q``.

    Args:
        mean: ``Array[N, n]`` state means.
        covariance: ``Array[N, n, n]`` state covariances.
        transition: ``Array[n, n]`` transition ``F``.
        process_noise: ``Array[n, n]`` process noise ``Q``.

    Returns:
        ``(mean[N, n], covariance[N, n, n])``, new arrays.

    Raises:
        ValueError: an argument is not a finite real array of the shape above.
    """
    mean, covariance = _check_state(mean, covariance)
    n = mean.shape[1]
    transition = _check_matrix("transition", transition, (n, n))
    process_noise = _check_matrix("process_noise", process_noise, (n, n))
    return predict_unchecked(mean, covariance, transition, process_noise)


def _check_state(mean: Any, covariance: Any) -> tuple[FloatArray, FloatArray]:
    mu = as_real_array("mean", mean)
    if mu.ndim != 2:
        raise ValueError(f"mean must have shape (N, n), got shape {mu.shape}")
    n = mu.shape[1]
    cov = _check_matrix("covariance", covariance, (mu.shape[0], n, n))
    check_finite("mean", mu)
    return mu, cov


def _check_matrix(name: str, value: Any, shape: tuple[int, ...]) -> FloatArray:
    array = as_real_array(name, value)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got shape {array.shape}")
    check_finite(name, array)
    return array


def predict_unchecked(
    mean: FloatArray, covariance: FloatArray, transition: FloatArray, process_noise: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """:func:`kalman_predict` on validated arrays (the filter's hot path)."""
    new_mean = mean @ transition.T
    new_cov = transition @ covariance @ transition.T + process_noise
    return new_mean, new_cov


def kalman_update(
    mean: FloatArray,
    covariance: FloatArray,
    measurement: FloatArray,
    measurement_matrix: FloatArray,
    measurement_noise: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Kalman update for a batch, Joseph form as in filterpy.

    ``y = z - H x``, ``S = H P H^T + R``, ``K = P H^T S^-1``, ``x += K y``,
    ``P = (I - K H) P (I - K H)^T + K R K^T``.

    Args:
        mean: ``Array[N, n]`` prior means.
        covariance: ``Array[N, n, n]`` prior covariances.
        measurement: ``Array[N, m]`` one measurement per row.
        measurement_matrix: ``Array[m, n]`` ``H``.
        measurement_noise: ``Array[m, m]`` ``R``.

    Returns:
        ``(mean[N, n], covariance[N, n, n])``, new arrays.

    Raises:
        ValueError: an argument is not a finite real array of the shape above.
    """
    mean, covariance = _check_state(mean, covariance)
    n_rows, n = mean.shape
    h = as_real_array("measurement_matrix", measurement_matrix)
    if h.ndim != 2 or h.shape[1] != n:
        raise ValueError(f"measurement_matrix must have shape (m, {n}), got shape {h.shape}")
    check_finite("measurement_matrix", h)
    m = h.shape[0]
    z = _check_matrix("measurement", measurement, (n_rows, m))
    r = _check_matrix("measurement_noise", measurement_noise, (m, m))
    return update_unchecked(mean, covariance, z, h, r)


def update_unchecked(
    mean: FloatArray,
    covariance: FloatArray,
    measurement: FloatArray,
    measurement_matrix: FloatArray,
    measurement_noise: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """:func:`kalman_update` on validated arrays (the filter's hot path)."""
    h = measurement_matrix
    residual = measurement - mean @ h.T  # [N, m]
    pht = covariance @ h.T  # [N, n, m]
    innovation = h @ pht + measurement_noise  # [N, m, m]
    gain = pht @ np.linalg.inv(innovation)  # [N, n, m]
    new_mean = mean + np.einsum("nij,nj->ni", gain, residual)
    i_kh = np.eye(mean.shape[1]) - gain @ h  # [N, n, n]
    new_cov = i_kh @ covariance @ np.swapaxes(i_kh, 1, 2) + gain @ measurement_noise @ np.swapaxes(
        gain, 1, 2
    )
    return new_mean, new_cov


def _diagonal(values: FloatArray) -> FloatArray:
    """``Array[N, n, n]`` diagonal matrices from ``Array[N, n]`` diagonals."""
    n = values.shape[1]
    out = np.zeros((values.shape[0], n, n))
    out[:, np.arange(n), np.arange(n)] = values
    return out


class BatchedKalmanFilter:
    """Constant-velocity box Kalman filter over N tracks, state held as stacked arrays.

    Rows are tracks. ``initiate`` appends rows, ``select`` drops rows, ``predict`` advances all
    rows one frame, ``update`` corrects a subset of rows with matched boxes. Equal (to 1e-8) to
    one ``filterpy.kalman.KalmanFilter`` per track configured as in SORT (Bewley et al. 2016)
    for the default :class:`StateLayout`.

    Args:
        layout: state layout and noise settings; SORT's 7-dim ``[x, y, s, r, vx, vy, vs]``
            by default.

    Attributes:
        mean: ``Array[N, dim_x]`` state means.
        covariance: ``Array[N, dim_x, dim_x]`` state covariances.
    """

    def __init__(self, layout: StateLayout | None = None) -> None:
        layout = StateLayout() if layout is None else layout
        if not isinstance(layout, StateLayout):
            raise ValueError(f"layout must be a StateLayout, got {type(layout).__name__}")
        self.layout = layout
        self._f = layout.transition()
        self._h = layout.measurement_matrix()
        self._r, self._p0, self._q = layout.noise_matrices()
        self._scaled = layout.noise_scale == "box"
        if self._scaled:
            self._r_w = np.square(np.asarray(layout.measurement_noise, dtype=np.float64))
            self._p0_w = np.square(np.asarray(layout.initial_covariance, dtype=np.float64))
            self._q_w = np.square(np.asarray(layout.process_noise, dtype=np.float64))
        self.mean: FloatArray = np.zeros((0, layout.dim_x))
        self.covariance: FloatArray = np.zeros((0, layout.dim_x, layout.dim_x))

    def __len__(self) -> int:
        return int(self.mean.shape[0])

    def initiate(self, boxes_xyxy: ArrayLike) -> None:
        """Append one track per box: position from the box, zero velocity, covariance ``P0``.

        Args:
            boxes_xyxy: ``Array[K, 4]`` boxes with positive width and height.
        """
        self.initiate_measurements(boxes_to_measurements(boxes_xyxy, self.layout.measurement))

    def initiate_measurements(self, z: FloatArray) -> None:
        """:meth:`initiate` from validated measurements ``Array[K, 4]`` (trackers' hot path)."""
        mean = np.zeros((z.shape[0], self.layout.dim_x))
        mean[:, :4] = z
        if self._scaled:
            cov = _diagonal(self._p0_w * np.square(self.layout.component_scales(z)))
        else:
            cov = np.broadcast_to(self._p0, (z.shape[0], *self._p0.shape))
        self.mean = np.concatenate([self.mean, mean], axis=0)
        self.covariance = np.concatenate([self.covariance, cov], axis=0)

    def predict(self, rows: ArrayLike | None = None) -> None:
        """Advance every track (or only ``rows``) by one time step.

        ``Q`` comes from the current sizes if the layout's noise is box-relative.

        Args:
            rows: optional ``Array[K]`` distinct row indices; all rows if omitted.
        """
        if rows is None:
            self.mean, self.covariance = predict_unchecked(
                self.mean, self.covariance, self._f, self._process_noise(self.mean)
            )
            return
        index = self._rows(rows)
        mean, cov = predict_unchecked(
            self.mean[index], self.covariance[index], self._f, self._process_noise(self.mean[index])
        )
        self.mean[index] = mean
        self.covariance[index] = cov

    def _process_noise(self, mean: FloatArray) -> FloatArray:
        if not self._scaled:
            return self._q
        return _diagonal(self._q_w * np.square(self.layout.component_scales(mean[:, :4])))

    def _measurement_noise(self, mean: FloatArray) -> FloatArray:
        if not self._scaled:
            return self._r
        scales = self.layout.component_scales(mean[:, :4])[:, :4]
        return _diagonal(self._r_w * np.square(scales))

    def update(self, rows: ArrayLike, boxes_xyxy: ArrayLike) -> None:
        """Correct the tracks ``rows`` with one box each.

        Args:
            rows: ``Array[K]`` distinct integer row indices.
            boxes_xyxy: ``Array[K, 4]`` matched boxes, positive width and height.
        """
        index = self._rows(rows)
        z = boxes_to_measurements(boxes_xyxy, self.layout.measurement)
        if z.shape[0] != index.shape[0]:
            raise ValueError(
                f"boxes_xyxy must have one box per row, got {z.shape[0]} boxes for "
                f"{index.shape[0]} rows"
            )
        self.update_measurements(index, z)

    def update_measurements(self, index: IntArray, z: FloatArray) -> None:
        """:meth:`update` with validated distinct rows and measurements (trackers' hot path)."""
        if index.size == 0:
            return
        prior = self.mean[index]
        mean, cov = update_unchecked(
            prior, self.covariance[index], z, self._h, self._measurement_noise(prior)
        )
        self.mean[index] = mean
        self.covariance[index] = cov

    def select(self, keep: ArrayLike) -> None:
        """Keep only the rows selected by a bool mask ``Array[N]`` or an index array."""
        selector = np.asarray(keep)
        if selector.dtype == np.bool_:
            if selector.shape != (len(self),):
                raise ValueError(
                    f"keep must be a bool mask of shape ({len(self)},), got {selector.shape}"
                )
        else:
            selector = self._rows(selector, name="keep", distinct=False)
        self.mean = self.mean[selector]
        self.covariance = self.covariance[selector]

    def freeze_shrinking_sizes(self) -> None:
        """SORT's guard before predicting: zero a size velocity that would make the size <= 0.

        ``sort.py`` does ``if x[6] + x[2] <= 0: x[6] = 0``. Here it is applied to every size
        component (indices 2 and 3 of each layout) that has a velocity.
        """
        for offset, k in enumerate(self.layout.velocity_of):
            if k < 2:
                continue
            v = 4 + offset
            shrinking = self.mean[:, k] + self.layout.dt * self.mean[:, v] <= 0.0
            self.mean[shrinking, v] = 0.0

    def project(self) -> tuple[FloatArray, FloatArray]:
        """Measurement-space distribution: ``(H x [N, 4], S = H P H^T + R [N, 4, 4])``."""
        mean = self.mean @ self._h.T
        cov = self._h @ self.covariance @ self._h.T + self._measurement_noise(self.mean)
        return mean, cov

    def boxes_xyxy(self) -> FloatArray:
        """Current state of every track as ``Array[N, 4]`` xyxy boxes."""
        return measurements_to_boxes(self.mean[:, :4], self.layout.measurement)

    def gating_distance(self, boxes_xyxy: ArrayLike) -> FloatArray:
        """Squared Mahalanobis distance ``Array[N, M]`` of each box to each track's projection."""
        z = boxes_to_measurements(boxes_xyxy, self.layout.measurement)
        mean, cov = self.project()
        return squared_mahalanobis(mean, cov, z)

    def gate(self, boxes_xyxy: ArrayLike, *, probability: float = 0.95) -> NDArray[np.bool_]:
        """``Array[N, M]`` bool, True where a box lies inside a track's chi-square gate."""
        return self.gating_distance(boxes_xyxy) <= chi2_gating_threshold(4, probability=probability)

    def _rows(self, rows: Any, *, name: str = "rows", distinct: bool = True) -> IntArray:
        array = np.asarray(rows)
        if array.shape == (0,):
            return np.zeros(0, dtype=np.int64)
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise ValueError(
                f"{name} must be a 1-D integer array, got dtype {array.dtype} shape {array.shape}"
            )
        index = array.astype(np.int64)
        if np.any((index < 0) | (index >= len(self))):
            raise ValueError(f"{name} must lie in [0, {len(self)}), got {index.tolist()}")
        if distinct and np.unique(index).size != index.size:
            raise ValueError(f"{name} must not repeat a row, got {index.tolist()}")
        return index
