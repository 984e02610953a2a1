"""Mahalanobis gating: which detections are plausible under a track's predicted distribution."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2

from ._validate import (
    FloatArray,
    as_real_array,
    check_cost_matrix,
    check_finite,
    check_number,
)


def squared_mahalanobis(
    mean: ArrayLike, covariance: ArrayLike, measurements: ArrayLike
) -> FloatArray:
    """Squared Mahalanobis distance of every measurement to every Gaussian.

    ``d2[i, j] = (z_j - mu_i)^T Sigma_i^{-1} (z_j - mu_i)``, computed through a Cholesky factor
    of each ``Sigma_i``.

    Args:
        mean: ``Array[N, d]`` means, e.g. the projected Kalman measurement means
            (:meth:`assoc.BatchedKalmanFilter.project`).
        covariance: ``Array[N, d, d]`` symmetric positive definite covariances (innovation
            covariances ``S = H P H^T + R``).
        measurements: ``Array[M, d]`` measurements in the same space.

    Returns:
        ``Array[N, M]`` float64, >= 0.
    """
    mu = as_real_array("mean", mean)
    sigma = as_real_array("covariance", covariance)
    z = as_real_array("measurements", measurements)
    if mu.ndim != 2:
        raise ValueError(f"mean must have shape (N, d), got shape {mu.shape}")
    n, d = mu.shape
    if sigma.shape != (n, d, d):
        raise ValueError(f"covariance must have shape ({n}, {d}, {d}), got shape {sigma.shape}")
    if z.ndim != 2 or z.shape[1] != d:
        raise ValueError(f"measurements must have shape (M, {d}), got shape {z.shape}")
    for name, array in (("mean", mu), ("covariance", sigma), ("measurements", z)):
        check_finite(name, array)
    if n == 0 or z.shape[0] == 0:
        return np.zeros((n, z.shape[0]))
    try:
        lower = np.linalg.cholesky(sigma)  # [N, d, d]
    except np.linalg.LinAlgError as error:
        raise ValueError("covariance must be symmetric positive definite") from error
    residual = z[None, :, :] - mu[:, None, :]  # [N, M, d]
    # Solve L y = r for every track at once: [N, d, d] \ [N, d, M].
    solved = np.linalg.solve(lower, np.swapaxes(residual, 1, 2))  # [N, d, M]
    return np.einsum("ndm,ndm->nm", solved, solved)


def chi2_gating_threshold(dim: int, *, probability: float = 0.95) -> float:
    """Gate on the chi-square quantile (Wojke et al. 2017, DeepSORT: 95 %, 9.4877 for d = 4).

    Args:
        dim: degrees of freedom, the measurement dimension.
        probability: probability mass inside the gate, in ``(0, 1)``.
    """
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
        raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
    check_number("probability", probability, low=0.0, high=1.0, low_open=True, high_open=True)
    return float(chi2.ppf(probability, df=int(dim)))


def mahalanobis_gate(
    mean: ArrayLike,
    covariance: ArrayLike,
    measurements: ArrayLike,
    *,
    probability: float = 0.95,
) -> NDArray[np.bool_]:
    """Admissible pairs: ``True`` where the squared Mahalanobis distance is inside the gate.

    The gate is the chi-square quantile :func:`chi2_gating_threshold` for ``d`` degrees of
    freedom (DeepSORT's 95 % default).

    Args:
        mean: ``Array[N, d]`` predicted measurement means.
        covariance: ``Array[N, d, d]`` innovation covariances.
        measurements: ``Array[M, d]`` measurements (same parametrisation as ``mean``).
        probability: gate probability in ``(0, 1)``.

    Returns:
        ``Array[N, M]`` bool.
    """
    d2 = squared_mahalanobis(mean, covariance, measurements)
    dim = np.shape(mean)[1]
    return d2 <= chi2_gating_threshold(dim, probability=probability)


def gate_cost(cost: ArrayLike, admissible: ArrayLike, *, gated_cost: float = np.inf) -> FloatArray:
    """Copy of ``cost`` with inadmissible pairs set to ``gated_cost``.

    The matchers treat ``+inf`` as a forbidden pair, so the default removes gated pairs from
    matching entirely.

    Args:
        cost: ``Array[N, M]`` cost matrix.
        admissible: ``Array[N, M]`` bool, ``True`` where a pair may match.
        gated_cost: value written where ``admissible`` is False: a real number or ``+inf``
            (NaN and ``-inf`` are rejected, as in ``cost``).
    """
    gated_cost = check_number("gated_cost", gated_cost, inf_ok=True)
    if gated_cost == -np.inf:
        raise ValueError("gated_cost must not be -inf (use +inf for forbidden pairs)")
    matrix = check_cost_matrix("cost", cost).copy()
    mask = np.asarray(admissible)
    if mask.dtype != np.bool_ or mask.shape != matrix.shape:
        raise ValueError(
            f"admissible must be a bool array of shape {matrix.shape}, got dtype {mask.dtype} "
            f"and shape {mask.shape}"
        )
    matrix[~mask] = gated_cost
    return matrix
