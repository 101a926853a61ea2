"""How good are the LR suggestions? Regret of dlcheck, torch-lr-finder and fastai's rule on four problems.

For each problem, every LR of a log grid (half-decade steps) is trained for the same short budget with
``dlcheck train`` (the recipe's optimiser, schedule and batch size; ``optimizer.lr`` set to the LR; early
stopping off), over two seeds, and the final validation loss is averaged. Then each method suggests an LR
and that LR is trained the same way. A method's **regret** is its final validation loss divided by the best
grid loss (1.0 = as good as the best LR of the grid; below 1 = better than every grid point).

Methods, each given the same model initialisation, data, optimiser and batch size:

- ``dlcheck``: :func:`dlcheck.lr_finder.find_lr` with its defaults (1e-7 to 10, 100 steps, adaptive repeats).
- ``torch-lr-finder``: the real package (``torch_lr_finder.LRFinder``, defaults: 1e-7 to 10, 100 steps,
  ``smooth_f=0.05``, ``diverge_th=5``) and its own suggestion, ``plot(suggest_lr=True)``: the steepest
  gradient after skipping 10 points at the start and 5 at the end.
- ``fastai valley``: fastai is not installed, so its procedure is re-implemented from the research note
  (section 2.2) on raw losses recorded by torch-lr-finder (``smooth_f=0``, no early stop): debiased EMA with
  beta 0.98, stop once it exceeds 4x its best, drop the first 10 % and the last 5 points, cut at the first
  NaN, then the ``valley`` rule.

dlcheck suggests ``optimizer.lr`` for the recipe's schedule (constant, the peak of a cosine or warmed-up
schedule, or the peak of a one-cycle schedule: see ``dlcheck.lr_finder.rules.suggestions_by_kind``); the others
give one number whatever the schedule, as their users would use it.

The target of issue 4: dlcheck's regret <= 1.2 on every problem and lower than the others on average.

Run: ``python benchmarks/lr_quality.py [--seeds 2] [--threads 1]`` (about 5-10 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dlcheck.engine.parts import prepare_parts
from dlcheck.lr_finder import find_lr
from dlcheck.lr_finder.rules import valley_rule
from dlcheck.recipe import load_recipe
from dlcheck.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
GRID = [float(value) for value in np.logspace(-5, 0, 11)]  # 1e-5, 3.2e-5, ..., 1: half-decade steps

REGRESSION_RECIPE = """\
name: regression-mlp
seed: 0
data: {source: npz, path: regression.npz, val_fraction: 0.2}
model:
  layers:
    - {type: linear, out: 64}
    - {type: relu}
    - {type: linear, out: 64}
    - {type: relu}
    - {type: linear, out: 1}
loss: mse
optimizer: {name: adam, lr: 1.0e-3}
schedule: {name: cosine, interval: step}
train: {epochs: 20, batch_size: 64}
device: cpu
"""


def _regression_recipe(directory: Path) -> Path:
    """A smooth non-linear regression in 8 dimensions with noise: y = sin(x.w1) + 0.5 (x.w2)^2 + 0.1 e."""
    rng = np.random.default_rng(1234)
    inputs = rng.standard_normal((2000, 8)).astype(np.float32)
    first, second = rng.standard_normal(8) / math.sqrt(8), rng.standard_normal(8) / math.sqrt(8)
    targets = np.sin(inputs @ first) + 0.5 * (inputs @ second) ** 2 + 0.1 * rng.standard_normal(2000)
    np.savez(directory / "regression.npz", x=inputs, y=targets.astype(np.float32))
    path = directory / "regression.yaml"
    path.write_text(REGRESSION_RECIPE, encoding="utf-8")
    return path


# name: (recipe path or builder, epochs of the short budget)
PROBLEMS: dict[str, tuple[str, int]] = {
    "digits MLP (adam)": ("recipes/digits_mlp.yaml", 6),
    "digits CNN (adamw, BN)": ("recipes/digits_cnn.yaml", 4),
    "spirals MLP (sgd)": ("recipes/spirals_mlp.yaml", 12),
    "regression MLP (mse)": ("regression", 12),
    # Added after dlcheck's rules were fixed (see the issue note): problems the rules were never tuned on.
    "shapes CNN (adam, step)": ("recipes/shapes_cnn.yaml", 4),
    "digits custom (adamw)": ("recipes/custom_model.yaml", 6),
}


def final_val_loss(path: Path, lr: float, epochs: int, seed: int, run_directory: Path) -> float:
    overrides = [
        f"optimizer.lr={lr!r}",
        f"train.epochs={epochs}",
        f"seed={seed}",
        "early_stopping=null",
        "logging.tensorboard=false",
        "device=cpu",
    ]
    loaded = load_recipe(path, overrides)
    result = Trainer(loaded, run_directory=run_directory, handle_signals=False).run()
    value = result.final_metrics.get("val/loss", math.inf) if result.ok else math.inf
    return value if math.isfinite(value) else math.inf


def trained_loss(path: Path, lr: float, epochs: int, seeds: int, scratch: Path) -> float:
    losses = [final_val_loss(path, lr, epochs, seed, Path(tempfile.mkdtemp(dir=scratch))) for seed in range(seeds)]
    return statistics.fmean(losses) if all(math.isfinite(loss) for loss in losses) else math.inf


# ----------------------------------------------------------------------------------------------- methods
def _torch_lr_finder(parts, smooth_f: float, diverge_th: float):  # type: ignore[no-untyped-def]
    from torch_lr_finder import LRFinder

    torch.manual_seed(parts.recipe.seed)  # dropout masks: the same for every method's sweep
    model = parts.fresh_model()
    optimizer = parts.optimizer(model)
    batcher = parts.batcher("train", shuffle=False, augment=False)
    dataset = torch.utils.data.TensorDataset(batcher.inputs, batcher.targets)
    generator = torch.Generator().manual_seed(parts.recipe.seed)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=parts.recipe.train.batch_size, shuffle=True, generator=generator
    )
    finder = LRFinder(model, optimizer, parts.loss_function(), device=parts.device)
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):  # tqdm bar and prints
        finder.range_test(loader, start_lr=1e-7, end_lr=10, num_iter=100, smooth_f=smooth_f, diverge_th=diverge_th)
    return finder


def suggest_torch_lr_finder(parts) -> float | None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    finder = _torch_lr_finder(parts, smooth_f=0.05, diverge_th=5)
    figure, axes = pyplot.subplots()
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet):
            _, lr = finder.plot(suggest_lr=True, ax=axes)  # its own rule: steepest gradient, skip 10 / 5
    except Exception:  # too few points to suggest (the package raises or returns None)
        lr = None
    finally:
        pyplot.close(figure)
    return float(lr) if lr is not None else None


def fastai_valley(lrs: np.ndarray, raw_losses: np.ndarray, num_it: int = 100) -> float | None:
    """fastai's lr_find post-processing and ``valley`` rule on raw losses (research note section 2.2)."""
    beta, average, best = 0.98, 0.0, math.inf
    recorded_lrs, smoothed = [], []
    for step, (lr, loss) in enumerate(zip(lrs, raw_losses, strict=True), start=1):
        average = beta * average + (1 - beta) * loss
        value = average / (1 - beta**step)
        recorded_lrs.append(lr)
        smoothed.append(value)
        best = min(best, value)
        if value > 4 * best or math.isnan(value):
            break
    kept_lrs = np.asarray(recorded_lrs[num_it // 10 : -5])
    kept = np.asarray(smoothed[num_it // 10 : -5])
    finite = np.isfinite(kept)
    if not finite.all():
        cut = int(np.argmin(finite))
        kept_lrs, kept = kept_lrs[:cut], kept[:cut]
    if kept.size < 2:
        return None
    return valley_rule(kept_lrs, kept)


def suggest_fastai_valley(parts) -> float | None:  # type: ignore[no-untyped-def]
    finder = _torch_lr_finder(parts, smooth_f=0.0, diverge_th=1e30)  # raw losses, no stop
    return fastai_valley(np.asarray(finder.history["lr"]), np.asarray(finder.history["loss"], dtype=np.float64))


def suggest_dlcheck(parts) -> float | None:  # type: ignore[no-untyped-def]
    return find_lr(parts).suggested_lr


METHODS: dict[str, Callable[..., float | None]] = {
    "dlcheck": suggest_dlcheck,
    "torch-lr-finder": suggest_torch_lr_finder,
    "fastai valley": suggest_fastai_valley,
}


# ------------------------------------------------------------------------------------------------- main
def _regret_text(regret: float) -> str:
    return "diverged" if not math.isfinite(regret) else f"{regret:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="training seeds averaged per LR")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: leave as is)")
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS), help="subset of the problems, by name")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.seeds} seed(s) per LR")
    print(f"grid: {', '.join(f'{lr:.1e}' for lr in GRID)}")
    regrets: dict[str, list[float]] = {name: [] for name in METHODS}
    rows = []
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for problem in args.problems:
            source, epochs = PROBLEMS[problem]
            path = _regression_recipe(scratch) if source == "regression" else ROOT / source
            clock = time.perf_counter()
            parts = prepare_parts(load_recipe(path, ["device=cpu"]))
            suggestions = {name: method(parts) for name, method in METHODS.items()}
            grid_losses = {lr: trained_loss(path, lr, epochs, args.seeds, scratch) for lr in GRID}
            best_lr = min(grid_losses, key=lambda lr: grid_losses[lr])
            best = grid_losses[best_lr]
            row = [problem, f"{best_lr:.1e}", f"{best:.4g}"]
            for name, lr in suggestions.items():
                loss = trained_loss(path, lr, epochs, args.seeds, scratch) if lr else math.inf
                regret = loss / best
                regrets[name].append(regret)
                row.append(f"{lr:.1e} {_regret_text(regret)}" if lr else "none")
            rows.append(row)
            curve = "  ".join(f"{lr:.0e}:{loss:.3g}" for lr, loss in grid_losses.items())
            print(f"\n{problem} ({epochs} epochs, {time.perf_counter() - clock:.0f} s)\n  grid {curve}")
    header = ["problem", "best grid lr", "best loss", *(f"{name} (lr regret)" for name in METHODS)]
    widths = [max(len(str(cells[index])) for cells in [header, *rows]) for index in range(len(header))]
    print()
    for cells in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)))
    means = [statistics.fmean(values) if values else math.nan for values in regrets.values()]
    print(
        "  ".join(
            ["mean regret".ljust(widths[0]), "".ljust(widths[1]), "".ljust(widths[2])]
            + [_regret_text(mean).ljust(width) for mean, width in zip(means, widths[3:], strict=True)]
        )
    )
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
