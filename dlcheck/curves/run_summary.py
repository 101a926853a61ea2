"""Final and best values of a run's series: the numbers the report compares across runs."""

from __future__ import annotations

__all__ = ["last_finite", "run_summary", "tail_level"]

import numpy as np

from dlcheck.curves.detectors.context import LossCurve
from dlcheck.curves.series import Series


def tail_level(series: Series) -> float | None:
    """Median of the last 3 finite values (None if there are none)."""
    finite = series.values[np.isfinite(series.values)]
    return float(np.median(finite[-3:])) if finite.size else None


def last_finite(series: Series | None) -> float | None:
    if series is None:
        return None
    finite = series.values[np.isfinite(series.values)]
    return float(finite[-1]) if finite.size else None


def run_summary(
    train_loss: Series | None, val_loss: Series | None, val_accuracy: Series | None, curve: LossCurve | None
) -> dict[str, float | None]:
    """Final and best values of a run's main series, for the comparison of several runs."""
    summary: dict[str, float | None] = {
        "final_train_loss": last_finite(train_loss),
        "final_val_loss": last_finite(val_loss),
        "final_val_accuracy": last_finite(val_accuracy),
        "best_val_loss": None,
        "best_val_loss_step": None,
        "best_val_accuracy": None,
    }
    if val_loss is not None and np.isfinite(val_loss.values).any():
        index = int(np.nanargmin(np.where(np.isfinite(val_loss.values), val_loss.values, np.nan)))
        summary["best_val_loss"], summary["best_val_loss_step"] = (
            float(val_loss.values[index]),
            float(val_loss.steps[index]),
        )
    if val_accuracy is not None and np.isfinite(val_accuracy.values).any():
        summary["best_val_accuracy"] = float(
            np.nanmax(np.where(np.isfinite(val_accuracy.values), val_accuracy.values, np.nan))
        )
    return summary
