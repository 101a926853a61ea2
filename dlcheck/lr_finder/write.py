"""``write``: put the suggested LR into the recipe file, changing nothing else.

The file is edited as text at the position the YAML reader recorded for ``optimizer.lr``, so comments, key
order, flow or block style and every other value stay as the user wrote them. Without an ``lr`` key, one is
added to the ``optimizer`` section (or a section is added). The new text is validated as a recipe before the
file is replaced, and must differ from the old one only in ``optimizer.lr``.
"""

from __future__ import annotations

__all__ = ["WriteOutcome", "format_learning_rate", "write_learning_rate"]

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dlcheck.errors import InputError, InvalidArgument
from dlcheck.recipe import parse_recipe
from dlcheck.recipe.yaml12 import YamlDocument, read_yaml

_SCALAR_END = set(",}]#\n\r")


@dataclass(frozen=True)
class WriteOutcome:
    """What ``--write`` changed.

    Attributes
    ----------
    path : pathlib.Path
    old_lr : float or None
        The value in the file before (None when the key was absent: the optimiser's default applied).
    new_lr : float
    line : int
        1-based line of the written value.
    inserted : bool
        True when the key was added rather than replaced.
    """

    path: Path
    old_lr: float | None
    new_lr: float
    line: int
    inserted: bool


def format_learning_rate(value: float) -> str:
    """Two significant digits, in a form both YAML 1.2 and YAML 1.1 readers take as a float.

    Examples
    --------
    >>> format_learning_rate(0.0031622), format_learning_rate(0.2), format_learning_rate(3e-3)
    ('3.2e-3', '2.0e-1', '3.0e-3')
    """
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}" if int(exponent) < 0 else f"{mantissa}e+{int(exponent)}"


def _offset(lines: list[str], line: int, column: int) -> int:
    return sum(len(text) for text in lines[: line - 1]) + column - 1


def _scalar_end(text: str, start: int) -> int:
    if text[start] in "'\"":
        closing = text.find(text[start], start + 1)
        return len(text) if closing < 0 else closing + 1
    end = start
    while end < len(text) and text[end] not in _SCALAR_END and not text[end].isspace():
        end += 1
    return end


def _matching_brace(text: str, start: int) -> int:
    depth, index, quote = 0, start, ""
    while index < len(text):
        character = text[index]
        if quote:
            quote = "" if character == quote else quote
        elif character in "'\"":
            quote = character
        elif character in "{[":
            depth += 1
        elif character in "}]":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise InputError("the recipe's optimizer section `{...}` is not closed; fix the recipe first.")


def _edit(text: str, document: YamlDocument, value: str) -> tuple[str, int, bool]:
    """The new text, the 1-based line of the value, and whether the key was inserted."""
    lines = text.splitlines(keepends=True)
    data = document.data
    optimizer = data.get("optimizer") if isinstance(data, dict) else None
    if isinstance(optimizer, dict) and "lr" in optimizer:
        line, column = document.positions[("optimizer", "lr")]
        start = _offset(lines, line, column)
        return text[:start] + value + text[_scalar_end(text, start) :], line, False
    if isinstance(optimizer, dict):
        line, column = document.positions[("optimizer",)]
        start = _offset(lines, line, column)
        if text[start] == "{":  # flow style: `optimizer: {name: sgd}`
            closing = _matching_brace(text, start)
            inner = text[start + 1 : closing].strip()
            addition = f"{', ' if inner else ''}lr: {value}"
            return text[:closing].rstrip(" ") + addition + text[closing:], line, True
        # block style: a new first key, indented like the section's other keys
        child_line, child_column = min(
            position
            for path, position in document.key_positions.items()
            if path[:1] == ("optimizer",) and len(path) == 2
        )
        indent = " " * (child_column - 1)
        insert_at = _offset(lines, child_line, 1)
        return text[:insert_at] + f"{indent}lr: {value}\n" + text[insert_at:], child_line, True
    if optimizer is not None or (isinstance(data, dict) and "optimizer" in data):
        raise InputError("the recipe's `optimizer` is not a mapping; fix it first (dlcheck recipe check).")
    separator = "" if text.endswith("\n") or not text else "\n"
    return text + separator + f"optimizer: {{lr: {value}}}\n", len(lines) + 1, True


def write_learning_rate(path: Path, lr: float) -> WriteOutcome:
    """Set ``optimizer.lr`` in the recipe file at ``path`` to ``lr`` (two significant digits), in place.

    Parameters
    ----------
    path : pathlib.Path
        The recipe file as written by the user (``--set`` overrides are not written back).
    lr : float
        The learning rate.

    Returns
    -------
    WriteOutcome

    Raises
    ------
    InputError
        When the recipe sets ``schedule.max_lr`` for a one-cycle schedule (``optimizer.lr`` would not be the
        peak; edit that key by hand), or the edited text would not validate to the same recipe.
    """
    if not (math.isfinite(lr) and lr > 0):
        raise InvalidArgument("lr", f"lr={lr}: no learning rate to write.")
    text = path.read_text(encoding="utf-8")
    before = parse_recipe(text, source=str(path), directory=path.parent, check_factories=False)
    schedule = before.recipe.schedule
    if schedule.name == "one_cycle" and schedule.max_lr is not None:
        raise InputError(
            f"{path} sets schedule.max_lr = {schedule.max_lr}, which overrides optimizer.lr as the "
            "one-cycle peak; edit schedule.max_lr by hand (or remove it so optimizer.lr is the peak)."
        )
    document = read_yaml(text, str(path))
    value = format_learning_rate(lr)
    edited, line, inserted = _edit(text, document, value)
    after = parse_recipe(edited, source=str(path), directory=path.parent, check_factories=False)
    expected = before.recipe.model_copy(
        update={"optimizer": before.recipe.optimizer.model_copy(update={"lr": float(value)})}
    )
    if after.recipe.model_dump() != expected.model_dump():
        raise InputError(
            f"{path}: editing line {line} would change more than optimizer.lr; the file was left "
            f"as it was. Set `lr: {value}` under `optimizer:` by hand."
        )
    old = before.recipe.optimizer.lr if not inserted else None
    # Replace atomically: write a sibling file, then rename over the recipe (keeping its permissions).
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(edited)
        os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return WriteOutcome(path, old, float(value), line, inserted)
