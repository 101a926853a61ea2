"""What a detector reports: a :class:`Finding` of one of the kinds of DESIGN 2.2, with advice.

The advice is drawn from the practice surveyed in the note (``research/sanity_and_curves.md`` section
5 and 4): most likely remedy first. Detectors put the specific action (the step to inspect, the
checkpoint to keep) in front of these general lines.
"""

from __future__ import annotations

__all__ = [
    "ADVICE",
    "KINDS",
    "RANK",
    "SEVERITIES",
    "Finding",
    "Severity",
    "format_step",
    "ranked",
    "severity_rank",
    "worst_severity",
]

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["info", "warn", "fail"]
SEVERITIES: tuple[Severity, ...] = ("info", "warn", "fail")

KINDS = (
    "spike",
    "divergence",
    "nan",
    "plateau",
    "random_performance",
    "no_trend",
    "slow_convergence",
    "oscillation",
    "overfitting",
    "underfitting",
    "generalization_gap",
    "loss_accuracy_mismatch",
    "periodicity",
    "suspicious_success",
)

ADVICE: dict[str, tuple[str, ...]] = {
    "spike": (
        "Isolated spikes that recover are usually harmless; frequent ones are not.",
        "Clip gradients at about the 90th percentile of the observed gradient norm (tuning playbook); if more "
        "than half the steps would be clipped, lower the learning rate instead.",
        "Lengthen the warm-up; with Adam try a lower beta2 (0.95) or a larger eps.",
        "Resume from a checkpoint before the spike and skip the offending batches (PaLM, Lightning SpikeDetection).",
    ),
    "divergence": (
        "Lower the learning rate 3-10x, or run an LR range test (dlcheck lr-find) to find the edge of stability.",
        "Add a learning-rate warm-up and gradient clipping (e.g. max_norm 1.0).",
        "Check the inputs for NaN, log(0), division by zero and extreme values; re-run one step under "
        "torch.autograd.detect_anomaly to find the operation.",
        "With fp16, check the loss scaler or switch to bf16; restart from a checkpoint before the rise (OPT).",
    ),
    "nan": (
        "Restart from the last finite checkpoint with a lower learning rate and gradient clipping.",
        "Look for NaN/inf in the inputs, log of values <= 0, division by zero, or an fp16 overflow (try bf16 or fp32).",
        "Re-run the failing step under torch.autograd.detect_anomaly to name the operation.",
    ),
    "plateau": (
        "Run `dlcheck overfit` on a tiny batch: a model that cannot fit 8 examples has a bug, not a tuning problem.",
        "Raise the learning rate 3-10x, or check that the schedule did not decay it to ~0 too early.",
        "Check that every parameter is in the optimizer with requires_grad=True and the graph is not detached.",
        "Look for a label/feature misalignment and for softmax applied before a loss that expects logits.",
    ),
    "random_performance": (
        "The model does no better than guessing: check that labels match the inputs (a shuffled or "
        "misaligned label file gives exactly this).",
        "Run `dlcheck overfit` on a tiny batch and `dlcheck babysit` for data, loss-at-init and gradient checks.",
        "Check that the metric and the loss see the same targets and class indices.",
    ),
    "no_trend": (
        "The loss neither fell nor rose: raise the learning rate if the curve is smooth, lower it if it is "
        "noisy and bouncing.",
        "Check the learning-rate schedule (an epoch-based decay can drive it to ~0 early) and the optimizer state.",
        "Run `dlcheck lr-find` to choose a learning rate.",
    ),
    "slow_convergence": (
        "Raise the learning rate (dlcheck lr-find) or train for more steps: the loss is still falling steadily.",
        "Check that inputs are normalised and that warm-up is not a large share of the run.",
    ),
    "oscillation": (
        "Lower the learning rate 2-5x or decay it late in training.",
        "Use a larger batch or gradient accumulation; evaluate with an average of the weights (EMA/Polyak).",
        "If only the validation curve bounces, use more validation data.",
    ),
    "overfitting": (
        "Keep the best checkpoint (early stopping on the validation loss).",
        "Add or tune regularisation: weight decay, dropout, label smoothing, data augmentation.",
        "More data is the most reliable cure; else a smaller model, or a larger one with early stopping.",
    ),
    "underfitting": (
        "Give the model more capacity (wider or deeper, or the architecture of the closest published model).",
        "Train longer or with a higher learning rate; weaken or remove regularisation.",
        "Improve the features or the input resolution.",
    ),
    "generalization_gap": (
        "Regularise (weight decay, dropout, augmentation) or get more data.",
        "Check the split: duplicates or leakage across splits, distribution shift between them.",
        "Compare losses measured the same way: the logged training loss is a running average with dropout on.",
    ),
    "loss_accuracy_mismatch": (
        "Recompute the loss and the metric together on one fixed batch: a metric bug (argmax over the wrong "
        "dimension, probabilities vs logits, ignored index) is the usual cause.",
        "Log the task loss apart from penalty terms; with class imbalance report per-class recall and use "
        "class weights or resampling.",
    ),
    "suspicious_success": (
        "Check for leakage: duplicates of validation samples in the training set, labels derived from the inputs, "
        "a feature that encodes the target.",
        "Check the labels: all one class, or masked out (an ignore index on every token gives a loss of 0).",
        "Check the loss: a reduction over an empty batch, or a loss computed on the wrong tensor.",
    ),
    "periodicity": (
        "Shuffle the training data every epoch (DataLoader shuffle=True; DistributedSampler.set_epoch).",
        "Check for duplicated or sorted data and for overlap between the training and validation sets.",
    ),
}

_ORDER = {"info": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Finding:
    """One pathology found in one series.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS` (DESIGN 2.2).
    severity : {"info", "warn", "fail"}
        ``fail``: the run is broken; ``warn``: suboptimal or suspicious; ``info``: worth knowing.
    series : str
        The series' name as logged (e.g. ``train/loss``), or two names joined by ``" + "``.
    step, end_step : float or None
        Where it starts and ends, in the log's own step units.
    message : str
        One line: what, where, how much.
    advice : tuple of str
        What to try, most likely first.
    metrics : mapping
        The numbers behind the message (for JSON and tests).
    """

    kind: str
    severity: Severity
    series: str
    step: float | None
    end_step: float | None
    message: str
    advice: tuple[str, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")

    def to_json(self) -> dict[str, Any]:
        """The DESIGN 2.2 record: kind, severity, series, step, end_step, message, advice (+ metrics)."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "series": self.series,
            "step": _json_step(self.step),
            "end_step": _json_step(self.end_step),
            "message": self.message,
            "advice": list(self.advice),
            "metrics": dict(self.metrics),
        }


# Which diagnosis explains a run best when several are found (most fundamental first): a broken run (NaN,
# divergence, no learning) explains everything after it; suspicious success questions the data itself;
# generalisation problems come next; instability and progress notes last.
RANK = (
    "nan",
    "divergence",
    "suspicious_success",
    "random_performance",
    "plateau",
    "no_trend",
    "loss_accuracy_mismatch",
    "overfitting",
    "generalization_gap",
    "underfitting",
    "oscillation",
    "spike",
    "periodicity",
    "slow_convergence",
)


def ranked(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in the order a person should read them: severity first, then :data:`RANK`, then step.

    The first is the run's *primary* diagnosis.
    """
    return sorted(
        findings,
        key=lambda finding: (
            -_ORDER[finding.severity],
            RANK.index(finding.kind) if finding.kind in RANK else len(RANK),
            finding.step if finding.step is not None else math.inf,
        ),
    )


def worst_severity(severities: Iterable[str]) -> Severity | None:
    """The most severe of ``severities``; ``None`` when there are none.

    >>> worst_severity(["info", "warn"]), worst_severity([])
    ('warn', None)
    """
    worst: Severity | None = None
    for severity in severities:
        if worst is None or _ORDER[severity] > _ORDER[worst]:
            worst = severity  # type: ignore[assignment]
    return worst


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warn, 2 for fail."""
    return _ORDER[severity]


def format_step(step: float | None) -> str:
    """A step as people read it: ``4,120``, or ``2.5`` for fractional (epoch) steps.

    >>> format_step(4120.0), format_step(2.5), format_step(None)
    ('4,120', '2.5', '?')
    """
    if step is None or not math.isfinite(step):
        return "?"
    if float(step).is_integer():
        return f"{int(step):,}"
    return f"{step:.4g}"


def _json_step(step: float | None) -> float | int | None:
    # Steps are counts: keep them exact in JSON (json_value would round a float to 6 digits).
    if step is None or not math.isfinite(step):
        return None
    return int(step) if float(step).is_integer() else float(step)
