"""Metrics by name: the value a recipe key monitors, and which direction counts as better.

Shared by the schedules (``reduce_on_plateau`` watches a metric) and early stopping in the trainer.
"""

from __future__ import annotations

__all__ = ["MissingMetricError", "monitored_value", "resolve_mode"]

from typing import Literal

from dlcheck.errors import TrainingError


class MissingMetricError(TrainingError, ValueError):
    """A monitored metric is not among an epoch's metrics (a user error, hence also a TrainingError)."""


def monitored_value(metrics: dict[str, float], monitor: str, *, section: str) -> float:
    """``metrics[monitor]`` as a float, or an error naming the recipe key and the metrics there are.

    Examples
    --------
    >>> monitored_value({"val/loss": 0.5}, "val/loss", section="early_stopping")
    0.5
    """
    if monitor not in metrics:
        available = ", ".join(sorted(metrics)) or "none"
        raise MissingMetricError(
            f"{section}.monitor = {monitor!r} is not among this epoch's metrics ({available}); "
            f"set {section}.monitor to one of them (val/* metrics need a validation split, data.val_fraction > 0)."
        )
    return float(metrics[monitor])


def resolve_mode(monitor: str, mode: Literal["auto", "min", "max"]) -> Literal["min", "max"]:
    """``auto`` means ``max`` for an accuracy and ``min`` for anything else (a loss).

    Examples
    --------
    >>> resolve_mode("val/accuracy", "auto"), resolve_mode("val/loss", "auto")
    ('max', 'min')
    """
    if mode != "auto":
        return mode
    return "max" if "accuracy" in monitor else "min"
