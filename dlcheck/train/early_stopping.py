"""Early stopping: stop when a monitored metric has not improved for ``patience`` epochs.

The best weights are kept as a CPU copy so that restoring them costs no device memory during training,
and they are part of :meth:`EarlyStopping.state_dict`: a resumed run that forgot them would "restore" the
weights of the resume point, and one that forgot the patience counter would wait longer than asked
(Lightning issues #1463 and #18727).
"""

from __future__ import annotations

__all__ = ["EarlyStopping", "MissingMetricError", "StoppingDecision", "monitored_value", "resolve_mode"]

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from dlcheck.errors import TrainingError
from dlcheck.recipe.schema import EarlyStoppingConfig


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


@dataclass(frozen=True)
class StoppingDecision:
    """What one epoch's metrics mean: a new best (the trainer then calls :meth:`EarlyStopping.remember`),
    and whether to stop now."""

    improved: bool
    stop: bool


class EarlyStopping:
    """Track the best value of ``config.monitor`` and decide when to stop.

    Parameters
    ----------
    config : EarlyStoppingConfig
        Monitor, mode, patience (epochs without improvement before stopping), ``min_delta`` (smallest
        change that counts as an improvement) and ``restore_best``.

    Examples
    --------
    >>> stopping = EarlyStopping(EarlyStoppingConfig(monitor="val/loss", patience=2))
    >>> [stopping.update(epoch, {"val/loss": loss}).stop for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.92], 1)]
    [False, False, False, True]
    >>> stopping.best_value, stopping.best_epoch
    (0.9, 2)
    """

    def __init__(self, config: EarlyStoppingConfig) -> None:
        self.config = config
        self.monitor = config.monitor
        self.mode: Literal["min", "max"] = resolve_mode(config.monitor, config.mode)
        self.patience = config.patience
        self.min_delta = config.min_delta
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0  # epochs since the last improvement
        self.stopped_epoch: int | None = None
        self._best_state: dict[str, Any] | None = None

    @property
    def best_state(self) -> dict[str, Any] | None:
        """CPU copy of the model's state_dict at the best epoch (``None`` without ``restore_best``)."""
        return self._best_state

    def is_improvement(self, value: float) -> bool:
        """Whether ``value`` beats the best by more than ``min_delta``; a non-finite value never does."""
        if not math.isfinite(value):
            return False
        if self.best_value is None:
            return True
        if self.mode == "min":
            return value < self.best_value - self.min_delta
        return value > self.best_value + self.min_delta

    def update(self, epoch: int, metrics: dict[str, float]) -> StoppingDecision:
        """Record the metrics of ``epoch`` (as numbered by the caller; the trainer counts from 1).

        Raises
        ------
        MissingMetricError
            ``monitor`` is not in ``metrics`` (a ValueError that names the metrics there are).
        """
        value = monitored_value(metrics, self.monitor, section="early_stopping")
        improved = self.is_improvement(value)
        if improved:
            self.best_value, self.best_epoch, self.wait = value, epoch, 0
        else:
            self.wait += 1
        stop = self.wait >= self.patience
        if stop and self.stopped_epoch is None:
            self.stopped_epoch = epoch
        return StoppingDecision(improved=improved, stop=stop)

    def remember(self, model: nn.Module) -> None:
        """Keep a CPU copy of ``model``'s weights as the best ones (no-op without ``restore_best``)."""
        if not self.config.restore_best:
            return
        # copy=True: on a CPU model .to("cpu") would return the live tensors, which training then changes.
        self._best_state = {
            key: value.detach().to("cpu", copy=True) if isinstance(value, torch.Tensor) else copy.deepcopy(value)
            for key, value in model.state_dict().items()
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_state": self._best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`.

        Raises
        ------
        TrainingError
            The saved state watched another metric or direction: its best value means nothing here.
        """
        if state["monitor"] != self.monitor or state["mode"] != self.mode:
            raise TrainingError(
                f"early_stopping: the checkpoint watched {state['monitor']!r} ({state['mode']}) but the recipe "
                f"watches {self.monitor!r} ({self.mode}); resume with the recipe's original early_stopping.monitor "
                "and mode, or start a new run."
            )
        self.best_value, self.best_epoch = state["best_value"], state["best_epoch"]
        self.wait, self.stopped_epoch = int(state["wait"]), state["stopped_epoch"]
        self._best_state = state["best_state"]
