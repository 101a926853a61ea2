"""The chance level of a classifier, and the size of a validation set read off its accuracies.

With C balanced classes a model that ignores its input has cross-entropy ln C and accuracy 1/C (note
section 6). C comes, in order of trust, from ``--num-classes``, from the run's own files (run.json,
recipe.yaml, hparams.yaml, config.json), or from the first logged loss: at initialisation the loss is
ln C plus a little (random logits), so exp(loss0) lies just above an integer. That last inference is
only made from the loss of the very first step (step 0 or 1), and the report says it was inferred.
A run that starts at chance also gives C at its first evaluation, when the loss is near ln C *and* the
accuracy near 1/C there (two independent signs; a learning model does not show both).

Accuracy on n samples is a multiple of 1/n. Given enough distinct logged accuracies, the smallest n
that makes all of them (near-)multiples of 1/n is the validation set size, which gives binomial error
bars sqrt(p(1-p)/n) for the noise-aware rules (note 5.0).
"""

from __future__ import annotations

__all__ = ["ChanceLevel", "binomial_error", "infer_classes_from_loss", "infer_classes_from_pair", "infer_set_size"]

import math
from dataclasses import dataclass

import numpy as np

from dlcheck.curves.thresholds import DEFAULT_THRESHOLDS, Thresholds

MAX_SET_SIZE = 100_000
MIN_DISTINCT_ACCURACIES = 6  # with 6 values a spurious fit is ~1e-4 likely even at n = 1e5


@dataclass(frozen=True)
class ChanceLevel:
    """A classifier's chance level.

    Attributes
    ----------
    classes : int
    source : str
        Where ``classes`` came from, for the report.
    inferred : bool
        True when guessed from the initial loss (less trusted: findings say so).
    """

    classes: int
    source: str
    inferred: bool = False
    weak: bool = False  # inferred from a run that sat at chance: a 3-class model at 52% looks like 2 classes

    @property
    def loss(self) -> float:
        """Cross-entropy of a uniform prediction: ln C."""
        return math.log(self.classes)

    @property
    def accuracy(self) -> float:
        """Accuracy of a uniform guess: 1/C."""
        return 1.0 / self.classes

    def describe(self) -> str:
        return f"{self.classes} classes ({'inferred from ' if self.inferred else 'from '}{self.source})"


def infer_classes_from_loss(
    steps: np.ndarray, values: np.ndarray, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> ChanceLevel | None:
    """C from the loss at initialisation, when the first logged loss is that (see the module notes).

    Examples
    --------
    >>> steps = np.arange(1.0, 1001.0)  # the first point is step 1
    >>> chance = infer_classes_from_loss(steps, np.r_[2.31, np.full(999, 0.5)])
    >>> chance.classes, chance.inferred
    (10, True)
    >>> infer_classes_from_loss(steps, np.r_[1.0, np.full(999, 0.5)]) is None  # e^1 = 2.72: not near an integer
    True
    """
    finite = np.isfinite(values)
    if finite.sum() < 2:
        return None
    steps, values = steps[finite], values[finite]
    first, last = float(steps[0]), float(steps[-1])
    if last <= first or first > 1.0:  # only the loss of the very first step is the loss at initialisation
        return None
    initial = float(values[0])
    if not 0.5 < initial < 12.0:  # C from 2 to ~160k; below ln 2 the first point is no initial CE loss
        return None
    estimate = math.exp(initial)
    classes = max(2, round(estimate))
    # Random logits put the loss a little above ln C (ln C + sigma^2/2), never far below it.
    if not -thresholds.chance_inference_tolerance <= estimate / classes - 1.0 <= thresholds.chance_inference_tolerance:
        return None
    return ChanceLevel(classes, f"the initial loss {initial:.3g} = ln {estimate:.3g}", inferred=True)


def _classes_at_chance(loss: float, accuracy: float, size: int | None, thresholds: Thresholds) -> int | None:
    """C when ``loss`` ~ ln C and ``accuracy`` ~ 1/C, else None."""
    if not (math.isfinite(loss) and math.isfinite(accuracy)) or not 0.5 < loss < 12.0:
        return None
    estimate = math.exp(loss)
    # A model at chance predicts a fixed distribution; unless it is the label prior, its loss lies a little
    # *above* ln C: allow 3x the tolerance upwards (the accuracy is the second witness).
    tolerance = thresholds.chance_inference_tolerance
    classes = max(2, math.floor(estimate * (1.0 + tolerance)))
    if not -tolerance <= estimate / classes - 1.0 <= 3 * tolerance:
        return None
    if abs(accuracy - 1.0 / classes) > max(0.05, 3.0 * binomial_error(1.0 / classes, size)):
        return None
    return classes


def infer_classes_from_pair(
    loss_steps: np.ndarray,
    loss_values: np.ndarray,
    accuracy_steps: np.ndarray,
    accuracy_values: np.ndarray,
    *,
    size: int | None = None,
    label: str = "the validation curves",
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> ChanceLevel | None:
    """C from a run at chance: loss ~ ln C and accuracy ~ 1/C at its end (last 3 common points), or at its
    first common point with the accuracy still ~ 1/C at the end.

    The loss must be within [-5%, +15%] of ln C on the exp scale (a model at chance predicting a fixed
    distribution sits a little above ln C) and the accuracy within max(0.05, 3 SE) of 1/C. A learning
    model does not show both; but the result is ``weak``: a 3-class model stuck at 52% accuracy and
    loss 0.73 looks exactly like a 2-class model at chance, so findings resting on it only warn.

    Examples
    --------
    >>> steps = np.arange(1.0, 6.0)
    >>> infer_classes_from_pair(steps, np.full(5, 2.31), steps, np.full(5, 0.11)).classes
    10
    >>> infer_classes_from_pair(steps, np.full(5, 2.31), steps, np.full(5, 0.60)) is None  # learning, not chance
    True
    """
    _, loss_index, accuracy_index = np.intersect1d(loss_steps, accuracy_steps, return_indices=True)
    losses, accuracies = loss_values[loss_index], accuracy_values[accuracy_index]
    finite = np.isfinite(losses) & np.isfinite(accuracies)
    if finite.sum() < 2:
        return None
    losses, accuracies = losses[finite], accuracies[finite]
    end_loss, end_accuracy = float(np.median(losses[-3:])), float(np.median(accuracies[-3:]))
    classes = _classes_at_chance(end_loss, end_accuracy, size, thresholds)
    if classes is not None:
        text = f"{label} (ending at loss {end_loss:.3g} ~ ln {classes}, accuracy {end_accuracy:.3g} ~ 1/{classes})"
        return ChanceLevel(classes, text, inferred=True, weak=True)
    # Or it starts at chance and its accuracy never leaves it (the loss may rise: memorised shuffled labels).
    first_loss, first_accuracy = float(losses[0]), float(accuracies[0])
    classes = _classes_at_chance(first_loss, first_accuracy, size, thresholds)
    if classes is None or _classes_at_chance(math.log(classes), end_accuracy, size, thresholds) != classes:
        return None
    text = f"{label} (starting at loss {first_loss:.3g} ~ ln {classes}, accuracy {first_accuracy:.3g} ~ 1/{classes})"
    return ChanceLevel(classes, text, inferred=True, weak=True)


def infer_set_size(accuracies: np.ndarray, max_size: int = MAX_SET_SIZE) -> int | None:
    """Smallest n such that every accuracy is k/n (float32 rounding allowed); ``None`` if unclear.

    Needs at least 6 distinct values strictly between 0 and 1.

    Examples
    --------
    >>> infer_set_size(np.array([k / 360 for k in (300, 310, 322, 331, 340, 345, 349)], dtype=np.float32))
    360
    >>> infer_set_size(np.sqrt([0.66, 0.70, 0.72, 0.75, 0.77, 0.79])) is None  # averages of batch means, say
    True
    """
    values = np.unique(accuracies[np.isfinite(accuracies)].astype(np.float64))
    values = values[(values > 0) & (values < 1)]
    if values.size < MIN_DISTINCT_ACCURACIES:
        return None
    values = values[:30]
    sizes = np.arange(1, max_size + 1, dtype=np.float64)
    # float32 logging: |a - k/n| <= ~6e-8, so |a n - k| <= 6e-8 n; allow a margin.
    tolerance = 1e-5 + 2e-7 * sizes
    fits = np.ones(sizes.size, dtype=bool)
    for value in values:  # a loop over <= 30 values, each vectorised over all n
        products = value * sizes
        fits &= np.abs(products - np.round(products)) <= tolerance
    found = np.flatnonzero(fits)
    return int(sizes[found[0]]) if found.size else None


def binomial_error(accuracy: float, size: int | None) -> float:
    """Standard error of an accuracy measured on ``size`` samples; 0 when the size is unknown.

    >>> round(binomial_error(0.9, 3600), 4)
    0.005
    """
    if size is None or size <= 0 or not math.isfinite(accuracy):
        return 0.0
    probability = min(max(accuracy, 0.0), 1.0)
    return math.sqrt(probability * (1.0 - probability) / size)
