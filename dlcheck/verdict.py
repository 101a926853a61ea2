"""The verdict every judging command returns: check results, one overall status, and the JSON report.

``babysit`` (and ``init-loss``, ``overfit``), ``lr-find`` and ``diagnose`` all judge something. Each returns an
object that follows :class:`Verdict`: a list of :class:`CheckResult`, an overall ``status`` and a
``to_json(command)`` that builds the JSON report (a contract, see :data:`SCHEMA_VERSION`). The command line
then writes the terminal output, ``--json``, ``--junit`` and the exit code in one place for all of them.

This module sits at the bottom of the package and imports nothing heavy: reports and the command line use it
without loading torch.
"""

from __future__ import annotations

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "CheckResult",
    "OverallStatus",
    "Status",
    "Verdict",
    "json_report",
    "json_value",
    "overall_status",
]

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from dlcheck._version import __version__

Status = Literal["pass", "warn", "fail", "skip", "error"]
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "skip", "error")
OverallStatus = Literal["pass", "warn", "fail"]

# The JSON report is read by users' CI scripts: bump this when a field changes meaning or disappears.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CheckResult:
    """What one check found.

    Parameters
    ----------
    name : str
        Stable identifier (``initial_loss``, ``overfit_batch``, ...): the JSON ``name`` and JUnit test name.
    status : {"pass", "warn", "fail", "skip", "error"}
        ``error`` means the check itself could not run (its message says why); ``skip`` that it did not apply.
    summary : str
        One sentence a person can act on.
    metrics : mapping
        The key numbers, JSON-serialisable (non-finite floats become ``null`` in JSON).
    advice : list of str
        What to try, most likely first. Empty when the check passed.
    details : mapping
        Richer data for renderers (curves, per-layer tables); not part of the JSON contract.
    seconds : float
        Wall time the check took.
    """

    name: str
    status: Status
    summary: str
    metrics: Mapping[str, Any] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)
    details: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")

    @property
    def ok(self) -> bool:
        return self.status not in ("fail", "error")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "summary": self.summary,
            "metrics": {key: json_value(value) for key, value in self.metrics.items()},
            "advice": list(self.advice),
            "seconds": round(self.seconds, 4),
        }


def overall_status(statuses: Iterable[str]) -> OverallStatus:
    """One verdict: ``fail`` if anything failed or errored, else ``warn`` if anything warned, else ``pass``.

    Examples
    --------
    >>> overall_status(["pass", "skip", "warn"])
    'warn'
    >>> overall_status(["pass", "error"])
    'fail'
    >>> overall_status([])
    'pass'
    """
    seen = set(statuses)
    if seen & {"fail", "error"}:
        return "fail"
    return "warn" if "warn" in seen else "pass"


def json_value(value: Any) -> Any:
    """Plain JSON: floats rounded to 6 significant digits, non-finite floats as ``null``, tuples as lists.

    Examples
    --------
    >>> json_value({"loss": 2.302585093, "best": float("nan"), "band": (1e-3, 1e-2)})
    {'loss': 2.30259, 'best': None, 'band': [0.001, 0.01]}
    """
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item):
        return json_value(item())
    return str(value)


def json_report(
    command: str, checks: Sequence[CheckResult], extra: Mapping[str, Any] | None = None, status: str | None = None
) -> dict[str, Any]:
    """The envelope: ``schema_version``, ``tool``, ``version``, ``command``, ``status``, ``checks``, then ``extra``.

    ``status`` defaults to the verdict of ``checks``; commands whose verdict has other inputs (diagnose's
    findings) pass it explicitly.

    Examples
    --------
    >>> report = json_report("init-loss", [CheckResult("initial_loss", "pass", "Loss at chance.", {"loss": 2.3})])
    >>> report["status"], report["checks"][0]["metrics"]
    ('pass', {'loss': 2.3})
    """
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": "dlcheck",
        "version": __version__,
        "command": command,
        "status": status or overall_status(check.status for check in checks),
        "checks": [check.to_json() for check in checks],
    }
    for key, value in (extra or {}).items():
        document[key] = json_value(value)
    return document


@runtime_checkable
class Verdict(Protocol):
    """What a judging command returns: its checks, one status, and its JSON report.

    Implemented by :class:`dlcheck.checklist.ChecklistReport` (``babysit``, ``init-loss``, ``overfit``) and
    :class:`dlcheck.lr_finder.LRFindReport` (``lr-find``). ``status`` is usually
    ``overall_status(check.status for check in checks)``; a verdict with other inputs (diagnose's findings) may
    say more.
    """

    @property
    def checks(self) -> Sequence[CheckResult]:
        """The checks in the order they ran (the JUnit test cases)."""
        ...

    @property
    def status(self) -> OverallStatus:
        """``pass``, ``warn`` or ``fail``: what the exit code follows."""
        ...

    def to_json(self, command: str) -> dict[str, Any]:
        """The JSON report (:func:`json_report`'s envelope with this verdict's own fields)."""
        ...
