"""The GPU paths on a real CUDA device: precisions, channels-last, compile, resident data, host syncs, resume,
the checks and the range test in the recipe's precision, torchrun with nccl. Skipped without CUDA (CI has none);
``benchmarks/gpu_check.sh`` runs them on a GPU machine with ``pytest -m gpu``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dlcheck.recipe import load_recipe
from dlcheck.train import Trainer, TrainingEvents

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]

RECIPES = Path(__file__).parents[2] / "recipes"
DIGITS_CNN = RECIPES / "digits_cnn.yaml"
DIGITS_MLP = RECIPES / "digits_mlp.yaml"


def _train(tmp_path: Path, recipe: Path, *overrides: str, events: TrainingEvents | None = None):
    loaded = load_recipe(recipe, ["device=cuda", "logging.tensorboard=false", *overrides])
    return Trainer(loaded, run_directory=tmp_path / "run", events=events).run()


@pytest.mark.parametrize(
    "options",
    [
        ["train.precision=fp32"],
        ["train.precision=bf16-mixed"],
        ["train.precision=fp16-mixed"],
        ["train.precision=bf16-mixed", "train.channels_last=true"],
        pytest.param(
            ["train.precision=bf16-mixed", "train.compile=true"],
            # torch 2.11's compiler uses torch.jit.script_method internally, which it also deprecates
            marks=[pytest.mark.slow, pytest.mark.filterwarnings("ignore:.*script_method.*:DeprecationWarning")],
        ),
    ],
    ids=["fp32", "bf16", "fp16", "bf16-channels-last", "bf16-compile"],
)
def test_digits_cnn_learns_on_cuda(tmp_path: Path, options: list[str]) -> None:
    result = _train(tmp_path, DIGITS_CNN, "train.epochs=4", *options)
    assert result.status == "completed", result.message
    assert result.final_metrics["val/accuracy"] > 0.9


class _NoSyncInsideWindows(TrainingEvents):
    """Make any synchronising CUDA call an error between logging windows (``torch.cuda.set_sync_debug_mode``).

    ``on_batch`` runs after each optimiser step; the logging window (the one allowed read-back) comes right after
    the step whose global number is a multiple of ``every``, and the epoch's end after its last batch."""

    def __init__(self, every: int) -> None:
        self.every, self.steps, self.batches = every, 0, 0

    def on_epoch_start(self, epoch: int, batches: int, start_batch: int) -> None:
        self.batches = batches
        torch.cuda.set_sync_debug_mode("error")

    def on_batch(self, epoch: int, batch: int) -> None:
        self.steps += 1
        boundary = self.steps % self.every == 0 or batch + 1 == self.batches
        torch.cuda.set_sync_debug_mode("default" if boundary else "error")

    def on_end(self, result) -> None:  # type: ignore[no-untyped-def]
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.filterwarnings("ignore:Synchronization debug mode is a prototype feature")
@pytest.mark.parametrize("precision", ["fp32", "bf16-mixed"])
def test_no_host_sync_inside_a_logging_window(tmp_path: Path, precision: str) -> None:
    watcher = _NoSyncInsideWindows(every=10)
    try:
        result = _train(
            tmp_path,
            DIGITS_CNN,
            "train.epochs=2",
            "logging.every_steps=10",
            f"train.precision={precision}",
            "train.gradient_clip={max_norm: 1.0}",  # the clipped norm must stay on the device too
            events=watcher,
        )
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert result.status == "completed", result.message
    assert watcher.steps == result.global_step


def test_resident_data_stays_on_the_gpu() -> None:
    from dlcheck.engine.parts import as_parts

    parts = as_parts(DIGITS_MLP, overrides=["device=cuda"])
    inputs, targets = parts.first_batch(batch_size=16)
    assert inputs.device.type == "cuda" and targets.device.type == "cuda"


def test_resume_on_cuda_is_exact_in_deterministic_mode(tmp_path: Path) -> None:
    common = ("train.epochs=3", "train.deterministic=true", "early_stopping=null")
    full = _train(tmp_path / "full", DIGITS_MLP, *common)
    cut = _train(tmp_path / "cut", DIGITS_MLP, *common, "train.max_steps=70")  # mid epoch 2
    assert cut.status == "max_steps"
    loaded = load_recipe(DIGITS_MLP, ["device=cuda", "logging.tensorboard=false", *common])
    resumed = Trainer(loaded, resume=str(tmp_path / "cut" / "run")).run()
    assert resumed.status == "completed", resumed.message
    assert [row["train/loss"] for row in resumed.history] == [row["train/loss"] for row in full.history]
    assert [row["val/loss"] for row in resumed.history] == [row["val/loss"] for row in full.history]


def test_sync_batchnorm_in_one_process_is_a_warning_on_cuda(tmp_path: Path) -> None:
    result = _train(tmp_path, DIGITS_CNN, "train.epochs=1", "train.sync_batchnorm=true")
    assert result.status == "completed"
    assert any("sync_batchnorm has no effect" in warning for warning in result.warnings)


def test_babysit_on_cuda_runs_the_checks_in_the_recipes_bf16() -> None:
    from dlcheck import babysit

    report = babysit(DIGITS_CNN, quick=True, overrides=["device=cuda", "train.precision=bf16-mixed"])
    assert report.status in ("pass", "warn"), [(c.name, c.status, c.summary) for c in report.checks]
    assert report["overfit_batch"].metrics["precision"] == "bf16-mixed"


def test_lr_find_on_cuda_restores_the_model(tmp_path: Path) -> None:
    from dlcheck import lr_find

    found = lr_find(DIGITS_CNN, overrides=["device=cuda", "train.precision=bf16-mixed"])
    assert found.result.checksum.restored
    assert found.result.suggested_lr is not None


@pytest.mark.slow
def test_torchrun_one_process_uses_nccl(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=1",
        "-m",
        "dlcheck",
        "train",
        str(DIGITS_MLP),
        "--set",
        "device=cuda",
        "--set",
        "train.epochs=2",
        "--run-dir",
        str(tmp_path / "run"),
        "--quiet",
    ]
    environment = {**os.environ, "NCCL_DEBUG": "INFO"}
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-3000:]
    assert "NCCL INFO" in output  # the nccl backend, not gloo
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()
