"""The constant-velocity box Kalman filter in 2x2-block form, for the trackers' hot path."""

from __future__ import annotations

import numpy as np

from ._layout import _SCALE_OF, StateLayout, boxes_unchecked
from ._validate import FloatArray, IntArray

# Rows of the per-track state block ``Array[N, 5, 4]``.
_X, _V, _PP, _PV, _VV = range(5)


class _BlockKalman:
    """The constant-velocity filter of a :class:`StateLayout` in 2x2-block form.

    With diagonal ``P0``, ``Q``, ``R`` and ``H = [I 0]`` (every layout here), each measured
    component and its velocity form an independent 2x2 block of the covariance, and the
    off-block entries stay exactly zero through predict and update. Storing the three
    distinct entries of each block (``pp``, ``pv``, ``vv``) with the mean (``x``) and velocity
    (``v``) of each component, all tracks in one ``Array[N, 5, 4]``, turns every step into a
    few elementwise operations instead of ``[N, n, n]`` matrix products, and selecting,
    saving or restoring tracks into one indexing operation. The result equals
    :class:`BatchedKalmanFilter` (tested); components without a velocity keep
    ``pv = vv = 0``. The update uses the standard form ``P = (I - K H) P``, equal to the
    Joseph form for the optimal gain.
    """

    def __init__(self, layout: StateLayout) -> None:
        self.layout = layout
        has_v = np.zeros(4, dtype=bool)
        has_v[list(layout.velocity_of)] = True
        self.has_v = has_v
        self.order = np.zeros(4, dtype=np.int64)  # state index of each component's velocity
        for offset, k in enumerate(layout.velocity_of):
            self.order[k] = 4 + offset
        self.scaled = layout.noise_scale == "box"
        self.dt = layout.dt
        self.measurement = layout.measurement
        columns = {"w": 0, "h": 1, "wh": 2, "1": 3}
        self.scale_index = np.array([columns[c] for c in _SCALE_OF[layout.measurement]])
        self.size_has_v = bool(has_v[2:].any())
        # xyah / cxcywh scale every component by a measured size (or 1): read it directly.
        direct = {"xyah": (3, 3, -1, 3), "cxcywh": (2, 3, 2, 3)}.get(layout.measurement)
        self.direct = None if direct is None else np.array([max(c, 0) for c in direct])
        self.unscaled = None if direct is None or min(direct) >= 0 else np.array(direct) < 0

        def per_component(values: tuple[float, ...]) -> tuple[FloatArray, FloatArray]:
            array = np.asarray(values, dtype=np.float64)
            pos = array[:4]
            vel = np.zeros(4)
            vel[has_v] = array[self.order[has_v]]
            if self.scaled:
                return pos**2, vel**2
            return pos, vel

        self.r = np.asarray(layout.measurement_noise, dtype=np.float64)
        self.r = self.r**2 if self.scaled else self.r
        self.p0_p, self.p0_v = per_component(layout.initial_covariance)
        self.q_p, self.q_v = per_component(layout.process_noise)
        self.q_v_masked = self.q_v * has_v
        self.p0_v_masked = self.p0_v * has_v
        self.state = np.zeros((0, 5, 4))
        # With absolute noise the prediction is affine in the state block: one product.
        dt = self.dt
        self.transition = np.array(
            [
                [1.0, dt, 0.0, 0.0, 0.0],
                [0.0, 1.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 1.0, 2.0 * dt, dt * dt],
                [0.0, 0.0, 0.0, 1.0, dt],
                [0.0, 0.0, 0.0, 0.0, 1.0],
            ]
        )
        self.noise = np.zeros((5, 4))
        self.noise[_PP] = self.q_p
        self.noise[_VV] = self.q_v_masked

    def __len__(self) -> int:
        return int(self.state.shape[0])

    # Views of the state block (writes go to the block).
    @property
    def x(self) -> FloatArray:
        return self.state[:, _X]

    @x.setter
    def x(self, value: FloatArray) -> None:
        self.state[:, _X] = value

    @property
    def v(self) -> FloatArray:
        return self.state[:, _V]

    @v.setter
    def v(self, value: FloatArray) -> None:
        self.state[:, _V] = value

    @property
    def pp(self) -> FloatArray:
        return self.state[:, _PP]

    @pp.setter
    def pp(self, value: FloatArray) -> None:
        self.state[:, _PP] = value

    @property
    def pv(self) -> FloatArray:
        return self.state[:, _PV]

    @pv.setter
    def pv(self, value: FloatArray) -> None:
        self.state[:, _PV] = value

    @property
    def vv(self) -> FloatArray:
        return self.state[:, _VV]

    @vv.setter
    def vv(self, value: FloatArray) -> None:
        self.state[:, _VV] = value

    def _scale2(self, x: FloatArray) -> FloatArray:
        """Squared box scale of each component (``Array[N, 4]``), as
        :meth:`StateLayout.component_scales` (first four columns), squared."""
        if self.direct is not None:
            sizes = np.abs(x[:, self.direct])
            if self.unscaled is not None:
                sizes[:, self.unscaled] = 1.0
            sizes *= sizes
            return sizes
        a, b = np.abs(x[:, 2]), np.abs(x[:, 3])
        sizes = np.empty((x.shape[0], 4))
        if self.measurement == "xysr":
            sizes[:, 0] = np.sqrt(a * b)
            sizes[:, 1] = np.divide(a, sizes[:, 0], out=np.zeros_like(a), where=sizes[:, 0] > 0)
            sizes[:, 2] = a
        elif self.measurement == "xyah":
            sizes[:, 0] = a * b
            sizes[:, 1] = b
            sizes[:, 2] = sizes[:, 0] * b
        else:
            sizes[:, 0] = a
            sizes[:, 1] = b
            sizes[:, 2] = a * b
        sizes[:, 3] = 1.0
        sizes *= sizes
        return sizes[:, self.scale_index]

    def initiate(self, z: FloatArray) -> None:
        """Append one track per measurement ``Array[K, 4]``: zero velocity, covariance ``P0``."""
        k = z.shape[0]
        if k == 0:
            return
        block = np.zeros((k, 5, 4))
        block[:, _X] = z
        if self.scaled:
            s2 = self._scale2(z)
            block[:, _PP] = self.p0_p * s2
            block[:, _VV] = self.p0_v * s2 * self.has_v
        else:
            block[:, _PP] = self.p0_p
            block[:, _VV] = self.p0_v_masked
        self.state = block if len(self) == 0 else np.concatenate([self.state, block])

    def freeze_shrinking_sizes(self) -> None:
        """SORT's guard: zero a size velocity that would make the size <= 0."""
        self._freeze_block(self.state)

    def _predicted(self, st: FloatArray) -> FloatArray:
        """The tracks of ``st`` (``Array[K, 5, 4]``) one step ahead, as a new array.

        ``x + dt v``, ``pp + 2 dt pv + dt^2 vv + q_p``, ``pv + dt vv``, ``vv + q_v``: linear in
        the block plus the process noise, so one product with a 5x5 matrix.
        """
        new = self.transition @ st
        if self.scaled:
            s2 = self._scale2(st[:, _X])
            new[:, _PP] += self.q_p * s2
            new[:, _VV] += self.q_v_masked * s2
        else:
            new += self.noise
        return new

    def _predict_block(self, st: FloatArray) -> None:
        """Predict the tracks of ``st`` (a view into the state) in place."""
        st[...] = self._predicted(st)

    def predict(self, rows: IntArray | None = None) -> None:
        """Advance every track (or only ``rows``) by one step."""
        if rows is None:
            self.state = self._predicted(self.state)
        else:
            self.state[rows] = self._predicted(self.state[rows])

    def _update_block(self, st: FloatArray, z: FloatArray) -> None:
        """Correct the tracks of ``st`` (``Array[K, 5, 4]``) in place with ``z[K, 4]``."""
        x, pp, pv = st[:, _X], st[:, _PP], st[:, _PV]
        r = self.r * self._scale2(x) if self.scaled else self.r
        s = pp + r
        k1, k2 = pp / s, pv / s
        y = z - x
        st[:, _X] = x + k1 * y
        st[:, _V] += k2 * y
        st[:, _VV] -= k2 * pv
        one_minus = 1.0 - k1
        st[:, _PP] = one_minus * pp
        st[:, _PV] = one_minus * pv

    def update(self, rows: IntArray, z: FloatArray) -> None:
        """Correct the tracks ``rows`` with one measurement each (``Array[K, 4]``)."""
        if rows.size == 0:
            return
        st = self.state[rows]
        self._update_block(st, z)
        self.state[rows] = st

    def _freeze_block(self, st: FloatArray) -> None:
        """:meth:`freeze_shrinking_sizes` on the tracks of ``st``, in place."""
        if not self.size_has_v:
            return
        speed = st[:, _V, 2:]
        shrink = st[:, _X, 2:] + self.dt * speed <= 0.0
        if shrink.any():
            speed[shrink] = 0.0

    def select(self, keep: np.ndarray) -> None:
        """Keep the rows selected by a bool mask or an index array."""
        self.state = self.state[keep]

    def get(self, rows: IntArray) -> FloatArray:
        """A copy of the state block of ``rows`` (``Array[K, 5, 4]``)."""
        return self.state[rows]

    def put(self, rows: IntArray, values: FloatArray) -> None:
        """Overwrite the state block of ``rows``."""
        self.state[rows] = values

    def full(self) -> tuple[FloatArray, FloatArray]:
        """``(mean[N, dim_x], covariance[N, dim_x, dim_x])`` as :class:`BatchedKalmanFilter`."""
        n, dim = len(self), self.layout.dim_x
        mean = np.zeros((n, dim))
        cov = np.zeros((n, dim, dim))
        mean[:, :4] = self.x
        for k in range(4):
            cov[:, k, k] = self.pp[:, k]
            if self.has_v[k]:
                o = self.order[k]
                mean[:, o] = self.v[:, k]
                cov[:, k, o] = cov[:, o, k] = self.pv[:, k]
                cov[:, o, o] = self.vv[:, k]
        return mean, cov

    def boxes_xyxy(self) -> FloatArray:
        """The current means as xyxy boxes ``Array[N, 4]``."""
        return boxes_unchecked(self.state[:, _X], self.measurement)
