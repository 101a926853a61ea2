"""What every detector may know besides the curve itself: thresholds, chance level, set size, epochs."""

from __future__ import annotations

__all__ = ["Context", "LossCurve", "loss_curve", "with_aggregate_trend"]

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dlcheck.curves.chance import ChanceLevel
from dlcheck.curves.findings import format_step
from dlcheck.curves.robust import Blocks, block_medians, log_values, noise_sigma
from dlcheck.curves.thresholds import DEFAULT_THRESHOLDS, Thresholds


@dataclass(frozen=True)
class Context:
    """Facts shared by the detectors of one run.

    Attributes
    ----------
    thresholds : Thresholds
    chance : ChanceLevel or None
        Number of classes and where it came from.
    val_size : int or None
        Validation samples (binomial error bars on accuracy).
    steps_per_epoch : float or None
        In the log's step units.
    patience : int
        Evaluations without improvement before a simulated early stop.
    epoch_at : callable or None
        Step -> epoch, to name epochs in messages.
    units : str
        What a step counts: ``step``, ``epoch`` or ``row``.
    learning_rate_decayed : bool or None
        Whether the logged learning rate ends below half its peak; ``None`` when no rate is logged.
    """

    thresholds: Thresholds = DEFAULT_THRESHOLDS
    chance: ChanceLevel | None = None
    val_size: int | None = None
    steps_per_epoch: float | None = None
    patience: int = 5
    epoch_at: Callable[[float], float | None] | None = field(default=None, compare=False)
    units: str = "step"
    learning_rate_decayed: bool | None = None  # the logged LR ends below half its peak (None: no LR logged)
    final_accuracy: float | None = None  # validation (else training) accuracy at the end, as a fraction
    accuracy_rising: bool = False  # that accuracy still rises significantly over the second half of the run

    def where(self, step: float | None) -> str:
        """``step 4,120 (epoch 12)``; ``epoch 12`` when steps count epochs."""
        if self.units in ("epoch", "row"):
            return f"{self.units} {format_step(step)}"
        text = f"step {format_step(step)}"
        if step is not None and self.epoch_at is not None:
            epoch = self.epoch_at(step)
            if epoch is not None and math.isfinite(epoch):
                text += f" (epoch {int(epoch) if float(epoch).is_integer() else f'{epoch:.3g}'})"
        return text


@dataclass(frozen=True)
class LossCurve:
    """A loss prepared once for several detectors: finite points, log scale, block-median trend.

    Attributes
    ----------
    steps, values : ndarray (n,)
        Finite points only.
    scaled : ndarray (n,)
        ``log(values)`` when all are positive (``is_log``), else the values.
    trend : Blocks
        Block medians of ``scaled`` (about ``thresholds.trend_points`` of them).
    """

    steps: np.ndarray
    values: np.ndarray
    scaled: np.ndarray
    is_log: bool
    trend: Blocks

    @property
    def points(self) -> int:
        return int(self.values.size)

    def level(self, scaled: float) -> float:
        """Back from the scaled axis to the loss' own units."""
        return math.exp(scaled) if self.is_log else scaled

    def ratio(self, high: float, low: float) -> float:
        """How many times ``low`` ``high`` is (log scale), or their difference otherwise."""
        return math.exp(high - low) if self.is_log else high - low


def loss_curve(steps: np.ndarray, values: np.ndarray, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> LossCurve:
    """Prepare ``(steps, values)`` of a loss for the detectors (non-finite points dropped)."""
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    scaled, is_log = log_values(values)
    # Blocks of at least 3 points once there are enough, so that noise is measured within blocks.
    min_size = 3 if values.size >= 3 * thresholds.min_points else 1
    return LossCurve(
        steps, values, scaled, is_log, block_medians(steps, scaled, thresholds.trend_points, min_size=min_size)
    )


def with_aggregate_trend(curve: LossCurve, steps: np.ndarray, values: np.ndarray) -> LossCurve:
    """``curve`` (a per-step loss) with its trend taken from the per-epoch aggregate logged beside it.

    The tool's epoch mean averages every batch of the epoch, not only the few it logged, so it is the better
    estimate of the level: trend rules (plateau, divergence, slow convergence, underfitting) read it, while
    spikes, periodicity and batch-to-batch scatter stay on the steps (issue 11, 2.5). ``steps`` must already be
    on the curve's step axis. The standard error of one aggregate point is that of a median of the logged
    steps in its epoch (conservative: the tool averaged more batches than it logged). Returns ``curve``
    unchanged when the aggregate has fewer than 4 usable points or does not fit the curve's scale.

    Examples
    --------
    >>> steps = np.arange(1.0, 101.0)
    >>> noisy = np.exp(np.random.default_rng(0).normal(0.0, 0.7, 100)) * np.linspace(1.0, 0.25, 100)
    >>> curve = with_aggregate_trend(loss_curve(steps, noisy), np.array([20.0, 40, 60, 80, 100]),
    ...                              np.array([0.9, 0.7, 0.5, 0.4, 0.3]))
    >>> curve.trend.medians.size, round(float(np.exp(curve.trend.medians[-1])), 2)
    (5, 0.3)
    """
    finite = np.isfinite(values) & np.isfinite(steps)
    steps, values = steps[finite], values[finite]
    if values.size < 4 or curve.points < values.size:
        return curve
    if curve.is_log:
        if float(values.min()) <= 0:
            return curve
        medians = np.log(values)
    else:
        medians = values.astype(np.float64)
    order = np.argsort(steps, kind="stable")
    steps, medians = steps[order], medians[order]
    first_steps = np.concatenate([[float(curve.steps[0])], steps[:-1]])
    per_point = max(1, round(curve.points / values.size))
    sigma = 1.2533 * noise_sigma(curve.scaled) / math.sqrt(per_point)
    trend = Blocks(steps, first_steps, steps.copy(), medians, per_point, sigma)
    return LossCurve(curve.steps, curve.values, curve.scaled, curve.is_log, trend)
