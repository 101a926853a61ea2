"""Smoothing of a range-test curve: a causal EMA for the live stop, a zero-lag smoother for the suggestions.

Every existing finder picks its suggestion on a causal EMA of the loss. An EMA with factor ``beta`` lags by
about ``beta / (1 - beta)`` steps (19 for 0.95, 49 for 0.98): at 12 steps per decade that shifts the curve
0.4-1 decade to the right. Here the EMA only decides when to stop; suggestions are read
from a centred running median (which removes single-batch spikes) followed by a Gaussian-weighted local
linear fit, which has no lag and, unlike a plain moving average, no bias at the ends of the curve.
"""

from __future__ import annotations

__all__ = [
    "causal_ema",
    "default_bandwidth",
    "local_linear",
    "noise_scale",
    "running_median",
    "smoothed_noise",
    "smoother_noise_at",
    "zero_lag_smooth",
]

import numpy as np

from dlcheck.lr_finder.thresholds import BANDWIDTH_FRACTION, MEDIAN_WINDOW, MIN_BANDWIDTH_POINTS

_ROWS_PER_BLOCK = 512


def causal_ema(values: np.ndarray, beta: float) -> np.ndarray:
    """Exponential moving average ``s_t = beta * s_(t-1) + (1 - beta) * x_t`` started at ``s_0 = x_0``.

    Starting at the first value needs no bias correction (torch-lr-finder's form).

    Examples
    --------
    >>> causal_ema(np.array([1.0, 3.0, 3.0]), 0.5).tolist()
    [1.0, 2.0, 2.5]
    """
    values = np.asarray(values, dtype=np.float64)
    smoothed = np.empty_like(values)
    running = values[0] if values.size else 0.0
    for index, value in enumerate(values):
        running = value if index == 0 else beta * running + (1.0 - beta) * value
        smoothed[index] = running
    return smoothed


def running_median(values: np.ndarray, window: int = MEDIAN_WINDOW) -> np.ndarray:
    """Centred running median; the window shrinks symmetrically at the ends (no lag, no padding values).

    Examples
    --------
    >>> running_median(np.array([1.0, 1.0, 9.0, 1.0, 1.0]), 3).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    values = np.asarray(values, dtype=np.float64)
    half = max(0, window // 2)
    count = values.size
    result = np.empty_like(values)
    for index in range(count):
        reach = min(half, index, count - 1 - index)
        result[index] = np.median(values[index - reach : index + reach + 1])
    return result


def local_linear(positions: np.ndarray, values: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian-weighted local linear regression evaluated at every position (a LOWESS without robustness steps).

    Parameters
    ----------
    positions : numpy.ndarray
        ``(n,)`` increasing abscissae (sweep step indices, or log10 of the LR).
    values : numpy.ndarray
        ``(n,)`` the values to smooth.
    bandwidth : float
        Standard deviation of the Gaussian weights, in the units of ``positions``.

    Returns
    -------
    numpy.ndarray
        ``(n,)``; a straight line is returned unchanged, at the ends too.

    Examples
    --------
    >>> line = 2.0 * np.arange(6.0) + 1.0
    >>> np.allclose(local_linear(np.arange(6.0), line, 2.0), line)
    True
    """
    x = np.asarray(positions, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.size < 3:
        return y.copy()
    result = np.empty_like(y)
    for begin in range(0, x.size, _ROWS_PER_BLOCK):  # blocks of rows bound the memory at O(block * n)
        rows = slice(begin, min(begin + _ROWS_PER_BLOCK, x.size))
        offsets = x[None, :] - x[rows, None]  # (rows, n): row i holds x_j - x_i
        weights = np.exp(-0.5 * (offsets / bandwidth) ** 2)
        s0 = weights.sum(axis=1)
        s1 = (weights * offsets).sum(axis=1)
        s2 = (weights * offsets**2).sum(axis=1)
        t0 = weights @ y
        t1 = (weights * offsets) @ y
        determinant = s0 * s2 - s1 * s1
        safe = determinant > 1e-12 * np.maximum(s0 * s2, 1e-300)
        # Intercept of the weighted fit y ~ a + b (x_j - x_i) at row i; the weighted mean where it is degenerate.
        result[rows] = np.where(safe, (s2 * t0 - s1 * t1) / np.where(safe, determinant, 1.0), t0 / s0)
    return result


def default_bandwidth(count: int) -> float:
    """Gaussian bandwidth in steps for a curve of ``count`` points: ``max(2, 0.04 count)``."""
    return max(MIN_BANDWIDTH_POINTS, BANDWIDTH_FRACTION * count)


def zero_lag_smooth(values: np.ndarray, *, bandwidth_points: float | None = None) -> np.ndarray:
    """The suggestion curve: centred running median, then local linear smoothing over the step index.

    The sweep's steps are equally spaced in log-LR (exponential ramp) or in LR (linear ramp), so smoothing
    over the index is smoothing in the ramp's own units.

    Parameters
    ----------
    values : numpy.ndarray
        ``(n,)`` raw finite losses in sweep order.
    bandwidth_points : float, optional
        Gaussian bandwidth in steps; default ``max(2, 0.04 n)``.

    Examples
    --------
    >>> noisy = np.array([3.0, 3.1, 2.9, 3.0, 9.0, 3.0, 2.0, 1.0, 0.5, 0.4, 0.6, 2.0])
    >>> smoothed = zero_lag_smooth(noisy)
    >>> bool(smoothed[4] < 3.5), int(np.argmin(smoothed)) in (8, 9, 10)
    (True, True)
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.copy()
    bandwidth = bandwidth_points or default_bandwidth(values.size)
    return local_linear(np.arange(values.size, dtype=np.float64), running_median(values), bandwidth)


def noise_scale(values: np.ndarray) -> float:
    """Robust standard deviation of the batch-to-batch noise of a curve, from successive differences.

    ``1.4826 * median(|x_(t+1) - x_t|) / sqrt(2)``: differencing removes the slow trend, the median ignores
    spikes, and the factors make it the standard deviation for Gaussian noise. 0 for fewer than 3 values.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(noise_scale(np.linspace(5.0, 1.0, 4000) + 0.1 * rng.standard_normal(4000)), 2)
    0.1
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < 3:
        return 0.0
    return float(1.4826 * np.median(np.abs(np.diff(values))) / np.sqrt(2.0))


def smoothed_noise(noise: float, count: int) -> float:
    """Standard deviation left on the smoothed curve of ``count`` points whose raw noise is ``noise``.

    A Gaussian kernel of bandwidth ``h`` averages about ``2 sqrt(pi) h`` points, so the noise shrinks by the
    square root of that; this holds away from the ends (:func:`smoother_noise_at` is exact everywhere).

    Examples
    --------
    >>> round(smoothed_noise(1.0, 100), 3)
    0.266
    """
    return noise / float(np.sqrt(2.0 * np.sqrt(np.pi) * default_bandwidth(count)))


def smoother_noise_at(index: int, count: int, noise: float) -> float:
    """Standard deviation of :func:`zero_lag_smooth`'s value at ``index`` for white noise of ``noise``.

    The local linear smoother is linear, ``s = L y``, so ``var(s_i) = noise**2 * sum_j L_ij**2``, computed
    exactly for row ``i``. Near the ends the fit is one-sided and its variance several times larger than in
    the middle: a minimum of pure noise tends to sit there. (The running median before it lowers the noise
    further; ignoring that keeps this estimate on the safe, larger side.)

    Examples
    --------
    >>> middle, end = smoother_noise_at(50, 100, 1.0), smoother_noise_at(99, 100, 1.0)
    >>> round(middle, 2), end > 1.5 * middle
    (0.27, True)
    """
    positions = np.arange(count, dtype=np.float64)
    offsets = positions - positions[index]
    weights = np.exp(-0.5 * (offsets / default_bandwidth(count)) ** 2)
    s0, s1, s2 = weights.sum(), (weights * offsets).sum(), (weights * offsets**2).sum()
    determinant = s0 * s2 - s1 * s1
    row = weights * (s2 - s1 * offsets) / determinant if determinant > 0 else weights / s0
    return float(noise * np.sqrt(np.sum(row**2)))
