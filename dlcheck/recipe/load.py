"""Load a recipe: read YAML, apply ``--set`` overrides, validate, check cross-field rules and factories.

Every problem found is reported at once in one :class:`RecipeError` (research A5, rule 1), each issue
with its dotted key, the file line and column, the value found and the fix. The stages run in order
and stop after the first stage that found problems, because later stages need a valid recipe: schema
(and malformed overrides), then cross-field rules, then user factories - so user code is imported only
for a recipe that is otherwise correct, and before any data is touched, and only when the caller asks
(``check_factories``; ``recipe show`` and ``recipe check --no-build`` run no user code).

Examples
--------
>>> loaded = parse_recipe("data: {source: digits}\\nmodel: {layers: [{type: linear, out: 10}]}\\n",
...                       overrides=["optimizer.lr=1e-2"])
>>> loaded.recipe.optimizer.lr
0.01
"""

from __future__ import annotations

__all__ = ["LoadedRecipe", "load_recipe", "parse_recipe"]

import dataclasses
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dlcheck.errors import RecipeError, RecipeIssue
from dlcheck.recipe._schema_errors import Draft, word_errors
from dlcheck.recipe._text import did_you_mean
from dlcheck.recipe.factory import check_factory_name, resolve_factory
from dlcheck.recipe.overrides import SOURCE as OVERRIDE_SOURCE
from dlcheck.recipe.overrides import AppliedOverrides, apply_overrides
from dlcheck.recipe.rules import check_rules
from dlcheck.recipe.schema import Recipe
from dlcheck.recipe.yaml12 import MAX_DOCUMENT_CHARACTERS, KeyPath, YamlDocument, read_yaml


@dataclass(frozen=True)
class LoadedRecipe:
    """A validated recipe and where it came from.

    Attributes
    ----------
    recipe : Recipe
        The validated recipe, overrides applied.
    path : pathlib.Path
        Absolute path of the recipe file.
    directory : pathlib.Path
        The recipe's folder: relative data paths and factory modules are looked up here.
    overrides : tuple of str
        The ``--set`` overrides applied, as given.
    """

    recipe: Recipe
    path: Path
    directory: Path
    overrides: tuple[str, ...] = ()


def _key_path(dotted_path: str) -> KeyPath:
    return tuple(int(part) if part.isdigit() else part for part in dotted_path.split(".")) if dotted_path else ()


class _Locator:
    """Gives issues their place: a line in the file, or ``--set`` when an override wrote the value."""

    def __init__(self, document: YamlDocument, applied: AppliedOverrides, source: str) -> None:
        self.document = document
        self.applied = applied
        self.source = source

    def place(self, issue: RecipeIssue, *, prefer_key: bool = False) -> RecipeIssue:
        path = _key_path(issue.path)
        if self.applied.override_for(path) is not None:
            return dataclasses.replace(issue, source=OVERRIDE_SOURCE, line=None, column=None)
        keys, values = self.document.key_positions, self.document.positions
        # The path itself, else its nearest written ancestor (a missing key points at its section). Not
        # the document root: a missing top-level section has no line to point at.
        for length in range(len(path), 0, -1):
            prefix = path[:length]
            exact = length == len(path)
            position = (keys.get(prefix) or values.get(prefix)) if prefer_key or not exact else values.get(prefix)
            if position is not None:
                return dataclasses.replace(issue, source=self.source, line=position[0], column=position[1])
        return dataclasses.replace(issue, source=self.source)

    def from_draft(self, draft: Draft) -> RecipeIssue:
        issue = RecipeIssue(
            path=".".join(str(part) for part in draft.path), message=draft.message, found=draft.found, hint=draft.hint
        )
        return self.place(issue, prefer_key=draft.prefer_key)


def _sorted(issues: list[RecipeIssue]) -> list[RecipeIssue]:
    # File issues in reading order, then those without a line, then command-line overrides.
    return sorted(
        issues,
        key=lambda issue: (issue.source == OVERRIDE_SOURCE, issue.line is None, issue.line or 0, issue.column or 0),
    )


def _whole_file_error(source: str, message: str, hint: str, line: int | None = None) -> RecipeError:
    return RecipeError([RecipeIssue(path="", message=message, line=line, source=source, hint=hint)], source=source)


def _check_factories(recipe: Recipe, directory: Path, locator: _Locator, *, import_modules: bool) -> list[RecipeIssue]:
    issues: list[RecipeIssue] = []
    for section in ("model", "data"):
        config: Any = getattr(recipe, section)
        if config.factory is None:
            continue
        key = f"{section}.factory"
        try:
            if import_modules:
                resolve_factory(config.factory, directory=directory, key=key, args=config.args)
            else:
                check_factory_name(config.factory, key=key)
        except RecipeError as error:
            issues.extend(locator.place(issue, prefer_key=".args" in issue.path) for issue in error.issues)
    return issues


def parse_recipe(
    text: str,
    source: str = "<string>",
    overrides: Sequence[str] = (),
    directory: Path | None = None,
    check_factories: bool = True,
) -> LoadedRecipe:
    """Validate recipe text (used by tests and by ``--resume``, which stores the resolved recipe).

    Parameters
    ----------
    text : str
        The recipe as YAML.
    source : str
        Name used in messages (a file name).
    overrides : sequence of str
        ``--set`` overrides, ``"key.path=value"``, applied in order.
    directory : pathlib.Path, optional
        Folder for factory modules and relative paths (default: the current folder).
    check_factories : bool
        Import ``model.factory`` / ``data.factory`` and check their ``args`` against the signature. Without
        it no user code runs; the factory paths are still checked by name (their form, and the targets
        :mod:`dlcheck.recipe.factory` refuses).

    Returns
    -------
    LoadedRecipe
        ``path`` is ``source`` made absolute (it need not exist).

    Raises
    ------
    RecipeError
        With every issue found in the first failing stage (YAML, schema, rules, factories).
    """
    folder = Path(directory).absolute() if directory is not None else Path.cwd()
    document = read_yaml(text, source)
    if document.data is None:
        raise _whole_file_error(source, "the recipe is empty", "start from an example, e.g. recipes/digits_mlp.yaml")
    if not isinstance(document.data, dict):
        kind = "a list" if isinstance(document.data, list) else "a single value"
        raise _whole_file_error(
            source, f"a recipe is a mapping of sections (data:, model:, ...), found {kind}", "see recipes/*.yaml", 1
        )
    applied = apply_overrides(document.data, overrides)
    locator = _Locator(document, applied, source)
    issues = list(applied.issues)
    try:
        recipe = Recipe.model_validate(applied.data)
    except ValidationError as error:
        issues.extend(locator.from_draft(draft) for draft in word_errors(error.errors()))
        raise RecipeError(_sorted(issues), source=source) from None
    issues.extend(locator.place(issue) for issue in check_rules(recipe))
    if not issues:
        issues.extend(_check_factories(recipe, folder, locator, import_modules=check_factories))
    if issues:
        raise RecipeError(_sorted(issues), source=source)
    return LoadedRecipe(recipe, Path(source).absolute(), folder, tuple(overrides))


def _read(file: Path, source: str) -> str:
    if not file.exists():
        siblings = sorted(item.name for item in file.parent.glob("*.y*ml")) if file.parent.is_dir() else []
        guess = did_you_mean(file.name, siblings)
        hint = f"did you mean {file.parent / guess}?" if guess else f"check the path (relative to {Path.cwd()})"
        raise _whole_file_error(source, f"recipe file not found: {file}", hint)
    if file.is_dir():
        inside = sorted(item.name for item in file.glob("*.y*ml"))[:5]
        hint = f"pass one of the recipes in it: {', '.join(inside)}" if inside else "pass a .yaml recipe file"
        raise _whole_file_error(source, f"{file} is a folder, not a recipe file", hint)
    status = file.stat()
    if not stat.S_ISREG(status.st_mode):  # a FIFO would block and /dev/zero never ends
        raise _whole_file_error(
            source,
            f"{file} is not a regular file (a device, FIFO or socket)",
            "save the recipe to a file and pass that",
        )
    # Characters are at most bytes in UTF-8, and a document over the limit is refused by read_yaml with
    # the same words: read no more than the limit allows, in case the file grows while we read it.
    limit = MAX_DOCUMENT_CHARACTERS * 4
    if status.st_size > limit:
        raise _whole_file_error(
            source,
            f"{file} is {status.st_size:,} bytes; a recipe is at most {MAX_DOCUMENT_CHARACTERS:,} characters",
            "a recipe is a few kilobytes; check that this is the file you meant",
        )
    try:
        with file.open("rb") as handle:
            return handle.read(limit + 1).decode("utf-8")
    except UnicodeDecodeError as error:
        raise _whole_file_error(source, f"{file} is not UTF-8 text ({error.reason})", "save it as UTF-8") from error
    except OSError as error:
        raise _whole_file_error(source, f"cannot read {file}: {error.strerror}", "check its permissions") from error


def load_recipe(
    path: str | os.PathLike[str], overrides: Sequence[str] = (), *, check_factories: bool = True
) -> LoadedRecipe:
    """Read and validate a recipe file.

    Parameters
    ----------
    path : str or path-like
        The recipe file (YAML).
    overrides : sequence of str
        ``--set`` overrides, ``"key.path=value"`` (``"optimizer.lr=1e-2"``, ``"model.layers.0.out=32"``).
    check_factories : bool
        Import ``model.factory`` / ``data.factory`` from the recipe's folder (then ``sys.path``) and check
        their ``args``, so a bad factory is reported before any data is touched. ``False`` runs no user
        code (``recipe show``, ``recipe check --no-build``); the paths are still checked by name.

    Returns
    -------
    LoadedRecipe
        The recipe with its absolute path, folder and overrides.

    Raises
    ------
    RecipeError
        When the file is missing or unreadable, or with every problem found in it (exit code 2).
    """
    source = os.fspath(path)
    file = Path(source)
    text = _read(file, source)
    loaded = parse_recipe(text, source, overrides, directory=file.absolute().parent, check_factories=check_factories)
    return dataclasses.replace(loaded, path=file.absolute())
