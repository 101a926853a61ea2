"""Suspicious success: curves that look too good to be true (issue 11, section 2.8).

A loss that collapses to ~0 within the first few percent of a run, and stays there, is rarely a great
model: the usual causes are leakage (validation samples in the training set, a feature that encodes the
label), labels that are all one class or all masked out, or a loss computed on the wrong tensor (trainproof's
``TP-ZERO-LOSS`` is the exactly-zero case; QEDan/DLCheck flags a loss collapsing within 10 batches). An
accuracy that is *exactly* the same at every evaluation means the model gives the same answer for every
input: it sits at a majority-class rate, whatever that rate is.
"""

from __future__ import annotations

__all__ = ["detect_constant_accuracy", "detect_suspicious_success", "detect_unbounded_loss"]

import numpy as np

from dlcheck.curves.detectors.context import Context
from dlcheck.curves.findings import ADVICE, Finding
from dlcheck.curves.robust import mann_kendall, running_median

COLLAPSE_RATIO = 0.02
"""The loss falls to 2% of its first logged value or less ..."""
COLLAPSE_FRACTION = 0.05
"""... within the first 5% of the logged steps (a few steps, not a long fit of a small set) ..."""
COLLAPSE_FLOOR = 0.05
"""... and below 0.05 in absolute terms (a cross-entropy of 0.05 is 95% confidence in the right answer)."""
UNBOUNDED_FACTOR = 10.0
"""A loss that ends below zero at 10x (or more) the magnitude it started at, still falling, has no lower bound."""
MIN_CONSTANT_EVALUATIONS = 5
"""An accuracy identical at 5 evaluations or more is a constant prediction (binomial noise makes repeats of
a learning model's accuracy rare, except on a tiny set, where the values also move)."""


def detect_suspicious_success(steps: np.ndarray, values: np.ndarray, *, name: str, context: Context) -> list[Finding]:
    """``suspicious_success``: a loss that collapses to ~0 early and stays there (warn).

    Examples
    --------
    >>> steps = np.arange(10.0, 1510.0, 10.0)
    >>> loss = np.r_[0.85, 0.27, 0.045, 0.0098, np.full(146, 1e-4)]
    >>> detect_suspicious_success(steps, loss, name="loss", context=Context())[0].kind
    'suspicious_success'
    >>> detect_suspicious_success(steps, np.linspace(0.85, 0.01, 150), name="loss", context=Context())
    []
    """
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    if values.size < context.thresholds.min_points or values.min() < 0:
        return []
    start = float(values[0])
    if start <= 0:
        return []
    smooth = running_median(values, 3)
    limit = min(COLLAPSE_RATIO * start, COLLAPSE_FLOOR)
    below = np.flatnonzero(smooth <= limit)
    if below.size == 0:
        return []
    first, last = float(steps[0]), float(steps[-1])
    collapse_step = float(steps[below[0]])
    if last <= first or (collapse_step - first) / (last - first) > COLLAPSE_FRACTION:
        return []
    rest = values[below[0] :]
    if float(np.median(rest)) > limit:  # it came back up: an early dip, not a collapse
        return []
    zeros = int((rest == 0).sum())
    zero_text = f"; exactly 0 at {zeros} of the {rest.size} points after it" if zeros else ""
    message = (
        f"{name} collapsed from {start:.3g} to {float(smooth[below[0]]):.2g} by {context.where(collapse_step)} "
        f"({100 * (collapse_step - first) / (last - first):.1f}% of the run) and stayed there{zero_text}: too good to "
        "be true for most tasks"
    )
    metrics = {"start": start, "collapse_step": collapse_step, "end": float(np.median(rest)), "zeros": zeros}
    return [
        Finding("suspicious_success", "warn", name, collapse_step, last, message, ADVICE["suspicious_success"], metrics)
    ]


def detect_constant_accuracy(steps: np.ndarray, values: np.ndarray, *, name: str, context: Context) -> list[Finding]:
    """``random_performance``: an accuracy identical at every evaluation: the same prediction for every input.

    >>> steps = np.arange(35.0)
    >>> detect_constant_accuracy(steps, np.full(35, 0.9866071), name="val_accuracy", context=Context())[0].severity
    'warn'
    """
    finite = values[np.isfinite(values)]
    # Identical up to float32 rounding (a logger may round-trip the same value through float32 and float64).
    if finite.size < MIN_CONSTANT_EVALUATIONS or not np.allclose(finite, finite[0], rtol=1e-6, atol=1e-7):
        return []
    value = float(finite[0])
    if value >= 1.0 or value <= 0.0:  # perfect or zero accuracy is judged elsewhere (chance, suspicion)
        return []
    message = (
        f"{name} is exactly {value:.6g} at all {finite.size} evaluations: the model gives the same answer for every "
        "input (a majority-class rate), it learned nothing the metric can see"
    )
    advice = (
        "Look at the predictions: a constant output (all background pixels, all one class) gives exactly this.",
        "Use a metric that sees the minority classes (per-class recall, Dice, F1) and class weights or resampling.",
        *ADVICE["random_performance"][1:],
    )
    first, last = float(steps[0]), float(steps[-1])
    return [Finding("random_performance", "warn", name, first, last, message, advice, {"accuracy": value})]


def detect_unbounded_loss(steps: np.ndarray, values: np.ndarray, *, name: str, context: Context) -> list[Finding]:
    """``suspicious_success``: a loss that went below zero and keeps falling without levelling off (warn).

    A cross-entropy or a squared error cannot go below 0; losses that can (a log-likelihood of a continuous
    density, a negated similarity) are bounded in practice and level off. One that ends below zero at
    ``UNBOUNDED_FACTOR`` x the magnitude it started at and is still falling significantly over its last half
    is being driven to minus infinity: a wrong sign, a variance collapsing to 0, or a term the model can cheat
    - its ever lower value says nothing good about the model (the "broken loss" case of issue 11, 2.8).

    Examples
    --------
    >>> steps = np.arange(70.0)
    >>> detect_unbounded_loss(steps, -3e4 - 1.3e4 * steps**1.5, name="loss", context=Context())[0].kind
    'suspicious_success'
    >>> detect_unbounded_loss(steps, -2.0 - np.exp(-steps / 10), name="nll", context=Context())
    []
    """
    thresholds = context.thresholds
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    if values.size < thresholds.min_points:
        return []
    start = float(values[0])
    end = float(np.median(values[-max(1, values.size // 10) :]))
    if end >= 0 or abs(end) < UNBOUNDED_FACTOR * max(abs(start), 1e-12):
        return []
    tau, p_value = mann_kendall(values[values.size // 2 :])
    if not (tau < 0 and p_value < thresholds.trend_p_value):
        return []
    first, last = float(steps[0]), float(steps[-1])
    message = (
        f"{name} went below zero and kept falling: {start:.4g} -> {end:.4g} over the run, still going down at the "
        "end - a loss without a lower bound (wrong sign, a variance collapsing to 0, a term the model can cheat); "
        "its ever lower value does not mean a better model"
    )
    advice = (
        "Check the sign and the definition of the loss: a cross-entropy or squared error is never negative.",
        "For a log-likelihood with a learned variance, bound the variance from below; for a contrastive or "
        "similarity loss, check that it is bounded.",
        *ADVICE["suspicious_success"][2:],
    )
    metrics = {"start": start, "end": end, "tau": tau}
    return [Finding("suspicious_success", "warn", name, first, last, message, advice, metrics)]
