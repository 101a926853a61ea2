"""Write a resolved recipe back as YAML, and the recipe JSON schema.

The resolved recipe (every default filled in) is what ``dlcheck recipe show`` prints and what each run
and checkpoint stores, so it must read back to the same :class:`Recipe`. Sections are written in the
schema's field order in block style; a layer is one flow-style line (``- {type: linear, out: 64}``) with
``type`` first, so a model reads like the ``layers:`` list a person would write.

Examples
--------
>>> from dlcheck.recipe.schema import Recipe
>>> recipe = Recipe.model_validate({"data": {"source": "digits"}, "model": {"layers": [{"type": "linear", "out": 10}]}})
>>> print(recipe_to_yaml(recipe).split("model:")[1].split("args")[0].rstrip())
<BLANKLINE>
  layers:
    - {type: linear, out: 10, bias: true}
  factory: null
"""

from __future__ import annotations

__all__ = ["recipe_json_schema", "recipe_to_yaml"]

from typing import Any

from dlcheck.recipe._text import flow_yaml, yaml_scalar
from dlcheck.recipe.schema import Recipe

_HEADER = "# dlcheck recipe, resolved: every default filled in"
_INDENT = 2


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list, tuple))


def _is_flat(value: dict[str, Any]) -> bool:
    """A mapping whose values are scalars or lists of scalars fits on one flow-style line."""
    return all(
        _is_scalar(item) or (isinstance(item, (list, tuple)) and all(_is_scalar(x) for x in item))
        for item in value.values()
    )


def _type_first(value: dict[str, Any]) -> dict[str, Any]:
    # pydantic dumps inherited fields first (pool layers put `kernel` before `type`); people read `type` first.
    if "type" not in value:
        return value
    return {"type": value["type"], **{key: item for key, item in value.items() if key != "type"}}


def _item_lines(item: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(item, dict):
        item = _type_first(item)
        if not item or _is_flat(item):
            return [f"{pad}- {flow_yaml(item)}"]
        lines = [line for key, value in item.items() for line in _entry_lines(key, value, indent + _INDENT)]
        lines[0] = f"{pad}- {lines[0][indent + _INDENT :]}"  # the first key sits on the dash line
        return lines
    return [f"{pad}- {flow_yaml(item)}"]


def _entry_lines(key: Any, value: Any, indent: int) -> list[str]:
    pad = " " * indent
    name = yaml_scalar(key)
    if isinstance(value, dict):
        if not value:
            return [f"{pad}{name}: {{}}"]
        return [f"{pad}{name}:"] + [
            line for child, item in value.items() for line in _entry_lines(child, item, indent + _INDENT)
        ]
    if isinstance(value, (list, tuple)):
        if all(_is_scalar(item) for item in value):
            return [f"{pad}{name}: {flow_yaml(list(value))}"]
        return [f"{pad}{name}:"] + [line for item in value for line in _item_lines(item, indent + _INDENT)]
    return [f"{pad}{name}: {yaml_scalar(value)}"]


def recipe_to_yaml(recipe: Recipe) -> str:
    """The recipe as YAML with every default filled in, in the schema's field order.

    Parameters
    ----------
    recipe : Recipe
        A validated recipe.

    Returns
    -------
    str
        YAML text ending in a newline; ``parse_recipe(text).recipe == recipe``. Floats are written so
        that YAML 1.1 readers also see numbers (``1.0e-05``, never ``1e-05``).

    Raises
    ------
    TypeError
        When a factory's ``args`` hold a value YAML cannot express (only possible for recipes built in
        Python, not read from a file).
    """
    lines = [_HEADER]
    previous_was_section = False
    for key, value in recipe.model_dump(mode="python").items():
        is_section = isinstance(value, dict) and bool(value)
        if is_section or previous_was_section:
            lines.append("")  # blank lines around each section, so sections stand out as in the examples
        lines.extend(_entry_lines(key, value, 0))
        previous_was_section = is_section
    return "\n".join(lines) + "\n"


def recipe_json_schema() -> dict[str, Any]:
    """The JSON schema of a recipe (``Recipe.model_json_schema()``), for editors and documentation."""
    return Recipe.model_json_schema()
