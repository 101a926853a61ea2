"""``diagnose(paths)``: read the logs, map their series, run every detector, and say where to stop.

For each run: the series are mapped to roles (:mod:`dlcheck.curves.series`), the chance level and the
validation-set size are taken from the options, the run's files, or inferred (and the report says
which), the detectors run on the mapped series, findings that restate a graver one are dropped
(a diverged loss is not also "slowly converging"), and early stopping is replayed on the validation
curve to give ``best_step``.
"""

from __future__ import annotations

__all__ = ["Diagnosis", "RunDiagnosis", "diagnose", "diagnose_run"]

import difflib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dlcheck.curves.discover import read_logs
from dlcheck.curves.findings import Finding
from dlcheck.curves.log_run import LogRun
from dlcheck.curves.run_diagnosis import RunDiagnosis, diagnose_run
from dlcheck.curves.series import Role, parse_override
from dlcheck.curves.thresholds import DEFAULT_THRESHOLDS, Thresholds
from dlcheck.errors import InputError


@dataclass
class Diagnosis:
    """Every run's diagnosis, plus notes about how the paths were searched."""

    runs: list[RunDiagnosis]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def findings(self) -> list[Finding]:
        return [finding for run in self.runs for finding in run.findings]

    @property
    def status(self) -> str:
        """The worst run's status; ``inconclusive`` only when no run could be judged at all."""
        statuses = {run.status for run in self.runs}
        for status in ("fail", "warn", "pass"):
            if status in statuses:
                return status
        return "inconclusive"

    def inconclusive_reason(self) -> str:
        """Why nothing could be judged, for the message of an ``inconclusive`` diagnosis."""
        reasons = []
        for run in self.runs:
            if not run.mapping.roles:
                names = ", ".join(series.name for series in run.run.series[:8]) or "none"
                reasons.append(f"{run.run.name}: no loss or accuracy series recognised (series found: {names})")
            else:
                reasons.append(f"{run.run.name}: " + "; ".join(f"{name} has {why}" for name, why in run.not_judged))
        return " | ".join(reasons)

    @property
    def best_run(self) -> RunDiagnosis | None:
        """The run with the lowest best validation loss (else the only run)."""
        scored = [run for run in self.runs if run.summary.get("best_val_loss") is not None]
        if scored:
            return min(scored, key=lambda run: float(run.summary["best_val_loss"] or 0.0))
        return self.runs[0] if len(self.runs) == 1 else None

    @property
    def best_step(self) -> float | None:
        best = self.best_run
        return best.best_step if best is not None else None


def _overrides(train: Sequence[str], val: Sequence[str], runs: Sequence[LogRun]) -> dict[Role, str]:
    names = sorted({series.name for run in runs for series in run.series})
    chosen: dict[Role, str] = {}
    for option, texts in (("--train", train), ("--val", val)):
        for text in texts:
            role, name = parse_override(text, "train" if option == "--train" else "val")
            if name not in names:
                close = difflib.get_close_matches(name, names, n=3)
                hint = f"did you mean {', '.join(repr(item) for item in close)}? " if close else ""
                shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
                raise InputError(
                    f"{option} {text}: no series named {name!r} in the logs; {hint}the series found are: {shown}."
                )
            chosen[role] = name
    return chosen


def diagnose(
    paths: Sequence[Path | str],
    *,
    train: Sequence[str] = (),
    val: Sequence[str] = (),
    num_classes: int | None = None,
    val_size: int | None = None,
    steps_per_epoch: float | None = None,
    patience: int = 5,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Diagnosis:
    """Diagnose the training logs found in ``paths`` (files or folders).

    Parameters
    ----------
    paths : sequence of path
        Log files or folders to search (see :mod:`dlcheck.curves.discover`).
    train, val : sequence of str
        Series to use as training / validation curves: ``NAME`` (loss or accuracy from its name) or
        ``loss=NAME`` / ``accuracy=NAME``.
    num_classes : int, optional
        Classes of the task (chance level ln C and 1/C); default: from the run's files or its initial loss.
    val_size : int, optional
        Validation samples (binomial error bars); default: from the run's files or the accuracy values.
    steps_per_epoch : float, optional
        In the log's step units; default: from the logs.
    patience : int
        Evaluations without improvement for the replayed early stopping.
    thresholds : Thresholds

    Returns
    -------
    Diagnosis

    Raises
    ------
    InputError
        A path cannot be read, nothing is found, or an override names no series.
    """
    started = time.perf_counter()
    runs, notes = read_logs(paths)
    overrides = _overrides(train, val, runs)
    results = [
        diagnose_run(
            run,
            overrides=overrides,
            num_classes=num_classes,
            val_size=val_size,
            steps_per_epoch=steps_per_epoch,
            patience=patience,
            thresholds=thresholds,
        )
        for run in runs
    ]
    return Diagnosis(results, notes, time.perf_counter() - started)
