"""`dlcheck recipe check|show|schema`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from dlcheck.cli._app import recipe_app
from dlcheck.cli._options import RecipeArgument, SetOption, naming_the_recipe
from dlcheck.report.console import stdout_console


@recipe_app.command("check")
def recipe_check(
    recipe: RecipeArgument,
    set_: SetOption = None,
    build: Annotated[
        bool,
        typer.Option(
            help="Also import the factories, load the data and build the model, catching shape mistakes. "
            "--no-build runs none of the recipe's code."
        ),
    ] = True,
) -> None:
    """Validate a recipe: schema, cross-field rules, factories, then data and model shapes. Exit 2 on problems.

    Example: dlcheck recipe check recipes/digits_mlp.yaml
    """
    from dlcheck.recipe import load_recipe  # pydantic: not for `dlcheck --help`

    loaded = load_recipe(recipe, set_ or (), check_factories=build)
    console = stdout_console()
    if not build:
        console.print(f"[green]ok[/green] {loaded.path}: recipe {loaded.recipe.name!r} is valid", highlight=False)
        factories = [
            f"{section}.factory {getattr(loaded.recipe, section).factory}"
            for section in ("model", "data")
            if getattr(loaded.recipe, section).factory is not None
        ]
        if factories:
            console.print(f"not imported (--no-build): {', '.join(factories)}", style="dim", highlight=False)
        return
    from dlcheck.engine.build import build_data_and_model  # torch: only when the data and model are built

    with naming_the_recipe(loaded.path):
        built = build_data_and_model(loaded)
    for warning in built.warnings:
        console.print(f"[bold yellow]warning:[/bold yellow] {warning}", highlight=False)
    data = built.data.describe()
    console.print(
        f"[green]ok[/green] {loaded.path}: recipe {loaded.recipe.name!r} is valid; "
        f"model {built.summary.total_parameters:,} parameters, output {tuple(built.summary.output_shape)}; "
        f"data {data.get('train_size')} train / {data.get('val_size') or 0} val, "
        f"inputs {tuple(data.get('input_shape') or ())}"
    )


@recipe_app.command("show")
def recipe_show(recipe: RecipeArgument, set_: SetOption = None) -> None:
    """Print a recipe resolved: every default filled in, overrides applied. Runs none of the recipe's code.

    Example: dlcheck recipe show recipes/digits_mlp.yaml --set optimizer.lr=0.01
    """
    from dlcheck.recipe import load_recipe, recipe_to_yaml  # pydantic: not for `dlcheck --help`

    loaded = load_recipe(recipe, set_ or (), check_factories=False)
    typer.echo(recipe_to_yaml(loaded.recipe), nl=False)


@recipe_app.command("schema")
def recipe_schema() -> None:
    """Print the recipe JSON schema (for editors and documentation)."""
    from dlcheck.recipe import recipe_json_schema  # pydantic: not for `dlcheck --help`

    typer.echo(json.dumps(recipe_json_schema(), indent=2))
