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
    "emit",
    "exit_for_status",
    "naming_options",
    "naming_the_recipe",
]

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, RenderableType

from dlcheck.errors import DataError, InputError, ModelError
from dlcheck.report.console import stdout_console
from dlcheck.verdict import Verdict

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
    Path | None,
    typer.Option(
        "--json", help="Write the report as JSON here (schema_version 1; see the README).", show_default=False
    ),
]
JunitOption = Annotated[
    Path | None, typer.Option("--junit", help="Write the checks as JUnit XML here, for CI.", show_default=False)
]
StrictOption = Annotated[bool, typer.Option("--strict", help="Exit 1 on a warning too, not only on a failure.")]
SeedOption = Annotated[
    int | None, typer.Option("--seed", help="Seed for the check (default: the recipe's seed).", show_default=False)
]


def exit_for_status(status: str, *, strict: bool) -> None:
    """Exit 1 when a check failed, or warned under ``--strict``; return otherwise (exit 0)."""
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
    if not os.access(parent, os.W_OK):
        raise InputError(f"{option} {path}: the folder {parent} is not writable; choose another path.")


@contextlib.contextmanager
def naming_the_recipe(path: Path) -> Iterator[None]:
    """Prefix data and model errors with the recipe they come from (their keys are already named)."""
    try:
        yield
    except (DataError, ModelError) as error:
        if not str(error).startswith(str(path)):
            error.args = (f"{path}: {error}", *error.args[1:])
        raise


@contextlib.contextmanager
def naming_options(options: Mapping[str, str]) -> Iterator[None]:
    """Say the command-line options where a library error names its parameters (``steps=5`` -> ``--steps 5``).

    Library messages name a parameter as ``name=value`` (:class:`~dlcheck.errors.InvalidArgument`); ``options``
    maps each parameter to its option. Recipe, data and model errors name recipe keys and are left alone.
    """
    try:
        yield
    except InputError as error:
        text = str(error)
        for parameter, option in options.items():
            text = re.sub(rf"\b{parameter}=True\b", option, text)  # a flag: `write=True` is `--write`
            text = re.sub(rf"\b{parameter}=", f"{option} ", text)
        error.args = (text, *error.args[1:])
        raise


def emit(
    command: str,
    verdict: Verdict,
    renderable: RenderableType,
    *,
    json_path: Path | None,
    junit_path: Path | None,
    strict: bool,
    console: Console | None = None,
) -> None:
    """The one way a judging command ends: print the report, write ``--json`` and ``--junit``, exit with the
    verdict's code (0 pass or warn, 1 fail or, with ``--strict``, warn)."""
    from dlcheck.report.json_report import write_json  # json and xml.etree: `dlcheck --help` needs neither
    from dlcheck.report.junit import write_junit

    (console or stdout_console()).print(renderable)
    if json_path is not None:
        write_json(verdict.to_json(command), json_path)
    if junit_path is not None:
        write_junit(command, verdict.checks, junit_path, strict=strict)
    exit_for_status(verdict.status, strict=strict)
