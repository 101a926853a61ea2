"""Learning-rate schedules: values at the points that matter, torch's schedulers as the anchor, exact resume."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from dlcheck.engine.schedules import (
    LearningRateController,
    PlateauReducer,
    lr_multiplier,
    preview,
    total_intervals,
    warmup_intervals,
)
from dlcheck.errors import RecipeError
from dlcheck.recipe.schema import ScheduleConfig, WarmupConfig

BASE_LR = 0.1


def _factors(config: ScheduleConfig, indices: list[int], total: int = 100, warmup: int = 0) -> list[float]:
    return [
        lr_multiplier(config, interval_index=i, total_intervals=total, warmup_intervals=warmup, base_lr=BASE_LR)
        for i in indices
    ]


def _optimizer(lr: float = BASE_LR) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _torch_rates(make: Callable[[torch.optim.Optimizer], Any], steps: int, lr: float = BASE_LR) -> list[float]:
    """The rate torch's scheduler gives at each of `steps` steps (optimizer.step before scheduler.step)."""
    optimizer = _optimizer(lr)
    scheduler = make(optimizer)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def _our_rates(config: ScheduleConfig, steps: int, warmup: int = 0, lr: float = BASE_LR) -> list[float]:
    return [
        lr * lr_multiplier(config, interval_index=i, total_intervals=steps, warmup_intervals=warmup, base_lr=lr)
        for i in range(steps)
    ]


# ------------------------------------------------------------------------------------ values at key points
def test_step_decays_at_each_step_size_boundary() -> None:
    config = ScheduleConfig(name="step", step_size=3, gamma=0.5)
    assert _factors(config, [0, 2, 3, 5, 6]) == [1.0, 1.0, 0.5, 0.5, 0.25]


def test_multistep_decays_at_the_milestones() -> None:
    config = ScheduleConfig(name="multistep", milestones=[5, 2], gamma=0.1)  # order does not matter
    assert np.allclose(_factors(config, [0, 1, 2, 4, 5, 50]), [1, 1, 0.1, 0.1, 0.01, 0.01])


def test_exponential_and_inverse_time() -> None:
    assert math.isclose(_factors(ScheduleConfig(name="exponential", gamma=0.9), [3])[0], 0.729)
    assert _factors(ScheduleConfig(name="inverse_time", decay_rate=0.5), [0, 2, 6]) == [1.0, 0.5, 0.25]


def test_cosine_start_middle_end_and_floor() -> None:
    config = ScheduleConfig(name="cosine", min_lr=0.01)  # floor 0.01 / 0.1 = 0.1 of the base rate
    start, middle, end, after = _factors(config, [0, 50, 100, 150])
    assert start == 1.0
    assert math.isclose(middle, 0.1 + 0.9 * 0.5)
    assert math.isclose(end, 0.1) and math.isclose(after, 0.1)  # stays at the floor past the end


def test_cosine_restarts_return_to_the_peak_with_growing_periods() -> None:
    config = ScheduleConfig(name="cosine", restart_period=2, restart_multiplier=2)
    # cycles of 2, 4, 8 intervals start at 0, 2, 6, 14
    assert _factors(config, [0, 2, 6, 14]) == [1.0, 1.0, 1.0, 1.0]
    assert math.isclose(_factors(config, [4])[0], 0.5)  # middle of the 4-interval cycle
    assert all(value < 1.0 for value in _factors(config, [1, 3, 5, 7, 13]))


def test_one_cycle_rises_to_the_peak_then_anneals_far_below_it() -> None:
    config = ScheduleConfig(name="one_cycle", max_lr=0.4, pct_start=0.25)
    rates = _our_rates(config, 100)
    assert math.isclose(rates[0], 0.4 / 25)
    assert int(np.argmax(rates)) == 24 and math.isclose(rates[24], 0.4)  # pct_start * 100 - 1
    assert math.isclose(rates[-1], 0.4 / (25 * 1e4))
    default_peak = _our_rates(ScheduleConfig(name="one_cycle"), 100)
    assert math.isclose(max(default_peak), BASE_LR)  # max_lr defaults to optimizer.lr


def test_warmup_rises_linearly_then_the_schedule_starts_from_its_own_zero() -> None:
    config = ScheduleConfig(name="step", step_size=2, gamma=0.5, warmup=WarmupConfig(steps=4, start_factor=0.2))
    factors = _factors(config, [0, 1, 2, 3, 4, 5, 6], total=20, warmup=4)
    assert np.allclose(factors, [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.5])


def test_warmup_before_cosine_shortens_the_cosine_to_what_is_left() -> None:
    config = ScheduleConfig(name="cosine", warmup=WarmupConfig(steps=10, start_factor=0.1))
    ours = _our_rates(config, 50, warmup=10)

    def torch_scheduler(optimizer: torch.optim.Optimizer) -> lr_scheduler.LRScheduler:
        warm = lr_scheduler.LinearLR(optimizer, start_factor=0.1, end_factor=1.0, total_iters=10)
        cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=40)
        return lr_scheduler.SequentialLR(optimizer, [warm, cosine], milestones=[10])

    assert np.allclose(ours, _torch_rates(torch_scheduler, 50))


def test_warmup_length_is_converted_to_the_interval_unit() -> None:
    assert warmup_intervals(None, interval="step", steps_per_epoch=7) == 0
    assert warmup_intervals(WarmupConfig(steps=5), interval="step", steps_per_epoch=7) == 5
    assert warmup_intervals(WarmupConfig(epochs=2), interval="step", steps_per_epoch=7) == 14
    assert warmup_intervals(WarmupConfig(epochs=2), interval="epoch", steps_per_epoch=7) == 2
    assert warmup_intervals(WarmupConfig(steps=8), interval="epoch", steps_per_epoch=7) == 2  # rounded up
    assert total_intervals(ScheduleConfig(interval="step"), steps_per_epoch=7, total_epochs=3) == 21
    assert total_intervals(ScheduleConfig(interval="epoch"), steps_per_epoch=7, total_epochs=3) == 3


def test_a_warmup_that_was_not_converted_is_refused() -> None:
    config = ScheduleConfig(name="cosine", warmup=WarmupConfig(epochs=1))
    with pytest.raises(ValueError, match="warmup_intervals"):
        lr_multiplier(config, interval_index=0, total_intervals=10, warmup_intervals=0, base_lr=BASE_LR)


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"name": "step"}, "schedule.step_size"),
        ({"name": "multistep"}, "schedule.milestones"),
        ({"name": "one_cycle", "warmup": WarmupConfig(steps=3)}, "schedule.warmup"),
    ],
)
def test_incomplete_schedules_are_recipe_errors(options: dict, key: str) -> None:
    config = ScheduleConfig(**options)
    warmup = 3 if config.warmup is not None else 0
    with pytest.raises(RecipeError) as raised:
        lr_multiplier(config, interval_index=0, total_intervals=10, warmup_intervals=warmup, base_lr=BASE_LR)
    assert raised.value.issues[0].path == key


# ------------------------------------------------------------------------- torch's schedulers as the anchor
@pytest.mark.parametrize(
    ("config", "make"),
    [
        (
            ScheduleConfig(name="cosine", min_lr=0.001),
            lambda optimizer: lr_scheduler.CosineAnnealingLR(optimizer, T_max=60, eta_min=0.001),
        ),
        (
            ScheduleConfig(name="cosine", min_lr=0.002, restart_period=5, restart_multiplier=2),
            lambda optimizer: lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=5, T_mult=2, eta_min=0.002),
        ),
        (
            ScheduleConfig(name="cosine", restart_period=7),
            lambda optimizer: lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=7),
        ),
        (
            ScheduleConfig(name="one_cycle", max_lr=0.5, pct_start=0.3),
            lambda optimizer: lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=60, cycle_momentum=False),
        ),
        (
            ScheduleConfig(name="step", step_size=7, gamma=0.3),
            lambda optimizer: lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.3),
        ),
        (
            ScheduleConfig(name="multistep", milestones=[10, 25, 40], gamma=0.5),
            lambda optimizer: lr_scheduler.MultiStepLR(optimizer, milestones=[10, 25, 40], gamma=0.5),
        ),
        (
            ScheduleConfig(name="exponential", gamma=0.95),
            lambda optimizer: lr_scheduler.ExponentialLR(optimizer, gamma=0.95),
        ),
    ],
    ids=["cosine", "sgdr", "sgdr-fixed-period", "one_cycle", "step", "multistep", "exponential"],
)
def test_matches_torch_over_a_run(config: ScheduleConfig, make: Callable[[torch.optim.Optimizer], Any]) -> None:
    assert np.allclose(_our_rates(config, 60), _torch_rates(make, 60), rtol=1e-6, atol=1e-12)


def test_plateau_reducer_matches_torch() -> None:
    values = [1.0, 0.9, 0.9, 0.95, 0.91, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    reducer = PlateauReducer(base_lr=BASE_LR, factor=0.5, patience=2, min_lr=0.02)
    optimizer = _optimizer()
    reference = lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2, min_lr=0.02)
    for value in values:
        reducer.update(value)
        optimizer.step()
        reference.step(value)
        assert math.isclose(BASE_LR * reducer.scale, optimizer.param_groups[0]["lr"])


def test_plateau_reduces_after_patience_and_stops_at_min_lr() -> None:
    reducer = PlateauReducer(base_lr=1.0, mode="max", factor=0.1, patience=1, min_lr=0.05)
    assert [reducer.update(0.5) for _ in range(3)] == [False, False, True]  # improvement, then 2 bad epochs
    assert math.isclose(reducer.scale, 0.1)
    assert [reducer.update(0.5) for _ in range(2)] == [False, True]
    assert math.isclose(reducer.scale, 0.05)  # 0.01 would be below min_lr
    assert [reducer.update(0.5) for _ in range(2)] == [False, False]  # already at the floor
    assert reducer.update(0.6) is False and reducer.bad_epochs == 0


# ---------------------------------------------------------------------------------------------- controller
def test_controller_sets_the_warmup_start_before_the_first_step() -> None:
    config = ScheduleConfig(name="cosine", interval="step", warmup=WarmupConfig(steps=4, start_factor=0.25))
    optimizer = _optimizer()
    controller = LearningRateController(optimizer, config, base_lr=BASE_LR, steps_per_epoch=5, total_epochs=2)
    assert math.isclose(optimizer.param_groups[0]["lr"], 0.025)
    assert math.isclose(controller.current_lr, 0.025)


def _drive(
    controller: LearningRateController,
    optimizer: torch.optim.Optimizer,
    start_step: int,
    steps: int,
    *,
    steps_per_epoch: int,
    losses: Iterator[float] | None = None,
) -> list[float]:
    """Run `steps` optimiser steps from `start_step` as the trainer does, recording the rate each one uses."""
    rates = []
    for step in range(start_step, start_step + steps):
        rates.append(optimizer.param_groups[0]["lr"])
        controller.on_step_end(step + 1)
        if (step + 1) % steps_per_epoch == 0:
            epoch = (step + 1) // steps_per_epoch - 1
            loss = next(losses) if losses is not None else 1.0
            controller.on_epoch_end(epoch, {"val/loss": loss, "train/loss": 1.0})
    return rates


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_controller_follows_preview_per_step_and_per_epoch(interval: str) -> None:
    config = ScheduleConfig(name="cosine", interval=interval, warmup=WarmupConfig(epochs=1, start_factor=0.1))
    optimizer = _optimizer()
    controller = LearningRateController(optimizer, config, base_lr=BASE_LR, steps_per_epoch=4, total_epochs=5)
    rates = _drive(controller, optimizer, 0, 20, steps_per_epoch=4)
    assert np.allclose(rates, preview(config, BASE_LR, steps_per_epoch=4, total_epochs=5))
    if interval == "epoch":
        assert len(set(rates[4:8])) == 1 and rates[3] != rates[4]  # constant within an epoch, changes between
    else:
        assert len(set(rates[4:8])) == 4


@pytest.mark.parametrize(
    "config",
    [
        ScheduleConfig(name="one_cycle", interval="step"),
        ScheduleConfig(name="cosine", interval="epoch", warmup=WarmupConfig(steps=5)),
        ScheduleConfig(name="reduce_on_plateau", interval="step", patience=0, factor=0.5, warmup=WarmupConfig(steps=2)),
    ],
    ids=["one_cycle", "cosine-epoch", "plateau"],
)
@pytest.mark.parametrize("stop_at", [3, 8, 13])  # mid-epoch, epoch boundary, mid-epoch later
def test_a_controller_loaded_from_its_state_continues_exactly(config: ScheduleConfig, stop_at: int) -> None:
    def fresh() -> tuple[LearningRateController, torch.optim.Optimizer]:
        optimizer = _optimizer()
        return LearningRateController(optimizer, config, base_lr=BASE_LR, steps_per_epoch=4, total_epochs=6), optimizer

    # a falling loss then a plateau, so reduce_on_plateau has something to do
    losses = [1.0, 0.5, 0.5, 0.5, 0.5, 0.5]
    uninterrupted, optimizer = fresh()
    expected = _drive(uninterrupted, optimizer, 0, 24, steps_per_epoch=4, losses=iter(losses))

    first, optimizer = fresh()
    remaining = iter(losses)
    before = _drive(first, optimizer, 0, stop_at, steps_per_epoch=4, losses=remaining)
    saved = first.state_dict()
    resumed, optimizer = fresh()  # a new process: everything rebuilt, then the state loaded
    resumed.load_state_dict(saved)
    after = _drive(resumed, optimizer, stop_at, 24 - stop_at, steps_per_epoch=4, losses=remaining)
    assert before + after == expected


def test_controller_applies_plateau_reductions_and_respects_group_scales() -> None:
    config = ScheduleConfig(name="reduce_on_plateau", monitor="val/accuracy", mode="max", patience=0, factor=0.5)
    parameters = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    optimizer = torch.optim.SGD([{"params": parameters[:1]}, {"params": parameters[1:], "lr_scale": 0.1}], lr=1.0)
    controller = LearningRateController(optimizer, config, base_lr=1.0, steps_per_epoch=3, total_epochs=4)
    controller.on_epoch_end(0, {"val/accuracy": 0.7})
    assert controller.current_lr == 1.0
    controller.on_epoch_end(1, {"val/accuracy": 0.7})
    assert controller.current_lr == 0.5
    assert [group["lr"] for group in optimizer.param_groups] == [0.5, 0.05]


def test_a_missing_plateau_monitor_names_it_and_the_metrics_there_are() -> None:
    config = ScheduleConfig(name="reduce_on_plateau", monitor="val/loss")
    controller = LearningRateController(_optimizer(), config, base_lr=BASE_LR, steps_per_epoch=2, total_epochs=2)
    with pytest.raises(ValueError, match=r"schedule\.monitor = 'val/loss'.*lr, train/loss"):
        controller.on_epoch_end(0, {"train/loss": 1.0, "lr": 0.1})


def test_preview_has_one_rate_per_optimizer_step() -> None:
    config = ScheduleConfig(name="step", interval="epoch", step_size=1, gamma=0.5)
    rates = preview(config, 1.0, steps_per_epoch=3, total_epochs=3)
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
