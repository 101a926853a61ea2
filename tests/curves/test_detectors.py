"""Every finding kind on synthetic curves: found where it is planted, absent from its healthy twin."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from dlcheck.curves.chance import infer_classes_from_loss, infer_classes_from_pair, infer_set_size
from dlcheck.curves.detectors.generalization import simulate_early_stopping
from dlcheck.curves.diagnosis import RunDiagnosis, diagnose_run
from dlcheck.curves.log_run import LogRun, RunFacts
from dlcheck.curves.series import Series

STEPS = np.arange(1.0, 3001.0)
EVALS = np.arange(100.0, 3001.0, 100.0)


def _noise(seed: int, size: int, sigma: float) -> np.ndarray:
    return np.exp(np.random.default_rng(seed).normal(0.0, sigma, size))


def _healthy_train(seed: int = 0) -> np.ndarray:
    return (2.3 * np.exp(-STEPS / 300.0) + 0.05) * _noise(seed, STEPS.size, 0.25)


def _healthy_val(seed: int = 1) -> np.ndarray:
    return (2.3 * np.exp(-EVALS / 300.0) + 0.08) * _noise(seed, EVALS.size, 0.01)


def _healthy_accuracy(seed: int = 2) -> np.ndarray:
    return 0.97 - 0.87 * np.exp(-EVALS / 300.0) + np.random.default_rng(seed).normal(0.0, 0.004, EVALS.size)


def _run(series: dict[str, tuple[np.ndarray, np.ndarray]], **facts: object) -> RunDiagnosis:
    logged = [Series(name, steps, values) for name, (steps, values) in series.items()]
    return diagnose_run(LogRun("synthetic", Path("synthetic"), "test", logged, RunFacts(**facts)))  # type: ignore[arg-type]


def _kinds(result: RunDiagnosis, *severities: str) -> set[str]:
    return {finding.kind for finding in result.findings if not severities or finding.severity in severities}


def _healthy(**overrides: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    series = {
        "train/loss": (STEPS, _healthy_train()),
        "val/loss": (EVALS, _healthy_val()),
        "val/accuracy": (EVALS, _healthy_accuracy()),
    }
    for name, values in overrides.items():
        key = name.replace("__", "/")
        series[key] = (series[key][0], values)
    return series


@pytest.mark.parametrize("seed", range(5))
def test_healthy_noisy_runs_raise_no_warning(seed: int) -> None:
    series = {
        "train/loss": (STEPS, _healthy_train(seed)),
        "val/loss": (EVALS, _healthy_val(seed + 10)),
        "val/accuracy": (EVALS, _healthy_accuracy(seed + 20)),
    }
    result = _run(series, num_classes=10, val_size=2000)
    assert _kinds(result, "warn", "fail") == set(), [finding.message for finding in result.findings]
    assert result.status == "pass"


def test_spike_is_found_at_its_step_and_is_info_when_isolated_and_recovered() -> None:
    train = _healthy_train()
    train[2099] *= 40.0  # step 2,100
    result = _run(_healthy(train__loss=train), num_classes=10)
    spikes = [finding for finding in result.findings if finding.kind == "spike"]
    assert len(spikes) == 1 and spikes[0].step == 2100.0
    assert spikes[0].severity == "info" and spikes[0].metrics["recovered"] is True
    assert "step 2,100" in spikes[0].message


def test_frequent_spikes_warn() -> None:
    train = _healthy_train()
    for step in (900, 1500, 2100, 2700):
        train[step] *= 40.0
    result = _run({"train/loss": (STEPS, train)})
    spikes = [finding for finding in result.findings if finding.kind == "spike"]
    assert len(spikes) == 4 and {finding.severity for finding in spikes} == {"warn"}


def test_divergence_fails_from_where_it_starts() -> None:
    train = _healthy_train()
    train[2000:] *= np.exp(np.linspace(0.0, 5.0, 1000))
    result = _run({"train/loss": (STEPS, train)})
    divergence = next(finding for finding in result.findings if finding.kind == "divergence")
    assert divergence.severity == "fail"
    assert 1900 <= divergence.step <= 2300
    assert result.status == "fail"


def test_nan_is_named_at_its_first_step() -> None:
    train = _healthy_train()
    train[2499:] = np.nan
    result = _run({"train/loss": (STEPS, train)})
    nan = next(finding for finding in result.findings if finding.kind == "nan")
    assert (nan.severity, nan.step) == ("fail", 2500.0)


def test_a_flat_loss_is_a_failed_plateau_and_at_chance_random_performance() -> None:
    flat = 2.303 * _noise(3, STEPS.size, 0.05)
    flat[0] = 2.31  # the loss at initialisation: ln 10 plus a little
    accuracy = 0.1 + np.random.default_rng(4).normal(0.0, 0.01, EVALS.size)
    # The initial loss alone is no class count (issue 11); with an accuracy near 1/10 beside it, C = 10.
    assert _kinds(_run({"train/loss": (STEPS, flat)}), "fail") == {"plateau"}
    inferred = _run({"train/loss": (STEPS, flat), "train/accuracy": (EVALS, accuracy)})
    assert _kinds(inferred, "fail") == {"random_performance"} and inferred.chance.classes == 10
    assert "near 1/10" in inferred.chance.source  # the evidence is printed
    # exp(1.7) = 5.47 is near no integer: C unknown, the plateau is the finding.
    assert _kinds(_run({"train/loss": (STEPS, flat * 1.7 / 2.303)}), "fail") == {"plateau"}
    # With the classes known it is chance-level performance, which the plateau only restates.
    at_chance = _run({"train/loss": (STEPS, flat), "val/accuracy": (EVALS, accuracy)}, num_classes=10)
    assert _kinds(at_chance, "fail") == {"random_performance"}


def test_no_trend_on_a_loss_that_wanders_and_ends_where_it_started() -> None:
    wandering = 1.5 * (1.0 + 0.3 * np.sin(np.pi * STEPS / STEPS[-1])) * _noise(5, STEPS.size, 0.3)
    result = _run({"train/loss": (STEPS, wandering)})
    assert "no_trend" in _kinds(result, "warn")
    assert "plateau" not in _kinds(result)  # it moved: not flat


def test_slow_convergence_when_the_loss_falls_steadily_but_little() -> None:
    slow = (2.3 - 0.0003 * STEPS) * _noise(6, STEPS.size, 0.1)
    result = _run({"train/loss": (STEPS, slow)}, num_classes=10)
    assert "slow_convergence" in _kinds(result, "warn")


def test_oscillation_when_the_loss_keeps_jumping_at_a_high_level() -> None:
    levels = np.where(np.random.default_rng(7).random(STEPS.size) < 0.5, 0.5, 8.0)
    bouncing = levels * _noise(8, STEPS.size, 0.4)
    bouncing[:30] = 2.3
    result = _run({"train/loss": (STEPS, bouncing)})
    assert "oscillation" in _kinds(result, "warn")


def test_validation_accuracy_oscillation_beyond_its_error_bars() -> None:
    accuracy = 0.8 + 0.08 * np.where(np.arange(EVALS.size) % 2 == 0, 1.0, -1.0)
    result = _run(_healthy(val__accuracy=accuracy), val_size=2000)
    assert any(finding.kind == "oscillation" and finding.series == "val/accuracy" for finding in result.findings)


def test_overfitting_reports_the_best_step_and_early_stopping() -> None:
    rising = 0.5 + 0.3 * ((EVALS - 1000.0) / 1000.0) ** 2 + np.random.default_rng(9).normal(0.0, 0.003, EVALS.size)
    result = _run({"train/loss": (STEPS, _healthy_train()), "val/loss": (EVALS, rising)})
    overfitting = next(finding for finding in result.findings if finding.kind == "overfitting")
    assert overfitting.severity == "warn"
    assert 900 <= overfitting.step <= 1100
    assert result.best_step is not None and 900 <= result.best_step <= 1100
    assert "early stopping with patience 5 would have stopped" in overfitting.message


def test_overfitting_with_accuracy_still_rising_warns_and_names_over_confidence() -> None:
    rising = 0.5 + 0.3 * ((EVALS - 1000.0) / 1000.0) ** 2
    accuracy = np.linspace(0.70, 0.95, EVALS.size)
    result = _run(
        {"train/loss": (STEPS, _healthy_train()), "val/loss": (EVALS, rising), "val/accuracy": (EVALS, accuracy)},
        val_size=5000,
    )
    finding = next(finding for finding in result.findings if finding.kind == "overfitting")
    # issue 11: still a warning (the loss overfits), and the message says the accuracy did not (yet)
    assert finding.severity == "warn" and "the loss overfits" in finding.message


def test_generalization_gap_is_judged_against_the_validation_error_bars() -> None:
    train_accuracy = 0.99 - 0.5 * np.exp(-EVALS / 400.0)
    val_accuracy = 0.80 - 0.4 * np.exp(-EVALS / 400.0)
    series = _healthy(val__accuracy=val_accuracy)
    series["train/accuracy"] = (EVALS, train_accuracy)
    assert "generalization_gap" in _kinds(_run(series, val_size=2000), "warn")
    # The same gap of 0.05 is noise on 50 validation samples, real on 20,000.
    close = {**series, "val/accuracy": (EVALS, train_accuracy - 0.075)}
    assert "generalization_gap" not in _kinds(_run(close, val_size=50))
    assert "generalization_gap" in _kinds(_run(close, val_size=20_000), "warn")


def test_loss_accuracy_mismatch_when_both_fall() -> None:
    accuracy = 0.6 - 0.3 * (EVALS / EVALS[-1]) + np.random.default_rng(10).normal(0.0, 0.004, EVALS.size)
    result = _run(_healthy(val__accuracy=accuracy))
    assert "loss_accuracy_mismatch" in _kinds(result, "warn")


def test_underfitting_when_the_loss_stalls_above_half_the_chance_loss() -> None:
    stalled = (0.44 * np.exp(-STEPS / 200.0) + 0.7) * _noise(11, STEPS.size, 0.05)
    val = 0.71 * _noise(12, EVALS.size, 0.01)
    result = _run({"train/loss": (STEPS, stalled), "val/loss": (EVALS, val)}, num_classes=3)
    assert "underfitting" in _kinds(result, "warn")


@pytest.mark.parametrize("known", [True, False])
def test_periodicity_at_the_epoch_length_known_or_found(known: bool) -> None:
    pattern = np.tile(np.exp(np.linspace(-0.5, 0.5, 50)), STEPS.size // 50)
    periodic = (2.3 * np.exp(-STEPS / 400.0) + 0.3) * pattern * _noise(13, STEPS.size, 0.1)
    result = _run({"train/loss": (STEPS, periodic)}, steps_per_epoch=50.0 if known else None)
    periodicity = next(finding for finding in result.findings if finding.kind == "periodicity")
    assert periodicity.metrics["period_steps"] == 50.0
    assert "periodicity" not in _kinds(_run({"train/loss": (STEPS, _healthy_train())}, steps_per_epoch=50.0))


def test_chance_level_from_the_initial_loss_only_when_logged_at_the_first_step() -> None:
    values = np.r_[2.33, np.full(999, 0.4)]
    assert infer_classes_from_loss(np.arange(1.0, 1001.0), values).classes == 10
    assert infer_classes_from_loss(np.arange(10.0, 10010.0, 10.0), values) is None  # a window mean, not init
    assert infer_classes_from_pair(EVALS, np.full(EVALS.size, 1.12), EVALS, np.full(EVALS.size, 0.34)).classes == 3


def test_validation_set_size_from_the_accuracy_values() -> None:
    accuracies = np.array([k / 359 for k in (300, 321, 333, 340, 348, 350, 352)], dtype=np.float32)
    assert infer_set_size(accuracies) == 359
    assert infer_set_size(np.sqrt(np.linspace(0.5, 0.9, 10))) is None


def test_early_stopping_replay() -> None:
    stop = simulate_early_stopping(
        np.arange(1.0, 11.0), np.array([5, 4, 3, 3.1, 3.2, 2.9, 3.3, 3.4, 3.5, 3.6]), patience=3
    )
    assert stop is not None and (stop.kept_step, stop.stop_step, stop.best_step) == (6.0, 9.0, 6.0)


def test_a_million_points_are_diagnosed_in_well_under_a_second() -> None:
    steps = np.arange(1.0, 1_000_001.0)
    values = (2.3 * np.exp(-steps / 1e5) + 0.05) * _noise(14, steps.size, 0.2)
    values[500_000] *= 50.0
    run = LogRun("big", Path("big"), "test", [Series("train/loss", steps, values)])
    elapsed = []
    for _ in range(2):  # the better of two: the machine is shared
        started = time.perf_counter()
        result = diagnose_run(run)
        elapsed.append(time.perf_counter() - started)
    assert min(elapsed) < 1.0, elapsed
    assert [finding.step for finding in result.findings if finding.kind == "spike"] == [500_001.0]
