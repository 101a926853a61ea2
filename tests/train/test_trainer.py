"""The training loop, end to end on tiny data: what a user of `dlcheck train` relies on."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from dlcheck.errors import DlcheckError
from dlcheck.recipe import parse_recipe
from dlcheck.train import Trainer, TrainingEvents

DIGITS_CNN = """
name: tiny-cnn
seed: 3
data: {source: digits, val_fraction: 0.2, augment: {translate: 1, flip: horizontal}}
model:
  layers:
    - {type: conv2d, out: 8, kernel: 3, padding: same}
    - {type: relu}
    - {type: maxpool2d, kernel: 2}
    - {type: flatten}
    - {type: dropout, p: 0.3}
    - {type: linear, out: 10}
optimizer: {name: adam, lr: 3.0e-3}
schedule: {name: cosine, interval: step, warmup: {steps: 5}}
train: {epochs: 3, batch_size: 64}
logging: {every_steps: 4}
device: cpu
"""


def _loaded(text: str, tmp_path: Path, *overrides: str):
    return parse_recipe(text, source="test.yaml", directory=tmp_path, overrides=overrides)


class StopAfter(TrainingEvents):
    """Ask the trainer to stop after `batches` micro-batches, exactly as Ctrl-C does."""

    def __init__(self, batches: int) -> None:
        self.batches = batches
        self.seen = 0
        self.trainer: Trainer | None = None

    def on_batch(self, epoch: int, batch: int) -> None:
        self.seen += 1
        if self.seen == self.batches and self.trainer is not None:
            self.trainer.request_stop()


class CrashAfter(TrainingEvents):
    """Die mid-epoch without any chance to write a checkpoint, as `kill -9` does."""

    def __init__(self, batches: int) -> None:
        self.batches = batches
        self.seen = 0

    def on_batch(self, epoch: int, batch: int) -> None:
        self.seen += 1
        if self.seen == self.batches:
            raise RuntimeError("simulated kill")


def _history(result) -> list[dict[str, float]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in result.history]


@pytest.mark.slow
def test_digits_mlp_learns_and_writes_a_complete_run_directory(tmp_path: Path) -> None:
    recipe = Path(__file__).parents[2] / "recipes" / "digits_mlp.yaml"
    from dlcheck.recipe import load_recipe

    loaded = load_recipe(recipe, ["train.epochs=4", "device=cpu"])
    result = Trainer(loaded, run_directory=tmp_path / "run", handle_signals=False).run()
    assert result.status == "completed", result.message
    assert result.final_metrics["val/accuracy"] > 0.9
    assert result.history[-1]["train/loss"] < result.history[0]["train/loss"]
    run = tmp_path / "run"
    assert (run / "recipe.yaml").is_file() and (run / "run.json").is_file()
    assert json.loads((run / "run.json").read_text())["seed"] == 0
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "checkpoints" / "best.pt").is_file()
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4]
    assert all("val/accuracy" in r for r in epochs)
    assert any(r["kind"] == "step" and "lr" in r for r in records)


@pytest.mark.slow
def test_stop_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    loaded = _loaded(DIGITS_CNN, tmp_path)
    full = Trainer(loaded, run_directory=tmp_path / "full", handle_signals=False).run()
    assert full.status == "completed"

    stopper = StopAfter(batches=23 + 10)  # epoch 2 of 3 (23 batches per epoch), mid-epoch
    trainer = Trainer(loaded, events=stopper, run_directory=tmp_path / "cut", handle_signals=False)
    stopper.trainer = trainer
    cut = trainer.run()
    assert cut.status == "interrupted"
    assert cut.epochs_completed == 1 and 0 < cut.global_step < full.global_step

    resumed = Trainer(loaded, resume=str(tmp_path / "cut"), handle_signals=False).run()
    assert resumed.status == "completed"
    assert resumed.run_directory == tmp_path / "cut"
    assert _history(resumed) == _history(full)  # exactly: same floats, not merely close
    # The JSONL log reads like the uninterrupted run's (records past the checkpoint were dropped).
    lines = lambda run: [  # noqa: E731
        {k: v for k, v in json.loads(line).items()} for line in (run / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["step"] for r in lines(tmp_path / "cut")] == [r["step"] for r in lines(tmp_path / "full")]


@pytest.mark.slow
def test_a_killed_run_resumes_from_the_last_epoch_checkpoint_exactly(tmp_path: Path) -> None:
    loaded = _loaded(DIGITS_CNN, tmp_path)
    full = Trainer(loaded, run_directory=tmp_path / "full", handle_signals=False).run()
    with pytest.raises(RuntimeError, match="simulated kill"):
        Trainer(loaded, events=CrashAfter(23 + 23 + 5), run_directory=tmp_path / "killed", handle_signals=False).run()
    resumed = Trainer(loaded, resume=str(tmp_path / "killed" / "checkpoints" / "last.pt"), handle_signals=False).run()
    assert _history(resumed) == _history(full)


def test_resume_refuses_a_different_model(tmp_path: Path) -> None:
    loaded = _loaded(DIGITS_CNN, tmp_path, "train.epochs=1")
    Trainer(loaded, run_directory=tmp_path / "run", handle_signals=False).run()
    other = _loaded(DIGITS_CNN, tmp_path, "train.epochs=1", "model.layers.0.out=4")
    with pytest.raises(DlcheckError, match="different `model` section"):
        Trainer(other, resume=str(tmp_path / "run"), handle_signals=False).run()


def test_resume_auto_without_a_previous_run_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = _loaded(DIGITS_CNN, tmp_path)
    with pytest.raises(DlcheckError, match="no checkpoint of a run named 'tiny-cnn'"):
        Trainer(loaded, resume="auto", handle_signals=False).run()


def test_a_diverging_run_stops_at_the_first_non_finite_step(tmp_path: Path) -> None:
    text = """
name: diverge
data: {source: spirals, samples: 600}
model: {layers: [{type: linear, out: 32}, {type: relu}, {type: linear, out: 3}]}
optimizer: {name: sgd, lr: 1.0e+6}
train: {epochs: 5, batch_size: 30}
logging: {tensorboard: false, every_steps: 50}
device: cpu
"""
    result = Trainer(_loaded(text, tmp_path), run_directory=tmp_path / "run", handle_signals=False).run()
    assert result.status == "non_finite"
    step = int(result.message.split("at step ")[1].split(" ")[0])
    assert 1 <= step < 50  # found at its exact step, though the host only looks every 50 steps
    assert "optimizer.lr" in result.message
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()  # no corrupted checkpoint written


def test_early_stopping_restores_the_best_weights(tmp_path: Path) -> None:
    text = """
name: early
seed: 1
data: {source: blobs, samples: 400, classes: 3, noise: 3.0}
model: {layers: [{type: linear, out: 256}, {type: relu}, {type: linear, out: 3}]}
optimizer: {name: adam, lr: 0.05}
early_stopping: {monitor: val/loss, patience: 2}
train: {epochs: 40, batch_size: 20}
logging: {tensorboard: false}
device: cpu
"""
    trainer = Trainer(_loaded(text, tmp_path), run_directory=tmp_path / "run", handle_signals=False)
    result = trainer.run()
    assert result.status == "early_stopped"
    best_losses = [row["val/loss"] for row in result.history]
    assert result.best_epoch == 1 + best_losses.index(min(best_losses))
    assert result.best_epoch < result.epochs_completed
    best = torch.load(tmp_path / "run" / "checkpoints" / "best.pt", weights_only=False)
    assert best["progress"]["epoch"] == result.best_epoch


def test_gradient_accumulation_matches_the_full_batch(tmp_path: Path) -> None:
    text = """
name: accumulate
data: {source: spirals, samples: 640, val_fraction: 0.0}
model: {layers: [{type: linear, out: 32}, {type: tanh}, {type: linear, out: 3}]}
optimizer: {name: sgd, lr: 0.1}
train: {epochs: 2, batch_size: 64}
logging: {tensorboard: false}
device: cpu
"""
    whole = Trainer(_loaded(text, tmp_path), run_directory=tmp_path / "a", handle_signals=False).run()
    parts = Trainer(
        _loaded(text, tmp_path, "train.gradient_accumulation=4"), run_directory=tmp_path / "b", handle_signals=False
    ).run()
    assert whole.global_step == parts.global_step
    for a, b in zip(whole.history, parts.history, strict=True):
        assert math.isclose(a["train/loss"], b["train/loss"], rel_tol=1e-5)


def test_bf16_mixed_runs_on_cpu_and_fp16_is_refused_with_the_reason(tmp_path: Path) -> None:
    loaded = _loaded(DIGITS_CNN, tmp_path, "train.epochs=1", "train.precision=bf16-mixed")
    result = Trainer(loaded, run_directory=tmp_path / "bf16", handle_signals=False).run()
    assert result.status == "completed" and math.isfinite(result.final_metrics["train/loss"])
    with pytest.raises(DlcheckError, match="fp16-mixed needs a CUDA GPU"):
        loaded = _loaded(DIGITS_CNN.replace("device: cpu", "device: auto"), tmp_path, "train.precision=fp16-mixed")
        if torch.cuda.is_available():
            pytest.skip("a CUDA device is present")
        Trainer(loaded, run_directory=tmp_path / "fp16", handle_signals=False).run()


def test_asking_for_cuda_without_one_is_a_clear_error(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    loaded = _loaded(DIGITS_CNN, tmp_path, "device=cuda")
    with pytest.raises(DlcheckError, match="no CUDA device"):
        Trainer(loaded, run_directory=tmp_path / "run", handle_signals=False).run()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_run_with_fp16_mixed_learns_like_fp32(tmp_path: Path) -> None:
    # Against fp32, not a fixed accuracy: this tiny recipe (flip augmentation, dropout, 3 epochs of cosine decay)
    # reaches about 0.33 in fp32 too; the first GPU run's 0.33 in fp16 was the recipe, not the scaler.
    results = {}
    for precision in ("fp32", "fp16-mixed"):
        loaded = _loaded(DIGITS_CNN, tmp_path, "device=cuda", f"train.precision={precision}")
        results[precision] = Trainer(loaded, run_directory=tmp_path / precision, handle_signals=False).run()
    assert all(result.status == "completed" for result in results.values())
    fp32, fp16 = (results[name].final_metrics for name in ("fp32", "fp16-mixed"))
    assert abs(fp16["train/loss"] - fp32["train/loss"]) < 0.05 * fp32["train/loss"]
    assert abs(fp16["val/accuracy"] - fp32["val/accuracy"]) < 0.05
    scaler = torch.load(tmp_path / "fp16-mixed" / "checkpoints" / "last.pt", weights_only=False)["scaler"]
    assert scaler and 0 < scaler["scale"] <= 65536.0  # the fp16 loss scaler ran (and never overflowed to inf)


@pytest.mark.slow
def test_max_steps_mid_epoch_keeps_the_position_and_resumes_exactly(tmp_path: Path) -> None:
    loaded = _loaded(DIGITS_CNN, tmp_path)
    full = Trainer(loaded, run_directory=tmp_path / "full", handle_signals=False).run()
    short = Trainer(
        _loaded(DIGITS_CNN, tmp_path, "train.max_steps=30"), run_directory=tmp_path / "cut", handle_signals=False
    ).run()
    assert short.status == "max_steps" and short.global_step == 30
    assert short.epochs_completed == 1  # epoch 2 was not finished, and is not reported as if it were
    resumed = Trainer(loaded, resume=str(tmp_path / "cut"), handle_signals=False).run()
    assert _history(resumed) == _history(full)


def test_run_dir_of_another_run_is_refused(tmp_path: Path) -> None:
    loaded = _loaded(DIGITS_CNN, tmp_path, "train.epochs=1")
    Trainer(loaded, run_directory=tmp_path / "run", handle_signals=False).run()
    with pytest.raises(DlcheckError, match="already holds a run"):
        Trainer(loaded, run_directory=tmp_path / "run", handle_signals=False).run()


def test_resume_auto_ignores_runs_of_a_longer_name(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    longer = _loaded(DIGITS_CNN.replace("name: tiny-cnn", "name: tiny-cnn-wide"), tmp_path, "train.epochs=1")
    Trainer(longer, handle_signals=False).run()
    with pytest.raises(DlcheckError, match="no checkpoint of a run named 'tiny-cnn'"):
        Trainer(_loaded(DIGITS_CNN, tmp_path), resume="auto", handle_signals=False).run()


def test_non_finite_inputs_are_refused_before_training(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b,label\n1,2,0\n3,nan,1\n5,6,0\n7,8,1\n")
    text = (
        "data: {source: csv, path: data.csv, val_fraction: 0.0}\n"
        "model: {layers: [{type: linear, out: 2}]}\ntrain: {epochs: 1, batch_size: 2}\ndevice: cpu\n"
    )
    with pytest.raises(DlcheckError, match="NaN or infinite inputs"):
        Trainer(_loaded(text, tmp_path), run_directory=tmp_path / "run", handle_signals=False).run()
