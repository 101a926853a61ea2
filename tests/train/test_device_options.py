"""Recipe options for fast devices: channels_last, deterministic, the device-memory budget of resident data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from dlcheck.data.batching import LoaderBatcher, TensorBatcher, make_batcher
from dlcheck.data.placement import fits_on_device
from dlcheck.recipe import parse_recipe
from dlcheck.train import Trainer

CNN = """
name: layout
seed: 1
data: {source: digits, val_fraction: 0.2}
model:
  layers:
    - {type: conv2d, out: 8, kernel: 3, padding: same}
    - {type: relu}
    - {type: maxpool2d, kernel: 2}
    - {type: linear, out: 10}
optimizer: {name: adam, lr: 3.0e-3}
train: {epochs: 1, batch_size: 64}
logging: {tensorboard: false}
device: cpu
"""


def _train(tmp_path: Path, name: str, *overrides: str):
    loaded = parse_recipe(CNN, source="cnn.yaml", directory=tmp_path, overrides=overrides)
    return Trainer(loaded, run_directory=tmp_path / name, handle_signals=False).run()


def test_channels_last_trains_the_same_model(tmp_path: Path) -> None:
    plain = _train(tmp_path, "plain")
    nhwc = _train(tmp_path, "nhwc", "train.channels_last=true")
    # Same arithmetic in another memory order: equal up to float summation order.
    assert math.isclose(plain.final_metrics["val/loss"], nhwc.final_metrics["val/loss"], rel_tol=1e-4)
    saved = torch.load(tmp_path / "nhwc" / "checkpoints" / "last.pt", weights_only=False)["model"]
    assert not any(key.startswith("model.") for key in saved)  # the wrapper is not in the checkpoint


def test_channels_last_on_vectors_is_a_warning(tmp_path: Path) -> None:
    text = CNN.replace("{source: digits, val_fraction: 0.2}", "{source: spirals, samples: 300}").replace(
        "    - {type: conv2d, out: 8, kernel: 3, padding: same}\n    - {type: relu}\n    - {type: maxpool2d, kernel: 2}\n",
        "",
    )
    loaded = parse_recipe(text.replace("out: 10", "out: 3"), directory=tmp_path, overrides=["train.channels_last=true"])
    result = Trainer(loaded, run_directory=tmp_path / "run", handle_signals=False).run()
    assert any("channels_last has no effect" in warning for warning in result.warnings)


def test_deterministic_is_accepted_on_cpu(tmp_path: Path) -> None:
    assert _train(tmp_path, "det", "train.deterministic=true").status == "completed"


def test_resident_data_always_fits_on_the_cpu() -> None:
    inputs, targets = torch.zeros(100, 4), torch.zeros(100, dtype=torch.long)
    assert fits_on_device(inputs, targets, torch.device("cpu"))
    batcher = make_batcher((inputs, targets), batch_size=10, shuffle=True, seed=0, device=torch.device("cpu"))
    assert isinstance(batcher, TensorBatcher)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_data_too_large_for_the_gpu_streams_from_pinned_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    free, _ = torch.cuda.mem_get_info()
    inputs, targets = torch.zeros(1000, 8), torch.zeros(1000, dtype=torch.long)
    monkeypatch.setattr("dlcheck.data.placement.DEVICE_DATA_BUDGET", 1000 * 8 * 4 / free / 2)  # half of what it needs
    batcher = make_batcher((inputs, targets), batch_size=100, shuffle=True, seed=0, device=torch.device("cuda"))
    assert isinstance(batcher, LoaderBatcher)
    batch_inputs, _ = next(iter(batcher.epoch(0)))
    assert batch_inputs.device.type == "cuda"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_channels_last_bf16(tmp_path: Path) -> None:
    result = _train(tmp_path, "gpu", "device=cuda", "train.channels_last=true", "train.precision=bf16-mixed")
    assert result.status == "completed"
    assert torch.backends.cudnn.benchmark  # on unless train.deterministic
