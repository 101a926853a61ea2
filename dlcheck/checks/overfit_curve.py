"""How a tiny-batch loss curve failed, and what that usually means.

The failure signatures of "overfit a single batch" from Full Stack Deep Learning's troubleshooting lecture
(Josh Tobin): the loss goes up, explodes, oscillates,
stays flat, or plateaus above a floor; plus "still falling", a budget too short for the learning rate.
"""

from __future__ import annotations

__all__ = ["CurveDiagnosis", "diagnose_curve"]

import itertools
import math
from dataclasses import dataclass

from dlcheck.checks import thresholds
from dlcheck.formatting import number


@dataclass(frozen=True)
class CurveDiagnosis:
    """``shape`` is one of ``exploding``, ``rising``, ``flat``, ``oscillating``, ``floor``, ``slow``."""

    shape: str
    description: str  # completes "the loss ..."
    advice: list[str]

    @property
    def wants_higher_lr(self) -> bool:
        return self.shape in ("flat", "slow")


_ADVICE = {
    "exploding": [
        "A numerical problem (exp or log of extreme values, division by a small number) or a learning rate far too "
        "high: lower the learning rate, clip gradients, and compute the loss from logits (cross_entropy, "
        "bce_with_logits) rather than from probabilities.",
    ],
    "rising": [
        "The loss or its gradient has the wrong sign (maximising instead of minimising, e.g. a negated loss), the "
        "learning rate is too high, or softmax is taken over the wrong dimension.",
    ],
    "flat": [
        "Nothing is being learned: the learning rate is zero or far too low, gradients do not reach the parameters "
        "(see gradient_flow), the model ignores its input, or a constant/zero initialisation keeps every unit "
        "identical.",
    ],
    "oscillating": [
        "The learning rate is too high for this model (lower it 3-10x), or the targets do not match the inputs "
        "(labels shuffled separately, augmentation that changes the label).",
    ],
    "floor": [
        "The model cannot represent this batch: outputs squashed before the loss (softmax or sigmoid before a loss "
        "that expects logits), a model too small or too constrained, identical inputs with different labels, or "
        "regularisation still active; a learning rate too high to settle also leaves a floor.",
    ],
    "slow": [
        "The loss is still falling when the budget ends: the learning rate is low for this model (dlcheck lr-find "
        "suggests one) or the budget is short (--steps).",
    ],
}


def diagnose_curve(losses: list[float], target: float) -> CurveDiagnosis:
    """Classify a loss curve that did not reach ``target``.

    Parameters
    ----------
    losses : list of float
        The loss before each step; a non-finite last value means the run stopped there.
    target : float
        The loss that would have counted as fitted.

    Examples
    --------
    >>> diagnose_curve([2.3] * 100, 0.05).shape
    'flat'
    >>> diagnose_curve([2.3 + 0.01 * step for step in range(100)], 0.05).shape
    'rising'
    >>> diagnose_curve([2.3 * 0.99**step + 1.0 for step in range(500)], 0.05).shape
    'floor'
    >>> diagnose_curve([2.3, 5.0, float("nan")], 0.05).shape
    'exploding'
    """
    initial = losses[0]
    if not all(math.isfinite(value) for value in losses):
        step = next(index for index, value in enumerate(losses) if not math.isfinite(value))
        return CurveDiagnosis("exploding", f"became non-finite at step {step}", _ADVICE["exploding"])
    peak = max(losses)
    if peak >= thresholds.OVERFIT_EXPLODING_RATIO * initial:
        return CurveDiagnosis("exploding", f"exploded to {number(peak)} (from {number(initial)})", _ADVICE["exploding"])
    count = len(losses)
    tail = losses[-max(1, count // 10) :]
    end = sum(tail) / len(tail)
    if end >= thresholds.OVERFIT_RISING_RATIO * initial:
        return CurveDiagnosis("rising", f"rose from {number(initial)} to {number(end)}", _ADVICE["rising"])
    lowest = min(losses)
    if lowest >= (1.0 - thresholds.OVERFIT_FLAT_FRACTION) * initial:
        return CurveDiagnosis("flat", f"stayed flat at {number(initial)}", _ADVICE["flat"])
    second_half = losses[count // 2 :]
    if len(second_half) >= 8:
        changes = [after - before for before, after in itertools.pairwise(second_half)]
        flips = sum(1 for one, two in itertools.pairwise(changes) if one * two < 0)
        level = sum(second_half) / len(second_half)
        swing = (max(second_half) - min(second_half)) / level if level > 0 else 0.0
        if (
            flips >= thresholds.OVERFIT_OSCILLATION_SIGN_CHANGES * (len(changes) - 1)
            and swing >= thresholds.OVERFIT_OSCILLATION_AMPLITUDE
        ):
            return CurveDiagnosis(
                "oscillating",
                f"oscillated between {number(min(second_half))} and {number(max(second_half))}",
                _ADVICE["oscillating"],
            )
    quarter = losses[(3 * count) // 4]
    improvement = (quarter - end) / quarter if quarter > 0 else 0.0
    if improvement < thresholds.OVERFIT_FLOOR_IMPROVEMENT:
        return CurveDiagnosis(
            "floor",
            f"fell from {number(initial)} to {number(end)} and is stuck above a floor there",
            _ADVICE["floor"],
        )
    return CurveDiagnosis(
        "slow", f"fell from {number(initial)} to {number(end)} and was still falling", _ADVICE["slow"]
    )
