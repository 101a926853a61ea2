"""The learning-rate range test: a suggestion with a usable band and a confidence grade, state left untouched.

Public API (names load on first use, so that ``import dlcheck.lr_finder.thresholds`` stays free of torch):

- :func:`find_lr` runs the test on a :class:`~dlcheck.checks.subject.CheckSubject` and returns an
  :class:`LRFinderResult`;
- :func:`lr_range_check` is the same as the ``lr_range`` check of ``dlcheck babysit``;
- :func:`verify_suggestion` (``--verify``) and :func:`batch_size_sweep` (``--batch-sizes``) go further;
- :func:`write_learning_rate` (``--write``) edits the recipe file;
- :class:`StateGuard` and :func:`state_checksum` isolate any model and optimiser you train in place.

Usage (a runnable example is in :func:`find_lr`'s docstring)::

    from dlcheck.recipe import load_recipe
    from dlcheck.checks.subject import prepare_subject
    from dlcheck.lr_finder import find_lr

    result = find_lr(prepare_subject(load_recipe("recipes/digits_mlp.yaml")))
    result.suggested_lr, result.band, result.confidence   # e.g. 3.4e-3, (6.9e-4, 3.4e-2), 'high'
"""

from __future__ import annotations

__all__ = [
    "BatchScalingResult",
    "CurveShape",
    "LRFinderResult",
    "StateGuard",
    "SweepHistory",
    "SweepSettings",
    "VerifyResult",
    "batch_size_sweep",
    "find_lr",
    "lr_range_check",
    "state_checksum",
    "verify_suggestion",
    "write_learning_rate",
]

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlcheck.lr_finder.batch_scaling import BatchScalingResult, batch_size_sweep
    from dlcheck.lr_finder.check import lr_range_check
    from dlcheck.lr_finder.finder import LRFinderResult, find_lr
    from dlcheck.lr_finder.isolation import StateGuard, state_checksum
    from dlcheck.lr_finder.range_test import SweepHistory, SweepSettings
    from dlcheck.lr_finder.shape import CurveShape
    from dlcheck.lr_finder.verify import VerifyResult, verify_suggestion
    from dlcheck.lr_finder.write import write_learning_rate

_HOMES = {
    "BatchScalingResult": "batch_scaling",
    "batch_size_sweep": "batch_scaling",
    "lr_range_check": "check",
    "LRFinderResult": "finder",
    "find_lr": "finder",
    "StateGuard": "isolation",
    "state_checksum": "isolation",
    "SweepHistory": "range_test",
    "SweepSettings": "range_test",
    "CurveShape": "shape",
    "VerifyResult": "verify",
    "verify_suggestion": "verify",
    "write_learning_rate": "write",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'dlcheck.lr_finder' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dlcheck.lr_finder.{home}"), name)
