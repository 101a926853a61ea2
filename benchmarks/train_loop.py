"""Steps per second of ``dlcheck train``'s loop against hand-written PyTorch loops, side by side.

Anchors, all on the same model, data, optimiser, batch size and device, measured in the same process
and interleaved (these machines are noisy: the table reports medians over repeats):

- ``hand-written (DataLoader)``: the loop most people write: ``DataLoader(TensorDataset, shuffle=True)``,
  forward, loss, backward, step. This is the anchor of the target ratio (>= 1.0x).
- ``hand-written (slicing)``: the same loop over ``randperm`` index slices of device tensors, what fast
  trainers do (airbench); the ceiling a generic trainer can approach.
- ``Lightning``: PyTorch Lightning's ``Trainer.fit`` on the same model and DataLoader, in its leanest setting
  (no logger, checkpointing, progress bar or model summary) and with its defaults (a logger and a
  checkpoint per epoch, as dlcheck does), when ``pytorch_lightning`` is installed (``make bench``
  installs it). Target: dlcheck >= 2x.

dlcheck's figure covers its whole epoch loop: per-step NaN guard, metric sums, logging every 10 steps,
end-of-epoch checkpoint writes (TensorBoard off, no validation split so all three do the same work).

Run: ``make bench`` or ``python benchmarks/train_loop.py [--repeats 5] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from dlcheck.recipe import parse_recipe
from dlcheck.train import Trainer, TrainingEvents

CASES = {
    # name: (data section, hidden layers, batch size, epochs)
    "digits MLP, batch 32": ("{source: digits, val_fraction: 0.0}", [128], 32, 3),
    "spirals 20k MLP, batch 128": ("{source: spirals, samples: 20000, val_fraction: 0.0}", [64, 64], 128, 2),
}


class _Clock(TrainingEvents):
    def on_start(self, info) -> None:  # type: ignore[no-untyped-def]
        self.started = time.perf_counter()
        self.steps_per_epoch = info.steps_per_epoch

    def on_end(self, result) -> None:  # type: ignore[no-untyped-def]
        self.seconds = time.perf_counter() - self.started
        self.steps = result.global_step


def _recipe_text(data: str, hidden: list[int], batch_size: int, epochs: int, classes: int, device: str) -> str:
    layers = "".join(f"    - {{type: linear, out: {width}}}\n    - {{type: relu}}\n" for width in hidden)
    return (
        f"name: bench\nseed: 0\ndata: {data}\nmodel:\n  layers:\n{layers}    - {{type: linear, out: {classes}}}\n"
        f"optimizer: {{name: adam, lr: 1.0e-3}}\ntrain: {{epochs: {epochs}, batch_size: {batch_size}}}\n"
        f"logging: {{tensorboard: false}}\ndevice: {device}\n"
    )


def run_dlcheck(text: str, directory: Path) -> tuple[float, int]:
    loaded = parse_recipe(text, source="bench.yaml", directory=directory)
    clock = _Clock()
    with tempfile.TemporaryDirectory() as run_directory:
        Trainer(loaded, events=clock, run_directory=Path(run_directory), handle_signals=False).run()
    return clock.seconds, clock.steps


def _model(inputs: int, hidden: list[int], classes: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Flatten()]
    width = inputs
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def run_hand_written(
    x: torch.Tensor,
    y: torch.Tensor,
    hidden: list[int],
    batch_size: int,
    epochs: int,
    device: torch.device,
    loader: bool,
) -> tuple[float, int]:
    classes = int(y.max()) + 1
    model = _model(x[0].numel(), hidden, classes, seed=0).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = nn.CrossEntropyLoss()
    steps = 0
    started = time.perf_counter()
    if loader:
        dataset = torch.utils.data.TensorDataset(x, y)
        data_loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
        for _ in range(epochs):
            total = torch.zeros((), device=device)
            for inputs, targets in data_loader:
                inputs, targets = inputs.to(device), targets.to(device)
                loss = loss_function(model(inputs), targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach()
                steps += 1
            total.item()
    else:
        x_device, y_device = x.to(device), y.to(device)
        generator = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            total = torch.zeros((), device=device)
            order = torch.randperm(len(x_device), generator=generator).to(device)
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
                loss = loss_function(model(x_device[index]), y_device[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.detach()
                steps += 1
            total.item()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, steps


def run_lightning(
    x: torch.Tensor,
    y: torch.Tensor,
    hidden: list[int],
    batch_size: int,
    epochs: int,
    device: torch.device,
    lean: bool = True,
) -> tuple[float, int]:
    import logging
    import warnings

    import pytorch_lightning as lightning

    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    classes = int(y.max()) + 1

    class Module(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = _model(x[0].numel(), hidden, classes, seed=0)
            self.loss_function = nn.CrossEntropyLoss()

        def training_step(self, batch, batch_index):  # type: ignore[no-untyped-def]
            inputs, targets = batch
            return self.loss_function(self.model(inputs), targets)

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    class Clock(lightning.Callback):
        # The loop alone, as for the other loops: from the first epoch's start to the end of training.
        def on_train_start(self, trainer, module) -> None:  # type: ignore[no-untyped-def]
            self.started = time.perf_counter()

        def on_train_end(self, trainer, module) -> None:  # type: ignore[no-untyped-def]
            self.seconds = time.perf_counter() - self.started

    clock = Clock()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size, shuffle=True)
    # lean: no logger, checkpoints, progress bar or summary; otherwise Lightning's defaults (CSV/TensorBoard
    # logger, a checkpoint per epoch) as users run it, minus the progress bar (no terminal here).
    options = (
        {"logger": False, "enable_checkpointing": False, "enable_model_summary": False}
        if lean
        else {"default_root_dir": tempfile.mkdtemp(prefix="lightning-bench-"), "enable_model_summary": False}
    )
    trainer = lightning.Trainer(
        callbacks=[clock],
        max_epochs=epochs,
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=1,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        **options,
    )
    module = Module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the dataloader does not have many workers" and the like
        trainer.fit(module, loader)
    return clock.seconds, int(trainer.global_step)


def _have_lightning() -> bool:
    try:
        import pytorch_lightning  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: leave as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device if args.device != "cuda" else "cuda:0")
    from dlcheck.data import load_data
    from dlcheck.recipe.schema import DataConfig

    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, {args.repeats} repeats")
    print(f"{'case':<28} {'loop':<26} {'steps/s (median)':>17} {'dlcheck ratio':>14}")
    directory = Path(__file__).parent
    for name, (data, hidden, batch_size, epochs) in CASES.items():
        loaded = parse_recipe(_recipe_text(data, hidden, batch_size, epochs, 10, args.device), directory=directory)
        bundle = load_data(DataConfig.model_validate(loaded.recipe.data.model_dump()), seed=0, directory=directory)
        assert isinstance(bundle.train, tuple)
        x, y = bundle.train
        if bundle.normalization is not None:
            x = bundle.normalization.apply(x)
        classes = bundle.num_classes or 2
        text = _recipe_text(data, hidden, batch_size, epochs, classes, args.device)
        rates: dict[str, list[float]] = {
            "dlcheck train": [],
            "hand-written (DataLoader)": [],
            "hand-written (slicing)": [],
        }
        if _have_lightning():
            rates["Lightning (lean)"] = []
            rates["Lightning (defaults)"] = []
        else:
            print("(pytorch_lightning not installed: no Lightning row; `pip install pytorch-lightning`)")
        for _ in range(args.repeats):  # interleaved, so drift hits every loop alike
            seconds, steps = run_dlcheck(text, directory)
            rates["dlcheck train"].append(steps / seconds)
            seconds, steps = run_hand_written(x, y, hidden, batch_size, epochs, device, loader=True)
            rates["hand-written (DataLoader)"].append(steps / seconds)
            seconds, steps = run_hand_written(x, y, hidden, batch_size, epochs, device, loader=False)
            rates["hand-written (slicing)"].append(steps / seconds)
            if "Lightning (lean)" in rates:
                seconds, steps = run_lightning(x, y, hidden, batch_size, epochs, device)
                rates["Lightning (lean)"].append(steps / seconds)
                seconds, steps = run_lightning(x, y, hidden, batch_size, epochs, device, lean=False)
                rates["Lightning (defaults)"].append(steps / seconds)
        ours = statistics.median(rates["dlcheck train"])
        for loop, values in rates.items():
            median = statistics.median(values)
            ratio = "" if loop == "dlcheck train" else f"{ours / median:.2f}x"
            print(f"{name:<28} {loop:<26} {median:>17.0f} {ratio:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
