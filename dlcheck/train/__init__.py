"""Training: the loop, optimisers, schedules, checkpoints, distributed runs.

``from dlcheck.train import Trainer`` imports torch; the names are loaded on first use so that the
lightweight parts (events) can be imported without it.
"""

from __future__ import annotations

__all__ = ["TrainResult", "Trainer", "TrainingEvents", "train"]

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlcheck.train.events import TrainingEvents
    from dlcheck.train.trainer import Trainer, TrainResult, train


def __getattr__(name: str) -> Any:
    if name == "TrainingEvents":
        from dlcheck.train.events import TrainingEvents

        return TrainingEvents
    if name in ("Trainer", "TrainResult", "train"):
        from dlcheck.train import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'dlcheck.train' has no attribute {name!r}")
