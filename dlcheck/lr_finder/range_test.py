"""The sweep: raise the LR step by step, record the raw loss, stop when it has clearly diverged.

Compared with torch-lr-finder's loop (research section 2.1) this one

- keeps the **raw** loss of every step (no tool does; the suggestion is made afterwards, without lag);
- keeps the losses **on the device** and reads them back every ``CHECK_EVERY_STEPS`` steps, instead of a
  ``.item()`` (a host sync) per step; steps taken past the stopping point are dropped from the history, so
  the result is the same as with a per-step check;
- stops on a rule that works for losses of **any sign** (:class:`DivergenceMonitor`);
- uses a ladder that reaches both ends: ``lr_i = start * (end / start) ** (i / (steps - 1))``.
"""

from __future__ import annotations

__all__ = ["DivergenceMonitor", "SweepHistory", "SweepSettings", "lr_ladder", "noise_points", "run_sweep"]

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from dlcheck.errors import InputError
from dlcheck.lr_finder import thresholds
from dlcheck.lr_finder.smoothing import noise_scale
from dlcheck.lr_finder.training_step import Batch, TrainingStep

Mode = Literal["exp", "linear"]
StopReason = Literal["completed", "diverged", "non_finite"]


@dataclass(frozen=True)
class SweepSettings:
    """How one sweep ramps the LR.

    Attributes
    ----------
    start_lr, end_lr : float
        First and last LR of the ramp (both reached).
    steps : int
        Optimiser steps if the loss never diverges.
    mode : {"exp", "linear"}
        Geometric (default) or arithmetic ladder; linear suits a bracket within one decade (Smith's form).
    val_batches : int
        0: record the training loss of each step. k > 0: after each step, record the loss on k fixed
        held-out batches in eval mode (a cheap, low-noise version of Smith's validation curve).
    """

    start_lr: float = thresholds.START_LR
    end_lr: float = thresholds.END_LR
    steps: int = thresholds.STEPS
    mode: Mode = "exp"
    val_batches: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_lr) and self.start_lr > 0):
            raise InputError(f"--start-lr {self.start_lr}: must be a positive number, e.g. 1e-7.")
        if not (math.isfinite(self.end_lr) and self.end_lr > self.start_lr):
            raise InputError(f"--end-lr {self.end_lr}: must be larger than --start-lr {self.start_lr:g}, e.g. 10.")
        if self.steps < 10:
            raise InputError(f"--steps {self.steps}: a sweep needs at least 10 steps to show a curve; use 100.")
        if self.mode not in ("exp", "linear"):
            raise InputError(f"--mode {self.mode!r}: expected exp or linear.")
        if self.val_batches < 0:
            raise InputError(f"--val-batches {self.val_batches}: must be 0 (training loss) or a positive count.")


def lr_ladder(start_lr: float, end_lr: float, steps: int, mode: Mode = "exp") -> np.ndarray:
    """The LR of every step: ``steps`` values from ``start_lr`` to ``end_lr`` inclusive.

    Examples
    --------
    >>> lr_ladder(1e-3, 1e-1, 3).round(6).tolist()
    [0.001, 0.01, 0.1]
    >>> lr_ladder(0.1, 0.3, 3, "linear").round(6).tolist()
    [0.1, 0.2, 0.3]
    """
    position = np.arange(steps, dtype=np.float64) / max(steps - 1, 1)
    if mode == "linear":
        return start_lr + position * (end_lr - start_lr)
    ladder = np.exp(math.log(start_lr) + position * (math.log(end_lr) - math.log(start_lr)))
    ladder[0], ladder[-1] = start_lr, end_lr  # exact ends, not exp(log(x))
    return ladder


def noise_points(steps: int) -> int:
    """Losses the stop rule reads before a rise may stop a sweep of ``steps`` steps: 12 for 100 steps or more,
    an eighth of a shorter sweep, and never fewer than 5 (:data:`~dlcheck.lr_finder.thresholds.STOP_NOISE_POINTS`).

    Examples
    --------
    >>> noise_points(100), noise_points(60), noise_points(10)
    (12, 7, 5)
    """
    return max(thresholds.STOP_NOISE_MIN_POINTS, min(thresholds.STOP_NOISE_POINTS, steps // 8))


@dataclass
class DivergenceMonitor:
    """The live stop rule; feed it raw losses one at a time.

    Stops at once on a non-finite loss. A rise stops the sweep only once the batch-to-batch noise is known: the
    first ``noise_points`` losses come from LRs far too small to train anything (the first 0.9 decade of the
    default ramp), so they are repeated draws of the loss at initialisation on different batches. Their median
    is the starting ``level`` and their successive differences give the noise ``sigma`` (later widened to the
    curve up to its best point). From then on a causal EMA ``s`` (``beta = 0.9``, started at ``level``) and
    ``best = min s`` are kept, and the sweep stops when for ``patience`` consecutive steps both ``s`` and the raw
    loss exceed ``best + rise * max(level - best, noise_multiple * sigma, relative_floor * |level|)``.

    Additive, so it works for negative losses (fastai #962), and needs no step counter from outside (Lightning
    #4846). Reading the level and the noise off one batch, as every other finder does, lets a lucky first batch
    make ordinary noise look like a blow-up (issue 14, item 7).

    Examples
    --------
    >>> monitor = DivergenceMonitor()
    >>> flat = [2.3, 2.5, 2.2, 2.4, 2.3, 2.1, 2.4, 2.2, 2.5, 2.3, 2.2, 2.4]
    >>> curve = flat + [2.0, 1.5, 1.0, 0.8, 0.9, 1.5, 2.5, 4.0, 6.0, 9.0, 14.0]
    >>> [index for index, value in enumerate(curve) if monitor.update(value)][:1], monitor.reason
    ([22], 'diverged')
    """

    beta: float = thresholds.STOP_EMA_BETA
    rise: float = thresholds.STOP_RISE_FRACTION
    patience: int = thresholds.STOP_PATIENCE
    noise_multiple: float = thresholds.STOP_NOISE_MULTIPLE
    noise_points: int = thresholds.STOP_NOISE_POINTS
    relative_floor: float = thresholds.STOP_RELATIVE_FLOOR
    jump_factor: float = thresholds.STOP_JUMP_FACTOR
    reason: StopReason | None = None
    _values: list[float] = field(default_factory=list)
    _level: float = 0.0
    _smoothed: float = 0.0
    _best: float = math.inf
    _best_index: int = 0
    _above: int = 0

    def update(self, value: float) -> bool:
        """Record one raw loss; True when the sweep should stop here."""
        if not math.isfinite(value):
            self.reason = "non_finite"
            return True
        values = self._values
        values.append(value)
        count = len(values)
        if count < self.noise_points:
            # Before the noise is known, only a jump no batch noise explains stops: a non-negative loss that has
            # stayed above jump_factor times its value at initialisation (the first loss, taken before any step)
            # ever since the first step; a ramp that starts too high does that.
            first = values[0]
            jumped = count > self.patience and first > 0 and min(values[1:]) > self.jump_factor * first
            if jumped:
                self.reason = "diverged"
            return jumped
        if count == self.noise_points:
            self._level = float(np.median(values))
            self._smoothed = self._best = self._level
            self._best_index = count - 1
            return False
        self._smoothed = self.beta * self._smoothed + (1 - self.beta) * value
        if self._smoothed < self._best:
            self._best, self._best_index = self._smoothed, count - 1
        # The noise is measured on the curve up to its best point, and on at least the first noise_points losses:
        # a blow-up must not widen its own threshold, and two or three points do not measure a spread.
        sigma = noise_scale(np.asarray(values[: max(self._best_index + 1, self.noise_points)]))
        level = self._level
        scale = max(level - self._best, self.noise_multiple * sigma, self.relative_floor * abs(level), 1e-12)
        limit = self._best + self.rise * scale
        # Both the raw loss and its EMA must be above: the EMA alone would carry one spike for many steps.
        self._above = self._above + 1 if value > limit and self._smoothed > limit else 0
        if self._above >= self.patience:
            self.reason = "diverged"
            return True
        return False


@dataclass(frozen=True)
class SweepHistory:
    """The raw record of one sweep.

    Attributes
    ----------
    lr : numpy.ndarray
        ``(n,)`` LR of each step taken (n <= planned steps).
    loss : numpy.ndarray
        ``(n,)`` raw loss of each step (training loss, or held-out loss with ``val_batches``); non-finite
        values are kept as they came.
    planned_steps : int
        Steps the ramp would have taken without a stop.
    stop : {"completed", "diverged", "non_finite"}
        Why the sweep ended; the last entry is the step that triggered the stop.
    seed : int
        Seed of the data order and dropout of this sweep.
    seconds : float
        Wall time of the sweep.
    optimizer : str
        Class name of the optimiser that drew it (``"SGD"``, ``"AdamW"``...): SGD's constant LR is read differently.
    """

    lr: np.ndarray
    loss: np.ndarray
    planned_steps: int
    stop: StopReason
    seed: int
    seconds: float
    optimizer: str = ""

    @property
    def first_non_finite(self) -> int | None:
        bad = np.flatnonzero(~np.isfinite(self.loss))
        return int(bad[0]) if bad.size else None

    @property
    def usable(self) -> int:
        """Number of leading finite points (everything before the first non-finite loss)."""
        first_bad = self.first_non_finite
        return len(self.loss) if first_bad is None else first_bad


def run_sweep(
    step: TrainingStep,
    batches: Iterator[Batch],
    settings: SweepSettings,
    *,
    seed: int,
    probe: Callable[[], torch.Tensor] | None = None,
    check_every: int = thresholds.CHECK_EVERY_STEPS,
) -> SweepHistory:
    """Run one sweep on ``step.model`` in place (wrap it in a :class:`~dlcheck.lr_finder.isolation.StateGuard`).

    Parameters
    ----------
    step : TrainingStep
        The model, optimiser and training details; the optimiser's group LRs are overwritten every step
        (keeping their ratios to the first group).
    batches : iterator of (inputs, targets)
        Training batches on the device, endless.
    settings : SweepSettings
        The ramp.
    seed : int
        Recorded in the history (the caller seeds the data order and dropout with it).
    probe : callable, optional
        Returns the held-out loss (0-dim tensor) after a step; replaces the training loss in the record.
    check_every : int
        Steps between host reads of the losses.

    Returns
    -------
    SweepHistory
    """
    started = time.perf_counter()
    ladder = lr_ladder(settings.start_lr, settings.end_lr, settings.steps, settings.mode)
    groups = step.optimizer.param_groups
    reference = float(groups[0]["lr"]) or 1.0
    ratios = [float(group["lr"]) / reference if reference else 1.0 for group in groups]
    device = next(step.model.parameters()).device
    losses = torch.empty(settings.steps, dtype=torch.float32, device=device)  # stays on the device
    monitor = DivergenceMonitor(noise_points=noise_points(settings.steps))
    step.model.train()
    checked = 0
    stopped_at: int | None = None
    for index in range(settings.steps):
        for group, ratio in zip(groups, ratios, strict=True):
            group["lr"] = float(ladder[index]) * ratio
        loss = step(batches)
        losses[index] = probe() if probe is not None else loss
        if (index + 1) % check_every == 0 or index + 1 == settings.steps:
            for offset, value in enumerate(losses[checked : index + 1].tolist()):  # the one host sync
                if monitor.update(value):
                    stopped_at = checked + offset
                    break
            checked = index + 1
            if stopped_at is not None:
                break
    taken = settings.steps if stopped_at is None else stopped_at + 1
    return SweepHistory(
        lr=ladder[:taken].copy(),
        loss=np.asarray(losses[:taken].tolist(), dtype=np.float64),
        planned_steps=settings.steps,
        stop=monitor.reason or "completed",
        seed=seed,
        seconds=time.perf_counter() - started,
        optimizer=type(step.optimizer).__name__,
    )
