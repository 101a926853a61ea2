"""A run as read from its logs: its series and the facts about it that the detectors can use."""

from __future__ import annotations

__all__ = ["LogRun", "RunFacts", "assemble_series", "epochs_from_series", "number_or_none"]

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dlcheck.curves.series import Series


@dataclass
class RunFacts:
    """What the logs or files next to them say about a run (each with where it came from).

    Attributes
    ----------
    num_classes : int or None
        Number of classes of a classification task.
    num_classes_source : str or None
        Where ``num_classes`` came from, for the report (e.g. ``run.json``).
    val_size : int or None
        Validation samples, for binomial error bars on accuracy.
    val_size_source : str or None
    steps_per_epoch : float or None
        Optimiser steps per epoch, in the log's step units (for the periodicity rule and epoch labels).
    steps_per_epoch_source : str or None
    epoch_steps, epoch_values : ndarray or None
        A step -> epoch table (from an ``epoch`` series or column), to label steps with epochs.
    notes : list of str
        Anything worth telling about how the log was read.
    """

    num_classes: int | None = None
    num_classes_source: str | None = None
    val_size: int | None = None
    val_size_source: str | None = None
    steps_per_epoch: float | None = None
    steps_per_epoch_source: str | None = None
    epoch_steps: np.ndarray | None = None
    epoch_values: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def epoch_at(self, step: float) -> float | None:
        """The epoch a step falls in, numbered as the log numbers it, or ``None`` when unknown.

        Whole-number epochs (Lightning, Keras, dlcheck) are the number logged at or before the step;
        fractional ones (Hugging Face's progress) are interpolated.

        >>> facts = RunFacts(epoch_steps=np.array([9.0, 19.0, 29.0]), epoch_values=np.array([0.0, 0.0, 1.0]))
        >>> facts.epoch_at(25.0), RunFacts().epoch_at(3.0)
        (0.0, None)
        """
        steps, values = self.epoch_steps, self.epoch_values
        if steps is None or values is None or steps.size < 2:
            return None
        if np.allclose(values, np.round(values)):
            index = int(np.searchsorted(steps, step, side="right")) - 1
            return float(values[min(max(index, 0), values.size - 1)])
        return float(np.interp(step, steps, values))


@dataclass
class LogRun:
    """One training run's logs.

    Attributes
    ----------
    name : str
        How the report names the run (the path relative to what the user gave).
    path : Path
        The file or folder read.
    format : str
        ``tensorboard``, ``keras``, ``csv``, ``lightning-csv``, ``jsonl``, ``hf-trainer-state`` or ``dlcheck``.
    series : list of Series
        Every scalar series found.
    facts : RunFacts
    """

    name: str
    path: Path
    format: str
    series: list[Series]
    facts: RunFacts = field(default_factory=RunFacts)

    def find(self, name: str) -> Series | None:
        return next((item for item in self.series if item.name == name), None)


def assemble_series(
    name: str, steps: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, units: str
) -> Series:
    """Build a :class:`Series` from values in logging order, as TensorBoard would show them.

    When a step is logged again (a restarted or resumed run), the later value wins and every earlier
    value at a later or equal step is dropped: a value is kept only if all values logged after it have
    larger steps. The result has strictly increasing steps.

    Examples
    --------
    >>> series = assemble_series("loss", [1, 2, 3, 2, 3, 4], [9.0, 8.0, 7.0, 6.0, 5.0, 4.0], "step")
    >>> series.steps.tolist(), series.values.tolist()
    ([1.0, 2.0, 3.0, 4.0], [9.0, 6.0, 5.0, 4.0])
    """
    step_array = np.asarray(steps, dtype=np.float64)
    value_array = np.asarray(values, dtype=np.float64)
    finite_steps = np.isfinite(step_array)
    if not finite_steps.all():  # a step of inf or NaN places nothing on the axis
        step_array, value_array = step_array[finite_steps], value_array[finite_steps]
    if step_array.size > 1 and not bool(np.all(np.diff(step_array) > 0)):
        # suffix minimum of the steps logged after each value (exclusive)
        after = np.minimum.accumulate(step_array[::-1])[::-1]
        later = np.append(after[1:], np.inf)
        keep = step_array < later
        step_array, value_array = step_array[keep], value_array[keep]
    return Series(name, step_array, value_array, units)


def epochs_from_series(steps: np.ndarray, epochs: np.ndarray) -> tuple[np.ndarray, np.ndarray, float | None]:
    """A step -> epoch table and the steps per epoch, from a logged ``epoch`` value at each step.

    Integer epochs (Lightning, dlcheck) count epochs started; fractional ones (Hugging Face) the progress.
    Steps per epoch is the median step increase per unit of epoch over the log.

    >>> table_steps, table_epochs, per_epoch = epochs_from_series(np.arange(0.0, 100, 10), np.arange(10) // 2)
    >>> per_epoch
    20.0
    """
    keep = np.isfinite(steps) & np.isfinite(epochs)
    steps, epochs = steps[keep], epochs[keep]
    if steps.size < 2:
        return steps, epochs, None
    per_epoch: float | None = None
    if np.allclose(epochs, np.round(epochs)):
        changes = np.r_[0, np.flatnonzero(np.diff(epochs) > 0) + 1]
        if changes.size >= 2:
            # The first step logged in the first and the last epoch: a sparse log (every 10 steps) shifts each
            # by less than its interval, an error spread over all the epochs in between.
            first, last = changes[0], changes[-1]
            per_epoch = float((steps[last] - steps[first]) / (epochs[last] - epochs[first]))
    else:
        rise = np.diff(epochs)
        usable = rise > 0
        if usable.any():
            per_epoch = float(np.median(np.diff(steps)[usable] / rise[usable]))
    if per_epoch is not None and (not math.isfinite(per_epoch) or per_epoch <= 0):
        per_epoch = None
    return steps, epochs, per_epoch


def number_or_none(value: object) -> float | None:
    """A float from a logged cell: numbers, numeric strings (``nan``, ``inf``), ``None`` -> NaN.

    Returns ``None`` for values that are not numbers at all (text, lists, booleans).

    >>> number_or_none("nan"), number_or_none(None), number_or_none(2), number_or_none("adam"), number_or_none(True)
    (nan, nan, 2.0, None, None)
    """
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer past float's range
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str) and len(value) <= 64:
        try:
            return float(value)
        except (ValueError, OverflowError):
            return None
    return None
