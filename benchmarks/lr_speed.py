"""Wall time of one LR range test: dlcheck against torch-lr-finder, same model, data, optimiser and steps.

Both sweep 100 steps from 1e-7 to 1e-2 (a range where neither stops early, so both take exactly the same
number of steps; the script checks it), on the same freshly initialised model and optimiser from the recipe,
the same training split (normalised) and batch size, on the same device:

- ``torch-lr-finder``: ``LRFinder(model, optimizer, criterion)`` + ``range_test(DataLoader(TensorDataset),
  ...)`` + ``reset()``, the package's documented use (its in-memory state cache included);
- ``dlcheck``: :func:`dlcheck.lr_finder.find_lr` with one sweep (``repeats=1``): snapshot, sweep, restore,
  checksum verification, smoothing, rules and shape included.

Runs are interleaved (these machines are noisy) and the table shows medians. Target of issue 4: ratio <= 1.0.

Run: ``python benchmarks/lr_speed.py [--repeats 7] [--device cpu] [--threads 0]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import time
from pathlib import Path

import torch

from dlcheck.engine.parts import prepare_parts
from dlcheck.lr_finder import find_lr
from dlcheck.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "digits MLP, adam, batch 32": "recipes/digits_mlp.yaml",
    "digits CNN, adamw, batch 64": "recipes/digits_cnn.yaml",
    "spirals MLP, sgd, batch 64": "recipes/spirals_mlp.yaml",
}
START_LR, END_LR, STEPS = 1e-7, 1e-2, 100


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_dlcheck(parts) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    _synchronize(parts.device)
    started = time.perf_counter()
    result = find_lr(parts, start_lr=START_LR, end_lr=END_LR, steps=STEPS, repeats=1)
    _synchronize(parts.device)
    return time.perf_counter() - started, len(result.history.lr)


def run_torch_lr_finder(parts) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    from torch_lr_finder import LRFinder

    model = parts.fresh_model()
    optimizer = parts.optimizer(model)
    batcher = parts.batcher("train", shuffle=False, augment=False)
    dataset = torch.utils.data.TensorDataset(batcher.inputs, batcher.targets)
    loader = torch.utils.data.DataLoader(dataset, batch_size=parts.recipe.train.batch_size, shuffle=True)
    _synchronize(parts.device)
    started = time.perf_counter()
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):  # its tqdm bar and prints
        finder = LRFinder(model, optimizer, parts.loss_function(), device=parts.device)
        finder.range_test(loader, start_lr=START_LR, end_lr=END_LR, num_iter=STEPS, diverge_th=1e30)
        finder.reset()
    _synchronize(parts.device)
    return time.perf_counter() - started, len(finder.history["lr"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: leave as is)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, {args.repeats} repeats")
    print(f"{STEPS} steps from {START_LR:g} to {END_LR:g}, medians of interleaved runs\n")
    print(f"{'case':<30} {'torch-lr-finder':>16} {'dlcheck':>10} {'ratio':>8}")
    for name, path in CASES.items():
        parts = prepare_parts(load_recipe(ROOT / path, [f"device={args.device}"]))
        run_dlcheck(parts), run_torch_lr_finder(parts)  # warm-up: allocator, kernels, imports
        times: dict[str, list[float]] = {"dlcheck": [], "torch-lr-finder": []}
        for _ in range(args.repeats):
            for label, runner in (("torch-lr-finder", run_torch_lr_finder), ("dlcheck", run_dlcheck)):
                seconds, steps = runner(parts)
                if steps != STEPS:
                    raise SystemExit(f"{label} took {steps} steps on {name}, not {STEPS}: the comparison is void")
                times[label].append(seconds)
        theirs, ours = statistics.median(times["torch-lr-finder"]), statistics.median(times["dlcheck"])
        print(f"{name:<30} {theirs:>15.3f}s {ours:>9.3f}s {ours / theirs:>7.2f}x")
    print("\nratio = dlcheck time / torch-lr-finder time (below 1.0: dlcheck is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
