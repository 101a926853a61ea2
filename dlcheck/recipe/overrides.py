"""Command-line overrides: ``--set optimizer.lr=1e-2`` changes one value of a recipe before validation.

The value is read as YAML 1.2 (``1e-2`` is a float, ``{flip: horizontal}`` a mapping, ``null`` clears a
key), then validated with the rest of the recipe, so an override gets exactly the checks and messages a
value in the file gets. List items are addressed by number: ``model.layers.0.out=32``.
"""

from __future__ import annotations

__all__ = ["AppliedOverrides", "Override", "apply_overrides", "parse_override"]

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dlcheck.errors import RecipeError, RecipeIssue
from dlcheck.recipe._text import dotted, short_value
from dlcheck.recipe.yaml12 import KeyPath, read_yaml

SOURCE = "--set"
_SEGMENT = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_-]*|[0-9]+)$")


@dataclass(frozen=True)
class Override:
    """One ``--set KEY=VALUE``: the text as given, the key path and the parsed value."""

    text: str
    path: KeyPath
    value: Any


@dataclass
class AppliedOverrides:
    """The recipe data after overrides, and what they touched (to attribute errors to ``--set``)."""

    data: dict[str, Any]
    overrides: list[Override] = field(default_factory=list)
    created: set[KeyPath] = field(default_factory=set)  # sections an override created, e.g. early_stopping
    issues: list[RecipeIssue] = field(default_factory=list)

    def override_for(self, path: KeyPath) -> Override | None:
        """The last override that set ``path`` or a section containing it, or that created ``path``."""
        for override in reversed(self.overrides):
            if path[: len(override.path)] == override.path:
                return override
            if path in self.created and override.path[: len(path)] == path:
                return override
        return None


def _issue(text: str, message: str, hint: str, path: str = "") -> RecipeIssue:
    return RecipeIssue(path=path, message=message, source=SOURCE, found=short_value(text), hint=hint)


def parse_override(text: str) -> Override:
    """Parse ``key.path=value``.

    Raises
    ------
    RecipeError
        When there is no ``=``, the key is not a dotted path, or the value is not valid YAML.

    Examples
    --------
    >>> parse_override("model.layers.0.out=32")
    Override(text='model.layers.0.out=32', path=('model', 'layers', 0, 'out'), value=32)
    """
    key, equals, value_text = text.partition("=")
    key = key.strip()
    if not equals:
        raise RecipeError(
            [_issue(text, "an override needs `=` between key and value", "write e.g. --set optimizer.lr=1e-3", key)],
            source=SOURCE,
        )
    segments = key.split(".")
    if not key or not all(_SEGMENT.match(segment) for segment in segments):
        raise RecipeError(
            [_issue(text, f"`{key}` is not a dotted key", "write keys like optimizer.lr or model.layers.0.out", key)],
            source=SOURCE,
        )
    path = tuple(int(segment) if segment.isdigit() else segment for segment in segments)
    try:
        value = read_yaml(value_text, source=SOURCE).data
    except RecipeError as error:
        problem = error.issues[0].message if error.issues else "not valid YAML"
        hint = "quote values with special characters, e.g. --set 'name=\"my run: 2\"'"
        raise RecipeError(
            [_issue(text, f"the value is not valid YAML ({problem})", hint, key)], source=SOURCE
        ) from error
    return Override(text, path, value)


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"the value {short_value(value)}"


def _set(applied: AppliedOverrides, override: Override) -> RecipeIssue | None:
    node: Any = applied.data
    path = override.path
    for depth, segment in enumerate(path):
        last = depth == len(path) - 1
        here = dotted(path[:depth]) or "the recipe"
        if isinstance(node, dict):
            key: Any = segment if segment in node else str(segment)
            if last:
                node[key] = override.value
                return None
            if node.get(key) is None:
                node[key] = {}  # an absent section: the override creates it (e.g. early_stopping.patience=3)
                applied.created.add(path[: depth + 1])
            node = node[key]
        elif isinstance(node, list):
            if not isinstance(segment, int):
                return _issue(
                    override.text,
                    f"`{here}` is a list; pick an item by number",
                    f"write e.g. {here}.0.{segment}=...",
                    dotted(path),
                )
            if segment > len(node) or (segment == len(node) and not last):
                return _issue(
                    override.text,
                    f"`{here}` has {len(node)} items (numbered from 0); there is no item {segment}",
                    f"use an index below {len(node)}, or {len(node)} to append an item",
                    dotted(path),
                )
            if last:
                if segment == len(node):
                    node.append(override.value)
                else:
                    node[segment] = override.value
                return None
            node = node[segment]
        else:
            return _issue(
                override.text,
                f"`{here}` is {_describe(node)}, not a section, so it has no key `{segment}`",
                f"set {here} itself, e.g. --set {here}=...",
                dotted(path),
            )
    return None


def apply_overrides(data: dict[str, Any], overrides: Sequence[str]) -> AppliedOverrides:
    """Apply ``--set`` overrides to a copy of ``data``; problems are collected, not raised.

    Parameters
    ----------
    data : dict
        The recipe as read from YAML (not modified).
    overrides : sequence of str
        ``key.path=value`` strings, applied in order (a later one wins).

    Returns
    -------
    AppliedOverrides
        The new data, the parsed overrides and any issues (malformed overrides, impossible paths).

    Examples
    --------
    >>> apply_overrides({"optimizer": {"lr": 0.1}}, ["optimizer.lr=1e-2"]).data
    {'optimizer': {'lr': 0.01}}
    """
    applied = AppliedOverrides(copy.deepcopy(data))
    for text in overrides:
        try:
            override = parse_override(text)
        except RecipeError as error:
            applied.issues.extend(error.issues)
            continue
        issue = _set(applied, override)
        if issue is not None:
            applied.issues.append(issue)
        else:
            applied.overrides.append(override)
    return applied
