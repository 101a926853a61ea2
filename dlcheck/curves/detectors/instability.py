"""Instability: non-finite values, transient spikes, and divergence (note 5.1, 5.2 and section 4)."""

from __future__ import annotations

__all__ = [
    "detect_divergence",
    "detect_initial_blowup",
    "detect_nan",
    "detect_spikes",
    "detect_validation_spikes",
    "detect_warmup_rise",
    "spike_scores",
]

import math

import numpy as np

from dlcheck.curves.chance import binomial_error
from dlcheck.curves.detectors.context import Context, LossCurve
from dlcheck.curves.findings import ADVICE, Finding
from dlcheck.curves.robust import log_values, mann_kendall, noise_sigma, running_median, trailing_reference
from dlcheck.curves.thresholds import DEFAULT_THRESHOLDS, Thresholds

_MAD_FLOOR = 1e-6  # a constant stretch (MAD 0) must not make every later wiggle infinitely significant


def detect_nan(
    steps: np.ndarray, values: np.ndarray, *, name: str, context: Context, is_loss: bool = True
) -> list[Finding]:
    """``nan``: the first NaN or infinite value of a series (fail for losses, warn for metrics).

    Examples
    --------
    >>> findings = detect_nan(np.arange(5.0), np.array([1.0, 0.9, np.nan, np.inf, np.nan]), name="loss", context=Context())
    >>> findings[0].severity, findings[0].step, findings[0].message
    ('fail', 2.0, 'loss is nan from step 2 on (3 of 5 points non-finite); it never became finite again')
    """
    bad = ~np.isfinite(values)
    if not bad.any():
        return []
    first = int(np.argmax(bad))
    count = int(bad.sum())
    recovered = not bool(bad[-1])
    word = "nan" if math.isnan(values[first]) else ("inf" if values[first] > 0 else "-inf")
    tail = "it was finite again at the end" if recovered else "it never became finite again"
    message = (
        f"{name} is {word} from {context.where(steps[first])} on ({count} of {values.size} points non-finite); {tail}"
    )
    last_finite = np.flatnonzero(~bad[:first])
    advice = list(ADVICE["nan"])
    if last_finite.size:
        advice.insert(
            0,
            f"The last finite value was at {context.where(steps[last_finite[-1]])}: restart from a checkpoint at or before it.",
        )
    return [
        Finding(
            "nan",
            "fail" if is_loss else "warn",
            name,
            float(steps[first]),
            float(steps[-1]),
            message,
            tuple(advice),
            {"first_non_finite_step": float(steps[first]), "non_finite_points": count, "recovered": recovered},
        )
    ]


def spike_scores(
    scaled: np.ndarray, thresholds: Thresholds = DEFAULT_THRESHOLDS, *, is_log: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust z of each point against what came before it, and which points are spikes.

    Parameters
    ----------
    scaled : ndarray (n,)
        Log-loss (or the loss itself when ``is_log`` is False), finite.

    Returns
    -------
    z : ndarray (n,)
        (x - level) / sigma, with the level and noise of the trailing window
        (:func:`~dlcheck.curves.robust.trailing_reference`); NaN where there is no window yet.
    reference : ndarray (n,)
        The trailing level.
    is_spike : ndarray of bool (n,)
        z >= ``spike_z`` and, on a log scale, x - level >= ln(``spike_min_ratio``), after the warm-up.

    Examples
    --------
    >>> generator = np.random.default_rng(0)
    >>> losses = np.exp(generator.normal(0.0, 0.2, 400))
    >>> losses[300] = 10.0
    >>> np.flatnonzero(spike_scores(np.log(losses))[2]).tolist()
    [300]
    """
    count = scaled.size
    window = int(np.clip(count // 5, 10, thresholds.spike_window))
    reference, sigma = trailing_reference(scaled, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (scaled - reference) / np.maximum(sigma, _MAD_FLOOR)
    warmup = max(window, math.ceil(thresholds.spike_warmup_fraction * count))
    is_spike = np.zeros(count, dtype=bool)
    judged = slice(warmup, count)
    if is_log:
        rise = scaled[judged] - reference[judged]
        is_spike[judged] = (z[judged] >= thresholds.spike_z) & (rise >= math.log(thresholds.spike_min_ratio))
    else:  # no ratio on a linear scale: ask for the stronger z instead (note 5.1: 8 is the strong level)
        is_spike[judged] = z[judged] >= max(thresholds.spike_z, 8.0)
    return z, reference, is_spike


def detect_spikes(curve: LossCurve, *, name: str, context: Context) -> list[Finding]:
    """``spike``: points far above their trailing median (robust z on the log-loss, note 5.1).

    Consecutive spike points (gaps of one point allowed) are one event. An event counts when it is
    >= ``spike_large_ratio`` x its base or adds >= ``spike_min_excess`` of the starting loss (a 2x wobble
    of a converged 0.01 loss is not worth a word). Each event reports its step, size, whether the loss
    came back near the pre-spike level (10%, or 2 noise sigmas) within W/2 points, and whether it was
    persistent (more than 4 points). An isolated spike that recovered is info; one that did not, a
    persistent one, or 3 and more in a run warn. The largest ``spike_reported`` events become findings.
    """
    thresholds = context.thresholds
    if curve.points < thresholds.spike_min_points:
        return []
    scaled = curve.scaled
    z, reference, is_spike = spike_scores(scaled, thresholds, is_log=curve.is_log)
    indices = np.flatnonzero(is_spike)
    if indices.size == 0:
        return []
    window = int(np.clip(curve.points // 5, 10, thresholds.spike_window))
    breaks = np.flatnonzero(np.diff(indices) > 2)
    starts = np.r_[indices[0], indices[breaks + 1]]
    ends = np.r_[indices[breaks], indices[-1]]
    start_level = curve.level(float(np.median(scaled[: max(1, min(5, curve.points // 100))])))
    events = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        peak = start + int(np.nanargmax(z[start : end + 1]))
        base = float(reference[start])
        if not _matters(curve, float(scaled[peak]), base, start_level, thresholds):
            continue
        noise = (float(scaled[peak]) - base) / float(z[peak]) if z[peak] > 0 else 0.0
        after = scaled[end + 1 : end + 1 + max(3, window // 2)]
        recovered: bool | None = None
        if after.size >= 3:
            margin = max(_recovery_margin(curve.is_log, base, thresholds), 2.0 * noise)
            recovered = bool((running_median(after, 3) <= base + margin).any())
        points = int(is_spike[start : end + 1].sum())
        events.append((float(z[peak]), start, end, peak, base, recovered, points))
    if not events:
        return []
    span = float(curve.steps[-1] - curve.steps[0]) or 1.0
    per = "1000 steps" if context.units == "step" else f"{span:.4g} {context.units}s"
    rate = 1000.0 * len(events) / span if context.units == "step" else float(len(events))
    findings = []
    frequent = len(events) >= thresholds.spike_frequent
    for z_value, start, end, peak, base, recovered, points in sorted(events, reverse=True)[: thresholds.spike_reported]:
        persistent = points > thresholds.spike_persistent_points
        severity = "warn" if frequent or persistent or recovered is False else "info"
        peak_step = float(curve.steps[peak])
        size = curve.ratio(float(scaled[peak]), base)
        size_text = (
            f"{size:.3g}x the {curve.level(base):.3g} before" if curve.is_log else f"+{size:.3g} over {base:.3g}"
        )
        how = "persistent, " if persistent else ""
        if recovered is None:
            how += "at the end of the log"
        else:
            how += "recovered" if recovered else "did not recover"
        count_text = f"; 1 of {len(events)} spikes ({rate:.2g} per {per})" if len(events) > 1 else ""
        message = (
            f"loss spike at {context.where(peak_step)}: {curve.values[peak]:.4g}, {size_text} "
            f"(z {z_value:.3g}), {how}{count_text}"
        )
        advice = (
            f"Inspect the batch at {context.where(peak_step)}: corrupt or mislabelled samples, outliers, NaN in inputs"
            " (dlcheck train records a spike's sample indices in the run's spikes.jsonl).",
            *ADVICE["spike"],
        )
        findings.append(
            Finding(
                "spike",
                severity,  # type: ignore[arg-type]
                name,
                float(curve.steps[start]),
                float(curve.steps[end]),
                message,
                advice,
                {
                    "peak_step": peak_step,
                    "loss": float(curve.values[peak]),
                    "reference": curve.level(base),
                    "ratio": size,
                    "z": z_value,
                    "recovered": recovered,
                    "points": points,
                    "spikes": len(events),
                    "spikes_per_1000_steps": rate,
                },
            )
        )
    return sorted(findings, key=lambda finding: finding.step or 0.0)


def _matters(curve: LossCurve, peak: float, base: float, start_level: float, thresholds: Thresholds) -> bool:
    """A spike counts if it is >= 10x its base, or adds >= 10% of the starting loss (linear units)."""
    if not curve.is_log:
        return True
    if peak - base >= math.log(thresholds.spike_large_ratio):
        return True
    return curve.level(peak) - curve.level(base) >= thresholds.spike_min_excess * start_level


def _recovery_margin(is_log: bool, base: float, thresholds: Thresholds) -> float:
    if is_log:
        return math.log(thresholds.spike_recovery_ratio)
    return (thresholds.spike_recovery_ratio - 1.0) * abs(base)


def detect_divergence(curve: LossCurve, *, name: str, context: Context) -> list[Finding]:
    """``divergence``: the loss ends far above its best, above where it started, or keeps rising (note 5.2).

    Judged on the block-median trend (robust to batch noise) in log space. Each rise must exceed
    ``divergence_noise_sigmas`` standard errors of the trend on top of its ratio, because the minimum of
    a noisy curve is biased low by its noise.

    - fail: the end is >= ``divergence_fail_ratio`` x the best and gives back >= 25% of the improvement
      (start -> best), or ends above the start after having learned;
    - warn: the end is >= ``divergence_warn_ratio`` x the best, gives back >= 10% of the improvement, and
      the trend since the best rises significantly; or a long blow-up (>= 3 trend points) that recovered.
    """
    thresholds = context.thresholds
    trend = curve.trend
    level = trend.medians
    count = level.size
    if curve.points < thresholds.min_points or count < 4:
        return []
    smooth = running_median(level, 3) if count >= 5 else level
    best_index = int(np.argmin(smooth))
    best = float(smooth[best_index])
    tail = max(2, count // 10)
    end = float(np.median(level[-tail:]))
    start = float(np.median(level[: max(1, min(3, count // 10))]))
    margin = thresholds.divergence_noise_sigmas * trend.sigma
    fail_rise = _threshold(thresholds.divergence_fail_ratio, curve, best) + margin
    warn_rise = _threshold(thresholds.divergence_warn_ratio, curve, best) + margin
    rise = end - best
    best_step = float(trend.steps[best_index])
    last_step = float(curve.steps[-1])
    metrics = {
        "best": curve.level(best),
        "best_step": best_step,
        "end": curve.level(end),
        "ratio": curve.ratio(end, best),
        "start": curve.level(start),
    }

    def onset() -> float:
        # Start of the final excursion: the first trend point after the best from which the curve
        # stays above the warn line.
        above = smooth[best_index:] - best >= _threshold(thresholds.divergence_warn_ratio, curve, best)
        below = np.flatnonzero(~above)
        first = below[-1] + 1 if below.size else 0
        return float(trend.first_steps[best_index + min(first, above.size - 1)])

    learned = start - best >= _threshold(1.5, curve, best) + margin
    above_start = end - start >= _threshold(thresholds.divergence_above_start_ratio, curve, start) + margin

    def undone(high: float) -> float:
        # Share of the improvement (start -> best, in the loss' own units) that a rise to `high` gave back:
        # a well-trained loss wobbling from 0.0004 to 0.02 has not diverged when it started at 1.1.
        gained = curve.level(start) - curve.level(best)
        return (curve.level(high) - curve.level(best)) / gained if gained > 0 else math.inf

    metrics["undone"] = undone(end)
    if (rise >= fail_rise and undone(end) >= thresholds.divergence_undone_fail) or (
        learned and above_start and rise >= warn_rise
    ):
        step = onset()
        why = (
            f"{metrics['ratio']:.3g}x its best {metrics['best']:.4g} at {context.where(best_step)}"
            if curve.is_log
            else f"{end - best:+.4g} from its best {best:.4g} at {context.where(best_step)}"
        )
        extra = f", above where it started ({metrics['start']:.4g})" if learned and above_start else ""
        message = f"{name} diverged from {context.where(step)}: it ends at {metrics['end']:.4g}, {why}{extra}"
        return [_finding("fail", name, step, last_step, message, best_step, context, metrics)]
    if rise >= warn_rise and count - best_index >= 4 and undone(end) >= thresholds.divergence_undone_warn:
        tau, p_value = mann_kendall(level[best_index:])
        if tau > 0 and p_value < thresholds.trend_p_value:
            step = onset()
            message = (
                f"{name} has been rising since {context.where(step)}: {metrics['end']:.4g} at the end, "
                f"{metrics['ratio']:.3g}x its best {metrics['best']:.4g} at {context.where(best_step)}"
            )
            return [_finding("warn", name, step, last_step, message, best_step, context, {**metrics, "tau": tau})]
    # A long blow-up that came back down: rise over the running best, per trend point.
    running_best = np.minimum.accumulate(smooth)
    excursion = smooth - running_best
    gained = np.array([curve.level(start) - curve.level(float(low)) for low in running_best])
    given_back = np.array([curve.level(float(value)) for value in smooth]) - np.array(
        [curve.level(float(low)) for low in running_best]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(gained > 0, given_back / gained, np.inf)
    high = (excursion >= fail_rise) & (share >= thresholds.divergence_undone_fail)
    if high.sum() >= 3:
        where_high = np.flatnonzero(high)
        first, last = int(where_high[0]), int(where_high[-1])
        peak = first + int(np.argmax(excursion[first : last + 1]))
        size = curve.ratio(float(smooth[peak]), float(smooth[peak] - excursion[peak]))
        message = (
            f"{name} blew up to {size:.3g}x its best between {context.where(float(trend.first_steps[first]))} and "
            f"{context.where(float(trend.last_steps[last]))}, then recovered"
        )
        return [
            _finding(
                "warn",
                name,
                float(trend.first_steps[first]),
                float(trend.last_steps[last]),
                message,
                float(trend.steps[max(0, first - 1)]),
                context,
                {**metrics, "excursion_ratio": size},
            )
        ]
    return []


def _threshold(ratio: float, curve: LossCurve, reference: float) -> float:
    """A ratio as a rise on the curve's scale: log(ratio), or (ratio - 1) |reference| on a linear scale."""
    return math.log(ratio) if curve.is_log else (ratio - 1.0) * max(abs(reference), 1e-12)


def _finding(
    severity: str,
    name: str,
    step: float,
    end_step: float,
    message: str,
    best_step: float,
    context: Context,
    metrics: dict,
) -> Finding:
    advice = (
        f"Restart from a checkpoint at or before {context.where(best_step)} (the best loss) with a lower learning rate.",
        *ADVICE["divergence"],
    )
    return Finding("divergence", severity, name, step, end_step, message, advice, metrics)  # type: ignore[arg-type]


def detect_warmup_rise(
    curve: LossCurve, lr_steps: np.ndarray, lr_values: np.ndarray, *, name: str, context: Context
) -> list[Finding]:
    """``divergence`` (warn): the loss bottomed out while a warm-up was still raising the learning rate, then rose.

    A loss that climbs as the learning rate climbs is the classic sign of a peak rate past the edge of
    stability (tuning playbook, "identifying instability"), not of overfitting: the report says so, and
    the run's overfitting finding is dropped. Needs the logged learning rate.

    Examples
    --------
    >>> from dlcheck.curves.detectors.context import loss_curve
    >>> steps = np.arange(25.0, 1525.0, 25.0)
    >>> lr = np.minimum(steps / 500.0, 1.0) * 1e-4
    >>> loss = np.where(steps < 125, 0.8 - steps / 200, 0.12 + 0.18 * np.clip((steps - 125) / 400, 0, 1))
    >>> findings = detect_warmup_rise(loss_curve(steps, loss), steps, lr, name="loss", context=Context())
    >>> findings[0].kind, findings[0].metrics["cause"]
    ('divergence', 'warm-up')
    """
    thresholds = context.thresholds
    finite = np.isfinite(lr_values)
    lr_steps, lr_values = lr_steps[finite], lr_values[finite]
    trend = curve.trend
    if curve.points < thresholds.min_points or trend.medians.size < 4 or lr_values.size < 3 or not curve.is_log:
        return []
    peak = float(lr_values.max())
    if peak <= 0:
        return []
    peak_step = float(lr_steps[int(np.argmax(lr_values >= 0.99 * peak))])
    smooth = running_median(trend.medians, 3) if trend.medians.size >= 5 else trend.medians
    best_index = int(np.argmin(smooth))
    best_step = float(trend.steps[best_index])
    lr_at_best = float(np.interp(best_step, lr_steps, lr_values))
    if best_step >= peak_step or lr_at_best > 0.8 * peak:
        return []
    # The loss around the end of the warm-up, against its best.
    after = smooth[(trend.steps >= peak_step * 0.9) & (trend.steps <= peak_step * 1.5 + 1)]
    if after.size == 0:
        return []
    rise = float(np.median(after)) - float(smooth[best_index])
    if rise < math.log(thresholds.divergence_warn_ratio) + thresholds.divergence_noise_sigmas * trend.sigma:
        return []
    best_loss, warm_loss = curve.level(float(smooth[best_index])), curve.level(float(np.median(after)))
    message = (
        f"{name} bottomed at {best_loss:.4g} at {context.where(best_step)} while the warm-up was still raising the "
        f"learning rate ({lr_at_best:.3g} there, {peak:.3g} at {context.where(peak_step)}), then rose to "
        f"{warm_loss:.4g} ({math.exp(rise):.2g}x) as the rate kept rising: the peak learning rate is too high"
    )
    advice = (
        f"Lower the peak learning rate toward {lr_at_best:.2g} (the rate at the best loss), or run `dlcheck lr-find`.",
        "Lengthen the warm-up and clip gradients (max_norm 1.0); the rise is instability, not overfitting.",
        *ADVICE["divergence"][2:],
    )
    metrics = {
        "cause": "warm-up",
        "best_step": best_step,
        "best": best_loss,
        "learning_rate_at_best": lr_at_best,
        "peak_learning_rate": peak,
        "peak_step": peak_step,
        "ratio": math.exp(rise),
    }
    return [Finding("divergence", "warn", name, best_step, peak_step, message, advice, metrics)]


def detect_validation_spikes(
    steps: np.ndarray, values: np.ndarray, *, name: str, context: Context, metric: str = "loss"
) -> list[Finding]:
    """``spike`` (info): one evaluation far worse than the ones around it, the next one back (issue 11, 2.6).

    The training-loss rule needs a trailing window of >= 10 points; a validation curve has one point per
    evaluation. Here an evaluation is a spike when it is worse than the median of the (up to) 3 before it by
    ``spike_z`` times the curve's robust point-to-point noise (MAD of the differences: one spike does not move
    it) and, for a loss, by ``spike_min_ratio``; for an accuracy the drop must also exceed ``spike_z`` binomial
    standard errors of the validation set when its size is known (else ``oscillation_accuracy_amplitude`` x 2).
    Only spikes that recovered at the next evaluation are reported here: a jump that stays is overfitting or
    divergence, and a curve that keeps jumping is oscillation.

    Examples
    --------
    >>> loss = np.array([1.44, 7.42, 1.29, 1.54, 1.62, 1.15, 1.17, 1.06, 1.07, 1.05, 1.02])
    >>> finding = detect_validation_spikes(np.arange(11.0), loss, name="val_loss", context=Context())[0]
    >>> finding.kind, finding.severity, finding.step
    ('spike', 'info', 1.0)
    """
    thresholds = context.thresholds
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    if values.size < thresholds.min_eval_points + 1:
        return []
    if metric == "loss":
        scaled, is_log = log_values(values)
        worse = scaled  # higher is worse
    else:
        scaled, is_log = values.astype(np.float64), False
        worse = -scaled
    noise = noise_sigma(worse)
    events = []
    for index in range(1, worse.size - 1):
        base = float(np.median(worse[max(0, index - 3) : index]))
        jump = float(worse[index]) - base
        if jump < thresholds.spike_z * max(noise, _MAD_FLOOR):
            continue
        if metric == "loss":
            if is_log and jump < math.log(thresholds.spike_min_ratio):
                continue
            recovered = float(worse[index + 1]) - base <= max(_recovery_margin(is_log, base, thresholds), 2 * noise)
        else:
            accuracy = -base
            error = binomial_error(accuracy, context.val_size)
            floor = thresholds.spike_z * error if error else 2 * thresholds.oscillation_accuracy_amplitude
            if jump < floor:
                continue
            recovered = float(worse[index + 1]) - base <= max(2 * noise, error or 0.0)
        if recovered:
            events.append((index, base, jump))
    findings = []
    for index, base, jump in sorted(events, key=lambda event: -event[2])[: thresholds.spike_reported]:
        step = float(steps[index])
        if metric == "loss":
            level = math.exp(base) if is_log else base
            size = f"{math.exp(jump):.3g}x the {level:.4g} before" if is_log else f"+{jump:.3g} over {base:.4g}"
            text = f"{name} spiked at {context.where(step)}: {values[index]:.4g}, {size}, and was back at the next evaluation"
        else:
            text = (
                f"{name} dropped at {context.where(step)}: {values[index]:.4g}, {jump:.3g} below the {-base:.4g} before, "
                "and was back at the next evaluation"
            )
        advice = (
            "One bad evaluation that recovers is usually harmless: look at the batch of steps just before it "
            "(a spike of the training loss, a corrupt sample) or at evaluation itself (BatchNorm statistics).",
            *ADVICE["spike"][1:2],
        )
        metrics = {"peak_step": step, "value": float(values[index]), "recovered": True, "validation": True}
        findings.append(Finding("spike", "info", name, step, step, text, advice, metrics))
    return sorted(findings, key=lambda finding: finding.step or 0.0)


def detect_initial_blowup(
    steps: np.ndarray,
    values: np.ndarray,
    *,
    name: str,
    context: Context,
    first_accuracy: float | None = None,
) -> list[Finding]:
    """``divergence`` (warn): the first logged loss is far above the chance loss and later ones (issue 11, 2.7).

    At initialisation a classifier's cross-entropy sits near ln C. A first logged value of at least
    ``blowup_chance_factor`` x ln C (and ``blowup_chance_excess`` nats above it) that the run then comes down
    from means the first updates blew the logits up before anything was logged: the learning rate is too high
    for the start of training (or the initialisation is off). It is not underfitting, and raising the learning
    rate would make it worse, so the report says so. Needs a known class count; an accuracy already well above
    chance at that first point means the high loss is a regulariser or a loss scale, not a blow-up.

    Examples
    --------
    >>> from dlcheck.curves.chance import ChanceLevel
    >>> loss = np.r_[25.0, 9.0, 4.0, np.full(27, 2.3)]
    >>> context = Context(chance=ChanceLevel(10, "--num-classes"))
    >>> finding = detect_initial_blowup(np.arange(30.0), loss, name="loss", context=context)[0]
    >>> finding.kind, finding.metrics["cause"]
    ('divergence', 'initial blow-up')
    """
    thresholds = context.thresholds
    chance = context.chance
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    if chance is None or values.size < thresholds.min_points or float(values.min()) < 0:
        return []
    first = float(values[0])
    if first < max(thresholds.blowup_chance_factor * chance.loss, chance.loss + thresholds.blowup_chance_excess):
        return []
    later = float(np.median(values[-max(1, values.size // 3) :]))
    if later > 0.5 * first:
        return []
    if first_accuracy is not None and first_accuracy > chance.accuracy + 0.25:
        return []
    message = (
        f"{name} started at {first:.4g}, {first / chance.loss:.2g}x the chance loss ln {chance.classes} = "
        f"{chance.loss:.4g}, and came down to {later:.4g}: the first updates blew up before the first logged step "
        "(a learning rate too high for the start of training, or an initialisation with outsized outputs)"
    )
    advice = (
        "Lower the initial learning rate or add a warm-up, and clip gradients (max_norm 1.0): the poor level that "
        "follows comes from the blow-up, and only a gentler start fixes it.",
        "Check the initialisation and the output layer scale: at step 0 the loss should be near ln C "
        "(`dlcheck init-loss`).",
        *ADVICE["divergence"][2:3],
    )
    metrics = {"cause": "initial blow-up", "first": first, "chance_loss": chance.loss, "later": later}
    return [Finding("divergence", "warn", name, float(steps[0]), float(steps[-1]), message, advice, metrics)]
