"""One error hierarchy for everything a user can cause.

The CLI maps every :class:`DlcheckError` to exit code 2 and prints its message without a traceback
(``--debug`` shows it). Messages name the file, the dotted key or line, the value found, what was
expected and the fix, so the user never has to read our source to act on them.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "DlcheckError",
    "InputError",
    "InvalidArgument",
    "ModelError",
    "RecipeError",
    "RecipeIssue",
    "TrainingError",
]

from dataclasses import dataclass


class DlcheckError(Exception):
    """Base class of every error caused by the user's input (exit code 2)."""

    exit_code: int = 2


@dataclass(frozen=True)
class RecipeIssue:
    """One problem found in a recipe.

    Attributes
    ----------
    path : str
        Dotted key, e.g. ``optimizer.lr`` or ``model.layers.2.type``; ``""`` for the whole file.
    message : str
        What is wrong and what was expected, one or two sentences.
    line : int or None
        1-based line in the recipe file (``None`` for command-line overrides or unknown).
    column : int or None
        1-based column.
    source : str
        The file name, or ``--set`` for a command-line override.
    found : str or None
        The offending value as the user wrote it (``repr``-like), when there is one.
    hint : str or None
        The fix, e.g. ``did you mean 'lr'?``.
    """

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    source: str = ""
    found: str | None = None
    hint: str | None = None

    def location(self) -> str:
        where = self.source or "recipe"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        key = self.path or "(top level)"
        text = f"{self.location()}: {key}: {self.message}"
        if self.found is not None:
            text += f" (found {self.found})"
        if self.hint:
            text += f"; {self.hint}"
        return text


class RecipeError(DlcheckError):
    """A recipe could not be used. Carries every issue found, not just the first."""

    def __init__(self, issues: list[RecipeIssue], source: str = "") -> None:
        self.issues = list(issues)
        self.source = source
        count = len(self.issues)
        head = f"{source or 'recipe'}: {count} problem{'s' if count != 1 else ''}"
        super().__init__(head + "\n" + "\n".join(f"  - {issue}" for issue in self.issues))


class DataError(DlcheckError):
    """The data named by a recipe is missing, unreadable or inconsistent."""


class ModelError(DlcheckError):
    """The model described by a recipe cannot be built for the data's shapes."""


class InputError(DlcheckError):
    """A bad command-line option or input file (not a recipe)."""


class InvalidArgument(InputError, ValueError):
    """A bad argument to a library function, named by its parameter (``steps=5``, not ``--steps 5``).

    Also a :class:`ValueError`, so Python callers can catch bad arguments the usual way. The command line
    shows the message with the parameter replaced by its option (:func:`dlcheck.cli._options.as_option_error`).

    Attributes
    ----------
    parameter : str
        The parameter's name in the Python API, e.g. ``start_lr``.
    """

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(message)


class TrainingError(DlcheckError):
    """A run cannot go on for a reason the user must act on (a checkpoint that watched another metric, a
    monitored metric that does not exist). A run that ends badly (a non-finite loss, a divergence) is not an
    error: it is reported by ``TrainResult.status``."""
