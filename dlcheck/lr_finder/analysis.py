"""From raw sweeps to one answer: smooth each curve, apply the rules, classify it, then combine repeats.

Each sweep is analysed on its own (:func:`analyse_sweep`). Repeats are then combined rule by rule with the
median in log-LR (:func:`combine_sweeps`): the median of three independent sweeps halved the run-to-run
spread of every rule in the research's toy study (section 6), and the spread itself grades the confidence.
"""

from __future__ import annotations

__all__ = ["Combined", "SweepAnalysis", "analyse_sweep", "combine_sweeps"]

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dlcheck.lr_finder.confidence import grade_confidence
from dlcheck.lr_finder.range_test import SweepHistory
from dlcheck.lr_finder.rules import (
    RULE_NAMES,
    SUGGESTION_KINDS,
    apply_rules,
    geometric_median,
    is_gradient_scaled,
    suggestions_by_kind,
    usable_band,
)
from dlcheck.lr_finder.shape import FAILING_SHAPES, SHAPES, CurveShape, classify_shape
from dlcheck.lr_finder.smoothing import smoothed_noise, zero_lag_smooth


@dataclass(frozen=True)
class SweepAnalysis:
    """One sweep, read.

    Attributes
    ----------
    history : SweepHistory
        The raw record.
    smoothed : numpy.ndarray
        ``(history.usable,)`` zero-lag smoothed loss of the finite prefix.
    rules : dict
        Rule name to LR (None where the rule found nothing, or for a failing shape).
    band : tuple of float or None
        ``(lo, hi)``.
    suggestions : dict
        Per kind of use (:data:`~dlcheck.lr_finder.rules.SUGGESTION_KINDS`), the suggested LR; all None for a
        failing shape.
    shape : CurveShape
    """

    history: SweepHistory
    smoothed: np.ndarray
    rules: dict[str, float | None]
    band: tuple[float, float] | None
    suggestions: dict[str, float | None]
    shape: CurveShape

    @property
    def suggestion(self) -> float | None:
        """The constant-LR suggestion."""
        return self.suggestions["constant"]


def analyse_sweep(history: SweepHistory) -> SweepAnalysis:
    """Smooth, classify and apply the rules to one sweep.

    A failing shape (:data:`~dlcheck.lr_finder.shape.FAILING_SHAPES`) gives no rules, band or suggestion:
    any number read from such a curve would be noise presented as an answer.
    """
    usable = history.usable
    finite = history.loss[:usable]
    smoothed = zero_lag_smooth(finite) if usable else np.empty(0)
    shape = classify_shape(history, smoothed)
    if shape.name in FAILING_SHAPES or usable < 3:
        return SweepAnalysis(history, smoothed, dict.fromkeys(RULE_NAMES), None, dict.fromkeys(SUGGESTION_KINDS), shape)
    lrs = history.lr[:usable]
    curve_noise = smoothed_noise(shape.noise, usable)
    rules = apply_rules(lrs, smoothed, curve_noise)
    band = usable_band(lrs, smoothed, curve_noise)
    suggestions = suggestions_by_kind(
        lrs, smoothed, rules, curve_noise, gradient_scaled=is_gradient_scaled(history.optimizer)
    )
    return SweepAnalysis(history, smoothed, rules, band, suggestions, shape)


@dataclass(frozen=True)
class Combined:
    """The answer from one or more sweeps.

    Attributes
    ----------
    suggested_lr : float or None
        ``suggestions[kind]`` for the ``kind`` asked of :func:`combine_sweeps`.
    suggestions : dict
        Per kind of use, the median over sweeps (the constant one clipped to the combined band).
    band : tuple of float or None
    rules : dict
        Per rule, the median over sweeps in log-LR.
    confidence : {"high", "medium", "low"}
    reasons : list of str
        Why the confidence is not high.
    shape : CurveShape
        The most common shape over sweeps (ties: the more serious); its message and advice.
    repeat_spread : float or None
        ``max / min`` of the sweeps' suggestions (None for one sweep).
    """

    suggested_lr: float | None
    suggestions: dict[str, float | None]
    band: tuple[float, float] | None
    rules: dict[str, float | None]
    confidence: str
    reasons: list[str] = field(default_factory=list)
    shape: CurveShape = field(default_factory=lambda: CurveShape("canonical", ""))
    repeat_spread: float | None = None


def _majority_shape(sweeps: Sequence[SweepAnalysis]) -> CurveShape:
    counts = Counter(sweep.shape.name for sweep in sweeps)
    severity = {name: rank for rank, name in enumerate(("diverges_at_once", "rises_from_start", "flat", *SHAPES))}
    name = min(counts, key=lambda shape: (-counts[shape], severity[shape]))
    return next(sweep.shape for sweep in sweeps if sweep.shape.name == name)


def combine_sweeps(sweeps: Sequence[SweepAnalysis], kind: str = "constant") -> Combined:
    """Combine repeated sweeps (or pass one through) into the suggestion, band, rules and confidence.

    ``kind`` (one of :data:`~dlcheck.lr_finder.rules.SUGGESTION_KINDS`) picks the suggestion; the repeat
    spread that grades the confidence is measured on that kind.

    Examples
    --------
    >>> from dlcheck.lr_finder.range_test import SweepHistory
    >>> lrs = np.logspace(-7, 1, 100)
    >>> loss = 2.3 - 2.0 / (1 + np.exp(-3 * (np.log10(lrs) + 3))) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0)
    >>> history = SweepHistory(lrs, loss, 100, "completed", 0, 0.0)
    >>> combined = combine_sweeps([analyse_sweep(history)])
    >>> combined.shape.name, 1e-4 < combined.suggested_lr < 1e-1
    ('canonical', True)
    """
    if not sweeps:
        raise ValueError("no sweeps to combine")
    shape = _majority_shape(sweeps)
    if shape.name in FAILING_SHAPES:
        grade, reasons = grade_confidence(dict.fromkeys(RULE_NAMES), None, shape.name)
        return Combined(None, dict.fromkeys(SUGGESTION_KINDS), None, dict.fromkeys(RULE_NAMES), grade, reasons, shape)
    kept = [sweep for sweep in sweeps if sweep.shape.name not in FAILING_SHAPES]
    rules = {name: geometric_median([sweep.rules[name] for sweep in kept]) for name in RULE_NAMES}
    bands = [sweep.band for sweep in kept if sweep.band is not None]
    band = None
    if bands:
        low = geometric_median([lo for lo, _ in bands])
        high = geometric_median([hi for _, hi in bands])
        assert low is not None and high is not None
        band = (min(low, high), high)
    combined = {name: geometric_median([sweep.suggestions[name] for sweep in kept]) for name in SUGGESTION_KINDS}
    constant = combined["constant"]
    if constant is not None and band is not None:  # within the band; SGD's up to where the loss starts to rise
        gradient_scaled = is_gradient_scaled(kept[0].history.optimizer)
        top = max(band[1], combined["one_cycle"] or band[1]) if gradient_scaled else band[1]
        combined["constant"] = min(max(constant, band[0]), top)
    per_sweep = [sweep.suggestions[kind] for sweep in kept]
    grade, reasons = grade_confidence(rules, band, shape.name, per_sweep)
    present = [value for value in per_sweep if value is not None]
    spread = max(present) / min(present) if len(present) >= 2 else None
    return Combined(combined[kind], combined, band, rules, grade, reasons, shape, spread)
