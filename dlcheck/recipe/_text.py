"""Small text helpers shared by the recipe modules: YAML scalars, short values, did-you-mean, paths."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from dlcheck.recipe.yaml12 import KeyPath, is_plain_yaml_string

_SHORT = 48  # characters of a value shown in a message before it is cut


def yaml_scalar(value: Any) -> str:
    """Write a scalar so that the YAML 1.2 loader, and YAML 1.1 readers too, read it back unchanged.

    Floats always carry a ``.`` in the mantissa and a signed exponent (``1.0e-05``): YAML 1.1 readers such
    as plain PyYAML read a bare ``1e-05`` as text.

    Examples
    --------
    >>> [yaml_scalar(v) for v in (1e-05, 0.001, 2.0, True, None, "val/loss", "on", "a:b")]
    ['1.0e-05', '0.001', '2.0', 'true', 'null', 'val/loss', '"on"', '"a:b"']
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        if exponent:
            if "." not in mantissa:
                mantissa += ".0"
            if exponent[0] not in "+-":
                exponent = "+" + exponent
            return f"{mantissa}e{exponent}"
        return text
    if isinstance(value, str):
        return value if is_plain_yaml_string(value) else json.dumps(value, ensure_ascii=False)
    raise TypeError(f"not a YAML scalar: {type(value).__name__}")


def flow_yaml(value: Any) -> str:
    """``value`` in YAML flow style on one line: ``{type: linear, out: 64}``, ``[0.9, 0.999]``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{yaml_scalar(key)}: {flow_yaml(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow_yaml(item) for item in value) + "]"
    return yaml_scalar(value)


def short_value(value: Any) -> str:
    """A value as the user would have written it, cut to a readable length; strings keep their quotes."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    else:
        try:
            text = flow_yaml(value)
        except TypeError:
            text = repr(value)
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The closest of ``choices`` to ``word`` (case-insensitive), or ``None`` when nothing is close."""
    choices = list(choices)
    by_lower = {choice.lower(): choice for choice in choices}
    if word.lower() in by_lower and by_lower[word.lower()] != word:
        return by_lower[word.lower()]  # only the case differs
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[matches[0]] if matches else None


def dotted(path: KeyPath) -> str:
    """``("model", "layers", 2, "type")`` -> ``"model.layers.2.type"``."""
    return ".".join(str(part) for part in path)


def one_of(values: Sequence[Any]) -> str:
    """``a, b or c`` with each value in YAML form."""
    words = [yaml_scalar(value) if not isinstance(value, str) else value for value in values]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]
