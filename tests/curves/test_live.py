"""The live monitor inside `dlcheck train`: spikes recorded with their samples, divergence stops the run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dlcheck.curves.diagnosis import diagnose
from dlcheck.curves.live import LiveMonitor, SpikeRecorder
from tests.cli_runner import run_cli

DATA_MODULE = '''
import torch


def regression():
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(640, 4, generator=generator) * 3.0
    targets = inputs @ torch.randn(4, 1, generator=generator)
    return (inputs[:512], targets[:512]), (inputs[512:], targets[512:])


class FlakyDataset(torch.utils.data.Dataset):
    """Sample 7 reads back as garbage once: on its third read (the scan reads it, then each epoch once)."""

    def __init__(self, inputs, targets):
        self.inputs, self.targets, self.reads = inputs, targets, 0

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, index):
        inputs, target = self.inputs[index], self.targets[index]
        if index == 7:
            self.reads += 1
            if self.reads == 3:
                inputs, target = inputs * 1000.0, (target + 1) % 3
        return inputs, target


def flaky():
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(640, 8, generator=generator)
    targets = (inputs @ torch.randn(8, 3, generator=generator)).argmax(1)
    return FlakyDataset(inputs[:512], targets[:512]), (inputs[512:], targets[512:])
'''

REGRESSION = """
name: blowup
data: {factory: "live_data:regression", normalize: none}
model: {layers: [{type: linear, out: 1}]}
loss: mse
optimizer: {name: sgd, lr: 0.15}
train: {epochs: 20, batch_size: 32}
logging: {directory: runs, every_steps: 1, tensorboard: false}
device: cpu
"""

FLAKY = """
name: flaky
data: {factory: "live_data:flaky", normalize: none}
model: {layers: [{type: linear, out: 32}, {type: relu}, {type: linear, out: 3}]}
optimizer: {name: adam, lr: 0.003}
train: {epochs: 4, batch_size: 16, gradient_clip: {max_norm: 1.0}}
logging: {directory: runs, every_steps: 1, tensorboard: false}
device: cpu
"""

HEALTHY = """
name: tiny-digits
data: {source: digits, val_fraction: 0.2}
model: {layers: [{type: linear, out: 32}, {type: relu}, {type: linear, out: 10}]}
optimizer: {name: adam, lr: 3.0e-3}
train: {epochs: 6, batch_size: 32}
logging: {directory: runs, every_steps: 5, tensorboard: false}
device: cpu
"""


def _recipe(tmp_path: Path, text: str, name: str) -> Path:
    (tmp_path / "live_data.py").write_text(DATA_MODULE)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_the_monitor_flags_a_spike_and_ignores_noise() -> None:
    monitor = LiveMonitor()
    generator = np.random.default_rng(0)
    losses = 2.0 * np.exp(-np.arange(300) / 100.0) + 0.1
    noisy = losses * np.exp(generator.normal(0.0, 0.1, losses.size))
    noisy[200] = 5.0
    spikes = [monitor.observe(step, float(loss)) for step, loss in enumerate(noisy, 1)]
    assert [spike.step for spike in spikes if spike is not None] == [201]
    assert not monitor.diverged
    assert monitor.observe(301, math.nan) is None  # non-finite losses are the trainer's to stop on


def test_the_monitor_calls_a_blow_up_divergence_after_three_windows() -> None:
    monitor = LiveMonitor()
    decided = None
    for step in range(1, 80):
        loss = 2.0 * math.exp(-step / 10.0) + 0.1 if step <= 40 else 0.1 * 1.5 ** (step - 40)
        monitor.observe(step, loss)
        if monitor.diverged and decided is None:
            decided = step
    assert decided is not None and 40 < decided <= 50
    assert monitor.divergence is not None and monitor.divergence["ratio"] >= 4.0
    assert "diverged at step 47" in monitor.divergence_text("step 47")


def test_the_spike_recorder_appends_json_lines(tmp_path: Path) -> None:
    monitor = LiveMonitor()
    recorder = SpikeRecorder(tmp_path)
    for step in range(1, 60):
        monitor.observe(step, 1.0)
    spike = monitor.observe(60, 30.0)
    assert spike is not None
    recorder.record(spike, epoch=2, batch=5, batch_loss=250.0, samples=[3, 14, 15])
    record = json.loads((tmp_path / "spikes.jsonl").read_text())
    assert (record["step"], record["epoch"], record["batch"], record["samples"]) == (60, 2, 5, [3, 14, 15])


def test_train_stops_a_diverging_run(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, monkeypatch, "train", str(_recipe(tmp_path, REGRESSION, "blowup")), "--quiet")
    assert code == 1, err
    assert "diverged:" in out and "the training loss diverged at step" in out and "Traceback" not in err
    # The monitor off: the same run goes on until the loss overflows.
    code, out, _ = run_cli(
        capsys, monkeypatch, "train", str(tmp_path / "blowup.yaml"), "--quiet", "--set", "monitor.enabled=false"
    )
    assert code == 1 and "non_finite" in out


def test_train_records_the_samples_of_a_corrupt_batch(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, monkeypatch, "train", str(_recipe(tmp_path, FLAKY, "flaky")), "--quiet")
    assert code == 0, err
    assert "1 loss spike recorded in" in out
    (spikes_file,) = (tmp_path / "runs").glob("flaky-*/spikes.jsonl")
    (record,) = [json.loads(line) for line in spikes_file.read_text().splitlines()]
    assert record["epoch"] == 1 and 7 in record["samples"] and record["batch_loss"] > 10 * record["reference"]
    # The offline diagnosis of the same run finds the spike at the same step.
    result = diagnose([spikes_file.parent]).runs[0]
    assert [finding.metrics["peak_step"] for finding in result.findings if finding.kind == "spike"] == [record["step"]]


@pytest.mark.slow
def test_a_healthy_dlcheck_run_is_diagnosed_with_its_own_facts(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, monkeypatch, "train", str(_recipe(tmp_path, HEALTHY, "tiny")), "--quiet")
    assert code == 0, err
    (run_directory,) = (tmp_path / "runs").glob("tiny-digits-*")
    assert not (run_directory / "spikes.jsonl").exists()
    result = diagnose([run_directory]).runs[0]
    assert result.run.format == "dlcheck"
    assert (result.chance.classes, result.chance.source) == (10, "run.json")  # type: ignore[union-attr]
    assert (result.val_size, result.run.facts.steps_per_epoch) == (359, 45.0)
    assert result.status == "pass", [finding.message for finding in result.findings]
