"""`dlcheck lr-find`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.console import Group
from rich.text import Text

from dlcheck.cli._app import app
from dlcheck.cli._options import (
    JsonOption,
    JunitOption,
    RecipeArgument,
    SeedOption,
    SetOption,
    StrictOption,
    check_writable,
    emit,
    naming_options,
    naming_the_recipe,
)
from dlcheck.errors import InputError
from dlcheck.lr_finder import thresholds
from dlcheck.report.console import stdout_console

if TYPE_CHECKING:
    from dlcheck.lr_finder.range_test import Mode

# The library names its parameters; the command line says them as its options.
OPTIONS = {
    "start_lr": "--start-lr",
    "end_lr": "--end-lr",
    "steps": "--steps",
    "mode": "--mode",
    "repeats": "--repeats",
    "val_batches": "--val-batches",
    "verify_steps": "--verify-steps",
    "batch_sizes": "--batch-sizes",
    "batch_size": "--batch-sizes",
    "target_batch_size": "--target-batch-size",
    "write": "--write",
}


def _batch_sizes(text: str | None) -> list[int]:
    if text is None:
        return []
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise InputError(
            f"--batch-sizes {text!r}: expected whole numbers separated by commas, e.g. 32,64,128."
        ) from None
    if len(set(sizes)) < 2 or min(sizes) < 1:
        raise InputError(f"--batch-sizes {text!r}: give at least two different positive sizes, e.g. 32,64,128.")
    return sizes


@app.command("lr-find")
def lr_find(
    recipe: RecipeArgument,
    set_: SetOption = None,
    start_lr: Annotated[float, typer.Option("--start-lr", help="First LR of the ramp.")] = thresholds.START_LR,
    end_lr: Annotated[float, typer.Option("--end-lr", help="Last LR of the ramp.")] = thresholds.END_LR,
    steps: Annotated[
        int, typer.Option(help="Optimiser steps per sweep (fewer if the loss diverges).")
    ] = thresholds.STEPS,
    mode: Annotated[str, typer.Option(help="exp (geometric ramp) or linear (for a bracket within a decade).")] = "exp",
    repeats: Annotated[
        int | None,
        typer.Option(
            help="Sweeps with different data order (default: 2, and a 3rd when they disagree by over 2x).",
            show_default=False,
        ),
    ] = None,
    val_batches: Annotated[
        int,
        typer.Option("--val-batches", help="Record the loss on this many fixed validation batches (0: training loss)."),
    ] = 0,
    verify: Annotated[
        bool, typer.Option("--verify", help="Train briefly at suggestion/3, suggestion and 3x; compare held-out loss.")
    ] = False,
    verify_steps: Annotated[
        int, typer.Option("--verify-steps", help="Steps of each --verify run.")
    ] = thresholds.VERIFY_STEPS,
    batch_sizes: Annotated[
        str | None,
        typer.Option(
            "--batch-sizes", help="Sweep these global batches, e.g. 32,64,128, and fit lr ∝ B^α.", show_default=False
        ),
    ] = None,
    target_batch_size: Annotated[
        int | None,
        typer.Option(
            "--target-batch-size", help="Batch to recommend an LR for (default: train.batch_size).", show_default=False
        ),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Save the curve as a PNG here (needs matplotlib).", show_default=False)
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Write the suggestion into the recipe's optimizer.lr (comments kept).")
    ] = False,
    log_dir: Annotated[
        Path | None,
        typer.Option(
            "--log-dir", help="TensorBoard scalars here (when logging.tensorboard is on).", show_default=False
        ),
    ] = None,
    json_path: JsonOption = None,
    junit_path: JunitOption = None,
    strict: StrictOption = False,
    seed: SeedOption = None,
) -> None:
    """Learning-rate range test: a suggested LR with a usable band and a confidence grade.

    Runs the recipe's model, optimiser, batch size, loss, regularisation, accumulation and precision while the LR rises from --start-lr to --end-lr; reads the suggestion from a zero-lag smoothed curve (valley, minimum/3.2 and steepest rules); the model and RNG states are restored and verified. Exit 1 when no LR trains the model, and on low confidence with --strict.

    Example: dlcheck lr-find recipes/digits_mlp.yaml --verify --plot lr.png
    """  # typer keeps a docstring's line breaks in --help: one paragraph per line
    sizes = _batch_sizes(batch_sizes)
    for path, option in ((json_path, "--json"), (junit_path, "--junit"), (plot, "--plot")):
        check_writable(path, option)
    # Imported here, not at the top: torch, pydantic and matplotlib, which `dlcheck --help` must not pay for.
    from dlcheck.lr_finder.workflow import lr_find as run_lr_find
    from dlcheck.recipe import load_recipe
    from dlcheck.report.lr_finder import lr_find_report, save_lr_plot, write_lr_scalars
    from dlcheck.report.plotting import require_matplotlib

    if plot is not None:
        require_matplotlib("--plot")  # before minutes of work, not after
    loaded = load_recipe(recipe, set_ or ())
    console = stdout_console()
    with naming_options(OPTIONS), naming_the_recipe(loaded.path), console.status("running the LR range test..."):
        report = run_lr_find(
            loaded,
            start_lr=start_lr,
            end_lr=end_lr,
            steps=steps,
            mode=cast("Mode", mode),  # checked by the library, whose message then names --mode
            repeats=repeats,
            val_batches=val_batches,
            seed=seed,
            verify=verify,
            verify_steps=verify_steps,
            batch_sizes=sizes,
            target_batch_size=target_batch_size,
            write=write,
        )
    result, files = report.result, []
    if plot is not None:
        save_lr_plot(result, plot, title=f"lr-find {loaded.recipe.name}")
        files.append(Text(f"plot {plot}", style="dim"))
    if log_dir is not None:
        if loaded.recipe.logging.tensorboard:
            files.append(Text(f"tensorboard {write_lr_scalars(result, log_dir)}", style="dim"))
        else:
            files.append(
                Text("--log-dir: logging.tensorboard is off in the recipe, so no scalars were written.", style="yellow")
            )
    renderable = Group(lr_find_report(report), *files)
    emit("lr-find", report, renderable, json_path=json_path, junit_path=junit_path, strict=strict, console=console)
