"""The babysitting checks: each a function returning a :class:`CheckResult`.

Two levels, both importable from here (loaded on first use, so this package imports no torch):

- plain PyTorch, for a project's own tests: :func:`check_data`, :func:`check_initial_loss`,
  :func:`check_gradient_flow`, :func:`check_batch_independence`, :func:`check_activation_stats`,
  :func:`check_overfit_batch`, :func:`check_regularization_effect`; for sequence models
  :func:`check_causality` and :func:`check_target_shift`;
- recipes: :func:`babysit` runs the whole checklist and returns a :class:`ChecklistReport`.
"""

from __future__ import annotations

__all__ = [
    "CheckResult",
    "ChecklistReport",
    "Status",
    "babysit",
    "check_activation_stats",
    "check_batch_independence",
    "check_causality",
    "check_data",
    "check_gradient_flow",
    "check_initial_loss",
    "check_overfit_batch",
    "check_regularization_effect",
    "check_target_shift",
    "overall_status",
]

from typing import Any

from dlcheck.checks.result import CheckResult, Status, overall_status

_LAZY = {
    "babysit": "dlcheck.checks.checklist",
    "ChecklistReport": "dlcheck.checks.checklist",
    "check_activation_stats": "dlcheck.checks.activation_stats",
    "check_batch_independence": "dlcheck.checks.batch_independence",
    "check_causality": "dlcheck.checks.causality",
    "check_data": "dlcheck.checks.data_sanity",
    "check_gradient_flow": "dlcheck.checks.gradient_flow",
    "check_initial_loss": "dlcheck.checks.initial_loss",
    "check_overfit_batch": "dlcheck.checks.overfit_batch",
    "check_regularization_effect": "dlcheck.checks.regularization_effect",
    "check_target_shift": "dlcheck.checks.causality",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dlcheck.checks' has no attribute {name!r}")
