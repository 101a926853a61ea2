"""Where :class:`CheckResult` used to live; it is now :mod:`dlcheck.verdict` (kept so older imports work)."""

from __future__ import annotations

__all__ = ["STATUSES", "CheckResult", "Status", "json_value", "overall_status"]

from dlcheck.verdict import STATUSES, CheckResult, Status, json_value, overall_status
