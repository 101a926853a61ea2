"""The babysitting checks: each a function returning a :class:`~dlcheck.verdict.CheckResult`.

Two levels of each check (loaded on first use, so this package imports no torch):

- plain PyTorch, for a project's own tests: :func:`check_data`, :func:`check_initial_loss`,
  :func:`check_gradient_flow`, :func:`check_batch_independence`, :func:`check_activation_stats`,
  :func:`check_overfit_batch`, :func:`check_regularization_effect`; for sequence models
  :func:`check_causality` and :func:`check_target_shift`;
- a recipe's :class:`~dlcheck.engine.parts.RecipeParts`: ``data_sanity``, ``initial_loss``, ... as the checklist
  runs them. The whole checklist, with the LR range test, is :func:`dlcheck.babysit` (:mod:`dlcheck.checklist`).

The checks that train (gradient flow, overfit, regularisation) take the recipe's own optimiser step by default:
its precision and clipping (:class:`~dlcheck.engine.step.OptimizerStep`); their ``precision="fp32"`` option
runs them in full precision. The plain-PyTorch functions take a ``policy`` (default fp32).
"""

from __future__ import annotations

__all__ = [
    "CheckResult",
    "Status",
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

from typing import TYPE_CHECKING

from dlcheck._lazy import attach
from dlcheck.verdict import CheckResult, Status, overall_status

if TYPE_CHECKING:
    from dlcheck.checks.activation_stats import check_activation_stats
    from dlcheck.checks.batch_independence import check_batch_independence
    from dlcheck.checks.causality import check_causality, check_target_shift
    from dlcheck.checks.data_sanity import check_data
    from dlcheck.checks.gradient_flow import check_gradient_flow
    from dlcheck.checks.initial_loss import check_initial_loss
    from dlcheck.checks.overfit_batch import check_overfit_batch
    from dlcheck.checks.regularization_effect import check_regularization_effect

__getattr__, __dir__ = attach(
    __name__,
    {
        "check_activation_stats": "dlcheck.checks.activation_stats",
        "check_batch_independence": "dlcheck.checks.batch_independence",
        "check_causality": "dlcheck.checks.causality",
        "check_target_shift": "dlcheck.checks.causality",
        "check_data": "dlcheck.checks.data_sanity",
        "check_gradient_flow": "dlcheck.checks.gradient_flow",
        "check_initial_loss": "dlcheck.checks.initial_loss",
        "check_overfit_batch": "dlcheck.checks.overfit_batch",
        "check_regularization_effect": "dlcheck.checks.regularization_effect",
    },
)
