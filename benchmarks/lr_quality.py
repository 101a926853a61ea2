"""How good are the LR suggestions? Regret of dlcheck, torch-lr-finder and fastai's rule on 13 problems.

For each problem (``lr_problems.py``: the problems, and their split into development and held-out problems,
written before the new ones were first run), every LR of a log grid (half-decade steps, 1e-5 to 3.2) is trained
for the same short budget with ``dlcheck train`` (the recipe's optimiser, schedule and batch size;
``optimizer.lr`` set to the LR; early stopping off), over two seeds, and the final validation loss is averaged.
Then each method suggests an LR and that LR is trained the same way. A method's **regret** is its final
validation loss divided by the best grid loss (1.0 = as good as the best LR of the grid; below 1 = better than
every grid point).

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

The target (issue 14): dlcheck's regret <= 1.2 on every problem, with a suggestion on each.

Run: ``python benchmarks/lr_quality.py [--seeds 2] [--threads 1] [--split dev] [--cache grid.json]`` (about
10 minutes on 2 busy CPU cores for the 13 problems with two seeds). ``--cache`` keeps the grid's losses in a file
(they do not depend on any finder), so that a rerun trains only at the suggestions.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from lr_problems import PROBLEMS

from dlcheck.checks.subject import prepare_subject
from dlcheck.lr_finder import find_lr
from dlcheck.lr_finder.rules import valley_rule
from dlcheck.recipe import load_recipe
from dlcheck.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
GRID = [float(value) for value in np.logspace(-5, 0.5, 12)]  # 1e-5, 3.2e-5, ..., 3.2: half-decade steps


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
def _torch_lr_finder(subject, smooth_f: float, diverge_th: float):  # type: ignore[no-untyped-def]
    from torch_lr_finder import LRFinder

    torch.manual_seed(subject.recipe.seed)  # dropout masks: the same for every method's sweep
    model = subject.fresh_model()
    optimizer = subject.optimizer(model)
    batcher = subject.batcher("train", shuffle=False, augment=False)
    dataset = torch.utils.data.TensorDataset(batcher.inputs, batcher.targets)
    generator = torch.Generator().manual_seed(subject.recipe.seed)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=subject.recipe.train.batch_size, shuffle=True, generator=generator
    )
    finder = LRFinder(model, optimizer, subject.loss_function(), device=subject.device)
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):  # tqdm bar and prints
        finder.range_test(loader, start_lr=1e-7, end_lr=10, num_iter=100, smooth_f=smooth_f, diverge_th=diverge_th)
    return finder


def suggest_torch_lr_finder(subject) -> float | None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    finder = _torch_lr_finder(subject, smooth_f=0.05, diverge_th=5)
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


def suggest_fastai_valley(subject) -> float | None:  # type: ignore[no-untyped-def]
    finder = _torch_lr_finder(subject, smooth_f=0.0, diverge_th=1e30)  # raw losses, no stop
    return fastai_valley(np.asarray(finder.history["lr"]), np.asarray(finder.history["loss"], dtype=np.float64))


def suggest_dlcheck(subject) -> float | None:  # type: ignore[no-untyped-def]
    return find_lr(subject).suggested_lr


METHODS: dict[str, Callable[..., float | None]] = {
    "dlcheck": suggest_dlcheck,
    "torch-lr-finder": suggest_torch_lr_finder,
    "fastai valley": suggest_fastai_valley,
}


# ------------------------------------------------------------------------------------------------- main
def _regret_text(regret: float) -> str:
    return "diverged" if not math.isfinite(regret) else f"{regret:.3f}"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(cells[index]) for cells in rows) for index in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) for cells in rows)


def _grid_losses(
    name: str, path: Path, epochs: int, seeds: int, scratch: Path, cache: dict[str, dict[str, float]]
) -> dict[float, float]:
    """Final validation loss at every grid LR; from ``cache`` where it holds them (keyed by problem, epochs, seeds)."""
    key = f"{name} | {epochs} epochs | {seeds} seeds"
    known = cache.setdefault(key, {})
    losses = {}
    for lr in GRID:
        text = f"{lr:.6e}"
        if text not in known:
            known[text] = trained_loss(path, lr, epochs, seeds, scratch)
        losses[lr] = known[text]
    return losses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="training seeds averaged per LR")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: leave as is)")
    parser.add_argument("--problems", nargs="*", default=None, help="subset of the problems, by name")
    parser.add_argument("--split", choices=("dev", "held-out", "all"), default="all", help="which problems to run")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), help="subset of the methods")
    parser.add_argument("--cache", type=Path, default=None, help="JSON file keeping the grid losses between runs")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.problems or [name for name, item in PROBLEMS.items() if args.split in ("all", item.split)]
    cache: dict[str, dict[str, float]] = {}
    if args.cache is not None and args.cache.exists():
        cache = json.loads(args.cache.read_text())
    started = time.perf_counter()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.seeds} seed(s) per LR")
    print(f"grid: {', '.join(f'{lr:.1e}' for lr in GRID)}")
    regrets: dict[str, dict[str, list[float]]] = {
        split: {name: [] for name in args.methods} for split in ("dev", "held-out")
    }
    rows = [
        ["problem", "split", "optimiser", "best grid lr", "best loss", *(f"{name} lr, regret" for name in args.methods)]
    ]
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for name in names:
            problem = PROBLEMS[name]
            path = problem.recipe(ROOT, scratch)
            clock = time.perf_counter()
            subject = prepare_subject(load_recipe(path, ["device=cpu"]))
            suggestions = {method: METHODS[method](subject) for method in args.methods}
            grid_losses = _grid_losses(name, path, problem.epochs, args.seeds, scratch, cache)
            if args.cache is not None:
                args.cache.write_text(json.dumps(cache, indent=1))
            best_lr = min(grid_losses, key=lambda lr: grid_losses[lr])
            best = grid_losses[best_lr]
            row = [name, problem.split, problem.optimiser, f"{best_lr:.1e}", f"{best:.4g}"]
            for method, lr in suggestions.items():
                loss = trained_loss(path, lr, problem.epochs, args.seeds, scratch) if lr else math.inf
                regret = loss / best
                regrets[problem.split][method].append(regret)
                row.append(f"{lr:.1e} {_regret_text(regret)}" if lr else "none")
            rows.append(row)
            curve = "  ".join(f"{lr:.0e}:{loss:.3g}" for lr, loss in grid_losses.items())
            print(f"\n{name} ({problem.epochs} epochs, {time.perf_counter() - clock:.0f} s)\n  grid {curve}")
            print("  " + "  ".join(f"{method} {cell}" for method, cell in zip(args.methods, row[5:], strict=True)))
    print()
    summary = []
    for split, by_method in regrets.items():
        if not any(by_method.values()):
            continue
        cells = [f"{split}: mean / worst regret", "", "", "", ""]
        for method in args.methods:
            values = by_method[method]
            worst = max(values)
            cells.append(f"{_regret_text(statistics.fmean(values))} / {_regret_text(worst)}")
        summary.append(cells)
    print(_table(rows + summary))
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
