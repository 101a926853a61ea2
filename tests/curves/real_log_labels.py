"""The real-log corpus (``tests/data/real_logs``) and how a diagnosis is held to its expert labels.

``labels.yaml`` says, per run, which overall verdicts are acceptable, which finding kinds must or must not
appear, where the best step lies, the class count when known and how many runs the path holds. A run
*agrees* when every stated condition holds. Used by ``test_real_log_labels.py`` and
``benchmarks/real_logs.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CORPUS = Path(__file__).resolve().parents[1] / "data" / "real_logs"
LABELS = CORPUS / "labels.yaml"


@dataclass
class Outcome:
    """What dlcheck said about one labelled path, and whether it agrees with the label."""

    name: str
    label: dict[str, Any]
    status: str
    kinds: dict[str, str] = field(default_factory=dict)  # kind -> worst severity
    best_step: float | None = None
    classes: list[int] = field(default_factory=list)
    runs: int = 0
    error: str | None = None
    seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return not self.reasons

    @property
    def healthy(self) -> bool:
        return self.label["verdicts"] == ["pass"]

    @property
    def false_alarm(self) -> bool:
        return self.healthy and self.status in ("warn", "fail")


def load_labels() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(LABELS.read_text(encoding="utf-8"))["runs"]


def present(name: str) -> bool:
    """The run's log files are on disk (fetched files are not committed: see the corpus' .gitignore)."""
    folder = CORPUS / name
    return any(path.name != "SOURCE" for path in folder.rglob("*") if path.is_file())


_ORDER = {"info": 0, "warn": 1, "fail": 2}


def judge(name: str, label: dict[str, Any]) -> Outcome:
    """Diagnose one corpus entry with default options and compare with its label."""
    import time

    from dlcheck.curves.diagnosis import diagnose
    from dlcheck.errors import DlcheckError

    started = time.perf_counter()
    try:
        diagnosis = diagnose([CORPUS / name])
    except DlcheckError as error:
        outcome = Outcome(name, label, "error", error=str(error), seconds=time.perf_counter() - started)
        outcome.reasons.append(f"exit 2: {error}")
        return outcome
    outcome = Outcome(name, label, diagnosis.status, seconds=time.perf_counter() - started)
    outcome.runs = len(diagnosis.runs)
    for run in diagnosis.runs:
        for finding in run.findings:
            previous = outcome.kinds.get(finding.kind)
            if previous is None or _ORDER[finding.severity] > _ORDER[previous]:
                outcome.kinds[finding.kind] = finding.severity
        if run.chance is not None:
            outcome.classes.append(run.chance.classes)
    outcome.best_step = diagnosis.best_step
    reasons = outcome.reasons
    if outcome.status not in label["verdicts"]:
        reasons.append(f"status {outcome.status}, label allows {label['verdicts']}")
    for kind in label.get("must") or []:
        if kind not in outcome.kinds:
            reasons.append(f"missing {kind}")
    must_any = label.get("must_any") or []
    if must_any and not set(must_any) & set(outcome.kinds):
        reasons.append(f"none of {must_any}")
    for kind in label.get("must_not") or []:
        if outcome.kinds.get(kind) in ("warn", "fail"):
            reasons.append(f"unwanted {kind} ({outcome.kinds[kind]})")
    if "best_step" in label:
        low, high = label["best_step"]
        if outcome.best_step is None or not (low <= outcome.best_step <= high):
            reasons.append(f"best step {outcome.best_step}, label {low}-{high}")
    classes = label.get("classes")
    if classes == "none" and outcome.classes:
        reasons.append(f"stated {outcome.classes} classes for a task without classes")
    elif isinstance(classes, int) and any(count != classes for count in outcome.classes):
        reasons.append(f"stated {outcome.classes} classes, label {classes}")
    if "runs" in label and outcome.runs != label["runs"]:
        reasons.append(f"{outcome.runs} runs found, label {label['runs']}")
    return outcome


def summary(outcomes: list[Outcome]) -> dict[str, float]:
    agreed = sum(outcome.agrees for outcome in outcomes)
    healthy = [outcome for outcome in outcomes if outcome.healthy]
    alarms = sum(outcome.false_alarm for outcome in healthy)
    return {
        "runs": len(outcomes),
        "agreed": agreed,
        "agreement": agreed / len(outcomes) if outcomes else math.nan,
        "healthy": len(healthy),
        "false_alarms": alarms,
        "false_alarms_per_20_healthy": 20 * alarms / len(healthy) if healthy else math.nan,
    }
