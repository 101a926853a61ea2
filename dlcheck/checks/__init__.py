"""The babysitting checks: each a function returning a :class:`CheckResult`."""

from __future__ import annotations

__all__ = ["CheckResult", "Status", "overall_status"]

from dlcheck.checks.result import CheckResult, Status, overall_status
