"""Progress: plateaus, no trend, slow convergence, chance-level performance, underfitting (note 5.3, 5.4, 5.7)."""

from __future__ import annotations

__all__ = [
    "detect_no_trend",
    "detect_plateau",
    "detect_random_performance",
    "detect_slow_convergence",
    "detect_underfitting",
    "flat_band",
]

import math
from dataclasses import dataclass

import numpy as np

from dlcheck.curves.chance import binomial_error
from dlcheck.curves.detectors.context import Context, LossCurve
from dlcheck.curves.findings import ADVICE, Finding, Severity
from dlcheck.curves.robust import mann_kendall, running_median
from dlcheck.curves.thresholds import Thresholds


@dataclass(frozen=True)
class FlatBand:
    """Where a curve settled: it stays within ``tolerance`` of its final ``level`` from trend point ``index`` on."""

    index: int  # first trend point of the final flat stretch (0: flat over the whole run)
    level: float  # scaled final level (median of the last 10% of trend points)
    tolerance: float
    start: float  # scaled level of the first few raw points
    flat_from_start: bool  # the first raw points are inside the band too
    fraction: float  # share of the run's steps the final flat stretch covers


def flat_band(curve: LossCurve, context: Context) -> FlatBand:
    """The final flat stretch of a loss: a band of +-max(2%, 3 trend standard errors) around its end level.

    The stretch starts after the last *two consecutive* trend points outside the band: among ~60 block
    medians of pure noise one outside 3 sigmas is common, two in a row are not.
    """
    thresholds = context.thresholds
    level = curve.trend.medians
    count = level.size
    end = float(np.median(level[-max(2, count // 10) :]))
    if curve.is_log:
        tolerance = max(math.log1p(thresholds.plateau_relative_change), 3.0 * curve.trend.sigma)
    else:
        tolerance = max(thresholds.plateau_relative_change * abs(end), 3.0 * curve.trend.sigma)
    outside = np.abs(level - end) > tolerance
    pairs = np.flatnonzero(outside[:-1] & outside[1:])
    index = int(pairs[-1]) + 2 if pairs.size else 0
    # The first block may hide a fast initial drop: the run's first raw points say where it started.
    first_points = min(5, max(1, curve.points // 20))
    start = float(np.median(curve.scaled[:first_points]))
    first, last = float(curve.steps[0]), float(curve.steps[-1])
    stall_step = float(curve.trend.first_steps[min(index, count - 1)])
    fraction = (last - stall_step) / (last - first) if last > first else 0.0
    # ... up to the noise of a median of those few points.
    point_sigma = curve.trend.sigma * math.sqrt(curve.trend.size) / 1.2533
    start_error = 2.0 * 1.2533 * point_sigma / math.sqrt(first_points)
    # Flat over the whole run: judged around the run's own median level (the end level is itself noisy).
    centre = float(np.median(level))
    flat_from_start = (
        index == 0
        and not level[0] - centre > tolerance  # a first block above the band is the initial fall, not noise
        and bool((np.abs(level - centre) > tolerance).mean() <= 0.05)
        and abs(start - centre) <= tolerance + start_error
        and not _falling(curve, start, end, thresholds)
    )
    return FlatBand(index, end, tolerance, start, flat_from_start, fraction)


def _falling(curve: LossCurve, start: float, end: float, thresholds: Thresholds) -> bool:
    """A significant downward trend (Mann-Kendall on the trend points) worth at least ``no_trend_improvement``.

    A short noisy log can stay inside its noise band and still fall steadily: 12 points going 3.26 -> 3.0 are
    learning, not flat. Both conditions are needed: a loss stuck at 3.6e23 that creeps down by 0.2% is
    monotone too.
    """
    level = curve.trend.medians
    if level.size < 6:
        return False
    tau, p_value = mann_kendall(level)
    drop = start - end
    needed = (
        math.log1p(thresholds.no_trend_improvement) if curve.is_log else thresholds.no_trend_improvement * abs(start)
    )
    return tau < 0 and p_value < thresholds.trend_p_value and drop >= needed


def detect_plateau(curve: LossCurve, *, name: str, context: Context) -> list[Finding]:
    """``plateau``: the loss never moved, or stalled for at least the last half of the run.

    Flat from the first logged point fails when the model demonstrably learned nothing: the curve is
    still (within 2%), or it was logged from the first step, or it sits at the chance loss; flat at a
    level below chance, or a noisy flat log that starts late, warns. A stall at a poor level (>= half
    the chance loss) warns; at a good or unknown level it is info (the playbook's "saturated long before
    the end": fewer steps would do).
    """
    thresholds = context.thresholds
    if curve.points < thresholds.min_points or curve.trend.medians.size < 4:
        return []
    band = flat_band(curve, context)
    level = curve.level(band.level)
    first, last = float(curve.steps[0]), float(curve.steps[-1])
    chance = context.chance
    at_chance_text = ""
    if chance is not None and curve.is_log:
        at_chance_text = f" (chance {chance.loss:.4g} for {chance.classes} classes)"
    metrics = {"level": level, "fraction": band.fraction}
    if band.flat_from_start:
        good = chance is not None and curve.is_log and level < thresholds.underfitting_chance_fraction * chance.loss
        if good:
            message = (
                f"{name} stayed flat at {level:.4g} over the whole run: the run did not improve on where it started"
            )
            return [Finding("plateau", "info", name, first, last, message, ADVICE["plateau"], metrics)]
        below_chance = chance is not None and curve.is_log and level < thresholds.chance_loss_fraction * chance.loss
        if below_chance:  # it learned before the first logged point, then stalled at a poor level
            message = (
                f"{name} stayed at {level:.4g}{at_chance_text} from {context.where(first)} to {context.where(last)}: "
                "whatever it learned came before the first logged step"
            )
            return [Finding("plateau", "warn", name, first, last, message, ADVICE["plateau"], metrics)]
        medians = curve.trend.medians
        spread = float(medians.max() - medians.min())
        if curve.is_log:
            # "Still" is about the logged values themselves (a dead run logs the same number): judged on the raw
            # points, 5th to 95th percentile, because a trend of epoch means is smooth however noisy the batches.
            raw_spread = float(np.percentile(curve.scaled, 95) - np.percentile(curve.scaled, 5))
            still = max(spread, raw_spread) <= math.log1p(thresholds.plateau_relative_change)
        else:
            still = spread <= 0.0
        seen_from_init = context.units == "step" and first <= 1.0
        if still or seen_from_init or (chance is not None and curve.is_log):
            message = (
                f"{name} never moved: flat at {level:.4g}{at_chance_text} from {context.where(first)} to "
                f"{context.where(last)}; the model is not learning"
            )
            return [Finding("plateau", "fail", name, first, last, message, ADVICE["plateau"], metrics)]
        # A log that starts late (epoch means, sparse logging) may hide learning before its first point.
        message = (
            f"{name} stayed within its noise at {level:.4g} from {context.where(first)} to {context.where(last)}: "
            "no learning after the first logged point"
        )
        return [Finding("plateau", "warn", name, first, last, message, ADVICE["plateau"], metrics)]
    if band.index == 0 or band.fraction < thresholds.plateau_min_fraction:
        return []
    stall_step = float(curve.trend.first_steps[band.index])
    poor = chance is not None and curve.is_log and level >= thresholds.underfitting_chance_fraction * chance.loss
    share = f"{100 * band.fraction:.0f}%"
    if poor:
        message = f"{name} stalled at {level:.4g}{at_chance_text} from {context.where(stall_step)} ({share} of the run)"
        return [Finding("plateau", "warn", name, stall_step, last, message, ADVICE["plateau"], metrics)]
    message = (
        f"{name} stopped improving at {context.where(stall_step)} ({level:.4g}); the last {share} of the run "
        "changed it by less than its noise"
    )
    advice = (
        "Fewer steps would do (tuning playbook: saturated long before the end); or raise the learning rate or "
        "lengthen the schedule if a lower loss is expected.",
    )
    return [Finding("plateau", "info", name, stall_step, last, message, advice, metrics)]


def detect_no_trend(curve: LossCurve, *, name: str, context: Context) -> list[Finding]:
    """``no_trend``: over the run the loss fell by less than 5% and has no significant downward trend.

    Flat curves are plateaus and rising ones divergence; this is the noisy curve that goes nowhere.
    """
    thresholds = context.thresholds
    level = curve.trend.medians
    if curve.points < thresholds.min_points or level.size < 6:
        return []
    band = flat_band(curve, context)
    if band.flat_from_start:
        return []
    start = float(level[0])
    improvement = start - band.level
    needed = (
        math.log1p(thresholds.no_trend_improvement) if curve.is_log else thresholds.no_trend_improvement * abs(start)
    )
    if improvement >= needed:
        return []
    tau, p_value = mann_kendall(level)
    if tau < 0 and p_value < thresholds.trend_p_value:
        return []
    first, last = float(curve.steps[0]), float(curve.steps[-1])
    message = (
        f"{name} shows no downward trend: {curve.level(start):.4g} at the start, {curve.level(band.level):.4g} at "
        f"the end of {context.where(last)} (Kendall tau {tau:+.2f})"
    )
    metrics = {"start": curve.level(start), "end": curve.level(band.level), "tau": tau, "p_value": p_value}
    return [Finding("no_trend", "warn", name, first, last, message, ADVICE["no_trend"], metrics)]


def detect_slow_convergence(curve: LossCurve, *, name: str, context: Context) -> list[Finding]:
    """``slow_convergence``: still falling steadily at the end after little total progress (warn), or
    still improving markedly in the last quarter (info: train longer).
    """
    thresholds = context.thresholds
    level = curve.trend.medians
    count = level.size
    if curve.points < thresholds.min_points or count < 8 or not curve.is_log:
        return []
    band = flat_band(curve, context)
    if band.flat_from_start:
        return []
    start = float(np.median(level[: max(1, count // 20)]))
    end = band.level
    # "Still falling at the end": the last half, but at least 8 trend points so short logs can be significant.
    tau, p_value = mann_kendall(level[max(0, min(count // 2, count - 8)) :])
    falling = tau < 0 and p_value < thresholds.trend_p_value
    if not falling:
        return []
    first, last = float(curve.steps[0]), float(curve.steps[-1])
    remaining = math.exp(end - start)
    metrics = {"start": curve.level(start), "end": curve.level(end), "remaining_fraction": remaining, "tau": tau}
    chance = context.chance
    # Slow is a warning only against a known scale: still above half the chance loss after the whole run, or
    # an accuracy below the underfitting bar and still climbing (note 5.7: poor, and not converged). Without one, a loss still falling at the end is at most info (issue 11: "could train
    # longer"); and after a decayed learning rate, never advice to raise it.
    accuracy = context.final_accuracy
    accuracy_bar = (
        chance.accuracy + 0.5 * (1.0 - chance.accuracy) if chance is not None else thresholds.underfitting_accuracy
    )
    poor = not context.learning_rate_decayed and (
        (
            chance is not None
            and curve.is_log
            and curve.level(end) >= thresholds.underfitting_chance_fraction * chance.loss
        )
        or (accuracy is not None and accuracy < accuracy_bar and context.accuracy_rising)
    )
    if remaining > thresholds.slow_convergence_progress and poor:
        message = (
            f"{name} is falling slowly: {curve.level(start):.4g} -> {curve.level(end):.4g} "
            f"({100 * (1 - remaining):.0f}% lower) over the run and still going down steadily at the end"
        )
        return [Finding("slow_convergence", "warn", name, first, last, message, ADVICE["slow_convergence"], metrics)]
    if remaining > thresholds.slow_convergence_progress:
        message = (
            f"{name} was still falling at the end ({curve.level(start):.4g} -> {curve.level(end):.4g}): the run could "
            "train longer"
        )
        advice = (
            ("Train longer if the budget allows; the learning rate already decayed, so do not raise it.",)
            if context.learning_rate_decayed
            else ("Train longer if the budget allows (tuning playbook: the run is compute-bound).",)
        )
        return [Finding("slow_convergence", "info", name, first, last, message, advice, metrics)]
    quarter = float(np.median(level[(3 * count) // 4 - 1 : (3 * count) // 4 + 1]))
    tail_tau, tail_p = mann_kendall(level[(3 * count) // 4 :])
    last_quarter_gain = 1.0 - math.exp(end - quarter)
    if tail_tau < 0 and tail_p < 0.05 and last_quarter_gain >= thresholds.still_improving_fraction:
        step = float(curve.trend.first_steps[(3 * count) // 4])
        message = (
            f"{name} was still improving at the end: {100 * last_quarter_gain:.0f}% lower over the last quarter of "
            "the run"
        )
        advice = ("Train longer: the run is compute-bound (tuning playbook).",)
        return [
            Finding(
                "slow_convergence",
                "info",
                name,
                step,
                last,
                message,
                advice,
                {**metrics, "last_quarter_gain": last_quarter_gain},
            )
        ]
    return []


def _tail_median(values: np.ndarray) -> float:
    return float(np.median(values[-max(1, min(3, values.size // 5)) :]))


def detect_random_performance(
    accuracies: list[tuple[str, np.ndarray, np.ndarray, bool]],
    losses: list[tuple[str, float, float]],
    *,
    context: Context,
) -> list[Finding]:
    """``random_performance``: accuracy within noise of 1/C, or loss at >= 0.95 ln C, at the end of the run.

    Parameters
    ----------
    accuracies : list of (name, steps, values, is_validation)
        Accuracy series, most important first.
    losses : list of (name, end level, last step)
        End levels of loss series (in the loss' units), most important first. Give only losses of splits
        without an accuracy: a loss above ln C with a good accuracy is over-confidence, not guessing.
    """
    chance = context.chance
    thresholds = context.thresholds
    if chance is None:
        return []
    hits: list[tuple[str, str, float]] = []
    for name, steps, values, is_validation in accuracies:
        finite = np.isfinite(values)
        if finite.sum() < 2:
            continue
        end = _tail_median(values[finite])
        size = context.val_size if is_validation else None
        margin = max(
            thresholds.chance_accuracy_sigmas * binomial_error(chance.accuracy, size), thresholds.chance_accuracy_margin
        )
        if abs(end - chance.accuracy) <= margin:  # far *below* chance is a metric bug, not guessing
            best = float(np.max(running_median(values[finite], 3)))
            how = "stayed" if best <= chance.accuracy + margin else "fell back"
            hits.append(
                (
                    name,
                    f"{name} {how} at chance: {end:.3g} vs 1/{chance.classes} = {chance.accuracy:.3g}",
                    float(steps[finite][-1]),
                )
            )
    for name, end_level, last_step in losses:
        if end_level >= thresholds.chance_loss_fraction * chance.loss:
            hits.append(
                (
                    name,
                    f"{name} ends at {end_level:.4g}, at or above the chance loss ln {chance.classes} = {chance.loss:.4g}",
                    last_step,
                )
            )
    if not hits:
        return []
    name, text, last_step = hits[0]
    others = [other for other, _, _ in hits[1:]]
    also = f" (also {', '.join(others)})" if others else ""
    inferred = f"; {chance.classes} classes inferred from {chance.source}" if chance.inferred else ""
    message = f"{text}{also}: the model does no better than guessing{inferred}"
    metrics = {
        "classes": chance.classes,
        "chance_accuracy": chance.accuracy,
        "chance_loss": chance.loss,
        "series": [hit[0] for hit in hits],
    }
    # C guessed from the curves themselves may be wrong (a 3-class model at 52% looks like 2 at chance): warn.
    severity: Severity = "warn" if chance.weak else "fail"
    return [
        Finding("random_performance", severity, name, None, last_step, message, ADVICE["random_performance"], metrics)
    ]


def detect_underfitting(
    curve: LossCurve,
    *,
    name: str,
    context: Context,
    val_end: float | None,
    train_end_at_val: float | None,
    accuracy_end: tuple[str, float] | None = None,
    accuracy_gap: float | None = None,
) -> list[Finding]:
    """``underfitting``: the model learned something, stays poor, has a small train/val gap, and stalled.

    - poor: the training loss stays >= ``underfitting_chance_fraction`` ln C (C known), or the accuracy
      (training, else validation) stays below the midpoint between chance and 1 (``underfitting_accuracy``
      when C is unknown) - yet above chance, which is ``random_performance``;
    - small gap: val/train loss <= ``underfitting_gap_ratio``, or an accuracy gap <= ``underfitting_accuracy_gap``;
    - stalled: the training loss is flat over at least the last quarter of the run (still falling is
      ``slow_convergence``: train longer, not a bigger model).
    """
    chance = context.chance
    thresholds = context.thresholds
    if curve.points < thresholds.min_points or curve.trend.medians.size < 4 or not curve.is_log:
        return []
    band = flat_band(curve, context)
    if band.fraction < thresholds.underfitting_stalled_fraction:
        return []
    end = curve.level(band.level)
    reasons = []
    if (
        chance is not None
        and thresholds.underfitting_chance_fraction * chance.loss <= end < thresholds.chance_loss_fraction * chance.loss
    ):
        reasons.append(
            f"{name} stays at {end:.4g}, above half the chance loss {chance.loss:.4g} ({chance.classes} classes)"
        )
    if accuracy_end is not None:
        accuracy_name, accuracy = accuracy_end
        if chance is not None:
            ceiling = chance.accuracy + 0.5 * (1.0 - chance.accuracy)
            above_chance = accuracy > chance.accuracy + thresholds.chance_accuracy_margin
        else:
            ceiling, above_chance = thresholds.underfitting_accuracy, True
        if above_chance and accuracy < ceiling:
            reasons.append(f"{accuracy_name} stays at {accuracy:.3g}, below {ceiling:.2g}")
    if not reasons:
        return []
    gap_text = "no validation curve to compare"
    if val_end is not None and train_end_at_val is not None and train_end_at_val > 0:
        ratio = val_end / train_end_at_val
        if ratio > thresholds.underfitting_gap_ratio:
            return []
        gap_text = f"validation loss {val_end:.4g}, {ratio:.2f}x the training loss"
    elif accuracy_gap is not None:
        if abs(accuracy_gap) > thresholds.underfitting_accuracy_gap:
            return []
        gap_text = f"train - validation accuracy {accuracy_gap:+.3g}"
    message = f"{'; '.join(reasons)}, with a small train/validation gap ({gap_text}): the model underfits"
    metrics = {
        "end": end,
        "chance_loss": chance.loss if chance else None,
        "val_end": val_end,
        "stalled_fraction": band.fraction,
    }
    first, last = float(curve.steps[0]), float(curve.steps[-1])
    stall_step = float(curve.trend.first_steps[min(band.index, curve.trend.medians.size - 1)])
    return [
        Finding(
            "underfitting",
            "warn",
            name,
            stall_step if band.index else first,
            last,
            message,
            ADVICE["underfitting"],
            metrics,
        )
    ]
