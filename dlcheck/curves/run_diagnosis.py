"""Diagnose one run: map its series, take its facts, run every detector, drop what restates a graver finding.

The chance level and the validation-set size come from the options, from the run's own files, or are
inferred from the curves (and the report says which); the detectors run on the mapped series; early
stopping is replayed on the validation curve to give ``best_step``.
"""

from __future__ import annotations

__all__ = ["RunDiagnosis", "diagnose_run"]

import time
from dataclasses import dataclass, field

import numpy as np

from dlcheck.curves.chance import ChanceLevel, infer_classes_from_loss, infer_classes_from_pair, infer_set_size
from dlcheck.curves.detectors.context import Context, LossCurve, loss_curve, with_aggregate_trend
from dlcheck.curves.detectors.generalization import (
    EarlyStop,
    align,
    detect_generalization_gap,
    detect_loss_accuracy_mismatch,
    detect_metric_disagreement,
    detect_overfitting,
    simulate_early_stopping,
)
from dlcheck.curves.detectors.instability import (
    detect_divergence,
    detect_initial_blowup,
    detect_nan,
    detect_spikes,
    detect_validation_spikes,
    detect_warmup_rise,
)
from dlcheck.curves.detectors.oscillation import detect_oscillation, detect_periodicity, detect_validation_oscillation
from dlcheck.curves.detectors.progress import (
    detect_no_trend,
    detect_plateau,
    detect_random_performance,
    detect_slow_convergence,
    detect_underfitting,
    flat_band,
)
from dlcheck.curves.detectors.suspicion import (
    detect_constant_accuracy,
    detect_suspicious_success,
    detect_unbounded_loss,
)
from dlcheck.curves.findings import Finding, ranked, severity_rank, worst_severity
from dlcheck.curves.log_run import LogRun
from dlcheck.curves.robust import mann_kendall
from dlcheck.curves.run_summary import run_summary, tail_level
from dlcheck.curves.series import Mapping, Role, Series, map_series, name_words
from dlcheck.curves.thresholds import DEFAULT_THRESHOLDS, Thresholds

# Kinds a graver finding on the same run makes redundant: (grave kind, grave severities) -> dropped kinds.
_SUPPRESSED_BY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "nan": (("fail",), ("plateau", "no_trend", "slow_convergence", "oscillation", "underfitting", "periodicity")),
    "divergence": (
        ("fail",),
        ("plateau", "no_trend", "slow_convergence", "oscillation", "underfitting", "overfitting"),
    ),
    "plateau": (("fail",), ("no_trend", "slow_convergence", "underfitting", "oscillation")),
    "random_performance": (("fail",), ("no_trend", "slow_convergence", "underfitting", "plateau")),
    "overfitting": (("warn", "info"), ("generalization_gap",)),
    # a loss that disagrees with its metric makes a loss-based gap meaningless: the mismatch is the story
    "loss_accuracy_mismatch": (("warn",), ("generalization_gap",)),
    "slow_convergence": (("warn",), ("underfitting", "plateau")),
    "underfitting": (("warn",), ("plateau",)),
    # a loss collapsed to ~0 (or driven to minus infinity) has no noise or trend story left to tell
    "suspicious_success": (
        ("warn",),
        ("oscillation", "plateau", "no_trend", "slow_convergence", "underfitting", "periodicity"),
    ),
}


_AFTER_BLOWUP = frozenset({"underfitting", "slow_convergence", "plateau", "no_trend"})


@dataclass
class RunDiagnosis:
    """What was found in one run.

    Attributes
    ----------
    run : LogRun
    mapping : Mapping
        The series chosen per role and the table of every series.
    findings : list of Finding
        Sorted by severity (fail first), then step.
    chance : ChanceLevel or None
    val_size : int or None
    val_size_source : str or None
    early_stop : EarlyStop or None
        Early stopping replayed on the monitored curve: ``kept_step`` is the run's ``best_step``.
    summary : dict
        Final and best values per role, for the comparison table.
    seconds : float
    not_judged : list of (str, str)
        Mapped series too short to judge and why (a run whose series are all here is ``inconclusive``).
    """

    run: LogRun
    mapping: Mapping
    findings: list[Finding]
    chance: ChanceLevel | None = None
    val_size: int | None = None
    val_size_source: str | None = None
    early_stop: EarlyStop | None = None
    summary: dict[str, float | None] = field(default_factory=dict)
    seconds: float = 0.0
    not_judged: list[tuple[str, str]] = field(default_factory=list)

    @property
    def judged(self) -> bool:
        """Whether any mapped series was long enough for a rule (else the run is ``inconclusive``)."""
        return len(self.not_judged) < len(self.mapping.roles)

    @property
    def status(self) -> str:
        """``fail``, ``warn``, ``pass``, or ``inconclusive`` when nothing could be judged (never a silent pass)."""
        worst = worst_severity(finding.severity for finding in self.findings)
        if worst in ("warn", "fail"):
            return str(worst)
        return "pass" if self.judged else "inconclusive"

    @property
    def primary(self) -> Finding | None:
        """The finding that explains the run best (the first of :attr:`findings`), if it is not only info."""
        if self.findings and self.findings[0].severity != "info":
            return self.findings[0]
        return None

    @property
    def best_step(self) -> float | None:
        return self.early_stop.kept_step if self.early_stop is not None else None


def _chance(
    run: LogRun, mapping: Mapping, num_classes: int | None, size: int | None, thresholds: Thresholds
) -> ChanceLevel | None:
    if num_classes is not None:
        return ChanceLevel(num_classes, "--num-classes")
    if run.facts.num_classes is not None:
        return ChanceLevel(run.facts.num_classes, run.facts.num_classes_source or "the run's files")
    train_loss = mapping.get("train_loss")
    accuracy = mapping.get("val_accuracy") or mapping.get("train_accuracy")
    # The initial loss alone is not a class count (an LM's, a reconstruction's or a regression's loss is a number
    # too, issue 11): it needs a second, agreeing witness - an accuracy logged beside it says the task is a
    # classifier, and its first value must still be near the chance level the loss implies.
    if train_loss is not None and train_loss.units == "step" and accuracy is not None:
        found = infer_classes_from_loss(train_loss.steps, train_loss.values, thresholds)
        finite = accuracy.values[np.isfinite(accuracy.values)]
        if found is not None and finite.size and float(finite[0]) <= found.accuracy + 0.25:
            return ChanceLevel(
                found.classes,
                f"{found.source}, and the first {accuracy.name} {float(finite[0]):.3g} near 1/{found.classes}",
                inferred=True,
            )
    pairs: tuple[tuple[Role, Role, int | None, str], ...] = (
        ("val_loss", "val_accuracy", size, "the validation curves"),
        ("train_loss", "train_accuracy", None, "the training curves"),
    )
    for loss_role, accuracy_role, pair_size, label in pairs:
        loss, accuracy = mapping.get(loss_role), mapping.get(accuracy_role)
        if loss is not None and accuracy is not None:
            found = infer_classes_from_pair(
                loss.steps,
                loss.values,
                accuracy.steps,
                accuracy.values,
                size=pair_size,
                label=label,
                thresholds=thresholds,
            )
            if found is not None:
                return found
    return None


def _companion(mapping: Mapping, role: Role, target: Series) -> Series | None:
    """The series of ``role`` to compare with ``target`` (same units, best step coverage)."""
    chosen = mapping.get(role)
    candidates = [item for item in mapping.candidates.get(role, []) if item.units == target.units]
    if not candidates:
        return None
    exact = [item for item in candidates if np.isin(target.steps, item.steps).mean() >= 0.8]
    if exact:
        return exact[0] if chosen not in exact else chosen
    return chosen if chosen in candidates else candidates[0]


def diagnose_run(
    run: LogRun,
    *,
    overrides: dict[Role, str] | None = None,
    num_classes: int | None = None,
    val_size: int | None = None,
    steps_per_epoch: float | None = None,
    patience: int = 5,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> RunDiagnosis:
    """Map and diagnose one run (see :func:`diagnose` for the parameters)."""
    started = time.perf_counter()
    mapping = _fractions(map_series(run.series, overrides), run)
    train_loss, val_loss = mapping.get("train_loss"), mapping.get("val_loss")
    train_accuracy, val_accuracy = mapping.get("train_accuracy"), mapping.get("val_accuracy")
    # Per-step and per-epoch versions of one quantity: the level and trend from the epoch means (issue 11, 2.5).
    aggregates = {role: _on_step_axis(item, mapping.roles[role]) for role, item in mapping.aggregates.items()}
    if train_accuracy is not None and "train_accuracy" in aggregates:
        aggregate = aggregates["train_accuracy"]
        if aggregate.finite_points >= thresholds.min_eval_points:
            train_accuracy = aggregate
    size, size_source = val_size, "--val-size" if val_size is not None else None
    if size is None and run.facts.val_size is not None:
        size, size_source = run.facts.val_size, run.facts.val_size_source
    if size is None and val_accuracy is not None:
        size = infer_set_size(val_accuracy.values)
        size_source = "inferred from the validation accuracy values" if size is not None else None
    chance = _chance(run, mapping, num_classes, size, thresholds)
    per_epoch = steps_per_epoch if steps_per_epoch is not None else run.facts.steps_per_epoch
    reference = train_loss or val_loss or train_accuracy or val_accuracy
    context = Context(
        thresholds=thresholds,
        chance=chance,
        val_size=size,
        steps_per_epoch=per_epoch,
        patience=patience,
        epoch_at=run.facts.epoch_at if run.facts.epoch_steps is not None else None,
        units=reference.units if reference is not None else "step",
        learning_rate_decayed=_learning_rate_decayed(run),
        accuracy_rising=_rising(val_accuracy or train_accuracy),
        final_accuracy=next(
            (
                level
                for level in (tail_level(item) for item in (val_accuracy, train_accuracy) if item is not None)
                if level is not None
            ),
            None,
        ),
    )
    findings: list[Finding] = []
    for role, series in mapping.roles.items():
        findings += detect_nan(
            series.steps, series.values, name=series.name, context=context, is_loss=role.endswith("loss")
        )

    main_loss = train_loss or val_loss
    curve: LossCurve | None = None
    loss_aggregate = aggregates.get("train_loss") if main_loss is train_loss else None
    if main_loss is not None:
        curve = loss_curve(main_loss.steps, main_loss.values, thresholds)
        if loss_aggregate is not None:
            curve = with_aggregate_trend(curve, loss_aggregate.steps, loss_aggregate.values)
        if curve.points:
            name = main_loss.name
            if main_loss is train_loss:
                findings += detect_spikes(curve, name=name, context=context)
                if main_loss.units == "step":  # epoch means cannot show an order repeating within an epoch
                    findings += detect_periodicity(curve, name=name, context=context)
            findings += detect_divergence(curve, name=name, context=context)
            learning_rate = _learning_rate_series(run)
            if learning_rate is not None and main_loss is train_loss:
                findings += detect_warmup_rise(
                    curve, learning_rate.steps, learning_rate.values, name=name, context=context
                )
            findings += detect_plateau(curve, name=name, context=context)
            findings += detect_no_trend(curve, name=name, context=context)
            findings += detect_slow_convergence(curve, name=name, context=context)
            findings += detect_oscillation(
                main_loss.steps,
                main_loss.values,
                name=name,
                context=context,
                metric="loss",
                is_validation=main_loss is val_loss,
                aggregate=loss_aggregate.values if loss_aggregate is not None else None,
            )
            first_accuracy = _first_finite(val_accuracy or train_accuracy)
            findings += detect_initial_blowup(
                main_loss.steps, main_loss.values, name=name, context=context, first_accuracy=first_accuracy
            )
    if val_accuracy is not None:
        findings += detect_oscillation(
            val_accuracy.steps,
            val_accuracy.values,
            name=val_accuracy.name,
            context=context,
            metric="accuracy",
            is_validation=True,
        )

    # Validation curves get the instability rules too, on their raw evaluations (issue 11, 2.6).
    if val_loss is not None:
        findings += detect_validation_spikes(val_loss.steps, val_loss.values, name=val_loss.name, context=context)
        if main_loss is train_loss and train_loss is not None:
            reference = _companion(mapping, "train_loss", val_loss) or train_loss
            findings += detect_validation_oscillation(
                val_loss.steps,
                val_loss.values,
                name=val_loss.name,
                context=context,
                reference=align(val_loss.steps, reference.steps, reference.values),
            )
    if val_accuracy is not None:
        findings += detect_validation_spikes(
            val_accuracy.steps, val_accuracy.values, name=val_accuracy.name, context=context, metric="accuracy"
        )

    # End levels for the chance rule: validation first (what the model does on unseen data).
    accuracies = [
        (item.name, item.steps, item.values, item is val_accuracy)
        for item in (val_accuracy, train_accuracy)
        if item is not None
    ]
    loss_ends: list[tuple[str, float, float]] = []
    for item, accuracy in ((val_loss, val_accuracy), (train_loss, train_accuracy)):
        if item is not None and accuracy is None and np.isfinite(item.values).sum() >= 2:
            prepared = (
                curve if item is main_loss and curve is not None else loss_curve(item.steps, item.values, thresholds)
            )
            if prepared.points >= 2 and prepared.trend.medians.size:
                level = (
                    prepared.level(flat_band(prepared, context).level)
                    if prepared.trend.medians.size >= 2
                    else float(prepared.values[-1])
                )
                loss_ends.append((item.name, level, float(prepared.steps[-1])))
    findings += detect_random_performance(accuracies, loss_ends, context=context)

    # Train vs validation, on the validation steps.
    train_at_val = train_accuracy_at_val = accuracy_at_val = None
    if val_loss is not None:
        companion = _companion(mapping, "train_loss", val_loss)
        if companion is not None:
            train_at_val = align(val_loss.steps, companion.steps, companion.values)
        if val_accuracy is not None and val_accuracy.units == val_loss.units:
            accuracy_at_val = align(val_loss.steps, val_accuracy.steps, val_accuracy.values)
        findings += detect_overfitting(
            val_loss.steps,
            val_loss.values,
            name=val_loss.name,
            context=context,
            train_at_val=train_at_val,
            val_accuracy_at_val=accuracy_at_val,
        )
        findings += detect_loss_accuracy_mismatch(
            val_loss.steps,
            val_loss.values,
            accuracy_at_val if accuracy_at_val is not None else np.full(val_loss.points, np.nan),
            names=(val_loss.name, val_accuracy.name if val_accuracy is not None else ""),
            context=context,
            is_validation=True,
        )
    if train_loss is not None and train_accuracy is not None and train_accuracy.units == train_loss.units:
        companion = _companion(mapping, "train_loss", train_accuracy)
        if companion is not None:
            findings += detect_loss_accuracy_mismatch(
                train_accuracy.steps,
                align(train_accuracy.steps, companion.steps, companion.values),
                train_accuracy.values,
                names=(companion.name, train_accuracy.name),
                context=context,
                is_validation=False,
            )
    gap_steps = val_accuracy if val_accuracy is not None else val_loss
    if gap_steps is not None:
        if train_accuracy is not None and val_accuracy is not None and train_accuracy.units == val_accuracy.units:
            train_accuracy_at_val = align(val_accuracy.steps, train_accuracy.steps, train_accuracy.values)
        val_loss_at = align(gap_steps.steps, val_loss.steps, val_loss.values) if val_loss is not None else None
        train_loss_at = train_at_val if gap_steps is val_loss else None
        names = (
            (train_accuracy.name, val_accuracy.name)
            if train_accuracy_at_val is not None and train_accuracy is not None and val_accuracy is not None
            else ((train_loss.name if train_loss else ""), (val_loss.name if val_loss else ""))
        )
        reference_loss = (
            chance.loss
            if chance is not None
            else (curve.level(float(curve.scaled[0])) if curve is not None and curve.points else None)
        )
        findings += detect_generalization_gap(
            gap_steps.steps,
            context=context,
            train_accuracy=train_accuracy_at_val,
            val_accuracy=val_accuracy.values
            if val_accuracy is not None and train_accuracy_at_val is not None
            else None,
            train_loss=train_loss_at,
            val_loss=val_loss_at,
            names=names,
            reference_loss=reference_loss,
        )
    if curve is not None and curve.points and main_loss is train_loss:
        val_end = train_end = None
        if val_loss is not None and train_at_val is not None:
            tail = slice(-min(3, val_loss.points), None)
            val_end = float(np.nanmedian(val_loss.values[tail])) if np.isfinite(val_loss.values[tail]).any() else None
            train_end = float(np.nanmedian(train_at_val[tail])) if np.isfinite(train_at_val[tail]).any() else None
        assert train_loss is not None
        accuracy_end: tuple[str, float] | None = None
        accuracy_gap: float | None = None
        train_level = tail_level(train_accuracy) if train_accuracy is not None else None
        val_level = tail_level(val_accuracy) if val_accuracy is not None else None
        if train_accuracy is not None and train_level is not None:
            accuracy_end = (train_accuracy.name, train_level)
        elif val_accuracy is not None and val_level is not None:
            accuracy_end = (val_accuracy.name, val_level)
        if train_level is not None and val_level is not None:
            accuracy_gap = train_level - val_level
        findings += detect_underfitting(
            curve,
            name=train_loss.name,
            context=context,
            val_end=val_end,
            train_end_at_val=train_end,
            accuracy_end=accuracy_end,
            accuracy_gap=accuracy_gap,
        )

    findings += _disagreements(findings, train_loss, val_loss, train_accuracy, val_accuracy, context, mapping)
    for role, series in mapping.roles.items():
        if role.endswith("loss"):
            findings += detect_suspicious_success(series.steps, series.values, name=series.name, context=context)
            findings += detect_unbounded_loss(series.steps, series.values, name=series.name, context=context)
    for accuracy_series in (val_accuracy, train_accuracy):
        if accuracy_series is not None:
            constant = detect_constant_accuracy(
                accuracy_series.steps, accuracy_series.values, name=accuracy_series.name, context=context
            )
            if constant:
                findings += constant
                break

    if any(finding.metrics.get("cause") == "warm-up" for finding in findings):
        # the validation loss rose because the learning rate did: not overfitting (issue 11, 2.7)
        findings = [finding for finding in findings if finding.kind != "overfitting"]
    if any(finding.metrics.get("cause") == "initial blow-up" for finding in findings):
        # a poor level after a blow-up is the blow-up's doing: never "underfitting, raise the LR" (issue 11, 2.7)
        findings = [finding for finding in findings if finding.kind not in _AFTER_BLOWUP]
    findings = _without_redundant(findings)
    early_stop = _early_stop(val_loss, val_accuracy, curve, main_loss, patience)
    summary = run_summary(train_loss, val_loss, val_accuracy, curve)
    not_judged = []
    for role, series in mapping.roles.items():
        needed = thresholds.min_eval_points if role.startswith("val") else thresholds.min_points
        if series.finite_points < needed:
            not_judged.append(
                (series.name, f"{series.finite_points} finite point(s): too short to judge (needs {needed})")
            )
    return RunDiagnosis(
        run,
        mapping,
        findings,
        chance,
        size,
        size_source,
        early_stop,
        summary,
        time.perf_counter() - started,
        not_judged,
    )


def _on_step_axis(aggregate: Series, per_step: Series) -> Series:
    """The per-epoch aggregate on its per-step series' axis (issue 11, 2.5: never compare series on two axes).

    Lightning logs ``_epoch`` at the epoch's last step, on the same axis. Keras' TensorBoard logs
    ``epoch_loss`` at the epoch index and ``batch_loss`` at the global batch: epoch k of n then ends at the
    (k+1)/n point of the per-step range.
    """
    finite = np.isfinite(aggregate.steps)
    steps = aggregate.steps[finite]
    span_first, span_last = float(per_step.steps[0]), float(per_step.steps[-1])
    if not steps.size or span_last <= span_first or float(steps.max()) > 0.5 * span_last:
        return aggregate
    count = steps.size
    mapped = span_first + (np.arange(1, count + 1) / count) * (span_last - span_first)
    return Series(aggregate.name, mapped, aggregate.values[finite], per_step.units)


def _first_finite(series: Series | None) -> float | None:
    if series is None:
        return None
    finite = series.values[np.isfinite(series.values)]
    return float(finite[0]) if finite.size else None


def _disagreements(
    findings: list[Finding],
    train_loss: Series | None,
    val_loss: Series | None,
    train_accuracy: Series | None,
    val_accuracy: Series | None,
    context: Context,
    mapping: Mapping,
) -> list[Finding]:
    """Loss and accuracy telling different stories, one finding at most (issue 11, 2.8)."""
    if any(finding.kind == "loss_accuracy_mismatch" for finding in findings):
        return []
    pairs = ((val_loss, val_accuracy, True), (train_loss, train_accuracy, False))
    for loss, accuracy, is_validation in pairs:  # one split: accuracy improves while the loss stays high and flat
        if loss is not None and accuracy is not None and loss.units == accuracy.units:
            aligned = align(loss.steps, accuracy.steps, accuracy.values)
            found = detect_metric_disagreement(
                loss.steps,
                loss.values,
                aligned,
                names=(loss.name, accuracy.name),
                context=context,
                is_validation=is_validation,
                aligned=True,
            )
            if found:
                return found
    loss = train_loss or val_loss
    accuracy = val_accuracy or train_accuracy
    if loss is None or accuracy is None:
        return []
    return detect_metric_disagreement(
        loss.steps,
        loss.values,
        accuracy.values,
        names=(loss.name, accuracy.name),
        context=context,
        is_validation=accuracy is val_accuracy,
        aligned=False,
    )


def _fractions(mapping: Mapping, run: LogRun) -> Mapping:
    """Accuracies logged in percent (DeiT/MAE-style ``test_acc1`` of 0-100) as fractions, with a note."""
    roles: tuple[Role, ...] = ("train_accuracy", "val_accuracy")
    for role in roles:
        series = mapping.roles.get(role)
        if series is None:
            continue
        finite = series.values[np.isfinite(series.values)]
        if finite.size and 1.0 < float(finite.max()) <= 100.0 and float(finite.min()) >= 0.0:
            scaled = Series(series.name, series.steps, series.values / 100.0, series.units)
            mapping.roles[role] = scaled
            listed = mapping.candidates.get(role, [])
            mapping.candidates[role] = [scaled if item is series else item for item in listed]
            run.facts.notes.append(f"{series.name} is in percent: read as a fraction")
    return mapping


def _rising(series: Series | None) -> bool:
    """The series rises significantly over its second half, at least its last 5 points (Mann-Kendall, 5%)."""
    if series is None:
        return False
    finite = series.values[np.isfinite(series.values)]
    half = finite[-max(5, finite.size // 2) :]
    if half.size < 5:  # 5 rising points are the fewest a 5% test can call
        return False
    tau, p_value = mann_kendall(half)
    return tau > 0 and p_value < 0.05


def _learning_rate_series(run: LogRun) -> Series | None:
    """The logged learning rate (``learning_rate``, ``lr``, ``lr-Adam``, ``train/learning_rate`` ...), if any."""
    for series in run.series:
        words = name_words(series.name)
        if series.points >= 2 and ("lr" in words or ("learning" in words and "rate" in words)):
            return series
    return None


def _learning_rate_decayed(run: LogRun) -> bool | None:
    series = _learning_rate_series(run)
    if series is None:
        return None
    finite = series.values[np.isfinite(series.values)]
    return bool(finite.size) and float(finite[-1]) < 0.5 * float(finite.max())


def _without_redundant(findings: list[Finding]) -> list[Finding]:
    """Drop findings that restate a graver one (never one more severe than the finding that explains it)."""
    dropped: dict[str, int] = {}  # kind -> severity rank of the strongest finding that explains it
    onset: float | None = None
    for finding in findings:
        rule = _SUPPRESSED_BY.get(finding.kind)
        if rule is not None and finding.severity in rule[0]:
            for kind in rule[1]:
                dropped[kind] = max(dropped.get(kind, -1), severity_rank(finding.severity))
        if finding.kind == "divergence" and finding.severity == "fail":
            onset = finding.step
    # One story per run (issue 11): a spike inside a rise that a divergence finding already explains is that rise.
    spans = [
        (finding.step, finding.end_step)
        for finding in findings
        if finding.kind == "divergence" and finding.step is not None and finding.end_step is not None
    ]

    def explained(finding: Finding) -> bool:
        if finding.kind != "spike" or finding.step is None:
            return False
        if onset is not None and finding.step >= onset:
            return True
        return any(low <= finding.step <= high for low, high in spans)

    kept = [
        finding
        for finding in findings
        if severity_rank(finding.severity) > dropped.get(finding.kind, -1) and not explained(finding)
    ]
    return ranked(kept)


def _early_stop(
    val_loss: Series | None,
    val_accuracy: Series | None,
    curve: LossCurve | None,
    main_loss: Series | None,
    patience: int,
) -> EarlyStop | None:
    if val_loss is not None and np.isfinite(val_loss.values).any():
        return simulate_early_stopping(val_loss.steps, val_loss.values, patience=patience, monitor=val_loss.name)
    if val_accuracy is not None and np.isfinite(val_accuracy.values).any():
        return simulate_early_stopping(
            val_accuracy.steps, val_accuracy.values, patience=patience, maximize=True, monitor=val_accuracy.name
        )
    if curve is not None and curve.points and main_loss is not None:
        trend = curve.trend
        return simulate_early_stopping(
            trend.steps, trend.medians, patience=patience, monitor=f"{main_loss.name} (block medians)"
        )
    return None
