"""The result every check returns, and how results combine into one verdict (DESIGN 2.2).

This module imports nothing heavy: reports and the command line use it without loading torch.
"""

from __future__ import annotations

__all__ = ["STATUSES", "CheckResult", "Status", "json_value", "overall_status"]

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "warn", "fail", "skip", "error"]
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "skip", "error")


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


def overall_status(statuses: Iterable[str]) -> Literal["pass", "warn", "fail"]:
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
    """Plain JSON: floats rounded to 6 significant digits, non-finite floats as ``null``, tuples as lists."""
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
