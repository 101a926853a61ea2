"""How long the checklist takes, and the overfit check against PyTorch Lightning's ``overfit_batches``.

1. ``dlcheck babysit recipes/digits_mlp.yaml --quick`` end to end, as a user runs it (a fresh process: Python
   start-up, the torch import, data loading and every check but the LR range test). Target: under 15 s on
   the 2-core development machine. The median of ``--repeats`` runs.
2. The tiny-batch loop of ``overfit_batch`` against the anchor a user reaches for instead, Lightning's
   ``Trainer(overfit_batches=1)``: the same model (the digits MLP recipe's, same initial weights), the same
   tiny batch (4 samples per class, 40 samples), the same optimiser (Adam, lr 1e-3), the same number of steps
   (no early stop on either side), measured in one process, interleaved, median of the repeats. Lightning gets
   every switch that makes it lighter: no logger, no checkpointing, no progress bar, no model summary, no
   sanity validation. The figure reported is Lightning's time over dlcheck's, as a user runs it (torch's
   default threads) and with one intra-op thread on both sides (the overfit loop runs on one thread on the
   CPU: see ``dlcheck.checks._probe.single_cpu_thread``), which isolates the per-step framework overhead.

Run: ``python benchmarks/babysit.py [--repeats 3] [--steps 300]`` (pytorch_lightning needed for part 2:
``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).parents[1]
RECIPE = ROOT / "recipes" / "digits_mlp.yaml"


def time_cli(repeats: int) -> list[float]:
    command = [sys.executable, "-m", "dlcheck", "babysit", str(RECIPE), "--quick", "--quiet"]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        times.append(time.perf_counter() - started)
        if completed.returncode != 0:
            raise SystemExit(f"dlcheck babysit exited {completed.returncode}:\n{completed.stdout}{completed.stderr}")
    return times


def overfit_side_by_side(repeats: int, steps: int) -> tuple[list[float], list[float], list[float]]:
    import torch
    from torch import nn

    from dlcheck.checklist import prepare_checks
    from dlcheck.checks._fitting import fit_batch, fitting_step
    from dlcheck.checks._probe import disable_dropout
    from dlcheck.checks.overfit_batch import select_tiny_batch
    from dlcheck.engine.step import PLAIN
    from dlcheck.recipe import load_recipe

    parts = prepare_checks(load_recipe(RECIPE), device="cpu")
    inputs, targets, _ = select_tiny_batch(parts, samples_per_class=4, seed=0)
    loss_function = parts.loss_function(regularized=False)

    def fresh() -> nn.Module:
        model = parts.fresh_model(0)
        disable_dropout(model)
        return model

    def run_dlcheck() -> float:
        model = fresh()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        started = time.perf_counter()
        step = fitting_step(model, optimizer, loss_function, "cross_entropy", PLAIN)
        history = fit_batch(
            step,
            lambda index: (inputs, targets),
            steps=steps,
            loss_name="cross_entropy",
            seed=0,
            stop_when_fitted=False,
        )
        seconds = time.perf_counter() - started
        assert history.steps_run == steps
        return seconds

    import pytorch_lightning as lightning
    from torch.utils.data import DataLoader, TensorDataset

    class Module(lightning.LightningModule):
        def __init__(self, model: nn.Module) -> None:
            super().__init__()
            self.model = model

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_index: int) -> torch.Tensor:
            batch_inputs, batch_targets = batch
            return nn.functional.cross_entropy(self.model(batch_inputs), batch_targets)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    loader = DataLoader(TensorDataset(inputs, targets), batch_size=len(inputs), shuffle=False)

    def run_lightning(threads: int | None = None) -> float:
        previous = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            return _fit_lightning()
        finally:
            torch.set_num_threads(previous)

    def _fit_lightning() -> float:
        module = Module(fresh())
        trainer = lightning.Trainer(
            overfit_batches=1,
            max_steps=steps,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
        )
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            trainer.fit(module, train_dataloaders=loader)
        seconds = time.perf_counter() - started
        assert trainer.global_step == steps, trainer.global_step
        return seconds

    run_dlcheck(), run_lightning()  # warm-up: imports, first-call allocations
    ours, theirs, theirs_one_thread = [], [], []
    for _ in range(repeats):
        ours.append(run_dlcheck())
        theirs.append(run_lightning())
        theirs_one_thread.append(run_lightning(threads=1))
    return ours, theirs, theirs_one_thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPU cores; median of {args.repeats} runs")

    cli = time_cli(args.repeats)
    verdict = "under" if statistics.median(cli) < 15 else "OVER"
    print(
        f"\ndlcheck babysit recipes/digits_mlp.yaml --quick: {statistics.median(cli):.2f} s end to end "
        f"(runs: {', '.join(f'{value:.2f}' for value in cli)}; {verdict} the 15 s target)"
    )

    try:
        import pytorch_lightning  # noqa: F401
    except ImportError:
        print("\npytorch_lightning is not installed: skipping the overfit comparison (pip install -e .[bench])")
        return
    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    ours, theirs, theirs_one_thread = overfit_side_by_side(args.repeats, args.steps)
    dlcheck_seconds, lightning_seconds = statistics.median(ours), statistics.median(theirs)
    lightning_one_thread = statistics.median(theirs_one_thread)
    print(f"\noverfit a 40-sample batch, {args.steps} Adam steps, digits MLP, CPU:")
    print(f"  {'':38} {'seconds':>8} {'steps/s':>9}")
    print(f"  {'dlcheck overfit_batch loop':38} {dlcheck_seconds:8.3f} {args.steps / dlcheck_seconds:9.0f}")
    print(
        f"  {'Lightning Trainer(overfit_batches=1)':38} {lightning_seconds:8.3f} {args.steps / lightning_seconds:9.0f}"
    )
    print(
        f"  {'  same, torch.set_num_threads(1)':38} {lightning_one_thread:8.3f} {args.steps / lightning_one_thread:9.0f}"
    )
    print(
        f"  Lightning / dlcheck: {lightning_seconds / dlcheck_seconds:.1f}x as a user runs it, "
        f"{lightning_one_thread / dlcheck_seconds:.1f}x on one thread each (dlcheck faster when > 1)"
    )


if __name__ == "__main__":
    main()
