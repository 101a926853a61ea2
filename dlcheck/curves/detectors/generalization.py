"""Generalisation: overfitting, the train/validation gap, loss and accuracy disagreeing (note 5.6, 5.8, 5.9).

Validation curves are short (one point per evaluation) and noisy (a finite validation set), so every
rule here compares with the curve's own noise - the binomial standard error of an accuracy when the
set size is known, else the point-to-point scatter - and needs the effect to persist over several
evaluations.
"""

from __future__ import annotations

__all__ = [
    "EarlyStop",
    "align",
    "detect_generalization_gap",
    "detect_loss_accuracy_mismatch",
    "detect_metric_disagreement",
    "detect_overfitting",
    "simulate_early_stopping",
]

import math
from dataclasses import dataclass

import numpy as np

from dlcheck.curves.chance import binomial_error
from dlcheck.curves.detectors.context import Context
from dlcheck.curves.findings import ADVICE, Finding
from dlcheck.curves.robust import mann_kendall, noise_sigma, running_median


def align(target_steps: np.ndarray, steps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values of a series at ``target_steps``: the mean over each interval (previous target, target].

    A per-step training loss becomes the average since the previous evaluation, which is what an
    epoch-level log reports. Intervals without a point take the last point before them (NaN if none).

    Examples
    --------
    >>> align(np.array([2.0, 4.0]), np.arange(1.0, 5.0), np.array([1.0, 3.0, 5.0, 7.0])).tolist()
    [2.0, 6.0]
    """
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    if steps.size == 0:
        return np.full(target_steps.size, np.nan)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    upper = np.searchsorted(steps, target_steps, side="right")
    lower = np.concatenate([[0], upper[:-1]])
    lower = np.minimum(lower, upper)
    counts = upper - lower
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (cumulative[upper] - cumulative[lower]) / counts
    previous = np.where(upper > 0, values[np.maximum(upper - 1, 0)], np.nan)
    return np.where(counts > 0, means, previous)


@dataclass(frozen=True)
class EarlyStop:
    """What early stopping with ``patience`` evaluations would have done on a monitored curve."""

    kept_step: float  # the step whose weights it keeps (the best before stopping)
    kept_value: float
    stop_step: float | None  # when it stops; None when it never does
    best_step: float  # the overall best
    best_value: float
    patience: int
    monitor: str


def simulate_early_stopping(
    steps: np.ndarray, values: np.ndarray, *, patience: int, maximize: bool = False, monitor: str = ""
) -> EarlyStop | None:
    """Replay early stopping (Keras/Lightning semantics, ``min_delta`` 0) over a logged curve.

    Examples
    --------
    >>> stop = simulate_early_stopping(np.arange(1.0, 9.0), np.array([5, 4, 3, 3.5, 3.6, 3.7, 2, 1.0]), patience=3)
    >>> stop.kept_step, stop.stop_step, stop.best_step
    (3.0, 6.0, 8.0)
    """
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    if values.size == 0:
        return None
    signed = -values if maximize else values
    best_index, waited, stop_index = 0, 0, None
    for index in range(1, values.size):
        if signed[index] < signed[best_index]:
            best_index, waited = index, 0
        else:
            waited += 1
            if waited >= patience:
                stop_index = index
                break
    overall = int(np.argmin(signed))
    return EarlyStop(
        float(steps[best_index]),
        float(values[best_index]),
        float(steps[stop_index]) if stop_index is not None else None,
        float(steps[overall]),
        float(values[overall]),
        patience,
        monitor,
    )


def detect_overfitting(
    val_steps: np.ndarray,
    val_loss: np.ndarray,
    *,
    name: str,
    context: Context,
    train_at_val: np.ndarray | None,
    val_accuracy_at_val: np.ndarray | None = None,
) -> list[Finding]:
    """``overfitting``: validation loss rising from its minimum while the training loss does not rise.

    Prechelt's generalisation loss GL = v/v* - 1, v* the minimum of the (3-point median) smoothed
    validation loss, must be >= 5% for the last 3 evaluations, and the rise of their median over v* must
    exceed 3 sigmas of the curve's point-to-point noise (the minimum of a noisy curve is a lucky dip).
    GL >= 10% warns, below that it is info. A rise while validation accuracy still improves warns too, and
    says so: the loss overfits (over-confidence, a calibration problem) before the accuracy does.
    """
    thresholds = context.thresholds
    finite = np.isfinite(val_loss)
    steps, values = val_steps[finite], val_loss[finite]
    count = values.size
    consecutive = thresholds.overfitting_consecutive
    if count < max(thresholds.min_eval_points, consecutive + 2) or values.min() <= 0:
        return []
    smooth = running_median(values, 3) if count >= 5 else values
    best_index = int(np.argmin(smooth))
    if best_index >= count - consecutive:
        return []
    best = float(smooth[best_index])
    tail = values[-consecutive:]
    generalization = tail / best - 1.0
    sigma = noise_sigma(values)
    rise = float(np.median(tail)) - best
    if (
        not (generalization >= thresholds.overfitting_generalization_loss).all()
        or rise < thresholds.overfitting_noise_sigmas * sigma
    ):
        return []
    best_step, last_step = float(steps[best_index]), float(steps[-1])
    train_text = ""
    if train_at_val is not None:
        train = train_at_val[finite]
        train_best, train_end = _level(train[max(0, best_index - 1) : best_index + 2]), _level(train[-consecutive:])
        if math.isfinite(train_best) and math.isfinite(train_end):
            if train_end > train_best * 1.02:  # the training loss rose too: that is not overfitting
                return []
            train_text = f" while the training loss went from {train_best:.4g} to {train_end:.4g}"
    end_gl = float(np.median(generalization))
    severity = "warn" if end_gl >= thresholds.overfitting_warn else "info"
    caveat = ""
    if val_accuracy_at_val is not None:
        accuracy = val_accuracy_at_val[finite]
        at_best, at_end = _level(accuracy[max(0, best_index - 1) : best_index + 2]), _level(accuracy[-consecutive:])
        error = binomial_error(at_end, context.val_size) or noise_sigma(accuracy[np.isfinite(accuracy)])
        if math.isfinite(at_best) and math.isfinite(at_end) and at_end - at_best >= 2 * error and at_end > at_best:
            # The loss overfits while the accuracy does not (yet): over-confidence, a calibration problem. Still
            # a warning (issue 11): the checkpoint kept by the loss and by the accuracy differ.
            caveat = (
                f"; validation accuracy still rose ({at_best:.3g} -> {at_end:.3g}): the loss overfits (over-confident, "
                "badly calibrated predictions) before the accuracy does"
            )
    stop = simulate_early_stopping(steps, values, patience=context.patience)
    keep_text = ""
    if stop is not None:
        if stop.stop_step is not None:
            keep_text = (
                f"; early stopping with patience {context.patience} would have stopped at "
                f"{context.where(stop.stop_step)} and kept {context.where(stop.kept_step)}"
            )
        else:
            keep_text = f"; early stopping with patience {context.patience} would never have stopped"
    strength = "strongly " if end_gl >= thresholds.overfitting_strong else ""
    message = (
        f"{name} {strength}rose {100 * end_gl:.0f}% above its best {best:.4g} at {context.where(best_step)}"
        f"{train_text}{keep_text}{caveat}"
    )
    advice = (f"Keep the weights of {context.where(best_step)} (the best validation loss).", *ADVICE["overfitting"])
    metrics = {
        "best_step": best_step,
        "best_loss": best,
        "generalization_loss": end_gl,
        "kept_step": stop.kept_step if stop else None,
        "stop_step": stop.stop_step if stop else None,
    }
    if caveat:
        advice = ("Stop on the metric you care about (validation accuracy) rather than the loss.", *advice)
    return [Finding("overfitting", severity, name, best_step, last_step, message, advice, metrics)]  # type: ignore[arg-type]


def _level(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else math.nan


def detect_generalization_gap(
    val_steps: np.ndarray,
    *,
    context: Context,
    train_accuracy: np.ndarray | None,
    val_accuracy: np.ndarray | None,
    train_loss: np.ndarray | None,
    val_loss: np.ndarray | None,
    names: tuple[str, str],
    reference_loss: float | None,
) -> list[Finding]:
    """``generalization_gap``: a large train/validation gap at the end (note 5.8), judged against noise.

    With accuracies: train - val >= 0.10 (>= 0.07 once train accuracy > 0.9) and >= 3 standard errors of
    the validation accuracy (warn); validation far *above* training is suspicious (info). With losses
    only: val/train >= 1.5 and val - train >= 25% of ``reference_loss``.
    All arrays are aligned on ``val_steps``.
    """
    thresholds = context.thresholds
    if val_steps.size < thresholds.min_eval_points:
        return []
    tail = slice(-min(3, val_steps.size), None)
    first, last = float(val_steps[0]), float(val_steps[-1])
    if train_accuracy is not None and val_accuracy is not None:
        train_end, val_end = _level(train_accuracy[tail]), _level(val_accuracy[tail])
        if math.isfinite(train_end) and math.isfinite(val_end):
            error = binomial_error(val_end, context.val_size) or noise_sigma(val_accuracy[np.isfinite(val_accuracy)])
            gap = train_end - val_end
            limit = thresholds.gap_accuracy_high if train_end > 0.9 else thresholds.gap_accuracy
            metrics = {"train_accuracy": train_end, "val_accuracy": val_end, "gap": gap, "standard_error": error}
            if abs(gap) >= limit and abs(gap) >= thresholds.gap_sigmas * error:
                if gap > 0:
                    message = (
                        f"training accuracy {train_end:.3g} vs validation {val_end:.3g} at the end: a gap of "
                        f"{gap:.3g}" + (f" ({gap / error:.0f} standard errors)" if error else "")
                    )
                    return [
                        Finding(
                            "generalization_gap",
                            "warn",
                            " + ".join(names),
                            first,
                            last,
                            message,
                            ADVICE["generalization_gap"],
                            metrics,
                        )
                    ]
                message = (
                    f"validation accuracy {val_end:.3g} is well above training {train_end:.3g}: check for leakage "
                    "across splits, or regularisation applied only in training"
                )
                return [
                    Finding(
                        "generalization_gap",
                        "info",
                        " + ".join(names),
                        first,
                        last,
                        message,
                        ADVICE["generalization_gap"][1:],
                        metrics,
                    )
                ]
            return []
    if train_loss is not None and val_loss is not None and reference_loss:
        train_end, val_end = _level(train_loss[tail]), _level(val_loss[tail])
        if math.isfinite(train_end) and math.isfinite(val_end) and train_end > 0:
            ratio = val_end / train_end
            if (
                ratio >= thresholds.gap_loss_ratio
                and val_end - train_end >= thresholds.gap_loss_reference_fraction * reference_loss
            ):
                message = f"validation loss {val_end:.4g} is {ratio:.3g}x the training loss {train_end:.4g} at the end"
                metrics = {"train_loss": train_end, "val_loss": val_end, "ratio": ratio}
                return [
                    Finding(
                        "generalization_gap",
                        "warn",
                        " + ".join(names),
                        first,
                        last,
                        message,
                        ADVICE["generalization_gap"],
                        metrics,
                    )
                ]
    return []


def detect_loss_accuracy_mismatch(
    steps: np.ndarray,
    loss: np.ndarray,
    accuracy: np.ndarray,
    *,
    names: tuple[str, str],
    context: Context,
    is_validation: bool,
) -> list[Finding]:
    """``loss_accuracy_mismatch``: loss and accuracy falling together (note 5.9).

    Over the whole run and over its second half (at least ``mismatch_min_points`` evaluations), both
    Mann-Kendall trends must be significantly negative and the accuracy must drop by more than
    max(2 points, 2 standard errors) between the first and last third.
    """
    thresholds = context.thresholds
    finite = np.isfinite(loss) & np.isfinite(accuracy)
    steps, loss, accuracy = steps[finite], loss[finite], accuracy[finite]
    count = steps.size
    if count < thresholds.mismatch_min_points:
        return []
    for start in (0, count // 2):
        if count - start < thresholds.mismatch_min_points:
            continue
        loss_tau, loss_p = mann_kendall(loss[start:])
        accuracy_tau, accuracy_p = mann_kendall(accuracy[start:])
        if not (
            loss_tau < 0
            and accuracy_tau < 0
            and loss_p < thresholds.mismatch_p_value
            and accuracy_p < thresholds.mismatch_p_value
        ):
            continue
        part = accuracy[start:]
        third = max(1, part.size // 3)
        drop = float(np.median(part[:third]) - np.median(part[-third:]))
        error = binomial_error(float(np.median(part)), context.val_size if is_validation else None)
        if drop < max(0.02, 2 * error):
            continue
        first, last = float(steps[start]), float(steps[-1])
        message = (
            f"{names[0]} falls while {names[1]} falls too (by {drop:.3g}) from {context.where(first)}: the metric "
            "and the loss disagree"
        )
        metrics = {"loss_tau": loss_tau, "accuracy_tau": accuracy_tau, "accuracy_drop": drop}
        return [_mismatch(names, first, last, message, metrics)]
    return []


def _ends(values: np.ndarray) -> tuple[float, float]:
    """Medians of the first and last (up to) 3 points - a quarter of a short curve at most."""
    count = max(1, min(3, values.size // 4))
    return float(np.median(values[:count])), float(np.median(values[-count:]))


def detect_metric_disagreement(
    loss_steps: np.ndarray,
    loss: np.ndarray,
    accuracy: np.ndarray,
    *,
    names: tuple[str, str],
    context: Context,
    is_validation: bool,
    aligned: bool,
) -> list[Finding]:
    """``loss_accuracy_mismatch``: the loss and the accuracy tell different stories (issue 11, 2.8).

    Two cases, besides both falling together (:func:`detect_loss_accuracy_mismatch`):

    - **the accuracy improves, the loss does not** (``aligned``: the two come from one split, on the same
      steps): the error rate falls by ``mismatch_error_ratio`` or more, by 3 standard errors (binomial when the
      validation set size is known), while the loss changes by less than ``mismatch_flat_loss`` and stays at
      or above ``mismatch_high_loss`` nats. A model that stops half its mistakes lowers its cross-entropy with
      them (2-10x on the healthy runs of the corpus); a loss that stays high and flat measures something else.
    - **the loss falls, the accuracy stays at chance**: the loss falls by ``mismatch_loss_fall`` or more while
      the accuracy never leaves chance (within 2 binomial standard errors of 1/C, C known) or stays at 0, and
      the loss ends below the chance loss (else it only came down to chance: nothing was learned).
      The model learns, but not what the metric measures: labels of the evaluated split that do not match
      the classes trained on, or a metric computed on the wrong tensor.

    Examples
    --------
    >>> steps = np.arange(15.0)
    >>> flat_loss = np.linspace(2.37, 2.26, 15)
    >>> rising_accuracy = np.linspace(0.955, 0.994, 15)
    >>> finding = detect_metric_disagreement(steps, flat_loss, rising_accuracy, names=("val/loss", "acc"),
    ...                                      context=Context(), is_validation=True, aligned=True)[0]
    >>> finding.kind, finding.metrics["case"]
    ('loss_accuracy_mismatch', 'accuracy improves, loss flat')
    >>> zero = np.zeros(15)
    >>> detect_metric_disagreement(steps, np.geomspace(2.5, 0.05, 15), zero, names=("train/loss", "acc"),
    ...                            context=Context(), is_validation=True, aligned=False)[0].metrics["case"]
    'loss falls, accuracy at chance'
    """
    thresholds = context.thresholds
    loss = loss[np.isfinite(loss)] if not aligned else loss
    if aligned:
        finite = np.isfinite(loss) & np.isfinite(accuracy)
        loss, accuracy = loss[finite], accuracy[finite]
    else:
        accuracy = accuracy[np.isfinite(accuracy)]
    if loss.size < thresholds.mismatch_min_points or accuracy.size < thresholds.mismatch_min_points:
        return []
    loss_start, loss_end = _ends(loss)
    accuracy_start, accuracy_end = _ends(accuracy)
    size = context.val_size if is_validation else None
    first, last = float(loss_steps[0]), float(loss_steps[-1])
    # The loss falls while the accuracy stays at chance (or at 0, below any chance level).
    if loss_start > 0 and loss_end > 0 and loss_start >= thresholds.mismatch_loss_fall * loss_end:
        best = float(np.max(running_median(accuracy, 3))) if accuracy.size >= 3 else float(np.max(accuracy))
        chance = context.chance
        at_zero = float(np.max(accuracy)) <= 0.01
        at_chance = False
        if chance is not None:
            margin = max(
                thresholds.chance_accuracy_sigmas * binomial_error(chance.accuracy, size),
                thresholds.chance_accuracy_margin,
            )
            at_chance = best <= chance.accuracy + margin
        # A loss that only came down to the chance level (after a blow-up, say) has not learned anything.
        learned = chance is None or loss_end < thresholds.chance_loss_fraction * chance.loss
        if (at_zero or at_chance) and learned:
            where = "0" if at_zero else f"chance (1/{chance.classes} = {chance.accuracy:.3g})" if chance else "chance"
            message = (
                f"{names[0]} fell {loss_start:.4g} -> {loss_end:.4g} while {names[1]} stayed at {where} "
                f"(best {best:.3g}): the model learns, but not what the metric measures - labels of the evaluated "
                "split that do not match the trained classes, or a metric computed on the wrong tensor"
            )
            metrics = {
                "case": "loss falls, accuracy at chance",
                "loss_start": loss_start,
                "loss_end": loss_end,
                "accuracy_best": best,
            }
            return [_mismatch(names, first, last, message, metrics)]
    if not aligned:
        return []
    # The accuracy improves while the loss stays high and flat.
    error_start, error_end = 1.0 - accuracy_start, 1.0 - accuracy_end
    error = binomial_error(accuracy_end, size) or noise_sigma(accuracy)
    improved = error_start >= thresholds.mismatch_error_ratio * error_end and error_start - error_end >= 3 * error
    flat = (
        (1.0 - thresholds.mismatch_flat_loss) * loss_start
        <= loss_end
        <= (1.0 + thresholds.mismatch_flat_loss / 2) * loss_start
    )
    if improved and flat and loss_end >= thresholds.mismatch_high_loss:
        message = (
            f"{names[1]} improved {accuracy_start:.3g} -> {accuracy_end:.3g} (error rate {error_start:.3g} -> "
            f"{error_end:.3g}) while {names[0]} stayed at {loss_start:.4g} -> {loss_end:.4g}: a model that stops "
            "that many mistakes lowers its loss with them - the loss and the metric disagree (a loss computed on "
            "other targets or with a bug, or penalty terms that dominate it)"
        )
        metrics = {
            "case": "accuracy improves, loss flat",
            "loss_start": loss_start,
            "loss_end": loss_end,
            "error_start": error_start,
            "error_end": error_end,
        }
        return [_mismatch(names, first, last, message, metrics)]
    return []


def _mismatch(names: tuple[str, str], first: float, last: float, message: str, metrics: dict) -> Finding:
    return Finding(
        "loss_accuracy_mismatch",
        "warn",
        " + ".join(names),
        first,
        last,
        message,
        ADVICE["loss_accuracy_mismatch"],
        metrics,
    )
