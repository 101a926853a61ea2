"""What every detector may know besides the curve itself: thresholds, chance level, set size, epochs."""

from __future__ import annotations

__all__ = ["Context", "LossCurve", "loss_curve"]

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dlcheck.curves.chance import ChanceLevel
from dlcheck.curves.findings import format_step
from dlcheck.curves.robust import Blocks, block_medians, log_values
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
