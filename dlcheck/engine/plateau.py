"""Reduce the learning rate when a metric stops improving (the one schedule with memory)."""

from __future__ import annotations

__all__ = ["PlateauReducer"]

import math
from typing import Any, Literal

from dlcheck.recipe.schema import ScheduleConfig


class PlateauReducer:
    """Multiply the rate by ``factor`` when a metric stops improving, as torch's ReduceLROnPlateau
    (threshold_mode="rel", no cooldown): after more than ``patience`` epochs without a relative improvement
    of ``threshold``, the scale drops, never below ``min_lr / base_lr``.

    Examples
    --------
    >>> reducer = PlateauReducer(base_lr=0.1, patience=1, factor=0.5)
    >>> [reducer.update(value) for value in (1.0, 1.0, 1.0)], reducer.scale
    ([False, False, True], 0.5)
    """

    def __init__(
        self,
        *,
        base_lr: float,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 5,
        min_lr: float = 0.0,
        threshold: float = 1.0e-4,
    ) -> None:
        self.base_lr, self.mode, self.factor = base_lr, mode, factor
        self.patience, self.min_lr, self.threshold = patience, min_lr, threshold
        self._scale = 1.0
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs = 0

    @classmethod
    def from_config(cls, config: ScheduleConfig, *, base_lr: float) -> PlateauReducer:
        return cls(
            base_lr=base_lr, mode=config.mode, factor=config.factor, patience=config.patience, min_lr=config.min_lr
        )

    @property
    def scale(self) -> float:
        """Product of the reductions so far (1.0 before the first)."""
        return self._scale

    def is_improvement(self, value: float) -> bool:
        # NaN compares False, so a NaN epoch counts as a bad one (as in torch).
        if self.mode == "min":
            return value < self.best * (1.0 - self.threshold)
        return value > self.best * (1.0 + self.threshold)

    def update(self, value: float) -> bool:
        """Record one epoch's metric; return whether the rate was reduced."""
        if self.is_improvement(value):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs <= self.patience:
            return False
        self.bad_epochs = 0
        reduced = max(self._scale * self.factor, self.min_lr / self.base_lr)
        if (self._scale - reduced) * self.base_lr <= 1.0e-8:  # torch's eps: already at the floor
            return False
        self._scale = reduced
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self._scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._scale, self.best, self.bad_epochs = float(state["scale"]), float(state["best"]), int(state["bad_epochs"])
