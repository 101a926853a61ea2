"""Training: the loop, its checkpoints, logs and events, under one process or torchrun.

``dlcheck.train`` is also a function: ``dlcheck.train("recipe.yaml")`` trains a recipe (see :func:`train`).
``from dlcheck.train import Trainer`` imports torch; the names are loaded on first use so that the lightweight
parts (events, records) can be imported without it.
"""

from __future__ import annotations

__all__ = ["Stop", "StopReason", "TrainResult", "Trainer", "TrainingEvents", "train"]

import sys
import types
from typing import TYPE_CHECKING, Any

from dlcheck._lazy import attach

if TYPE_CHECKING:
    from dlcheck.train.events import TrainingEvents
    from dlcheck.train.records import Stop, StopReason, TrainResult
    from dlcheck.train.trainer import Trainer, train

__getattr__, __dir__ = attach(
    __name__,
    {
        "Stop": "dlcheck.train.records",
        "StopReason": "dlcheck.train.records",
        "TrainResult": "dlcheck.train.records",
        "Trainer": "dlcheck.train.trainer",
        "TrainingEvents": "dlcheck.train.events",
        "train": "dlcheck.train.trainer",
    },
)


class _CallablePackage(types.ModuleType):
    """``dlcheck.train`` is this package once any of its modules is imported, so the package itself must be
    the function the public API promises: calling it calls :func:`dlcheck.train.trainer.train`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from dlcheck.train.trainer import train  # torch is loaded when training is asked for, not on import

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
