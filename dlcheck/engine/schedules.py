"""Learning-rate schedules as pure functions of progress, and the small controller that applies them.

Every schedule but ``reduce_on_plateau`` is a function of (interval index, schedule length), so a resumed run
recomputes the exact rate from its step counter instead of replaying ``scheduler.step()`` calls. Time is
counted in *intervals*: optimiser steps (after gradient accumulation) for ``interval: step``, completed
epochs for ``interval: epoch``.

Warm-up is a prefix (Goyal et al. 2017, "Accurate, Large Minibatch SGD"): over the first ``W`` intervals
the rate rises linearly from ``start_factor * lr`` to ``lr``; the main schedule then starts at its own
``t = 0`` and runs for the remaining ``total - W`` intervals, so step/milestone positions count from the
end of warm-up. A warm-up given in the other unit is converted by :func:`warmup_intervals`.
"""

from __future__ import annotations

__all__ = [
    "LearningRateController",
    "PlateauReducer",
    "interval_index_at_step",
    "lr_multiplier",
    "preview",
    "total_intervals",
    "warmup_intervals",
]

import bisect
import math
from typing import Any, Literal

import torch

from dlcheck.engine.metrics import monitored_value
from dlcheck.engine.plateau import PlateauReducer
from dlcheck.errors import RecipeError, RecipeIssue
from dlcheck.recipe.schema import ScheduleConfig, WarmupConfig

# torch.optim.lr_scheduler.OneCycleLR defaults, which the recipe does not expose.
ONE_CYCLE_DIV_FACTOR = 25.0
ONE_CYCLE_FINAL_DIV_FACTOR = 1.0e4


def warmup_intervals(warmup: WarmupConfig | None, *, interval: Literal["step", "epoch"], steps_per_epoch: int) -> int:
    """Length of a warm-up in the schedule's interval unit.

    Parameters
    ----------
    warmup : WarmupConfig or None
        ``steps`` (optimiser steps) or ``epochs``; ``None`` means no warm-up.
    interval : {"step", "epoch"}
        The unit the schedule advances in.
    steps_per_epoch : int
        Optimiser steps per epoch (batches / gradient accumulation, rounded up).

    Returns
    -------
    int
        Epochs become ``epochs * steps_per_epoch`` steps; steps become epochs rounded *up*, so a per-epoch
        schedule never warms up for less than was asked.

    Examples
    --------
    >>> warmup_intervals(WarmupConfig(epochs=2), interval="step", steps_per_epoch=10)
    20
    >>> warmup_intervals(WarmupConfig(steps=25), interval="epoch", steps_per_epoch=10)
    3
    """
    if warmup is None:
        return 0
    if interval == "step":
        return warmup.steps if warmup.steps is not None else int(warmup.epochs or 0) * steps_per_epoch
    if warmup.epochs is not None:
        return warmup.epochs
    return math.ceil(int(warmup.steps or 0) / steps_per_epoch)


def total_intervals(config: ScheduleConfig, *, steps_per_epoch: int, total_epochs: int) -> int:
    """Schedule length: ``steps_per_epoch * total_epochs`` steps, or ``total_epochs`` epochs."""
    return steps_per_epoch * total_epochs if config.interval == "step" else total_epochs


def interval_index_at_step(config: ScheduleConfig, global_step: int, *, steps_per_epoch: int) -> int:
    """The interval that optimiser step ``global_step`` (0-based) falls in."""
    return global_step if config.interval == "step" else global_step // steps_per_epoch


def lr_multiplier(
    config: ScheduleConfig, *, interval_index: int, total_intervals: int, warmup_intervals: int, base_lr: float
) -> float:
    """Factor applied to ``base_lr`` during interval ``interval_index``.

    Parameters
    ----------
    config : ScheduleConfig
        The recipe's ``schedule`` section.
    interval_index : int
        0-based interval about to run: the optimiser steps taken so far (``interval: step``) or the epochs
        completed (``interval: epoch``). Past the end, decaying schedules stay at their last value.
    total_intervals : int
        Schedule length in intervals, warm-up included (see :func:`total_intervals`).
    warmup_intervals : int
        Warm-up length in intervals, already converted with :func:`warmup_intervals`; 0 without warm-up.
    base_lr : float
        ``optimizer.lr``; needed to turn ``min_lr`` and ``max_lr`` into factors.

    Returns
    -------
    float
        The factor. For ``reduce_on_plateau`` only the warm-up part: the reductions are state, kept by
        :class:`PlateauReducer` and multiplied in by :class:`LearningRateController`.

    Raises
    ------
    RecipeError
        A schedule without its required key (``step_size``, ``milestones``), or warm-up with one_cycle.

    Notes
    -----
    With ``t`` counted from the end of warm-up and ``T = total - warmup``: step ``gamma ** (t // step_size)``;
    multistep ``gamma ** (milestones <= t)``; exponential ``gamma ** t``; inverse_time ``1 / (1 + decay_rate t)``;
    cosine ``m + (1 - m)(1 + cos(pi t / T)) / 2`` with ``m = min_lr / base_lr``, or SGDR restarts when
    ``restart_period`` is set; one_cycle as torch's OneCycleLR with div_factor 25 and final_div_factor 1e4.

    Examples
    --------
    >>> config = ScheduleConfig(name="cosine", min_lr=0.0)
    >>> lr_multiplier(config, interval_index=5, total_intervals=10, warmup_intervals=0, base_lr=0.1)
    0.5
    """
    _check_config(config, warmup_intervals)
    t = max(interval_index, 0)
    if t < warmup_intervals:
        assert config.warmup is not None
        start = config.warmup.start_factor
        return start + (1.0 - start) * t / warmup_intervals  # linear, as torch's LinearLR
    t -= warmup_intervals
    length = max(total_intervals - warmup_intervals, 1)
    name = config.name
    if name in ("constant", "reduce_on_plateau"):
        return 1.0
    if name == "step":
        assert config.step_size is not None
        return config.gamma ** (t // config.step_size)
    if name == "multistep":
        assert config.milestones is not None
        return config.gamma ** bisect.bisect_right(sorted(config.milestones), t)
    if name == "exponential":
        return config.gamma**t
    if name == "inverse_time":
        return 1.0 / (1.0 + config.decay_rate * t)
    if name == "cosine":
        floor = config.min_lr / base_lr
        if config.restart_period is None:
            position, period = min(t, length), length
        else:
            position, period = _restart_position(t, config.restart_period, config.restart_multiplier)
        return floor + (1.0 - floor) * (1.0 + math.cos(math.pi * position / period)) / 2.0
    if name == "one_cycle":
        return _one_cycle(config, t, length, base_lr) / base_lr
    raise AssertionError(f"unknown schedule {name!r}")  # the schema's Literal makes this unreachable


def _restart_position(t: int, period: int, multiplier: int) -> tuple[int, int]:
    """(position in the current cycle, its length) for SGDR (Loshchilov & Hutter 2017, "SGDR: Stochastic
    Gradient Descent with Warm Restarts"): cycles of ``period``, ``period * multiplier``, ... intervals, as
    torch's CosineAnnealingWarmRestarts(T_0=period, T_mult=multiplier)."""
    if multiplier == 1:
        return t % period, period
    while t >= period:  # cycles grow geometrically, so this loops O(log t) times
        t -= period
        period *= multiplier
    return t, period


def _one_cycle(config: ScheduleConfig, t: int, length: int, base_lr: float) -> float:
    """One-cycle rate (Smith 2018, "A disciplined approach to neural network hyper-parameters"), with cosine
    annealing and the phase boundaries of torch's OneCycleLR (three_phase=False): from ``max_lr / 25`` up to
    ``max_lr`` at interval ``pct_start * length - 1``, then down to ``max_lr / (25 * 1e4)`` at ``length - 1``.
    Momentum is not cycled (torch's ``cycle_momentum`` is not reproduced)."""
    peak = config.max_lr if config.max_lr is not None else base_lr
    initial = peak / ONE_CYCLE_DIV_FACTOR
    final = initial / ONE_CYCLE_FINAL_DIV_FACTOR
    t = min(t, length - 1)
    rise_end = config.pct_start * length - 1.0
    if rise_end > 0.0 and t <= rise_end:
        return _cosine_between(initial, peak, t / rise_end)
    rise_end = max(rise_end, 0.0)  # a rise shorter than one interval starts at the peak
    fall = (length - 1.0) - rise_end
    return _cosine_between(peak, final, (t - rise_end) / fall if fall > 0.0 else 0.0)


def _cosine_between(start: float, end: float, fraction: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1.0)


def _check_config(config: ScheduleConfig, warmup_length: int) -> None:
    issues = []
    if config.name == "step" and config.step_size is None:
        issues.append(
            RecipeIssue("schedule.step_size", "schedule `step` needs `step_size`", hint="add e.g. `step_size: 10`")
        )
    if config.name == "multistep" and not config.milestones:
        issues.append(
            RecipeIssue(
                "schedule.milestones", "schedule `multistep` needs `milestones`", hint="add e.g. `milestones: [30, 60]`"
            )
        )
    if config.name == "one_cycle" and config.warmup is not None:
        issues.append(
            RecipeIssue(
                "schedule.warmup",
                "one_cycle has its own rising phase and takes no warm-up",
                hint="remove `warmup` (tune `pct_start`)",
            )
        )
    if (config.warmup is None) != (warmup_length == 0):
        raise ValueError(
            f"warmup_intervals={warmup_length} does not match schedule.warmup={config.warmup!r}; "
            "convert the warm-up with warmup_intervals()"
        )
    if issues:
        raise RecipeError(issues)


class LearningRateController:
    """Set every parameter group's rate from the schedule, at step and epoch ends.

    The rate of a group is ``base_lr * lr_multiplier(...) * plateau scale * group.get("lr_scale", 1)``.
    The constructor already sets the rate of the first step (the warm-up start), so a loop that never calls
    :meth:`lr_at_start` is still right.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Its groups' ``lr`` are overwritten.
    config : ScheduleConfig
        The recipe's ``schedule`` section.
    base_lr : float
        ``optimizer.lr`` (the peak rate).
    steps_per_epoch : int
        Optimiser steps per epoch, after gradient accumulation.
    total_epochs : int
        ``train.epochs``; the schedule length derives from it.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        config: ScheduleConfig,
        *,
        base_lr: float,
        steps_per_epoch: int,
        total_epochs: int,
    ) -> None:
        if steps_per_epoch < 1 or total_epochs < 1:
            raise ValueError(f"steps_per_epoch ({steps_per_epoch}) and total_epochs ({total_epochs}) must be >= 1")
        self.optimizer, self.config, self.base_lr = optimizer, config, base_lr
        self.steps_per_epoch = steps_per_epoch
        self.total_intervals = total_intervals(config, steps_per_epoch=steps_per_epoch, total_epochs=total_epochs)
        self.warmup_intervals = warmup_intervals(
            config.warmup, interval=config.interval, steps_per_epoch=steps_per_epoch
        )
        self.plateau = (
            PlateauReducer.from_config(config, base_lr=base_lr) if config.name == "reduce_on_plateau" else None
        )
        self._step = 0  # optimiser steps taken
        self._epochs = 0  # epochs completed
        self._lr = base_lr
        self.lr_at_start()

    @property
    def current_lr(self) -> float:
        """The rate of a group with ``lr_scale`` 1 for the next optimiser step."""
        return self._lr

    def lr_at_start(self) -> None:
        """Set the rate for step 0: the warm-up start (or the schedule's first value)."""
        self._step, self._epochs = 0, 0
        self._apply()

    def on_step_end(self, global_step: int) -> None:
        """Call after optimiser step number ``global_step`` (1-based: the steps taken so far)."""
        self._step = global_step
        if self.config.interval == "step":
            self._apply()

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        """Call after 0-based ``epoch`` with its metrics (``"val/loss"``...); updates the plateau state.

        Raises
        ------
        MissingMetricError
            ``reduce_on_plateau`` monitors a metric absent from ``metrics`` (a ValueError and a TrainingError).
        """
        self._epochs = epoch + 1
        if self.plateau is not None:
            self.plateau.update(monitored_value(metrics, self.config.monitor, section="schedule"))
        self._apply()  # an epoch schedule advances; a step schedule picks up a plateau reduction now

    def state_dict(self) -> dict[str, Any]:
        """The plateau state plus the position, so :meth:`load_state_dict` can reapply the rate by itself."""
        return {
            "step": self._step,
            "epochs": self._epochs,
            "plateau": self.plateau.state_dict() if self.plateau is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._step, self._epochs = int(state["step"]), int(state["epochs"])
        if self.plateau is not None and state.get("plateau") is not None:
            self.plateau.load_state_dict(state["plateau"])
        self._apply()

    def _apply(self) -> None:
        index = self._step if self.config.interval == "step" else self._epochs
        factor = lr_multiplier(
            self.config,
            interval_index=index,
            total_intervals=self.total_intervals,
            warmup_intervals=self.warmup_intervals,
            base_lr=self.base_lr,
        )
        if self.plateau is not None:
            factor *= self.plateau.scale
        self._lr = self.base_lr * factor
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr * float(group.get("lr_scale", 1.0))


def preview(config: ScheduleConfig, base_lr: float, steps_per_epoch: int, total_epochs: int) -> list[float]:
    """The rate of every optimiser step of a run, for plots and reports.

    ``reduce_on_plateau`` is shown without reductions (they depend on the metrics).

    Examples
    --------
    >>> preview(ScheduleConfig(name="step", step_size=1, gamma=0.5), 1.0, steps_per_epoch=2, total_epochs=2)
    [1.0, 1.0, 0.5, 0.5]
    """
    total = total_intervals(config, steps_per_epoch=steps_per_epoch, total_epochs=total_epochs)
    warmup = warmup_intervals(config.warmup, interval=config.interval, steps_per_epoch=steps_per_epoch)
    return [
        base_lr
        * lr_multiplier(
            config,
            interval_index=interval_index_at_step(config, step, steps_per_epoch=steps_per_epoch),
            total_intervals=total,
            warmup_intervals=warmup,
            base_lr=base_lr,
        )
        for step in range(steps_per_epoch * total_epochs)
    ]
