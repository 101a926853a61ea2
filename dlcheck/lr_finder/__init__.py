"""The learning-rate range test: a suggestion with a usable band and a confidence grade, state left untouched.

Public API (names load on first use, so that ``import dlcheck.lr_finder.thresholds`` stays free of torch):

- :func:`lr_find` is ``dlcheck lr-find`` as one call (also ``dlcheck.lr_find``): a recipe file, a loaded recipe
  or its parts in, an :class:`LRFindReport` out;
- :func:`find_lr` runs the test on a recipe's :class:`~dlcheck.engine.parts.RecipeParts` and returns an
  :class:`LRFinderResult`; :func:`check_lr_range` judges it as the ``lr_range`` check of ``dlcheck babysit``;
- :func:`verify_suggestion` (``verify``) and :func:`batch_size_sweep` (``batch_sizes``) go further;
- :func:`write_learning_rate` (``write``) edits the recipe file.

Usage (a runnable example is in :func:`find_lr`'s docstring)::

    import dlcheck

    report = dlcheck.lr_find("recipes/digits_mlp.yaml")
    result = report.result
    result.suggested_lr, result.band, result.confidence   # e.g. 3.4e-3, (6.9e-4, 3.4e-2), 'high'
"""

from __future__ import annotations

__all__ = [
    "BatchScalingResult",
    "CurveShape",
    "LRFindReport",
    "LRFinderResult",
    "SweepHistory",
    "SweepSettings",
    "VerifyResult",
    "batch_size_sweep",
    "check_lr_range",
    "find_lr",
    "lr_find",
    "lr_range_check",
    "verify_suggestion",
    "write_learning_rate",
]

from typing import TYPE_CHECKING

from dlcheck._lazy import attach

if TYPE_CHECKING:
    from dlcheck.lr_finder.batch_scaling import BatchScalingResult, batch_size_sweep
    from dlcheck.lr_finder.check import check_lr_range, lr_range_check
    from dlcheck.lr_finder.finder import LRFinderResult, find_lr
    from dlcheck.lr_finder.range_test import SweepHistory, SweepSettings
    from dlcheck.lr_finder.shape import CurveShape
    from dlcheck.lr_finder.verify import VerifyResult, verify_suggestion
    from dlcheck.lr_finder.workflow import LRFindReport, lr_find
    from dlcheck.lr_finder.write import write_learning_rate

__getattr__, __dir__ = attach(
    __name__,
    {
        "BatchScalingResult": "dlcheck.lr_finder.batch_scaling",
        "batch_size_sweep": "dlcheck.lr_finder.batch_scaling",
        "check_lr_range": "dlcheck.lr_finder.check",
        "lr_range_check": "dlcheck.lr_finder.check",
        "LRFinderResult": "dlcheck.lr_finder.finder",
        "find_lr": "dlcheck.lr_finder.finder",
        "SweepHistory": "dlcheck.lr_finder.range_test",
        "SweepSettings": "dlcheck.lr_finder.range_test",
        "CurveShape": "dlcheck.lr_finder.shape",
        "VerifyResult": "dlcheck.lr_finder.verify",
        "verify_suggestion": "dlcheck.lr_finder.verify",
        "LRFindReport": "dlcheck.lr_finder.workflow",
        "lr_find": "dlcheck.lr_finder.workflow",
        "write_learning_rate": "dlcheck.lr_finder.write",
    },
)
