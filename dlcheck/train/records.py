"""What a run is and how it ended, as plain values: its position, why it stopped, and its result.

Nothing here imports torch: reports and the command line read a :class:`TrainResult` without loading it.
"""

from __future__ import annotations

__all__ = ["STOP_REASONS", "Progress", "Stop", "StopReason", "TrainResult"]

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

StopReason = Literal["completed", "early_stopped", "max_steps", "interrupted", "non_finite", "diverged"]
STOP_REASONS: tuple[StopReason, ...] = (
    "completed",
    "early_stopped",
    "max_steps",
    "interrupted",
    "non_finite",
    "diverged",
)
_SUCCESSFUL: tuple[StopReason, ...] = ("completed", "early_stopped", "max_steps")


@dataclass
class Progress:
    """Where the run is; saved in every checkpoint so a resumed run continues exactly."""

    epoch: int = 0  # next epoch to run (0-based) == epochs completed
    batch: int = 0  # next batch of that epoch (> 0 only after a mid-epoch stop)
    step: int = 0  # optimiser steps taken
    partial: dict[str, Any] | None = None  # EpochMeter.state() of a stopped epoch: same epoch loss on resume
    history: list[dict[str, float]] = field(default_factory=list)

    def update(self, **values: Any) -> None:
        for key, value in values.items():
            setattr(self, key, value)


@dataclass(frozen=True)
class Stop:
    """The loop's decision to end the run, and how.

    Attributes
    ----------
    reason : StopReason
    message : str
        What happened and what to do, for the report.
    finish_epoch : bool
        Validate and checkpoint the current epoch before stopping (an early stop, ``max_steps`` reached at an
        epoch's last batch); ``False`` leaves at once (a mid-epoch checkpoint is the stopper's job).
    """

    reason: StopReason
    message: str
    finish_epoch: bool = False


@dataclass
class TrainResult:
    """How a run ended and what it reached.

    Attributes
    ----------
    status : {"completed", "early_stopped", "max_steps", "interrupted", "non_finite", "diverged"}
        The first three are successes (:attr:`ok`); ``interrupted`` is a stop request (Ctrl-C, SIGTERM) with a
        checkpoint to resume from; ``non_finite`` and ``diverged`` are a loss that blew up.
    message : str
        One sentence saying what happened, with the fix when there is one.
    """

    name: str
    status: StopReason
    message: str
    run_directory: Path | None
    epochs_completed: int
    global_step: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    final_metrics: dict[str, float] = field(default_factory=dict)
    best_epoch: int | None = None
    best_metrics: dict[str, float] | None = None
    monitor: str | None = None
    last_checkpoint: Path | None = None
    restored_best: bool = False
    is_main: bool = True  # False on the other ranks of a torchrun job
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in _SUCCESSFUL
