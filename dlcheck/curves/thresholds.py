"""Every threshold of the curve detectors, in one place, with its reasoning and source.

Sources are cited by the section of ``research/sanity_and_curves.md`` (the note) that surveys them.
Values marked *calibrated* were checked against real healthy runs (digits and spirals MLPs with Adam,
SGD with momentum and one-cycle, noisy small-batch SGD, per-step and per-window logs, Lightning CSV and
TensorBoard) so that none of those raises a warning, and against planted pathologies of every kind
(too-high learning rate, learning rate 0, shuffled labels, long training on little data, an unshuffled
sorted data order, a corrupt batch); ``tests/curves`` keeps that gallery.

Losses are judged in log space throughout (spikes and divergence are multiplicative: note 5.0), so
"ratio" thresholds below are compared with differences of log-losses.
"""

from __future__ import annotations

__all__ = ["DEFAULT_THRESHOLDS", "Thresholds"]

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """Detector settings. Change one with ``dataclasses.replace(DEFAULT_THRESHOLDS, name=value)``.

    Examples
    --------
    >>> import dataclasses
    >>> dataclasses.replace(DEFAULT_THRESHOLDS, spike_z=10.0).spike_z
    10.0
    """

    # ------------------------------------------------------------------------------- lengths and smoothing
    min_points: int = 8
    """Fewest finite points before any trend is judged (note 5.0 warm-up guard: 3-4 evals at least;
    trend tests on fewer than 8 points have no power)."""
    min_eval_points: int = 4
    """Fewest validation evaluations before overfitting/gap rules apply (trainproof TP-OVERFIT needs 4)."""
    trend_points: int = 60
    """Target length of the block-median trend curve used by divergence/plateau/trend rules. Block
    medians are robust to batch noise and make every rule O(n) (1M points become 60 medians)."""
    detail_points: int = 200
    """Target length of the finer block-median curve used by the oscillation rule."""

    # ------------------------------------------------------------------------------------------- spikes
    spike_min_points: int = 20
    """Fewest points before spikes are judged: the trailing window needs >= 10 points (note 5.1), and
    20 points leave 10 to judge (a 20-epoch Keras log shows a corrupt batch in its epoch means)."""
    spike_window: int = 100
    """Trailing window W for the robust reference, at most 100 points, at least 10, n/5 between (note 5.1,
    the W&B watcher and llm-foundry use 100)."""
    spike_z: float = 6.0
    """Robust z of the log-loss against the trailing median/MAD (window excludes the point, note 5.0).
    6 is the note's warn level; healthy runs peak near 4.5 (W&B watcher calibration)."""
    spike_min_ratio: float = 1.5
    """The spike must also be this many times the trailing median. llm-foundry uses 2x the trailing mean,
    Lightning 3x; 1.5 keeps a 10x single-batch spike visible in a log of 10-step window means (which
    dilutes it to ~1.9x) while noise on smooth curves (tiny MAD) cannot pass. *calibrated*"""
    spike_large_ratio: float = 10.0
    """A spike of 10x its base always counts ..."""
    spike_min_excess: float = 0.1
    """... a smaller one only if it adds >= 10% of the starting loss (linear units): healthy runs show 2-4x
    bumps of a converged 0.01 loss, which no one needs to hear about. *calibrated*"""
    spike_warmup_fraction: float = 0.02
    """No spike judgement in the first 2% of points (note 5.0: max(50 steps, 2%))."""
    spike_recovery_ratio: float = 1.1
    """Recovered when the loss comes back within 10% of the pre-spike level within W/2 points (note 5.1),
    or within 2 noise sigmas of it when the curve is noisier than that."""
    spike_persistent_points: int = 4
    """More than 4 consecutive outliers make a persistent spike (llm-foundry patience 4)."""
    spike_frequent: int = 3
    """Isolated spikes that recover are info (note 5.1: usually tolerable); a warning needs one that did
    not recover, a persistent one, or at least 3 in the run."""
    spike_reported: int = 5
    """At most this many spike findings per series (the largest); the rest are counted in the message."""

    # --------------------------------------------------------------------------------------- divergence
    divergence_fail_ratio: float = 4.0
    """Smoothed loss at the end >= 4x its best: diverged (Lightning lr_find aborts at 4x best; note 5.2)."""
    divergence_warn_ratio: float = 1.5
    """Smoothed loss at the end >= 1.5x its best and significantly rising: a sustained rise (trainproof
    TP-DIVERGE uses 1.5x of end vs min; note 5.2)."""
    divergence_noise_sigmas: float = 3.0
    """Rises must also exceed this many standard errors of the trend curve, so that the minimum of a noisy
    curve (biased low by its noise) does not fake a rise. *calibrated*"""
    divergence_undone_fail: float = 0.25
    """... and gives back >= 25% of the improvement from the start to the best, in the loss' own units:
    the log scale makes a converged loss wobbling from 4e-4 to 2e-2 look like a 40x rise, yet it gave back
    2% of a fall from 1.1. *calibrated* (heavy-tailed per-batch losses of healthy runs)"""
    divergence_undone_warn: float = 0.1
    """... >= 10% for the warning (a sustained rise)."""
    divergence_above_start_ratio: float = 1.1
    """After learning (best <= start / 1.5), ending 10% above the starting level is worse than random (note 5.2)."""
    blowup_chance_factor: float = 2.0
    """A first logged loss >= 2 x ln C (and >= ``blowup_chance_excess`` nats above it) that the run then halves
    is a blow-up before the first log: at initialisation the cross-entropy sits near ln C (note 6), and logits
    large enough to double it come from the first updates, not from the data."""
    blowup_chance_excess: float = 1.0
    """... at least 1 nat above ln C, so that a binary task (ln 2 = 0.69) needs a first loss above 1.69."""
    trend_p_value: float = 0.01
    """Significance of Mann-Kendall trend tests on block medians. Stricter than the note's 0.05 because a
    run is tested by several rules; 0.01 keeps false alarms on healthy flat tails rare. *calibrated*"""

    # ---------------------------------------------------------------------------------- plateau, trend
    plateau_relative_change: float = 0.02
    """A curve is flat when its trend moves less than 2% over the stretch (trainproof TP-FLAT uses 0.1%
    relative variation on raw values; on block medians of noisy logs 2% is the noise floor). *calibrated*"""
    plateau_min_fraction: float = 0.5
    """A stall counts when it covers at least the last half of the run (playbook: "saturated long before
    the end" means fewer steps would do)."""
    no_trend_improvement: float = 0.05
    """Less than 5% improvement from start to end is no trend (trainproof TP-DEAD-RUN: < 5% between the
    first and last 5 points)."""
    chance_loss_fraction: float = 0.95
    """Loss >= 0.95x the chance loss ln C is at chance (note 5.3)."""
    chance_accuracy_sigmas: float = 2.0
    """Accuracy within 2 standard errors of 1/C is at chance (note 5.3)."""
    chance_accuracy_margin: float = 0.02
    """... and within at least 2 points of accuracy, for very large validation sets."""
    slow_convergence_progress: float = 0.5
    """Slow: after the whole run the loss is still above half its starting value and still falling
    significantly (note 5.4: still decreasing at the end means compute-bound; a small total drop with a
    steady fall means too low a learning rate)."""
    still_improving_fraction: float = 0.1
    """Info when the last quarter of the run still improved the loss by >= 10% (train longer)."""
    underfitting_chance_fraction: float = 0.5
    """Underfitting: train loss stays above 0.5x the chance loss (note 5.7)."""
    underfitting_accuracy: float = 0.6
    """... or, when the number of classes is unknown, accuracy stays below 0.6 (AUTOTRAINER calls a best
    accuracy below 0.7 "not converging"; 0.6 leaves room for hard tasks); with C known the bar is halfway
    between chance and 1 ..."""
    underfitting_gap_ratio: float = 1.1
    """... with a small gap: val/train loss ratio <= 1.1 (note 5.7) ..."""
    underfitting_accuracy_gap: float = 0.05
    """... or a train - val accuracy gap of at most 5 points ..."""
    underfitting_stalled_fraction: float = 0.25
    """... and the training loss flat over at least the last quarter of the run (note 5.7: "no trend")."""

    # --------------------------------------------------------------------------- oscillation, periodicity
    oscillation_min_swings: int = 5
    """Oscillation needs at least 5 up-and-down swings ... (AUTOTRAINER counts adjacent extremum pairs)."""
    oscillation_swing_fraction: float = 0.2
    """... in at least 20% of the points of the curve (AUTOTRAINER flags 20-25% of epochs; note 5.5)."""
    oscillation_loss_amplitude: float = 0.2
    """A swing of a loss must be >= 20% of its level (log 0.18; the note's 5% is for epoch-level curves,
    block medians of step losses need more to stay clear of batch noise) ... *calibrated*"""
    oscillation_accuracy_amplitude: float = 0.03
    """... and a swing of accuracy >= 3 points (AUTOTRAINER 0.03-0.05) ..."""
    oscillation_noise_sigmas: float = 4.0
    """... and >= 4 standard errors of the curve's own noise (binomial for accuracy when n is known)."""
    oscillation_noise_log: float = 0.5
    """Unsettled loss: point sigma of the log-loss within short stretches of the second half >= 0.5
    (a factor ~1.65 from batch to batch) ... healthy runs reach it only with tiny losses. *calibrated*"""
    oscillation_unsettled: float = 0.1
    """... while the mean loss of the second half stays >= 10% of the starting loss. Healthy runs end at
    1-5% of their start (digits, spirals) or scatter far less (moons at 30%: sigma 0.05-0.26). *calibrated*"""
    periodicity_autocorrelation: float = 0.3
    """Autocorrelation peak > 0.3 at the epoch lag (or a multiple) flags a data-order bug (note 5.5)."""
    periodicity_min_periods: float = 4.0
    """The pattern must repeat at least 4 times to be judged."""
    periodicity_harmonic: float = 0.2
    """Without a known epoch length, the autocorrelation at twice the lag must also be >= 0.2."""

    # ------------------------------------------------------------------------------------- generalisation
    overfitting_generalization_loss: float = 0.05
    """Prechelt's GL = v/v* - 1 >= 5% for the last evaluations (Prechelt 1998; note 5.6)."""
    overfitting_warn: float = 0.10
    """GL >= 10% warns; 5-10% is mild (info). Twice Prechelt's upper stopping threshold, half trainproof's
    warning level: healthy runs trained a little long drift 5-10%. *calibrated*"""
    overfitting_strong: float = 0.2
    """GL >= 20% is strong overfitting (trainproof TP-OVERFIT: 1.2x own minimum)."""
    overfitting_consecutive: int = 3
    """... for at least 3 consecutive evaluations (Prechelt's UP strips, s = 2-4)."""
    overfitting_noise_sigmas: float = 2.0
    """... and by more than 2 sigmas of the validation curve's point-to-point noise: the rise compares two
    medians of 3 points (the tail, and the smoothed best), whose difference has a standard error of about one
    sigma, and note 5.0 calls a change of 2 standard errors a trend. (3 sigmas, used before, missed rises of
    15-30% on short real validation curves.)"""
    gap_accuracy: float = 0.10
    """Train - val accuracy >= 0.10 is a large gap (AUTOTRAINER; note 5.8) ..."""
    gap_accuracy_high: float = 0.07
    """... or >= 0.07 once train accuracy is above 0.9 (AUTOTRAINER)."""
    gap_loss_ratio: float = 1.5
    """Without accuracies: val/train loss >= 1.5 (note 5.8) ..."""
    gap_loss_reference_fraction: float = 0.25
    """... and val - train >= 25% of the reference loss (chance, else the starting loss), because the ratio
    alone flags every well-fit classifier whose train loss tends to 0. *calibrated*"""
    gap_sigmas: float = 3.0
    """Gaps must exceed 3 standard errors of validation accuracy (binomial when the set size is known)."""
    mismatch_min_points: int = 5
    """Loss and accuracy falling together is judged over at least 5 evaluations (note 5.9)."""
    mismatch_p_value: float = 0.05
    """Both trends significant at 5% (note 5.9)."""
    mismatch_error_ratio: float = 2.0
    """Accuracy improving while the loss does not: the error rate falls 2x or more (issue 11, 2.8). On the healthy
    classifiers of the real-log corpus the cross-entropy fell 2-10x whenever the error rate halved ..."""
    mismatch_flat_loss: float = 0.2
    """... while here the loss changes by less than 20% (and rises by less than 10%: a rising loss is
    overfitting, judged there) ..."""
    mismatch_high_loss: float = 0.5
    """... and stays above 0.5 nat: a mean probability of the right class below 0.61 on examples the model
    mostly gets right. A loss already that low can flatten while the last errors go (calibration)."""
    mismatch_loss_fall: float = 2.0
    """The loss falls while the accuracy stays at chance: the loss halves (or more) over the run."""

    # ---------------------------------------------------------------------------------- chance inference
    chance_inference_tolerance: float = 0.05
    """exp(initial loss) within 5% of an integer C >= 2 gives C (ln C + small logit variance at init;
    note 6). Used only when the first point is logged within the first 2% of the run."""
    chance_inference_start_fraction: float = 0.02
    """... the first logged step must lie in the first 2% of the run for it to be the loss at init."""

    # ------------------------------------------------------------------------------------------- live
    live_min_points: int = 10
    """The live monitor judges divergence only after 10 logging windows."""
    live_divergence_windows: int = 3
    """... and stops the run when the rule holds for 3 consecutive windows (llm-foundry waits 4 outliers)."""


DEFAULT_THRESHOLDS = Thresholds()
