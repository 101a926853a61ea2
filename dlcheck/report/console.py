"""Consoles and error rendering shared by every command."""

from __future__ import annotations

__all__ = ["error_console", "error_report", "recipe_error_report", "stdout_console"]

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from dlcheck.errors import DlcheckError, RecipeError


def stdout_console() -> Console:
    return Console(highlight=False)


def error_console() -> Console:
    return Console(stderr=True, highlight=False)


def recipe_error_report(error: RecipeError) -> RenderableType:
    """All of a recipe's problems at once, one row each, in file order."""
    issues = sorted(error.issues, key=lambda issue: (issue.source != error.source, issue.line or 0, issue.path))
    count = len(issues)
    heading = Text.assemble(
        ("error: ", "bold red"),
        (f"{error.source or 'recipe'}", "bold"),
        f" has {count} problem{'s' if count != 1 else ''}",
    )
    table = Table.grid(padding=(0, 2), expand=False)
    table.add_column("where", style="cyan", no_wrap=True)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("problem", overflow="fold")
    for issue in issues:
        if issue.source and issue.source != error.source:
            where = issue.source
        else:
            where = f"line {issue.line}" if issue.line is not None else ""
        problem = Text(issue.message)
        if issue.found is not None:
            problem.append(f" (found {issue.found})", style="dim")
        if issue.hint:
            problem.append(f"\n{issue.hint}", style="green")
        table.add_row(where, issue.path or "(top level)", problem)
    return Group(heading, table)


def error_report(error: DlcheckError) -> RenderableType:
    """A user error as it is shown, without a traceback (``--debug`` shows it)."""
    body = (
        recipe_error_report(error)
        if isinstance(error, RecipeError)
        else Text.assemble(("error: ", "bold red"), str(error))
    )
    return Group(body, Text("(run with --debug for the traceback)", style="dim"))
