"""Early stopping: when it stops, which epoch is best, and that both survive a resume."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from dlcheck.errors import DlcheckError, TrainingError
from dlcheck.recipe.schema import EarlyStoppingConfig
from dlcheck.train.early_stopping import EarlyStopping, StoppingDecision


def _run(stopping: EarlyStopping, values: list[float], monitor: str = "val/loss") -> list[StoppingDecision]:
    return [stopping.update(epoch, {monitor: value, "lr": 0.1}) for epoch, value in enumerate(values, 1)]


def test_stops_after_patience_epochs_without_improvement() -> None:
    stopping = EarlyStopping(EarlyStoppingConfig(patience=3))
    decisions = _run(stopping, [1.0, 0.8, 0.9, 0.85, 0.81])
    assert [decision.improved for decision in decisions] == [True, True, False, False, False]
    assert [decision.stop for decision in decisions] == [False, False, False, False, True]
    assert (stopping.best_value, stopping.best_epoch, stopping.stopped_epoch) == (0.8, 2, 5)


def test_an_improvement_resets_the_wait() -> None:
    stopping = EarlyStopping(EarlyStoppingConfig(patience=2))
    decisions = _run(stopping, [1.0, 1.1, 0.9, 1.2, 1.3])
    assert [decision.stop for decision in decisions] == [False, False, False, False, True]
    assert stopping.best_epoch == 3


def test_changes_smaller_than_min_delta_do_not_count() -> None:
    stopping = EarlyStopping(EarlyStoppingConfig(patience=2, min_delta=0.05))
    decisions = _run(stopping, [1.0, 0.97, 0.96, 0.9])
    assert [decision.improved for decision in decisions] == [True, False, False, True]
    assert decisions[2].stop  # 0.97 and 0.96 are within 0.05 of the best 1.0
    assert stopping.is_improvement(0.84) and not stopping.is_improvement(0.86)


def test_auto_mode_maximises_accuracy_and_minimises_the_rest() -> None:
    accuracy = EarlyStopping(EarlyStoppingConfig(monitor="val/accuracy", patience=1))
    assert accuracy.mode == "max"
    assert [decision.improved for decision in _run(accuracy, [0.5, 0.7, 0.6], "val/accuracy")] == [True, True, False]
    assert EarlyStopping(EarlyStoppingConfig(monitor="train/loss")).mode == "min"
    assert EarlyStopping(EarlyStoppingConfig(monitor="val/accuracy", mode="min")).mode == "min"


def test_a_non_finite_value_is_never_an_improvement() -> None:
    stopping = EarlyStopping(EarlyStoppingConfig(patience=2))
    decisions = _run(stopping, [float("nan"), 1.0, float("inf"), float("nan")])
    assert [decision.improved for decision in decisions] == [False, True, False, False]
    assert decisions[-1].stop and stopping.best_value == 1.0


def test_a_missing_monitor_names_it_and_the_metrics_there_are() -> None:
    stopping = EarlyStopping(EarlyStoppingConfig(monitor="val/acuracy"))
    with pytest.raises(ValueError, match=r"'val/acuracy'.*\(train/loss, val/accuracy\)") as raised:
        stopping.update(1, {"val/accuracy": 0.5, "train/loss": 1.0})
    assert isinstance(raised.value, DlcheckError)  # the CLI reports it as a user error (exit 2)


def _train_one_step(model: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator))


def test_the_remembered_weights_are_those_of_the_best_epoch() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    stopping = EarlyStopping(EarlyStoppingConfig(patience=2))
    best_weights: dict[str, torch.Tensor] = {}
    for epoch, loss in enumerate([1.0, 0.5, 0.7, 0.8], 1):
        _train_one_step(model, seed=epoch)  # the weights change in place every epoch
        if stopping.update(epoch, {"val/loss": loss}).improved:
            stopping.remember(model)
            best_weights = {key: value.clone() for key, value in model.state_dict().items()}
    assert stopping.best_epoch == 2 and stopping.best_state is not None
    assert all(value.device.type == "cpu" for value in stopping.best_state.values())
    model.load_state_dict(stopping.best_state)
    for key, value in model.state_dict().items():
        assert torch.equal(value, best_weights[key]), key


def test_without_restore_best_no_weights_are_kept() -> None:
    stopping = EarlyStopping(EarlyStoppingConfig(restore_best=False))
    stopping.update(1, {"val/loss": 1.0})
    stopping.remember(nn.Linear(2, 2))
    assert stopping.best_state is None


def test_state_round_trip_keeps_the_wait_counter_and_the_best_weights() -> None:
    config = EarlyStoppingConfig(patience=3)
    model = nn.Linear(2, 2)
    first = EarlyStopping(config)
    first.update(1, {"val/loss": 0.5})
    first.remember(model)
    expected = {key: value.clone() for key, value in model.state_dict().items()}
    _run_from(first, 2, [0.6, 0.7])  # two bad epochs: one more stops the run
    _train_one_step(model, seed=0)

    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)  # as the checkpoint does
    buffer.seek(0)
    resumed = EarlyStopping(config)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert (resumed.best_value, resumed.best_epoch, resumed.wait) == (0.5, 1, 2)
    assert resumed.best_state is not None
    assert all(torch.equal(resumed.best_state[key], expected[key]) for key in expected)
    assert resumed.update(4, {"val/loss": 0.55}).stop  # the patience left over is honoured


def _run_from(stopping: EarlyStopping, first_epoch: int, values: list[float]) -> None:
    for epoch, value in enumerate(values, first_epoch):
        stopping.update(epoch, {"val/loss": value})


def test_loading_a_state_that_watched_another_metric_is_refused() -> None:
    saved = EarlyStopping(EarlyStoppingConfig(monitor="val/loss")).state_dict()
    with pytest.raises(TrainingError, match="val/accuracy"):
        EarlyStopping(EarlyStoppingConfig(monitor="val/accuracy")).load_state_dict(saved)
