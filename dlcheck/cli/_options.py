"""Options and helpers shared by the commands."""

from __future__ import annotations

__all__ = [
    "JsonOption",
    "JunitOption",
    "RecipeArgument",
    "SeedOption",
    "SetOption",
    "StrictOption",
    "check_writable",
    "exit_for_status",
    "naming_the_recipe",
]

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from dlcheck.errors import InputError

RecipeArgument = Annotated[Path, typer.Argument(help="Recipe file (YAML).", metavar="RECIPE", show_default=False)]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a recipe value, e.g. --set optimizer.lr=0.01 (repeatable; validated like the file).",
        metavar="KEY=VALUE",
        show_default=False,
    ),
]
JsonOption = Annotated[
    Path | None, typer.Option("--json", help="Write the report as JSON here (DESIGN 2.2).", show_default=False)
]
JunitOption = Annotated[
    Path | None, typer.Option("--junit", help="Write the checks as JUnit XML here, for CI.", show_default=False)
]
StrictOption = Annotated[bool, typer.Option("--strict", help="Exit 1 on a warning too, not only on a failure.")]
SeedOption = Annotated[
    int | None, typer.Option("--seed", help="Seed for the check (default: the recipe's seed).", show_default=False)
]


def exit_for_status(status: str, *, strict: bool) -> None:
    """Exit 1 when a check failed, or warned under ``--strict`` (DESIGN 2.1); return otherwise."""
    if status in ("fail", "error") or (strict and status == "warn"):
        raise typer.Exit(1)


def check_writable(path: Path | None, option: str) -> None:
    """Refuse an output path now rather than after a long run."""
    if path is None:
        return
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file name, e.g. {path / 'report.json'}.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{option} {path}: the folder {parent} does not exist; create it or choose another path.")
    import os

    if not os.access(parent, os.W_OK):
        raise InputError(f"{option} {path}: the folder {parent} is not writable; choose another path.")


@contextlib.contextmanager
def naming_the_recipe(path: Path) -> Iterator[None]:
    """Prefix data and model errors with the recipe they come from (their keys are already named)."""
    from dlcheck.errors import DataError, ModelError

    try:
        yield
    except (DataError, ModelError) as error:
        if not str(error).startswith(str(path)):
            error.args = (f"{path}: {error}", *error.args[1:])
        raise
