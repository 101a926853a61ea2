"""Oscillation (an unstable run that keeps bouncing) and periodicity (a data-order bug), note 5.5."""

from __future__ import annotations

__all__ = ["detect_oscillation", "detect_periodicity", "detect_validation_oscillation", "periodicity_score"]

import math

import numpy as np

from dlcheck.curves.chance import binomial_error
from dlcheck.curves.detectors.context import Context, LossCurve
from dlcheck.curves.findings import ADVICE, Finding
from dlcheck.curves.robust import autocorrelation, block_medians, log_values, noise_sigma, robust_sigma, zigzag_swings

_PERIODICITY_POINTS = 1 << 18  # the last 2^18 points: periods up to 65k points are seen 4 times


def detect_oscillation(
    steps: np.ndarray,
    values: np.ndarray,
    *,
    name: str,
    context: Context,
    metric: str,
    is_validation: bool,
    aggregate: np.ndarray | None = None,
) -> list[Finding]:
    """``oscillation``: an unstable curve that keeps bouncing instead of settling.

    Two signs, either suffices:

    - **swings** (AUTOTRAINER's rule): up-and-down swings larger than the curve's noise number at least
      ``oscillation_min_swings`` and ``oscillation_swing_fraction`` of the points, two of them in the last
      half. A loss is judged on block medians of its log (``detail_points`` of them, which removes batch
      noise); a swing must be >= ``oscillation_loss_amplitude`` of the level and >= 4 standard errors of a
      block median. An accuracy is judged on its raw evaluations; a swing must be >= 3 points and >= 4
      binomial standard errors (5 points when the set size is unknown).
    - **unsettled** (losses only): in the second half the log-loss scatters by >= ``oscillation_noise_log``
      within short stretches *and* its mean stays >= ``oscillation_unsettled`` of the starting loss. Healthy
      runs scatter that much only once the loss is tiny (a few misclassified samples per batch); a learning
      rate far too high keeps a high loss that jumps by factors from batch to batch. When the tool also
      logged the loss per epoch (``aggregate``, issue 11, 2.5), the level comes from those epoch means: a loss
      whose epoch means fell by half or more is learning, whatever its batch-to-batch scatter.
    """
    thresholds = context.thresholds
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    if values.size < thresholds.min_points:
        return []
    unsettled: tuple[float, float] | None = None
    if metric == "loss":
        scaled, is_log = log_values(values)
        blocks = block_medians(steps, scaled, thresholds.detail_points, min_size=3)
        curve, curve_steps = blocks.medians, blocks.steps
        base = (
            math.log1p(thresholds.oscillation_loss_amplitude)
            if is_log
            else thresholds.oscillation_loss_amplitude * robust_sigma(values)
        )
        amplitude = max(base, thresholds.oscillation_noise_sigmas * blocks.sigma)
        if amplitude <= 0:  # a constant (e.g. exactly 0) loss has nothing to swing
            return []
        minimum_swings = thresholds.oscillation_min_swings
        if is_log and values.size >= 4 * thresholds.min_points:
            unsettled = _unsettled(steps, scaled, values, context, aggregate)
    else:
        is_log = False
        curve, curve_steps = values, steps
        size = context.val_size if is_validation else None
        error = binomial_error(float(np.median(values)), size)
        floor = (
            thresholds.oscillation_accuracy_amplitude if size else max(thresholds.oscillation_accuracy_amplitude, 0.05)
        )
        amplitude = max(floor, thresholds.oscillation_noise_sigmas * error)
        minimum_swings = 3
    turns = zigzag_swings(curve, amplitude)
    peaks = [index for index, direction in turns if direction == (1 if metric == "loss" else -1)]
    count = curve.size
    needed = max(minimum_swings, math.ceil(thresholds.oscillation_swing_fraction * count))
    late = sum(index >= count // 2 for index in peaks)
    last = float(steps[-1])
    advice = ADVICE["oscillation"]
    if is_validation and metric != "loss":
        advice = (advice[2], *advice[:2])
    if len(peaks) >= needed and late >= 2:
        start_step = float(curve_steps[turns[0][0]])
        size_text = f"{100 * math.expm1(amplitude):.0f}%" if is_log else f"{amplitude:.3g}"
        message = (
            f"{name} keeps bouncing: {len(peaks)} swings of at least {size_text} between "
            f"{context.where(start_step)} and {context.where(last)}"
        )
        metrics = {"swings": len(peaks), "amplitude": amplitude, "points": count}
        return [Finding("oscillation", "warn", name, start_step, last, message, advice, metrics)]
    if unsettled is not None:
        scatter, share = unsettled
        start_step = float(steps[steps.size // 2])
        message = (
            f"{name} keeps jumping at a high level: in the second half it varies by a factor of "
            f"{math.exp(scatter):.3g} from one stretch of steps to the next and averages {100 * share:.0f}% of "
            "its starting value"
        )
        metrics = {"log_scatter": scatter, "mean_to_start": share}
        return [Finding("oscillation", "warn", name, start_step, last, message, advice, metrics)]
    return []


def _unsettled(
    steps: np.ndarray, scaled: np.ndarray, values: np.ndarray, context: Context, aggregate: np.ndarray | None = None
) -> tuple[float, float] | None:
    """(within-stretch log scatter, mean / start) of the second half when both are high, else None."""
    thresholds = context.thresholds
    half = scaled.size // 2
    second = block_medians(steps[half:], scaled[half:], thresholds.trend_points, min_size=3)
    scatter = second.sigma * math.sqrt(second.size) / 1.2533  # back from a median's error to a point's sigma
    start = float(np.exp(np.median(scaled[: max(1, min(5, scaled.size // 100))])))
    if aggregate is not None:
        means = aggregate[np.isfinite(aggregate) & (aggregate > 0)]
        if means.size >= 2:
            if float(means[-1]) <= 0.5 * float(means[0]):  # the epoch means halved: learning, not unsettled
                return None
            start = float(means[0])
    share = float(np.mean(values[half:])) / start if start > 0 else 0.0
    if scatter >= thresholds.oscillation_noise_log and share >= thresholds.oscillation_unsettled:
        return scatter, share
    return None


def detect_validation_oscillation(
    steps: np.ndarray,
    values: np.ndarray,
    *,
    name: str,
    context: Context,
    reference: np.ndarray | None = None,
) -> list[Finding]:
    """``oscillation``: a validation loss that keeps jumping between evaluations (issue 11, 2.6).

    A validation curve has one point per evaluation and no batch noise, so swings are counted on the raw
    evaluations, not on block medians (a dozen evaluations make only four medians of three). The tolerance is
    not the curve's own scatter - for a curve that does nothing but bounce, the bouncing *is* the scatter -
    but that of the training loss over the same evaluations (``reference``, aligned on ``steps``): what
    the model's own progress moves between two evaluations. A swing must be >= ``oscillation_loss_amplitude``
    of the level and >= ``oscillation_noise_sigmas`` of that noise, and the swings must be at least
    ``oscillation_min_swings`` and ``oscillation_swing_fraction`` of the evaluations, two of them in the second
    half (the rule the other curves use). Validation accuracy is judged against its binomial noise by
    :func:`detect_oscillation`. Without a training curve the validation loss is judged there too.

    Examples
    --------
    >>> steps = np.arange(1.0, 21.0)
    >>> train = np.linspace(0.06, 0.02, 20)
    >>> bouncing = np.where(np.arange(20) % 3 == 1, 0.09, 0.035)
    >>> detect_validation_oscillation(steps, bouncing, name="val_loss", context=Context(), reference=train)[0].kind
    'oscillation'
    >>> detect_validation_oscillation(steps, train * 1.3, name="val_loss", context=Context(), reference=train)
    []
    """
    thresholds = context.thresholds
    finite = np.isfinite(values)
    if reference is not None:
        finite &= np.isfinite(reference)
    steps, values = steps[finite], values[finite]
    if values.size < thresholds.min_points or reference is None:
        return []
    reference = reference[finite]
    scaled, is_log = log_values(values)
    reference_scaled, reference_log = log_values(reference)
    if not (is_log and reference_log):
        return []
    # As for a training loss: a loss near 0 jumps by factors (a few errors more or less), which says nothing.
    if float(np.mean(values[values.size // 2 :])) < thresholds.oscillation_unsettled * float(values[0]):
        return []
    amplitude = max(
        math.log1p(thresholds.oscillation_loss_amplitude),
        thresholds.oscillation_noise_sigmas * noise_sigma(reference_scaled),
    )
    turns = zigzag_swings(scaled, amplitude)
    peaks = [index for index, direction in turns if direction == 1]
    count = scaled.size
    needed = max(thresholds.oscillation_min_swings, math.ceil(thresholds.oscillation_swing_fraction * count))
    late = sum(index >= count // 2 for index in peaks)
    last = float(steps[-1])
    causes = (
        "the validation set is too small or unlike the training data, the evaluation differs from training "
        "(BatchNorm statistics, dropout), or the learning rate makes the weights jump between evaluations"
    )
    if len(peaks) >= needed and late >= 2:
        start_step = float(steps[turns[0][0]])
        train_change = 100 * math.expm1(noise_sigma(reference_scaled))
        message = (
            f"{name} keeps bouncing: {len(peaks)} swings of at least {100 * math.expm1(amplitude):.0f}% between "
            f"{context.where(start_step)} and {context.where(last)}, while the training loss moves by about "
            f"{train_change:.0f}% from one evaluation to the next: {causes}"
        )
        metrics = {"swings": len(peaks), "amplitude": amplitude, "points": count, "validation": True}
    else:
        # Fewer, larger swings: the second half scatters from evaluation to evaluation far more than the
        # training loss does over the same evaluations (the unsettled rule of the other curves, on its own noise).
        half = count // 2
        scatter, reference_scatter = noise_sigma(scaled[half:]), noise_sigma(reference_scaled[half:])
        needed_scatter = max(
            math.log1p(thresholds.oscillation_loss_amplitude), thresholds.oscillation_noise_sigmas * reference_scatter
        )
        if count - half < thresholds.min_eval_points or scatter < needed_scatter:
            return []
        start_step = float(steps[half])
        message = (
            f"{name} keeps jumping: in the second half it moves by a factor of {math.exp(scatter):.3g} from one "
            f"evaluation to the next, the training loss by {math.exp(reference_scatter):.3g}: {causes}"
        )
        metrics = {
            "log_scatter": scatter,
            "reference_log_scatter": reference_scatter,
            "points": count,
            "validation": True,
        }
    advice = (ADVICE["oscillation"][2], *ADVICE["oscillation"][:2])
    return [Finding("oscillation", "warn", name, start_step, last, message, advice, metrics)]


def periodicity_score(
    scaled: np.ndarray, period: float | None, context: Context | None = None
) -> tuple[float, float | None]:
    """Autocorrelation of a detrended series at its period (or the best period found) and that period.

    Parameters
    ----------
    scaled : ndarray (n,)
        Finite, evenly spaced points (e.g. the log-loss).
    period : float or None
        Points per epoch when known; the lags tried are its first multiples (rounded).

    Returns
    -------
    score, period : float, float or None
        The autocorrelation (0 when it cannot be judged) and the period it was measured at.
    """
    settings = (context or Context()).thresholds
    count = scaled.size
    # Winsorise: one huge spike must not dominate a correlation.
    centre = float(np.median(scaled))
    spread = robust_sigma(scaled) or float(np.std(scaled)) or 1.0
    clipped = np.clip(scaled, centre - 4 * spread, centre + 4 * spread)
    if period is not None:
        if period < 2 or count < settings.periodicity_min_periods * period:
            return 0.0, period
        width = max(2, round(period))
        detrended = clipped - _moving_average(clipped, width)
        lags = [
            round(multiple * period)
            for multiple in (1, 2, 3)
            if abs(multiple * period - round(multiple * period)) <= 0.25
        ]
        lags = [lag for lag in lags if 2 <= lag <= count // 2]
        if not lags:
            return 0.0, period
        correlation = autocorrelation(detrended, max(lags))
        best = max(lags, key=lambda lag: correlation[lag])
        return float(correlation[best]), float(best)
    # Unknown period: the highest local maximum of the autocorrelation, confirmed at twice its lag.
    longest = int(count // settings.periodicity_min_periods)
    if longest < 4:
        return 0.0, None
    detrended = clipped - _moving_average(clipped, max(8, count // 8))
    correlation = autocorrelation(detrended, min(count - 1, 2 * longest + 1))
    inner = correlation[2 : longest + 1]
    local = (inner >= correlation[1:longest]) & (inner >= correlation[3 : longest + 2])
    candidates = np.flatnonzero(local) + 2
    if candidates.size == 0:
        return 0.0, None
    lag = int(candidates[np.argmax(correlation[candidates])])
    if correlation[min(2 * lag, correlation.size - 1)] < settings.periodicity_harmonic:
        return 0.0, None
    return float(correlation[lag]), float(lag)


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average (edges use the points available), O(n) by cumulative sums."""
    count = values.size
    width = max(1, min(width, count))
    cumulative = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    half = width // 2
    lower = np.clip(np.arange(count) - half, 0, count)
    upper = np.clip(np.arange(count) - half + width, 0, count)
    return (cumulative[upper] - cumulative[lower]) / (upper - lower)


def detect_periodicity(curve: LossCurve, *, name: str, context: Context) -> list[Finding]:
    """``periodicity``: the loss repeats a pattern every epoch (unshuffled or sorted data, note 5.5).

    With a known epoch length (in points: steps per epoch / logging interval) the autocorrelation of the
    detrended log-loss is read at that lag and its first multiples; otherwise at the strongest
    autocorrelation peak, which must repeat at twice its lag. Flagged above ``periodicity_autocorrelation``
    and above 4/sqrt(n) (what noise alone reaches).
    """
    thresholds = context.thresholds
    count = curve.points
    if count < 4 * thresholds.min_points:
        return []
    spacing = float(np.median(np.diff(curve.steps)))
    period = None
    if context.steps_per_epoch is not None and spacing > 0 and context.units == "step":
        period = context.steps_per_epoch / spacing
        if period < 2:  # logged less often than twice an epoch: a within-epoch pattern cannot be seen
            return []
    # The last 2^18 points are plenty (periods up to 65k points are seen 4 times) and keep a 1M-point log fast.
    score, lag = periodicity_score(curve.scaled[-_PERIODICITY_POINTS:], period, context)
    if lag is None or score < max(
        thresholds.periodicity_autocorrelation, 4.0 / math.sqrt(min(count, _PERIODICITY_POINTS))
    ):
        return []
    lag_steps = lag * spacing
    known = "one epoch" if period is not None and abs(lag - period) <= 0.5 else f"{lag_steps:.4g} steps"
    if period is not None and abs(lag - period) > 0.5:
        known += f" ({lag / period:.3g} epochs)"
    message = (
        f"{name} repeats a pattern every {known} (autocorrelation {score:.2f}): the data order is probably the "
        "same every epoch"
    )
    metrics = {"autocorrelation": score, "period_steps": lag_steps, "period_points": lag}
    first, last = float(curve.steps[0]), float(curve.steps[-1])
    return [Finding("periodicity", "warn", name, first, last, message, ADVICE["periodicity"], metrics)]
