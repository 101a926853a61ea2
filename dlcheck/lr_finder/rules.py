"""Suggestion rules, the usable band, and the one recommended LR, all read from a zero-lag smoothed curve.

Three rules of different kinds (research sections 2 and 3), so that their agreement means something:

- ``valley`` (fastai's default since 2021): the middle of the longest strictly decreasing subsequence of the
  descent; a level-based rule, robust to noise, never past the minimum.
- ``minimum`` (fastai, lag-corrected): the LR at the curve's minimum divided by sqrt(10); fastai's divisor of
  10 was set on a curve that lags half a decade (see :data:`~dlcheck.lr_finder.thresholds.MINIMUM_DIVISOR`).
- ``steepest`` (torch-lr-finder, Lightning before 2.5.3): the steepest descent, taken as ``d loss / d log10 lr``
  before the minimum. Always in log-LR: Lightning's switch to raw-LR derivatives moved suggestions three
  decades too low (#21141).

The band is where training is usable: from where the descent begins for good (10 % of the total fall made,
and more than the noise) to where the loss stops falling (90 % made; Smith's maximum bound). The rules' median in
log-LR, clipped to the band (research section 7, suggested defaults), marks the middle of the descent; the LR to
hold constant sits above it, half way to where the loss stops falling, or for SGD at the curve's minimum
(:func:`constant_suggestion`).
"""

from __future__ import annotations

__all__ = [
    "GRADIENT_SCALED_OPTIMIZERS",
    "RULE_NAMES",
    "SUGGESTION_KINDS",
    "apply_rules",
    "constant_suggestion",
    "descent",
    "divergence_index",
    "geometric_median",
    "is_gradient_scaled",
    "minimum_rule",
    "onset_index",
    "recommend",
    "rise_start",
    "start_level",
    "steepest_rule",
    "suggestions_by_kind",
    "usable_band",
    "valley_rule",
]

import math
from collections.abc import Mapping, Sequence

import numpy as np

from dlcheck.lr_finder.thresholds import (
    DESCENT_START_FRACTION,
    MINIMUM_DIVISOR,
    ONSET_FALL_FRACTION,
    ONSET_NOISE_MULTIPLE,
    START_FRACTION,
)

RULE_NAMES = ("valley", "minimum", "steepest")
GRADIENT_SCALED_OPTIMIZERS = ("SGD",)
"""torch optimiser classes whose step is ``lr x gradient`` (with or without momentum): their constant LR can sit at
the curve's minimum (see :data:`~dlcheck.lr_finder.thresholds.CONSTANT_TOWARDS_TOP`)."""
SUGGESTION_KINDS = ("constant", "annealed", "one_cycle")


def _checked(lrs: np.ndarray, smoothed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lrs = np.asarray(lrs, dtype=np.float64)
    smoothed = np.asarray(smoothed, dtype=np.float64)
    if lrs.shape != smoothed.shape:
        raise ValueError(f"lrs {lrs.shape} and losses {smoothed.shape} differ in length")
    if not np.all(np.isfinite(smoothed)):
        raise ValueError("the smoothed curve must be finite (cut it at the first non-finite loss)")
    return lrs, smoothed


def valley_rule(lrs: np.ndarray, smoothed: np.ndarray, start: int = 0) -> float | None:
    """fastai's ``valley``: about the midpoint of the longest strictly decreasing subsequence, from ``start`` on.

    ``lds[i]`` is the length of the longest strictly decreasing subsequence ending at ``i``; ``end`` is the
    first index with the largest ``lds``, ``start = end - lds[end]``, and the suggestion sits at
    ``start + floor(sec) + floor(sec / 2)`` with ``sec = (end - start) / 3`` (research section 2.2).

    fastai drops a fixed first 10 % of the points; here the curve is read from ``start``, where the descent
    begins (:func:`descent`). On a zero-lag smoothed curve the plateau at tiny LRs falls slowly but steadily,
    so from index 0 the subsequence would run through the whole plateau and put the "valley" decades below
    the descent.

    Examples
    --------
    >>> lrs = np.logspace(-5, 0, 11)
    >>> losses = np.array([2.0, 2.0, 1.9, 1.7, 1.3, 0.9, 0.6, 0.5, 0.7, 1.5, 3.0])
    >>> round(valley_rule(lrs, losses), 6)  # run of 7 ends at index 7: start 0, index 0 + 2 + 1 = 3
    0.000316
    """
    lrs, smoothed = _checked(lrs, smoothed)
    offset = min(max(start, 0), max(smoothed.size - 1, 0))
    lrs, smoothed = lrs[offset:], smoothed[offset:]
    count = smoothed.size
    if count < 2:
        return None
    lengths = np.ones(count, dtype=np.int64)
    for index in range(1, count):
        earlier = lengths[:index][smoothed[:index] > smoothed[index]]
        if earlier.size:
            lengths[index] = int(earlier.max()) + 1
    end = int(np.argmax(lengths))  # the first index with the largest length
    start = end - int(lengths[end])
    section = (end - start) / 3
    index = start + int(section) + int(section / 2)
    return float(lrs[min(max(index, 0), count - 1)])


def minimum_rule(lrs: np.ndarray, smoothed: np.ndarray) -> float | None:
    """The LR at the curve's minimum divided by :data:`~dlcheck.lr_finder.thresholds.MINIMUM_DIVISOR` (sqrt(10)).

    Examples
    --------
    >>> round(minimum_rule(np.array([1e-3, 1e-2, 1e-1]), np.array([2.0, 1.0, 3.0])), 6)
    0.003162
    """
    lrs, smoothed = _checked(lrs, smoothed)
    if smoothed.size == 0:
        return None
    return float(lrs[int(np.argmin(smoothed))] / MINIMUM_DIVISOR)


def steepest_rule(lrs: np.ndarray, smoothed: np.ndarray, start: int = 0) -> float | None:
    """The LR of steepest descent in log-LR, ``argmin d loss / d log10 lr``, from ``start`` to the minimum.

    ``start`` is where the descent begins (:func:`descent`): before it the curve is a plateau whose wiggles,
    and the smoother's ends, must not count as descent (Lightning #1767). None when the curve never descends.

    Examples
    --------
    >>> lrs = np.logspace(-4, 0, 9)
    >>> losses = np.array([2.0, 1.95, 1.8, 1.2, 0.7, 0.6, 0.55, 1.0, 3.0])
    >>> round(steepest_rule(lrs, losses), 5)  # the central difference (0.7 - 1.8) / 1 decade at 10**-2.5
    0.00316
    """
    lrs, smoothed = _checked(lrs, smoothed)
    if smoothed.size < 3:
        return None
    slope = np.gradient(smoothed, np.log10(lrs))  # second-order central differences, uneven spacing allowed
    last = int(np.argmin(smoothed))
    first = min(max(start, 0), last)
    candidates = slope[first : last + 1]
    index = int(np.argmin(candidates))
    if candidates[index] >= 0:
        return None
    return float(lrs[first + index])


def start_level(smoothed: np.ndarray) -> float:
    """The curve's starting level: the median of its first 5 % of points (at least 3), robust to the end effects.

    Examples
    --------
    >>> start_level(np.array([2.2, 2.0, 2.1, 1.0, 0.5]))
    2.1
    """
    smoothed = np.asarray(smoothed, dtype=np.float64)
    return float(np.median(smoothed[: _head(smoothed.size)]))


def _head(count: int) -> int:
    return max(3, int(np.ceil(START_FRACTION * count)))


def descent(smoothed: np.ndarray, curve_noise: float = 0.0) -> tuple[int, int] | None:
    """Indices ``(start, end)`` of the main descent; None when the curve never falls below its start.

    With ``margin = max(0.1 * fall, 3 * curve_noise)``: ``start`` follows the last point before the minimum
    still above ``start_level - margin`` (the descent has begun for good, not just dipped by noise), and
    ``end`` is the first point after it within ``margin`` of the minimum: where the loss stops falling. Smith
    sets the upper bound where the improvement "slows, becomes ragged, or falls", whichever comes first;
    the minimum itself is the last of these, and on a flat-bottomed curve its position is decided by noise.

    Examples
    --------
    >>> descent(np.array([2.0, 2.0, 1.9, 2.0, 1.5, 0.8, 0.55, 0.5, 2.5]))
    (4, 6)
    """
    smoothed = np.asarray(smoothed, dtype=np.float64)
    if smoothed.size < 2:
        return None
    lowest = int(np.argmin(smoothed))
    level = start_level(smoothed)
    minimum = float(smoothed[lowest])
    fall = level - minimum
    if fall <= 0 or lowest < _head(smoothed.size):  # the lowest point is part of the start: no descent
        return None
    margin = max(DESCENT_START_FRACTION * fall, 3.0 * curve_noise)
    above = np.flatnonzero(smoothed[: lowest + 1] > level - margin)
    start = min(int(above[-1]) + 1 if above.size else 0, lowest)
    near_bottom = np.flatnonzero(smoothed[start : lowest + 1] <= minimum + margin)
    end = start + int(near_bottom[0]) if near_bottom.size else lowest
    return start, end


def rise_start(smoothed: np.ndarray, curve_noise: float = 0.0) -> int | None:
    """Index where the loss starts to rise: the last point after the minimum still within the descent's margin
    of it (see :func:`descent`); None without a descent.

    Smith and Topin's maximum for one-cycle schedules is where the loss starts to rise; a curve that stays
    flat past its minimum up to large LRs allows a large peak ("super-convergence", research section 4).

    Examples
    --------
    >>> rise_start(np.array([2.0, 2.0, 2.0, 1.0, 0.5, 0.52, 0.55, 0.9, 3.0]))
    6
    """
    smoothed = np.asarray(smoothed, dtype=np.float64)
    found = descent(smoothed, curve_noise)
    if found is None:
        return None
    lowest = int(np.argmin(smoothed))
    margin = max(DESCENT_START_FRACTION * (start_level(smoothed) - float(smoothed[lowest])), 3.0 * curve_noise)
    risen = np.flatnonzero(smoothed[lowest:] > float(smoothed[lowest]) + margin)
    return lowest + int(risen[0]) - 1 if risen.size else smoothed.size - 1


def onset_index(smoothed: np.ndarray, curve_noise: float = 0.0) -> int | None:
    """Index where the loss starts to move at all: from there to the minimum the smoothed curve stays below its
    starting level by more than ``max(3 * curve_noise, 0.02 * fall)``; None without a descent.

    Below it the curve is flat within its noise: at such an LR the range test trained nothing measurable. The
    band's lower edge (:func:`descent`, 10 % of the fall made) lies above it.

    Examples
    --------
    >>> onset_index(np.array([2.0, 2.0, 2.0, 1.97, 1.9, 1.5, 0.8, 0.5, 2.5]))
    3
    """
    smoothed = np.asarray(smoothed, dtype=np.float64)
    if descent(smoothed, curve_noise) is None:
        return None
    lowest = int(np.argmin(smoothed))
    level = start_level(smoothed)
    margin = max(ONSET_NOISE_MULTIPLE * curve_noise, ONSET_FALL_FRACTION * (level - float(smoothed[lowest])))
    above = np.flatnonzero(smoothed[: lowest + 1] > level - margin)
    return min(int(above[-1]) + 1 if above.size else 0, lowest)


def divergence_index(smoothed: np.ndarray) -> int | None:
    """First index after the minimum where the smoothed loss is back at its starting level: every bit of progress
    lost, the LR past any use (the stop rule's own criterion); None when the curve never got back there.

    Examples
    --------
    >>> divergence_index(np.array([2.0, 2.0, 1.5, 0.8, 0.5, 0.9, 1.8, 2.4, 5.0]))
    7
    """
    smoothed = np.asarray(smoothed, dtype=np.float64)
    if descent(smoothed) is None:
        return None
    lowest = int(np.argmin(smoothed))
    back = np.flatnonzero(smoothed[lowest:] >= start_level(smoothed))
    return lowest + int(back[0]) if back.size else None


def is_gradient_scaled(optimizer: str) -> bool:
    """Whether an optimiser (its torch class name) steps by ``lr x gradient`` (SGD, with or without momentum)
    rather than by a step normalised per parameter (Adam, AdamW, RMSprop, Adagrad...).

    Examples
    --------
    >>> is_gradient_scaled("SGD"), is_gradient_scaled("AdamW"), is_gradient_scaled("")
    (True, False, False)
    """
    return optimizer in GRADIENT_SCALED_OPTIMIZERS


def constant_suggestion(
    lrs: np.ndarray,
    smoothed: np.ndarray,
    rules: Mapping[str, float | None],
    band: tuple[float, float] | None,
    *,
    gradient_scaled: bool = False,
) -> float | None:
    """The LR to hold constant (see :data:`~dlcheck.lr_finder.thresholds.CONSTANT_TOWARDS_TOP`).

    Normalised steps (Adam, RMSprop...): the rules' median pulled half way (in log-LR) to the band's upper edge,
    where the loss stops falling. SGD: the LR at the curve's minimum, its stability edge. None without a band.

    Examples
    --------
    >>> lrs = np.logspace(-5, 0, 6)
    >>> losses = np.array([2.0, 1.9, 1.5, 0.8, 0.5, 2.5])
    >>> rules = {"valley": 1e-3, "minimum": 3e-2, "steepest": 1e-3}
    >>> round(constant_suggestion(lrs, losses, rules, (1e-3, 1e-1)), 6)  # between 1e-3 and 1e-1
    0.01
    >>> round(constant_suggestion(lrs, losses, rules, (1e-3, 1e-1), gradient_scaled=True), 6)  # the minimum
    0.1
    """
    lrs, smoothed = _checked(lrs, smoothed)
    middle = recommend(rules, band)
    if middle is None or band is None:
        return None
    if gradient_scaled:
        return float(lrs[int(np.argmin(smoothed))])
    return float(min(max(math.sqrt(middle * band[1]), band[0]), band[1]))


def suggestions_by_kind(
    lrs: np.ndarray,
    smoothed: np.ndarray,
    rules: Mapping[str, float | None],
    curve_noise: float = 0.0,
    *,
    gradient_scaled: bool = False,
) -> dict[str, float | None]:
    """The suggestion for each use of the LR (:data:`SUGGESTION_KINDS`).

    ``constant``: :func:`constant_suggestion` (normalised steps: between the rules' median and where the loss stops
    falling; SGD: the curve's minimum); ``annealed``: the band's upper edge, where the loss stops falling (the peak
    of a cosine, exponential... or warmed-up schedule, which starts high and spends most steps lower);
    ``one_cycle``: where the loss starts to rise (Smith and Topin's one-cycle maximum; the warm-up third reaches it
    only after the model has learned).
    """
    lrs, smoothed = _checked(lrs, smoothed)
    band = usable_band(lrs, smoothed, curve_noise)
    rising = rise_start(smoothed, curve_noise)
    return {
        "constant": constant_suggestion(lrs, smoothed, rules, band, gradient_scaled=gradient_scaled),
        "annealed": band[1] if band is not None else None,
        "one_cycle": float(lrs[rising]) if rising is not None else None,
    }


def apply_rules(lrs: np.ndarray, smoothed: np.ndarray, curve_noise: float = 0.0) -> dict[str, float | None]:
    """Every rule's suggestion by name (:data:`RULE_NAMES`); None where a rule finds nothing."""
    found = descent(smoothed, curve_noise)
    return {
        "valley": valley_rule(lrs, smoothed, found[0] if found else 0),
        "minimum": minimum_rule(lrs, smoothed),
        "steepest": steepest_rule(lrs, smoothed, found[0] if found else 0),
    }


def usable_band(lrs: np.ndarray, smoothed: np.ndarray, curve_noise: float = 0.0) -> tuple[float, float] | None:
    """``(lo, hi)``: the LRs where the descent begins and where the loss stops falling; None without a descent.

    Between them the curve makes the central 80 % of its fall (see :func:`descent`).

    Examples
    --------
    >>> lrs = np.logspace(-5, 0, 6)
    >>> usable_band(lrs, np.array([2.0, 1.9, 1.5, 0.8, 0.5, 2.5]))
    (0.001, 0.1)
    """
    lrs, smoothed = _checked(lrs, smoothed)
    found = descent(smoothed, curve_noise)
    if found is None:
        return None
    return float(lrs[found[0]]), float(lrs[found[1]])


def geometric_median(values: Sequence[float | None]) -> float | None:
    """Median in log space (the geometric mean of the two middle values for an even count).

    Examples
    --------
    >>> geometric_median([1e-3, 1e-1, 1e-2])
    0.01
    >>> round(geometric_median([1e-3, 1e-1]), 6)
    0.01
    """
    positive = sorted(value for value in values if value is not None and value > 0 and math.isfinite(value))
    if not positive:
        return None
    return float(10 ** np.median(np.log10(positive)))


def recommend(rules: Mapping[str, float | None], band: tuple[float, float] | None) -> float | None:
    """The median of the rules' suggestions in log-LR, clipped into ``band``.

    Examples
    --------
    >>> round(recommend({"valley": 1e-4, "minimum": 3e-3, "steepest": 1e-2}, (1e-3, 3e-2)), 6)
    0.003
    >>> recommend({"valley": 1e-5, "minimum": 2e-5, "steepest": None}, (1e-3, 3e-2))
    0.001
    """
    middle = geometric_median([value for value in rules.values() if value is not None])
    if middle is None:
        return None
    if band is not None:
        middle = min(max(middle, band[0]), band[1])
    return float(middle)
