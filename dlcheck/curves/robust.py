"""Robust statistics the detectors share: block medians, MAD noise, trend tests, autocorrelation.

Everything here is numpy only and O(n) in the series length, except the trend tests (O(m^2)), which
only ever see block medians (m <= a few hundred). Medians rather than means throughout: logged
losses are heavy-tailed (a batch with a few misclassified samples is many times the median), and one
outlier must not move a reference level (note 5.0).
"""

from __future__ import annotations

__all__ = [
    "MAD_TO_SIGMA",
    "Blocks",
    "autocorrelation",
    "block_medians",
    "log_values",
    "mann_kendall",
    "noise_sigma",
    "robust_sigma",
    "running_median",
    "spearman",
    "theil_sen_slope",
    "trailing_reference",
    "zigzag_swings",
]

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MAD_TO_SIGMA = 1.4826  # sigma of a normal distribution = 1.4826 x its median absolute deviation
_NOISE_SAMPLE = 100_000
_MAX_ZERO_SHARE = 0.25  # a log scale is kept when at most a quarter of the losses are exactly 0


def log_values(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """Natural log of a non-negative loss (a few exact zeros allowed), or the values unchanged otherwise.

    Returns
    -------
    values : ndarray, float64
    is_log : bool
        ``False`` when the values were kept as they are (negative losses, or many zeros): ratios then do not
        apply. Exact zeros (at most 25%) are set to the smallest positive loss; NaN and inf stay as they are.

    Examples
    --------
    >>> log_values(np.array([1.0, np.e]))[0].round(3).tolist(), log_values(np.array([-1.0, 2.0]))[1]
    ([0.0, 1.0], False)
    """
    finite = values[np.isfinite(values)]
    if finite.size and float(finite.min()) >= 0:
        positive = finite[finite > 0]
        if positive.size and positive.size >= (1.0 - _MAX_ZERO_SHARE) * finite.size:
            # A batch predicted perfectly logs exactly 0 (float32 underflow): put it at the smallest loss seen.
            floor = float(positive.min())
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log(np.where(values > 0, values, np.where(np.isfinite(values), floor, values))), True
    return values.astype(np.float64, copy=False), False


def robust_sigma(values: np.ndarray) -> float:
    """Standard deviation estimated from the median absolute deviation (0 for fewer than 2 values)."""
    if values.size < 2:
        return 0.0
    median = np.median(values)
    return float(MAD_TO_SIGMA * np.median(np.abs(values - median)))


def noise_sigma(values: np.ndarray) -> float:
    """Point-to-point noise of a series: robust sigma of its first differences over sqrt(2).

    The median of the differences absorbs a linear trend, so a steadily falling curve without noise
    has noise ~0. Examples: white noise of sigma 1 gives ~1.

    >>> generator = np.random.default_rng(0)
    >>> round(noise_sigma(generator.normal(size=10_000) + np.linspace(0, 50, 10_000)), 1)
    1.0
    """
    if values.size < 3:
        return 0.0
    differences = np.diff(values)
    if differences.size > _NOISE_SAMPLE:  # a strided sample estimates a MAD as well, at a fraction of the cost
        differences = differences[:: differences.size // _NOISE_SAMPLE]
    return robust_sigma(differences) / math.sqrt(2.0)


@dataclass(frozen=True)
class Blocks:
    """A series reduced to medians of consecutive blocks of ``size`` points.

    Attributes
    ----------
    steps : ndarray (m,)
        Step of each block's middle point.
    first_steps, last_steps : ndarray (m,)
        Step range each block covers.
    medians : ndarray (m,)
        Block medians.
    size : int
        Points per block (the last block may hold fewer).
    sigma : float
        Standard error of one block median: 1.2533 sigma / sqrt(size), sigma the point noise.
    """

    steps: np.ndarray
    first_steps: np.ndarray
    last_steps: np.ndarray
    medians: np.ndarray
    size: int
    sigma: float


def block_medians(steps: np.ndarray, values: np.ndarray, target: int, *, min_size: int = 1) -> Blocks:
    """Reduce ``values`` (n,) to about ``target`` medians of consecutive blocks of at least ``min_size`` points.

    The standard error of a block median comes from the point-to-point scatter (:func:`noise_sigma`): a
    trend between blocks does not count as noise, heavy-tailed batch noise does.

    Examples
    --------
    >>> blocks = block_medians(np.arange(10.0), np.arange(10.0), target=2)
    >>> blocks.size, blocks.medians.tolist()
    (5, [2.0, 7.0])
    """
    count = values.size
    size = max(1, count // max(1, target)) if count > 2 * target else 1
    size = min(max(size, min_size), max(1, count // 2))
    if size == 1:
        return Blocks(steps, steps, steps, values, 1, noise_sigma(values))
    full = count // size
    grid = values[: full * size].reshape(full, size)
    medians = np.median(grid, axis=1)
    firsts = steps[: full * size : size]
    lasts = steps[size - 1 : full * size : size]
    middles = steps[size // 2 : full * size : size]
    if count > full * size:  # the remainder is a last, shorter block
        rest = slice(full * size, count)
        medians = np.append(medians, np.median(values[rest]))
        firsts = np.append(firsts, steps[full * size])
        lasts = np.append(lasts, steps[-1])
        middles = np.append(middles, steps[(full * size + count - 1) // 2])
    point_sigma = noise_sigma(values)
    # A block median's standard error: sqrt(pi/2) sigma / sqrt(size).
    return Blocks(middles, firsts, lasts, medians, size, 1.2533 * point_sigma / math.sqrt(size))


def running_median(values: np.ndarray, width: int) -> np.ndarray:
    """Centred running median of odd ``width`` with edges repeated (for short series: O(n x width)).

    >>> running_median(np.array([1.0, 9.0, 1.0, 1.0, 1.0]), 3).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    if width <= 1 or values.size < 3:
        return values.copy()
    width = min(width | 1, values.size if values.size % 2 else values.size - 1)
    half = width // 2
    padded = np.concatenate([np.full(half, values[0]), values, np.full(half, values[-1])])
    return np.median(sliding_window_view(padded, width), axis=1)


def trailing_reference(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Level and noise *before* each point, by blocks of ``window // 2`` points.

    Point ``i`` in block ``k`` is compared with what came before block ``k``, never with itself or the
    points of its own block (a spike must not hide itself, note 5.0):

    - the **level** is the median of block ``k-1``, the ``window/2`` points just before;
    - the **noise** is the robust sigma of the first differences over blocks ``k-2`` and ``k-1`` (the
      ``window`` points before), divided by sqrt(2): differences cancel the trend, so the steep fall of
      early epochs does not pass for noise.

    O(n): one median per block over ``window`` values.

    Returns
    -------
    level, sigma : ndarray (n,)
        NaN for the first ``window`` points, which have no full reference.

    Examples
    --------
    >>> values = np.r_[np.linspace(10.0, 1.0, 40), 1.0]
    >>> level, sigma = trailing_reference(values, 20)
    >>> bool(np.isnan(level[:20]).all()), round(float(level[40]), 2), round(float(sigma[40]), 6)
    (True, 2.04, 0.0)
    """
    count = values.size
    block = max(1, window // 2)
    level = np.full(count, np.nan)
    sigma = np.full(count, np.nan)
    blocks = count // block
    if blocks < 3 or block < 2:
        return level, sigma
    block_median = np.median(values[: blocks * block].reshape(blocks, block), axis=1)
    # (blocks - 1, 2 block - 1): the differences inside blocks k and k+1, a view without copies.
    differences = np.diff(values[: blocks * block])
    pairs = sliding_window_view(differences, 2 * block - 1)[::block]
    pair_median = np.median(pairs, axis=1)
    pair_sigma = MAD_TO_SIGMA * np.median(np.abs(pairs - pair_median[:, None]), axis=1) / math.sqrt(2.0)
    # Block k (k >= 2) takes the level of block k-1 and the noise of pair k-2 (blocks k-2 and k-1).
    start = 2 * block
    stop = blocks * block
    level[start:stop] = np.repeat(block_median[1 : blocks - 1], block)
    sigma[start:stop] = np.repeat(pair_sigma[: blocks - 2], block)
    if count > stop:  # points after the last full block: the last block and the last pair
        level[stop:] = block_median[blocks - 1]
        sigma[stop:] = pair_sigma[min(blocks - 2, pair_sigma.size - 1)]
    return level, sigma


def mann_kendall(values: np.ndarray) -> tuple[float, float]:
    """Kendall's tau of ``values`` against their order, and the two-sided p-value (normal approximation).

    Examples
    --------
    >>> tau, p = mann_kendall(np.arange(20.0))
    >>> tau, p < 1e-6
    (1.0, True)
    """
    count = values.size
    if count < 3:
        return 0.0, 1.0
    differences = np.sign(values[None, :] - values[:, None])  # (m, m)
    score = float(np.triu(differences, k=1).sum())
    pairs = count * (count - 1) / 2
    variance = count * (count - 1) * (2 * count + 5) / 18.0
    z = (score - math.copysign(1.0, score)) / math.sqrt(variance) if score else 0.0
    return score / pairs, math.erfc(abs(z) / math.sqrt(2.0))


def theil_sen_slope(positions: np.ndarray, values: np.ndarray) -> float:
    """Median of the pairwise slopes (robust to outliers); 0 for fewer than 2 distinct positions."""
    if values.size < 2:
        return 0.0
    rows, columns = np.triu_indices(values.size, k=1)
    run = positions[columns] - positions[rows]
    keep = run != 0
    if not keep.any():
        return 0.0
    return float(np.median((values[columns] - values[rows])[keep] / run[keep]))


def spearman(first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """Spearman rank correlation and its two-sided p-value (normal approximation, fine for n >= 6)."""
    count = first.size
    if count < 3:
        return 0.0, 1.0
    ranks_first = np.argsort(np.argsort(first, kind="stable"), kind="stable").astype(np.float64)
    ranks_second = np.argsort(np.argsort(second, kind="stable"), kind="stable").astype(np.float64)
    ranks_first -= ranks_first.mean()
    ranks_second -= ranks_second.mean()
    denominator = math.sqrt(float((ranks_first**2).sum() * (ranks_second**2).sum()))
    if denominator == 0:
        return 0.0, 1.0
    rho = float((ranks_first * ranks_second).sum()) / denominator
    z = rho * math.sqrt(count - 1)
    return rho, math.erfc(abs(z) / math.sqrt(2.0))


def autocorrelation(values: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelation at lags 0..max_lag of a (detrended) series, by FFT: O(n log n).

    >>> pattern = np.tile([0.0, 1.0, 0.0, -1.0], 50)
    >>> autocorrelation(pattern, 4)[[0, 2, 4]].round(2).tolist()
    [1.0, -0.99, 0.98]
    """
    centred = values - values.mean()
    count = centred.size
    size = 1 << (2 * count - 1).bit_length()
    spectrum = np.fft.rfft(centred, size)
    correlation = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    if correlation[0] <= 0:
        return np.zeros(max_lag + 1)
    return correlation / correlation[0]


def zigzag_swings(values: np.ndarray, amplitude: float) -> list[tuple[int, int]]:
    """Turning points of ``values`` whose swings are at least ``amplitude``: [(index, direction), ...].

    ``direction`` is +1 at a peak, -1 at a trough. A pass over the values keeps the running extreme and
    confirms it once the series has moved ``amplitude`` back from it (the ZigZag indicator).

    >>> zigzag_swings(np.array([0.0, 2.0, 0.0, 2.0, 0.0]), 1.0)
    [(1, 1), (2, -1), (3, 1)]
    """
    turns: list[tuple[int, int]] = []
    if values.size < 3:
        return turns
    low_index = high_index = 0
    direction = 0  # 0 until the first swing of `amplitude` sets it
    extreme_index = 0
    for index in range(1, values.size):
        value = float(values[index])
        if direction == 0:
            if value < values[low_index]:
                low_index = index
            if value > values[high_index]:
                high_index = index
            if value - float(values[low_index]) >= amplitude:
                direction, extreme_index = 1, index
            elif float(values[high_index]) - value >= amplitude:
                direction, extreme_index = -1, index
            continue
        extreme = float(values[extreme_index])
        if (value - extreme) * direction > 0:  # further in the current direction
            extreme_index = index
        elif abs(value - extreme) >= amplitude:  # a reversal: the extreme was a turning point
            turns.append((extreme_index, direction))
            direction, extreme_index = -direction, index
    return turns
