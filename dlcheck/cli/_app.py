"""The Typer application, the global options, and the mapping of errors to exit codes (0 ok, 1 a check failed,
2 unusable input, 130 interrupted)."""

from __future__ import annotations

__all__ = ["app", "main", "recipe_app"]

import sys
from typing import Annotated, Any

import typer

from dlcheck._version import __version__
from dlcheck.errors import DlcheckError, InputError
from dlcheck.report.console import error_console, error_report

app = typer.Typer(
    name="dlcheck",
    help="A babysitter for deep-learning training runs: sanity checks, diagnosis and training from YAML recipes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
recipe_app = typer.Typer(help="Validate, show and document recipes.", no_args_is_help=True)
app.add_typer(recipe_app, name="recipe")

_state: dict[str, Any] = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlcheck {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug


def _debug_first(arguments: list[str]) -> list[str]:
    """Accept ``--debug`` anywhere on the line, as users type it after the subcommand."""
    if "--debug" not in arguments:
        return arguments
    index = arguments.index("--debug")
    if index > 0 and arguments[index - 1] == "--set":  # a --set value, not the flag
        return arguments
    return ["--debug", *arguments[:index], *arguments[index + 1 :]]


def main() -> None:
    """Console-script entry point: run the app and map errors to exit codes (0, 1, 2 and 130; see README)."""
    arguments = _debug_first(sys.argv[1:])
    _state["debug"] = "--debug" in arguments[:1]
    try:
        code = app(args=arguments, prog_name="dlcheck", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except DlcheckError as error:
        if _state["debug"]:
            raise
        error_console().print(error_report(error))
        sys.exit(error.exit_code)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except KeyboardInterrupt:
        if _state["debug"]:
            raise
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except OSError as error:  # a path the user gave cannot be read or written
        if _state["debug"] or error.filename is None:
            raise
        unreadable = InputError(f"{error.filename}: {error.strerror or error}. Check the path and its permissions.")
        error_console().print(error_report(unreadable))
        sys.exit(2)
    except Exception as error:
        # Usage errors come from click, which typer may vendor (typer._click): match by behaviour, not class.
        if type(error).__name__ == "Abort":  # click's word for Ctrl-C during parsing or start-up
            sys.stderr.write("interrupted\n")
            sys.exit(130)
        show = getattr(error, "show", None)
        if callable(show) and isinstance(getattr(error, "exit_code", None), int):
            show()
            sys.exit(error.exit_code)  # type: ignore[attr-defined]
        raise
