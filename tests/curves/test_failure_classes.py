"""Classes of failure seen on real logs (issue 11, sections 2.5-2.8), each on synthetic curves with a healthy twin.

- validation curves get the instability rules, against the right noise (2.6);
- per-step and per-epoch versions of one series: trend on the epoch means, noise on the steps (2.5);
- a blow-up before the first logged point is divergence, never "underfitting, raise the LR" (2.7);
- the loss and the accuracy telling different stories is a mismatch (2.8).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlcheck.curves.diagnosis import RunDiagnosis, diagnose, diagnose_run
from dlcheck.curves.findings import KINDS
from dlcheck.curves.log_run import LogRun, RunFacts
from dlcheck.curves.series import Series
from dlcheck.report.curves import KIND_CODES

EPOCHS = np.arange(0.0, 24.0)


def _run(series: dict[str, tuple[np.ndarray, np.ndarray]], *, num_classes: int | None = None) -> RunDiagnosis:
    logged = [Series(name, steps, values, "epoch") for name, (steps, values) in series.items()]
    facts = RunFacts(num_classes=num_classes, num_classes_source="test" if num_classes else None)
    return diagnose_run(LogRun("synthetic", Path("synthetic"), "test", logged, facts))


def _kinds(result: RunDiagnosis, *severities: str) -> set[str]:
    return {finding.kind for finding in result.findings if not severities or finding.severity in severities}


def _smooth_train() -> np.ndarray:
    return 0.06 * np.exp(-EPOCHS / 12.0) + 0.015


# ------------------------------------------------------------------------------------- validation curves
def test_a_validation_loss_that_bounces_while_training_is_smooth_is_oscillation() -> None:
    bounce = np.where(np.arange(EPOCHS.size) % 3 == 1, 3.5, 1.0)
    result = _run({"loss": (EPOCHS, _smooth_train()), "val_loss": (EPOCHS, 0.03 * bounce)})
    oscillation = [finding for finding in result.findings if finding.kind == "oscillation"]
    assert oscillation and oscillation[0].series == "val_loss" and oscillation[0].severity == "warn"
    assert "training loss" in oscillation[0].message


def test_a_validation_loss_that_follows_training_with_small_noise_does_not_oscillate() -> None:
    noise = np.exp(np.random.default_rng(0).normal(0.0, 0.05, EPOCHS.size))
    result = _run({"loss": (EPOCHS, _smooth_train()), "val_loss": (EPOCHS, 1.3 * _smooth_train() * noise)})
    assert "oscillation" not in _kinds(result)
    assert result.status == "pass"


def test_one_bad_evaluation_that_recovers_is_a_validation_spike_not_a_warning() -> None:
    val = 1.3 * _smooth_train()
    val[5] *= 5.0
    result = _run({"loss": (EPOCHS, _smooth_train()), "val_loss": (EPOCHS, val)})
    spikes = [finding for finding in result.findings if finding.kind == "spike"]
    assert [(finding.series, finding.step, finding.severity) for finding in spikes] == [("val_loss", 5.0, "info")]
    assert result.status == "pass"


def test_a_validation_accuracy_drop_is_judged_against_the_binomial_noise_of_the_set() -> None:
    accuracy = np.linspace(0.80, 0.90, EPOCHS.size)
    accuracy[8] -= 0.04  # 4 points: about 1 standard error on 100 samples, 20 on 100,000
    series = {"loss": (EPOCHS, _smooth_train()), "val_loss": (EPOCHS, 1.3 * _smooth_train())}
    small = np.round(accuracy * 100) / 100  # 100 validation samples: steps of 1/100
    large = np.round(accuracy * 100_000) / 100_000
    assert "spike" not in _kinds(_run({**series, "val_accuracy": (EPOCHS, small)}))
    large_result = _run({**series, "val_accuracy": (EPOCHS, large)})
    assert [finding.step for finding in large_result.findings if finding.kind == "spike"] == [8.0]


# ------------------------------------------------------------------------------------ series choice
def _lightning_csv(path: Path, step_loss: np.ndarray, epoch_loss: np.ndarray, per_epoch: int) -> Path:
    lines = ["epoch,step,train_loss_epoch,train_loss_step"]
    for index, value in enumerate(step_loss):
        epoch = index // per_epoch
        lines.append(f"{epoch},{index * 50 + 49},,{value}")
        if (index + 1) % per_epoch == 0:
            lines.append(f"{epoch},{index * 50 + 49},{epoch_loss[epoch]},")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_noisy_per_step_loss_is_judged_by_its_epoch_means(tmp_path: Path) -> None:
    # 5 epochs of 15 logged batches: the batch loss scatters by factors while the epoch means fall 4x.
    epoch_loss = np.array([0.43, 0.21, 0.16, 0.13, 0.107])
    generator = np.random.default_rng(3)
    step_loss = np.repeat(epoch_loss, 15) * np.exp(generator.normal(0.0, 0.6, 75))
    result = diagnose([_lightning_csv(tmp_path / "metrics.csv", step_loss, epoch_loss, 15)]).runs[0]
    assert result.mapping.roles["train_loss"].name == "train_loss_step"
    assert not _kinds(result, "warn", "fail") & {"plateau", "oscillation", "no_trend"}
    row = next(row for row in result.mapping.rows if row.name == "train_loss_epoch")
    assert "aggregate of train_loss_step" in row.note


def test_epoch_means_that_stay_flat_still_make_a_plateau(tmp_path: Path) -> None:
    epoch_loss = np.full(6, 2.3)
    step_loss = np.repeat(epoch_loss, 15) * np.exp(np.random.default_rng(4).normal(0.0, 0.05, 90))
    result = diagnose([_lightning_csv(tmp_path / "metrics.csv", step_loss, epoch_loss, 15)]).runs[0]
    assert "plateau" in _kinds(result, "warn", "fail")


def test_flat_epoch_means_over_noisy_batches_are_a_stall_not_a_dead_run(tmp_path: Path) -> None:
    # A resumed run: learning happened before the first logged step; the batches scatter, the epoch means do not.
    epoch_loss = np.array([3.70, 3.69, 3.71, 3.70, 3.70, 3.69])
    step_loss = np.repeat(epoch_loss, 15) * np.exp(np.random.default_rng(7).normal(0.0, 0.1, 90))
    result = diagnose([_lightning_csv(tmp_path / "metrics.csv", step_loss, epoch_loss, 15)]).runs[0]
    assert result.status == "warn" and "plateau" in _kinds(result, "warn")


# ------------------------------------------------------------------------------------ blow-up at start
def test_a_first_loss_far_above_chance_is_a_blow_up_not_underfitting() -> None:
    steps = np.arange(1.0, 61.0)
    loss = np.r_[25.0, 12.0, 6.0, np.full(57, 2.25)] * np.exp(np.random.default_rng(5).normal(0, 0.01, 60))
    accuracy = np.full(60, 0.11)
    result = _run({"loss": (steps, loss), "accuracy": (steps, accuracy)}, num_classes=10)
    blowups = [finding for finding in result.findings if finding.metrics.get("cause") == "initial blow-up"]
    assert blowups and blowups[0].kind == "divergence" and blowups[0].severity == "warn"
    assert not _kinds(result) & {"underfitting", "slow_convergence", "plateau"}
    advice = " ".join(line for finding in result.findings for line in finding.advice).lower()
    assert "raise the learning rate" not in advice and "higher learning rate" not in advice


def test_a_high_first_loss_with_a_good_accuracy_is_a_loss_scale_not_a_blow_up() -> None:
    steps = np.arange(1.0, 41.0)
    loss = np.linspace(7.3, 0.3, 40)  # a regulariser dominates the loss; the model is right 89% at once
    accuracy = np.linspace(0.89, 0.99, 40)
    result = _run({"loss": (steps, loss), "accuracy": (steps, accuracy)}, num_classes=2)
    assert not [finding for finding in result.findings if finding.metrics.get("cause") == "initial blow-up"]


# ------------------------------------------------------------------------------------------- mismatch
def test_a_loss_falling_while_validation_accuracy_stays_at_chance_is_a_mismatch() -> None:
    loss = 2.5 * np.exp(-EPOCHS / 5.0) + 0.05
    accuracy = 0.1 + np.random.default_rng(6).normal(0.0, 0.004, EPOCHS.size)
    result = _run({"loss": (EPOCHS, loss), "val_accuracy": (EPOCHS, accuracy)}, num_classes=10)
    mismatch = [finding for finding in result.findings if finding.kind == "loss_accuracy_mismatch"]
    assert (
        mismatch and mismatch[0].severity == "warn" and mismatch[0].metrics["case"] == "loss falls, accuracy at chance"
    )


def test_validation_accuracy_at_zero_while_training_learns_is_a_mismatch_without_a_class_count() -> None:
    loss = 2.5 * np.exp(-EPOCHS / 5.0) + 0.05
    flat = np.full(EPOCHS.size, 3.98)
    result = _run({"loss": (EPOCHS, loss), "val_loss": (EPOCHS, flat), "val_accuracy": (EPOCHS, np.zeros(EPOCHS.size))})
    assert "loss_accuracy_mismatch" in _kinds(result, "warn")


def test_a_high_flat_loss_beside_a_high_rising_accuracy_is_a_mismatch() -> None:
    loss = np.linspace(2.37, 2.26, 15)
    accuracy = np.linspace(0.955, 0.994, 15)
    steps = np.arange(15.0)
    result = _run(
        {
            "train/loss": (steps, np.geomspace(1.8, 0.04, 15)),
            "val/loss": (steps, loss),
            "metrics/accuracy_top1": (steps, accuracy),
        }
    )
    assert result.mapping.roles["val_accuracy"].name == "metrics/accuracy_top1"
    mismatch = [finding for finding in result.findings if finding.kind == "loss_accuracy_mismatch"]
    assert mismatch and mismatch[0].metrics["case"] == "accuracy improves, loss flat"
    assert "generalization_gap" not in _kinds(result, "warn")  # the loss-based gap is an artifact of that loss


def test_a_loss_that_falls_with_its_rising_accuracy_is_no_mismatch() -> None:
    steps = np.arange(15.0)
    result = _run(
        {
            "loss": (steps, np.geomspace(0.8, 0.06, 15)),
            "val_loss": (steps, np.geomspace(0.19, 0.058, 15)),
            "val_accuracy": (steps, np.linspace(0.94, 0.98, 15)),
        }
    )
    assert "loss_accuracy_mismatch" not in _kinds(result)


# ------------------------------------------------------------------------------------------- others
def test_a_negative_loss_falling_without_bound_is_too_good_to_be_true() -> None:
    steps = np.arange(70.0)
    result = _run({"loss": (steps, -3.4e4 - 1.3e4 * steps**1.5), "val_loss": (steps, -1.5e5 - 2.6e4 * steps**1.5)})
    assert "suspicious_success" in _kinds(result, "warn")


def test_a_short_noisy_loss_that_falls_steadily_is_no_plateau() -> None:
    steps = np.arange(10.0, 130.0, 10.0)
    loss = np.array([3.26, 3.17, 3.19, 3.11, 3.19, 3.08, 3.07, 3.02, 3.02, 2.92, 2.95, 3.02])
    result = _run({"loss": (steps, loss)})
    assert "plateau" not in _kinds(result, "warn", "fail")


def test_every_finding_kind_has_a_marker_letter() -> None:
    assert set(KIND_CODES) == set(KINDS)
