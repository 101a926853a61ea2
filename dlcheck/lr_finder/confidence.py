"""How much to trust a suggestion: high, medium or low, with the reasons in words.

Three independent signs (research section 7.1), and the grade is the worst of them:

1. agreement of the rules with each other and with the curve: each rule aims at a point of the descent, so each
   should fall inside the usable band; a rule more than half a decade outside it gives medium, more than a
   decade outside gives low (the research's half-decade and one-decade tolerances). Pairwise spread is not
   used: ``minimum`` sits a decade below the minimum by construction and ``valley`` near the start of the
   descent, so on a clean canonical curve they spread over 1-1.5 decades while agreeing on the descent;
2. the curve's shape: anything but canonical lowers the grade (a failing shape, or noise, to low; a curve that
   never diverged, or a NaN, to medium);
3. the spread of repeated sweeps (different data order and dropout): over 2x caps at medium, over half a
   decade (3.2x) is low. Nobody else measures run-to-run variance (fastai #3295, research section 5.1).
"""

from __future__ import annotations

__all__ = ["GRADES", "decades_outside", "grade_confidence", "spread_decades"]

import math
from collections.abc import Mapping, Sequence

from dlcheck.lr_finder import thresholds as limits
from dlcheck.lr_finder.shape import FAILING_SHAPES

GRADES = ("low", "medium", "high")


def spread_decades(values: Sequence[float | None]) -> float | None:
    """``log10(max / min)`` of the positive values; None for fewer than two.

    Examples
    --------
    >>> spread_decades([1e-3, 1e-2, None, 3e-3])
    1.0
    """
    positive = [value for value in values if value is not None and value > 0]
    if len(positive) < 2:
        return None
    return math.log10(max(positive) / min(positive))


def decades_outside(value: float, band: tuple[float, float]) -> float:
    """How far ``value`` lies outside ``band``, in decades (0 inside).

    Examples
    --------
    >>> decades_outside(1e-4, (1e-3, 1e-1)), decades_outside(1e-2, (1e-3, 1e-1))
    (1.0, 0.0)
    """
    low, high = band
    if value < low:
        return math.log10(low / value)
    if value > high:
        return math.log10(value / high)
    return 0.0


def grade_confidence(
    rules: Mapping[str, float | None],
    band: tuple[float, float] | None,
    shape: str,
    repeat_suggestions: Sequence[float | None] = (),
) -> tuple[str, list[str]]:
    """Grade a suggestion.

    Parameters
    ----------
    rules : mapping
        Rule name to suggested LR (None where the rule found nothing).
    band : tuple of float or None
        The usable band ``(lo, hi)`` the rules are measured against.
    shape : str
        The curve's shape name (:data:`dlcheck.lr_finder.shape.SHAPES`).
    repeat_suggestions : sequence of float
        The recommended LR of every repeated sweep (empty or one value for a single sweep).

    Returns
    -------
    grade : {"high", "medium", "low"}
    reasons : list of str
        Why the grade is not high (empty when it is).

    Examples
    --------
    >>> rules = {"valley": 1e-3, "minimum": 2e-3, "steepest": 3e-3}
    >>> grade_confidence(rules, (8e-4, 2e-2), "canonical", [2e-3, 2.5e-3])
    ('high', [])
    >>> grade, reasons = grade_confidence({**rules, "valley": 1e-5}, (8e-4, 2e-2), "canonical")
    >>> grade, reasons[0]
    ('low', 'valley (1.0e-05) lies 1.9 decades outside the band where the loss falls (8.0e-04-2.0e-02)')
    """
    grade = 2
    reasons: list[str] = []

    def lower(to: int, reason: str) -> None:
        nonlocal grade
        grade = min(grade, to)
        reasons.append(reason)

    found = {name: value for name, value in rules.items() if value is not None}
    if len(found) < 2:
        lower(0, f"only {len(found)} of {len(rules)} rules found a suggestion")
    if band is None:
        lower(0, "the curve has no descent to read a band from")
    elif found:
        # All rules aim at a point of the descent; one that lands well outside it disagrees with the others.
        name, value = max(found.items(), key=lambda item: decades_outside(item[1], band))
        outside = decades_outside(value, band)
        where = f"{name} ({value:.1e}) lies {outside:.1f} decades outside the band where the loss falls "
        where += f"({band[0]:.1e}-{band[1]:.1e})"
        if outside > limits.AGREEMENT_LOW_DECADES:
            lower(0, where)
        elif outside > limits.AGREEMENT_HIGH_DECADES:
            lower(1, where)

    if shape in FAILING_SHAPES or shape == "too_noisy":
        lower(0, f"the curve is not canonical ({shape.replace('_', ' ')})")
    elif shape in ("never_diverges", "nan"):
        lower(1, f"the curve is not canonical ({shape.replace('_', ' ')})")

    repeat_spread = spread_decades(list(repeat_suggestions))
    if repeat_spread is not None:
        factor = 10**repeat_spread
        if factor > limits.REPEAT_LOW_FACTOR:
            lower(0, f"repeated sweeps differ by {factor:.1f}x")
        elif factor > limits.REPEAT_AGREEMENT_FACTOR:
            lower(1, f"repeated sweeps differ by {factor:.1f}x")
    return GRADES[grade], reasons
