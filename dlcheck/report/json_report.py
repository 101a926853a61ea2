"""The JSON report every judging command writes (DESIGN 2.2, a contract: bump ``schema_version`` to change it)."""

from __future__ import annotations

__all__ = ["SCHEMA_VERSION", "json_report", "write_json"]

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dlcheck import __version__
from dlcheck.checks.result import CheckResult, json_value, overall_status

SCHEMA_VERSION = 1


def json_report(
    command: str, checks: Sequence[CheckResult], extra: Mapping[str, Any] | None = None, status: str | None = None
) -> dict[str, Any]:
    """The envelope: ``schema_version``, ``tool``, ``version``, ``command``, ``status``, ``checks``, then ``extra``.

    ``status`` defaults to the verdict of ``checks``; commands whose verdict has other inputs (diagnose's
    findings) pass it explicitly.

    Examples
    --------
    >>> from dlcheck.checks import CheckResult
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


def write_json(document: Mapping[str, Any], path: Path) -> None:
    """Write strict JSON (no NaN/Infinity tokens), indented, with a final newline."""
    path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
