"""What the trainer tells the outside world while it runs.

The trainer never prints; it calls these hooks. The CLI's rich progress display is one implementation
(:mod:`dlcheck.report.training`), tests use others (e.g. to stop a run mid-epoch exactly as Ctrl-C does).
"""

from __future__ import annotations

__all__ = ["EpochRecord", "RunInfo", "StepRecord", "TrainingEvents"]

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlcheck.model import ModelSummary
    from dlcheck.train.records import TrainResult


@dataclass(frozen=True)
class RunInfo:
    """Facts fixed at the start of a run, for the header of a report."""

    name: str
    run_directory: Path | None
    device: str
    precision: str
    world_size: int
    seed: int
    epochs: int
    steps_per_epoch: int
    batches_per_epoch: int
    batch_size: int
    per_process_batch_size: int
    gradient_accumulation: int
    data: dict[str, Any]
    model_summary: ModelSummary
    optimizer: str
    parameter_groups: list[dict[str, Any]]
    loader: str
    is_main: bool = True  # rank 0; the others stay silent
    warnings: list[str] = field(default_factory=list)  # valid settings that are probably mistakes
    resumed_from: Path | None = None
    start_epoch: int = 0
    start_batch: int = 0


@dataclass(frozen=True)
class StepRecord:
    step: int
    epoch: int
    batch: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    step: int
    seconds: float
    metrics: dict[str, float]
    improved: bool = False
    notes: list[str] = field(default_factory=list)


class TrainingEvents:
    """No-op hooks; subclass and override what you need."""

    def on_start(self, info: RunInfo) -> None:
        """Called once, after set-up and before the first step."""

    def on_epoch_start(self, epoch: int, batches: int, start_batch: int) -> None:
        """Called at the start of each epoch (``start_batch`` > 0 when resuming mid-epoch)."""

    def on_step(self, record: StepRecord) -> None:
        """Called every ``logging.every_steps`` optimiser steps with synchronised metrics."""

    def on_batch(self, epoch: int, batch: int) -> None:
        """Called after every micro-batch; keep it cheap (it runs in the hot loop)."""

    def on_epoch_end(self, record: EpochRecord) -> None:
        """Called after validation at the end of each epoch."""

    def on_end(self, result: TrainResult) -> None:
        """Called once when training ends, however it ends."""
