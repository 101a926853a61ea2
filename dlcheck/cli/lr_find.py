"""`dlcheck lr-find`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlcheck.cli._app import app
from dlcheck.cli._options import (
    JsonOption,
    JunitOption,
    RecipeArgument,
    SeedOption,
    SetOption,
    StrictOption,
    check_writable,
    exit_for_status,
    naming_the_recipe,
)
from dlcheck.errors import InputError
from dlcheck.lr_finder import thresholds


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
    if plot is not None:
        from dlcheck.report.plotting import require_matplotlib

        require_matplotlib("--plot")  # before minutes of work, not after
    if verify_steps < 1:
        raise InputError(f"--verify-steps {verify_steps}: must be at least 1, e.g. 200.")
    from dlcheck.checks.subject import prepare_subject
    from dlcheck.lr_finder.check import result_to_check, training_steps
    from dlcheck.lr_finder.finder import find_lr
    from dlcheck.recipe import load_recipe
    from dlcheck.report.console import stdout_console
    from dlcheck.report.lr_finder import lr_finder_json, lr_finder_report, save_lr_plot, write_lr_scalars

    loaded = load_recipe(recipe, set_ or ())
    console = stdout_console()
    options = {
        "start_lr": start_lr,
        "end_lr": end_lr,
        "steps": steps,
        "mode": mode,
        "repeats": repeats,
        "val_batches": val_batches,
        "seed": seed,
    }
    verified = scaling = written = None
    with naming_the_recipe(loaded.path), console.status("running the LR range test..."):
        subject = prepare_subject(loaded)
        result = find_lr(subject, **options)  # type: ignore[arg-type]
        if verify and result.suggested_lr is not None:
            from dlcheck.lr_finder.verify import verify_suggestion

            verified = verify_suggestion(subject, result.suggested_lr, steps=verify_steps, seed=seed)
        if sizes:
            from dlcheck.lr_finder.batch_scaling import batch_size_sweep

            scaling = batch_size_sweep(
                subject, sizes, target_batch_size=target_batch_size, known={result.batch_size: result}, **options
            )
    check = result_to_check(result, training_steps=training_steps(subject))
    if write and result.suggested_lr is not None:
        from dlcheck.lr_finder.write import write_learning_rate

        written = write_learning_rate(loaded.path, result.suggested_lr)
    console.print(
        lr_finder_report(result, check, name=loaded.recipe.name, verify=verified, scaling=scaling, written=written)
    )
    if verify and result.suggested_lr is None:
        console.print("--verify: no suggestion to verify.", style="yellow")
    if write and result.suggested_lr is None:
        console.print(f"--write: no suggestion, so {loaded.path} was left as it was.", style="yellow")
    if plot is not None:
        save_lr_plot(result, plot, title=f"lr-find {loaded.recipe.name}")
        console.print(f"plot {plot}", style="dim")
    if log_dir is not None:
        if loaded.recipe.logging.tensorboard:
            console.print(f"tensorboard {write_lr_scalars(result, log_dir)}", style="dim")
        else:
            console.print(
                "--log-dir: logging.tensorboard is off in the recipe, so no scalars were written.", style="yellow"
            )
    if json_path is not None or junit_path is not None:
        from dlcheck.report.json_report import json_report, write_json
        from dlcheck.report.junit import write_junit

        if json_path is not None:
            extra = lr_finder_json(result, verify=verified, scaling=scaling, written=written)
            write_json(json_report("lr-find", [check], extra), json_path)
        if junit_path is not None:
            write_junit("lr-find", [check], junit_path, strict=strict)
    exit_for_status(check.status, strict=strict)
