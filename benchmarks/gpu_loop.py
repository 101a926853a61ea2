"""dlcheck's training loop against a minimal hand-written GPU loop and Lightning, interleaved in one run.

The case is the CIFAR-sized ResNet-style CNN (``benchmarks/recipes/cifar_sized_cnn.yaml``: 1.9M parameters,
50,000 synthetic 3x32x32 images, batch 512, SGD with Nesterov momentum, one-cycle LR, label smoothing) in
bf16 autocast, so each step is a few milliseconds of GPU work and a loop's host-side overhead shows.

- ``hand-written``: the loop a careful engineer writes for speed (the airbench habit): data standardised
  once and resident on the GPU, a ``randperm`` per epoch on the GPU, index slices, bf16 autocast, the
  loss summed on the device and read once per epoch, the LR set per step from the same one-cycle
  function. No validation, no checkpoint, no logging. The ceiling for a generic trainer.
- ``dlcheck``: ``dlcheck train`` on the same recipe (the same model, built from the recipe with the same
  seed), validation off and TensorBoard off; it still writes its JSONL log every 20 steps and a checkpoint
  per epoch, and judges the live curve, as a user's run does.
- ``Lightning (lean)``: ``Trainer.fit`` with ``precision="bf16-mixed"``, in its leanest setting (no logger,
  checkpoint, progress bar or summary), fed the same GPU-resident batches by an iterable, so its loop,
  not a DataLoader, is what is measured; ``Lightning (DataLoader)``: the same, fed as its documentation
  does it, by a ``DataLoader`` over CPU tensors (shuffled, pinned memory, 4 workers).

Each variant runs ``--epochs`` epochs per round, ``--rounds`` rounds interleaved; the first epoch of every
run (cuDNN autotuning, allocator warm-up) is dropped, and the table gives the median epoch time of the
rest, synchronised with the device at epoch boundaries. Run on a machine with CUDA:
``python benchmarks/gpu_loop.py``; ``--device cpu --quick`` checks the script on a CPU.
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlcheck.model import build_model
from dlcheck.recipe import load_recipe
from dlcheck.train import Trainer, TrainingEvents

RECIPE = Path(__file__).parent / "recipes" / "cifar_sized_cnn.yaml"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _one_cycle(progress: float, peak: float) -> float:
    """The one-cycle shape dlcheck's ``one_cycle`` schedule uses: cosine up for 30%, cosine down to peak/1e4."""
    warm = 0.3
    if progress < warm:
        return peak / 25 + (peak - peak / 25) * (1 - math.cos(math.pi * progress / warm)) / 2
    return peak / 1e4 + (peak - peak / 1e4) * (1 + math.cos(math.pi * (progress - warm) / (1 - warm))) / 2


class _GpuBatches:
    """GPU-resident, shuffled batches: a ``randperm`` on the device each epoch, then index slices."""

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int, seed: int = 0) -> None:
        self.inputs, self.targets, self.batch_size = inputs, targets, batch_size
        self.generator = torch.Generator(device=inputs.device).manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.inputs) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.inputs), device=self.inputs.device, generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.inputs[index], self.targets[index]


def _data(samples: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    sys.path.insert(0, str(RECIPE.parent))  # the recipe's own data module, as its factory finds it
    import cifar_sized

    (inputs, targets), _ = cifar_sized.make(train_samples=samples, val_samples=0)
    inputs = inputs.to(device)
    mean = inputs.mean(dim=(0, 2, 3), keepdim=True)  # (1, 3, 1, 1): per channel, as `normalize: auto`
    std = inputs.std(dim=(0, 2, 3), keepdim=True)
    return (inputs - mean) / std, targets.to(device)


def _model(overrides: list[str], device: torch.device, channels_last: bool) -> nn.Module:
    loaded = load_recipe(RECIPE, overrides)
    model = build_model(loaded.recipe.model, (3, 32, 32), seed=loaded.recipe.seed, directory=loaded.directory)
    model = model.to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def _optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)


def run_hand_written(
    overrides: list[str], samples: int, batch_size: int, epochs: int, device: torch.device, channels_last: bool
) -> list[float]:
    inputs, targets = _data(samples, device)
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    model = _model(overrides, device, channels_last)
    peak = 0.2
    optimizer = _optimizer(model, peak)
    loss_function = nn.CrossEntropyLoss(label_smoothing=0.1)
    batches = _GpuBatches(inputs, targets, batch_size)
    total_steps, step = epochs * len(batches), 0
    times: list[float] = []
    for _ in range(epochs):
        _sync(device)
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        for batch_inputs, batch_targets in batches:
            for group in optimizer.param_groups:
                group["lr"] = _one_cycle(step / total_steps, peak)
            with torch.autocast(device.type, dtype=torch.bfloat16):
                loss = loss_function(model(batch_inputs), batch_targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum += loss.detach()
            step += 1
        loss_sum.item()  # the one read-back per epoch
        times.append(time.perf_counter() - started)
    return times


class _EpochClock(TrainingEvents):
    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.times: list[float] = []

    def on_epoch_start(self, epoch: int, batches: int, start_batch: int) -> None:
        _sync(self.device)
        self.started = time.perf_counter()

    def on_epoch_end(self, record) -> None:  # type: ignore[no-untyped-def]
        _sync(self.device)
        self.times.append(time.perf_counter() - self.started)


def run_dlcheck(overrides: list[str], device: torch.device, channels_last: bool) -> list[float]:
    settings = [
        *overrides,
        f"device={device.type}",
        "train.precision=bf16-mixed",
        f"train.channels_last={'true' if channels_last else 'false'}",
        "logging.tensorboard=false",
    ]
    loaded = load_recipe(RECIPE, settings)
    clock = _EpochClock(device)
    with tempfile.TemporaryDirectory() as run_directory:
        Trainer(loaded, events=clock, run_directory=Path(run_directory), handle_signals=False).run()
    return clock.times


def run_lightning(
    overrides: list[str], samples: int, batch_size: int, epochs: int, device: torch.device, *, resident: bool = True
) -> list[float]:
    import pytorch_lightning as lightning

    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    inputs, targets = _data(samples, device)
    batches: Any = _GpuBatches(inputs, targets, batch_size)
    if not resident:  # the way Lightning's docs feed it: a DataLoader over CPU tensors, pinned, with workers
        dataset = torch.utils.data.TensorDataset(inputs.cpu(), targets.cpu())
        batches = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, shuffle=True, num_workers=4, pin_memory=True, persistent_workers=True
        )
    total_steps = epochs * len(batches)

    class Module(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = _model(overrides, torch.device("cpu"), channels_last=False)
            self.loss_function = nn.CrossEntropyLoss(label_smoothing=0.1)

        def training_step(self, batch, batch_index):  # type: ignore[no-untyped-def]
            batch_inputs, batch_targets = batch
            return self.loss_function(self.model(batch_inputs), batch_targets)

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            optimizer = _optimizer(self, 0.2)
            schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _one_cycle(step / total_steps, 1.0))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    class Clock(lightning.Callback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_train_epoch_start(self, trainer, module) -> None:  # type: ignore[no-untyped-def]
            _sync(device)
            self.started = time.perf_counter()

        def on_train_epoch_end(self, trainer, module) -> None:  # type: ignore[no-untyped-def]
            _sync(device)
            self.times.append(time.perf_counter() - self.started)

    clock = Clock()
    trainer = lightning.Trainer(
        callbacks=[clock],
        max_epochs=epochs,
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=1,
        precision="bf16-mixed",
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(Module(), batches)
    return clock.times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--epochs", type=int, default=4, help="Epochs per run; the first is dropped.")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds of every variant.")
    parser.add_argument("--quick", action="store_true", help="128 samples, batch 32, 2 epochs, 1 round.")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run with --device cpu --quick to check the script")
        return 1
    samples, batch_size, epochs, rounds = 50_000, 512, args.epochs, args.rounds
    if args.quick:
        samples, batch_size, epochs, rounds = 128, 32, 2, 1
    overrides = [
        f"data.args.train_samples={samples}",
        "data.args.val_samples=0",
        f"train.batch_size={batch_size}",
        f"train.epochs={epochs}",
    ]
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {name}; {samples} images, batch {batch_size}, bf16 autocast")
    print(f"{rounds} rounds x {epochs} epochs per variant, interleaved; first epoch of each run dropped")

    variants: dict[str, Callable[[], list[float]]] = {
        "hand-written": lambda: run_hand_written(overrides, samples, batch_size, epochs, device, False),
        "dlcheck": lambda: run_dlcheck(overrides, device, False),
        "hand-written + channels_last": lambda: run_hand_written(overrides, samples, batch_size, epochs, device, True),
        "dlcheck + channels_last": lambda: run_dlcheck(overrides, device, True),
    }
    try:
        import pytorch_lightning  # noqa: F401

        variants["Lightning (lean)"] = lambda: run_lightning(overrides, samples, batch_size, epochs, device)
        variants["Lightning (DataLoader)"] = lambda: run_lightning(
            overrides, samples, batch_size, epochs, device, resident=False
        )
    except ImportError:
        print("pytorch_lightning is not installed: no Lightning row")
    epoch_times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            times = run()
            epoch_times[name] += times[1:] or times

    steps_per_epoch = math.ceil(samples / batch_size)
    median = {name: statistics.median(times) for name, times in epoch_times.items()}
    print(f"\n{'loop':<30} {'epoch s':>8} {'steps/s':>8} {'images/s':>9}  ratio")
    for name, seconds in median.items():
        reference = "hand-written + channels_last" if "channels_last" in name else "hand-written"
        ratio = median[reference] / seconds
        print(
            f"{name:<30} {seconds:>8.3f} {steps_per_epoch / seconds:>8.1f} {samples / seconds:>9.0f}  "
            f"{ratio:.3f}x {reference}"
        )
    for anchor in ("Lightning (lean)", "Lightning (DataLoader)"):
        if anchor in median:
            print(f"dlcheck / {anchor}: {median[anchor] / median['dlcheck']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
