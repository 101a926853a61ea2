"""The best epoch of a run, and early stopping: stop when a monitored metric has not improved for ``patience``
epochs.

The best weights are kept as a CPU copy so that restoring them costs no device memory during training,
and they are part of :meth:`EarlyStopping.state_dict`: a resumed run that forgot them would "restore" the
weights of the resume point, and one that forgot the patience counter would wait longer than asked
(Lightning issues #1463 and #18727).
"""

from __future__ import annotations

__all__ = ["BestEpoch", "EarlyStopping", "StoppingDecision"]

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from dlcheck.engine.metrics import monitored_value, resolve_mode
from dlcheck.errors import TrainingError
from dlcheck.recipe.schema import EarlyStoppingConfig


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


class BestEpoch:
    """Which epoch is best so far (for ``best.pt`` and the report), with early stopping when the recipe asks.

    Without ``early_stopping`` in the recipe, the monitor is ``val/loss`` (``train/loss`` without a validation
    split) and nothing stops the run; with it, :class:`EarlyStopping` decides and keeps the best weights.

    Parameters
    ----------
    config : EarlyStoppingConfig, optional
        The recipe's ``early_stopping`` section.
    has_validation : bool
        Whether ``val/*`` metrics exist.

    Examples
    --------
    >>> best = BestEpoch(None, has_validation=True)
    >>> [best.update(epoch, {"val/loss": loss}, nn.Linear(1, 1)) for epoch, loss in enumerate([1.0, 0.5, 0.7])]
    [(True, False), (True, False), (False, False)]
    >>> best.epoch, best.value
    (2, 0.5)
    """

    def __init__(self, config: EarlyStoppingConfig | None, *, has_validation: bool) -> None:
        self.config = config
        self.stopping = EarlyStopping(config) if config is not None else None
        if config is not None:
            self.monitor = config.monitor
        else:
            self.monitor = "val/loss" if has_validation else "train/loss"
        self._maximize = resolve_mode(self.monitor, "auto") == "max"
        self.value: float | None = None
        self.epoch: int | None = None  # 1-based, as the report and the checkpoints count

    def update(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> tuple[bool, bool]:
        """Record 0-based ``epoch``'s metrics; return (improved, stop)."""
        if self.stopping is not None:
            decision = self.stopping.update(epoch + 1, metrics)
            if decision.improved:
                self.stopping.remember(model)
                self.value, self.epoch = metrics.get(self.monitor), epoch + 1
            return decision.improved, decision.stop
        value = metrics.get(self.monitor)
        if value is None or not math.isfinite(value):
            return False, False
        better = self.value is None or (value > self.value if self._maximize else value < self.value)
        if better:
            self.value, self.epoch = value, epoch + 1
        return better, False

    def stop_message(self) -> str:
        """Why early stopping ended the run."""
        assert self.config is not None
        return (
            f"{self.config.monitor} did not improve for {self.config.patience} epochs"
            + (f" (by more than {self.config.min_delta:g})" if self.config.min_delta else "")
            + f"; best {self.value:.4g} at epoch {self.epoch}"
        )

    def restore_if_asked(self, model: nn.Module) -> bool:
        """Load early stopping's best weights into ``model`` when the recipe asks; True when it did."""
        if self.stopping is None or self.config is None or not self.config.restore_best:
            return False
        state = self.stopping.best_state
        if state is None:
            return False
        model.load_state_dict(state)
        return True

    def state_dict(self) -> dict[str, Any]:
        return {
            "early_stopping": self.stopping.state_dict() if self.stopping is not None else None,
            "best": {"value": self.value, "epoch": self.epoch},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint (the keys :meth:`state_dict` writes, at the checkpoint's top level)."""
        if self.stopping is not None and state.get("early_stopping") is not None:
            self.stopping.load_state_dict(state["early_stopping"])
        best = state.get("best") or {}
        self.value, self.epoch = best.get("value"), best.get("epoch")
