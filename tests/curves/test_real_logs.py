"""Real training runs logged as Hugging Face, Keras, Lightning and plain loops do: healthy ones raise no
warning in any format, each planted pathology is found where the format can show it.

Formats: ``hf`` TensorBoard with window means every 10 steps; ``keras`` TensorBoard train/ and validation/
folders with epoch means; ``lcsv`` Lightning CSV with the batch loss every 5 steps; ``kcsv`` Keras'
CSVLogger; ``jsonl`` every step; ``jsonl10`` window means every 10 steps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from dlcheck.curves.diagnosis import RunDiagnosis, diagnose

from .gallery import (
    TrainingLog,
    train_classifier,
    write_hf_tensorboard,
    write_jsonl,
    write_keras_csv,
    write_keras_tensorboard,
    write_lightning_csv,
)

WRITERS: dict[str, Callable[[TrainingLog, Path], Path]] = {
    "hf": lambda log, folder: write_hf_tensorboard(log, folder / "hf"),
    "keras": lambda log, folder: write_keras_tensorboard(log, folder / "keras"),
    "lcsv": lambda log, folder: write_lightning_csv(log, folder / "lightning" / "metrics.csv"),
    "kcsv": lambda log, folder: write_keras_csv(log, folder / "keras.csv"),
    "jsonl": lambda log, folder: write_jsonl(log, folder / "log.jsonl"),
    "jsonl10": lambda log, folder: write_jsonl(log, folder / "log10.jsonl", every=10),
}
STEP_FORMATS = ("hf", "lcsv", "jsonl", "jsonl10")  # logs fine enough to see within an epoch

SCENARIOS: dict[str, dict[str, object]] = {
    # healthy controls
    "adam_digits": {"epochs": 30},
    "sgd_digits_batch_8": {"optimizer": "sgd", "lr": 0.05, "batch_size": 8, "epochs": 20},
    "one_cycle_spirals": {
        "dataset": "spirals",
        "hidden": (64, 64),
        "optimizer": "sgd",
        "lr": 0.2,
        "momentum": 0.9,
        "batch_size": 64,
        "epochs": 40,
        "schedule": "one_cycle",
    },
    "adam_moons": {"dataset": "moons", "hidden": (32,), "epochs": 20},
    # planted pathologies
    "lr_zero": {"lr": 1e-12, "epochs": 10},
    "lr_too_high_sgd": {"optimizer": "sgd", "lr": 0.3, "momentum": 0.9, "epochs": 15},
    "lr_far_too_high_sgd": {"optimizer": "sgd", "lr": 3.0, "epochs": 15},
    "lr_too_low": {"lr": 3e-5, "epochs": 10},
    "shuffled_labels": {"shuffle_labels": True, "hidden": (256,), "epochs": 60},
    "small_data_long_training": {"train_subset": 100, "hidden": (256,), "epochs": 300, "lr": 3e-3},
    "sorted_unshuffled_data": {"shuffle": False, "sort_by_class": True, "epochs": 10, "optimizer": "sgd", "lr": 0.05},
    "corrupt_batch_at_step_501": {"epochs": 20, "corrupt_step": 500},
    "accuracy_metric_bug": {"epochs": 15, "accuracy_bug": True},
    "linear_model_on_spirals": {"dataset": "spirals", "hidden": (), "epochs": 40, "lr": 1e-2},
}


@functools.cache
def _log(name: str) -> TrainingLog:
    return train_classifier(**SCENARIOS[name])  # type: ignore[arg-type]


def _diagnose(name: str, format_name: str, tmp_path: Path) -> RunDiagnosis:
    path = WRITERS[format_name](_log(name), tmp_path)
    return diagnose([path]).runs[0]


def _kinds(result: RunDiagnosis, *severities: str) -> set[str]:
    return {finding.kind for finding in result.findings if not severities or finding.severity in severities}


@pytest.mark.parametrize("format_name", WRITERS)
@pytest.mark.parametrize("name", ["adam_digits", "sgd_digits_batch_8", "one_cycle_spirals", "adam_moons"])
def test_healthy_runs_raise_no_warning(name: str, format_name: str, tmp_path: Path) -> None:
    result = _diagnose(name, format_name, tmp_path)
    assert result.status == "pass", [finding.message for finding in result.findings]
    assert set(result.mapping.roles) >= {"train_loss", "val_loss", "val_accuracy"}


@pytest.mark.parametrize("format_name", WRITERS)
@pytest.mark.parametrize(
    ("name", "expected", "status"),
    [
        ("lr_zero", {"plateau", "random_performance"}, "fail"),
        ("lr_too_high_sgd", {"divergence"}, "fail"),
        ("lr_far_too_high_sgd", {"nan"}, "fail"),
        ("lr_too_low", {"slow_convergence"}, "warn"),
        ("shuffled_labels", {"random_performance"}, None),
        ("small_data_long_training", {"overfitting"}, "warn"),
        ("accuracy_metric_bug", {"loss_accuracy_mismatch"}, "warn"),
        ("linear_model_on_spirals", {"underfitting", "random_performance"}, "warn"),
    ],
)
def test_planted_pathologies_are_found_in_every_format(
    name: str, expected: set[str], status: str | None, format_name: str, tmp_path: Path
) -> None:
    result = _diagnose(name, format_name, tmp_path)
    assert _kinds(result) & expected, [finding.message for finding in result.findings]
    if status is not None:
        assert result.status == status, [finding.message for finding in result.findings]
    else:
        assert result.status != "pass"


@pytest.mark.parametrize("format_name", WRITERS)
def test_overfitting_names_the_step_early_stopping_keeps(format_name: str, tmp_path: Path) -> None:
    result = _diagnose("small_data_long_training", format_name, tmp_path)
    val_loss = result.mapping.roles["val_loss"]
    # The validation loss bottoms out early and rises for the rest of the 300 epochs: early stopping keeps
    # the logged minimum, in the first tenth of the run.
    assert result.best_step == float(val_loss.steps[val_loss.values.argmin()])
    assert result.best_step <= 0.1 * float(val_loss.steps[-1])
    assert result.early_stop is not None and result.early_stop.stop_step is not None


@pytest.mark.parametrize("format_name", STEP_FORMATS)
def test_an_unshuffled_data_order_repeats_every_epoch(format_name: str, tmp_path: Path) -> None:
    result = _diagnose("sorted_unshuffled_data", format_name, tmp_path)
    assert "periodicity" in _kinds(result, "warn")


@pytest.mark.parametrize(("format_name", "step"), [("hf", 510), ("jsonl", 501), ("jsonl10", 510), ("keras", 11)])
def test_a_corrupt_batch_is_a_spike_at_its_step(format_name: str, step: int, tmp_path: Path) -> None:
    result = _diagnose("corrupt_batch_at_step_501", format_name, tmp_path)
    spikes = [finding for finding in result.findings if finding.kind == "spike"]
    assert [finding.metrics["peak_step"] for finding in spikes] == [step]
    assert result.status == "pass"  # one spike that recovered does not fail the run (info)


@pytest.mark.slow
def test_a_real_lightning_run_is_read_from_its_csv_and_tensorboard_logs(tmp_path: Path) -> None:
    pytest.importorskip("pytorch_lightning")
    from .lightning_run import train_with_lightning

    train_with_lightning(tmp_path, epochs=8)
    runs = diagnose([tmp_path]).runs
    assert sorted(run.run.format for run in runs) == ["lightning-csv", "tensorboard"]
    for result in runs:
        assert result.mapping.roles["train_loss"].name == "train_loss_step"
        assert {"val_loss", "val_accuracy"} <= set(result.mapping.roles)
        assert result.chance is not None and result.chance.classes == 10  # from hparams.yaml
        assert result.status == "pass", [finding.message for finding in result.findings]
