"""Training throughput of ``dlcheck train`` on a GPU: steps/s, images/s and peak memory by precision and options.

Two recipes: ``recipes/digits_cnn.yaml`` (8x8 digits, tiny: measures the loop's own overhead) and
``benchmarks/recipes/cifar_sized_cnn.yaml`` (a 1.9M-parameter ResNet-style CNN on 50,000 synthetic 3x32x32
images, batch 512: measures the GPU path: resident data, autocast, channels_last). Validation is off, so an
epoch is training steps plus one checkpoint. The first epoch (cuDNN autotuning, allocator warm-up) is not
counted (nor, with ``torch.compile``, its compilation); the table reports the median of the later epochs. Peak memory is ``torch.cuda.max_memory_allocated``.

Run on a machine with CUDA: ``python benchmarks/gpu_throughput.py``; ``--device cpu --quick`` checks the
script itself on a CPU with small data.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from dlcheck.recipe import load_recipe
from dlcheck.train import Trainer, TrainingEvents

ROOT = Path(__file__).parents[1]
CASES = {
    "digits_cnn": (ROOT / "recipes" / "digits_cnn.yaml", ["data.val_fraction=0.0", "train.epochs=4"]),
    "cifar_sized_cnn": (
        ROOT / "benchmarks" / "recipes" / "cifar_sized_cnn.yaml",
        ["data.args.val_samples=0", "train.epochs=3"],
    ),
}
VARIANTS = {
    "fp32": ["train.precision=fp32"],
    "bf16-mixed": ["train.precision=bf16-mixed"],
    "bf16-mixed + channels_last": ["train.precision=bf16-mixed", "train.channels_last=true"],
    "bf16-mixed + torch.compile": ["train.precision=bf16-mixed", "train.compile=true"],
}


class _EpochClock(TrainingEvents):
    """Wall time of each epoch, synchronised with the device so queued kernels are counted."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.epochs: list[tuple[float, int]] = []  # (seconds, steps)

    def _sync(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def on_epoch_start(self, epoch: int, batches: int, start_batch: int) -> None:
        self._sync()
        self.started, self.batches = time.perf_counter(), batches

    def on_epoch_end(self, record) -> None:  # type: ignore[no-untyped-def]
        self._sync()
        self.epochs.append((time.perf_counter() - self.started, self.batches))


def measure(recipe: Path, overrides: list[str], device: str) -> dict[str, float]:
    loaded = load_recipe(recipe, [*overrides, f"device={device}", "logging.tensorboard=false"])
    clock = _EpochClock(device)
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as run_directory:
        result = Trainer(loaded, events=clock, run_directory=Path(run_directory), handle_signals=False).run()
    later = clock.epochs[1:] or clock.epochs
    steps_per_second = statistics.median(steps / seconds for seconds, steps in later)
    return {
        "steps/s": steps_per_second,
        "images/s": steps_per_second * loaded.recipe.train.batch_size,
        "peak MiB": torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else float("nan"),
        "train loss": result.final_metrics.get("train/loss", float("nan")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--quick", action="store_true", help="Small data and 2 epochs (to check the script).")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run with --device cpu --quick to check the script")
        return 1
    if args.device == "cuda":
        print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, CUDA {torch.version.cuda}")
    else:
        print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads")
    print(f"{'recipe':<16} {'precision':<27} {'steps/s':>8} {'images/s':>10} {'peak MiB':>9} {'loss':>7}")
    for name, (recipe, overrides) in CASES.items():
        extra = ["train.epochs=2"] if args.quick else []
        if args.quick and "cifar" in name:
            extra += ["data.args.train_samples=256", "train.batch_size=64"]
        for variant, settings in VARIANTS.items():
            figures = measure(recipe, [*overrides, *extra, *settings], args.device)
            print(
                f"{name:<16} {variant:<27} {figures['steps/s']:>8.1f} {figures['images/s']:>10.0f} "
                f"{figures['peak MiB']:>9.0f} {figures['train loss']:>7.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
