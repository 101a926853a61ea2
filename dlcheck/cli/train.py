"""`dlcheck train`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dlcheck.cli._app import app
from dlcheck.cli._options import RecipeArgument, SetOption, check_writable, naming_options, naming_the_recipe

OPTIONS = {"resume": "--resume", "run_directory": "--run-dir"}  # the library's parameters, as options


@app.command()
def train(
    recipe: RecipeArgument,
    set_: SetOption = None,
    resume: Annotated[
        str | None,
        typer.Option(help="Continue a run: `auto` (latest run of this recipe), a run directory or a checkpoint."),
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run-dir", help="Write the run here instead of logging.directory/NAME-TIME.")
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write a JSON summary of the run here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars; only the final summary.")] = False,
) -> None:
    """Train a recipe on CPU or GPU; under torchrun on many GPUs.

    Writes a run directory with the resolved recipe, TensorBoard scalars, a JSONL metrics log and checkpoints. Ctrl-C stops at the next step with a checkpoint; --resume auto continues exactly.

    Example: dlcheck train recipes/digits_mlp.yaml --set train.epochs=5

    Many GPUs: torchrun --standalone --nproc_per_node=4 -m dlcheck train recipe.yaml
    """  # typer keeps a docstring's line breaks in --help: one paragraph per line
    # Imported here, not at the top: torch, pydantic and tensorboard, which `dlcheck --help` must not pay for.
    from dlcheck.recipe import load_recipe
    from dlcheck.report.training import TrainingDisplay, write_train_json
    from dlcheck.train.trainer import Trainer

    loaded = load_recipe(recipe, set_ or ())
    check_writable(json_path, "--json")
    display = TrainingDisplay(quiet=quiet)
    trainer = Trainer(
        loaded, events=display, resume=resume, run_directory=run_dir, handle_signals=True, command=sys.argv
    )
    with naming_options(OPTIONS), naming_the_recipe(loaded.path):
        result = trainer.run()
    if json_path is not None and result.is_main:
        write_train_json(result, json_path)
    if result.status == "interrupted":
        raise typer.Exit(130)
    if not result.ok:
        raise typer.Exit(1)
