"""Turn pydantic's validation errors into plain-English recipe issues.

pydantic reports ``('model', 'layers', 1, 'linear', 'out')`` and "Input should be a valid integer".
A recipe author wrote ``model.layers.1.out`` and wants to know what to type instead. This module walks
the schema along each error location (to drop discriminator tags and union-member labels, and to know
which model the key belongs to), then words the error for a person: what was expected, and the fix.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from dlcheck.recipe._schema_base import number_range_problem
from dlcheck.recipe._text import did_you_mean, dotted, one_of, short_value
from dlcheck.recipe.schema import LAYER_TYPES, Recipe
from dlcheck.recipe.yaml12 import KeyPath

# Segments pydantic adds for union members and validator wrappers; never keys a user wrote.
_LABEL = re.compile(
    r"^(?:function-(?:after|before|wrap|plain)\[.*\]|literal\[.*\]|constrained-\w+|lax-or-strict\[.*\]"
    r"|json-or-python\[.*\]|nullable\[.*\]|tagged-union\[.*\]|union\[.*\]|chain\[.*\]|default\[.*\]"
    r"|int|float|str|bool|list\[.*\]|dict\[.*\]|is-instance\[.*\])$"
)
_NUMBER = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")


@dataclass(frozen=True)
class Draft:
    """An issue before it has a place in the file: ``load`` adds line, column and source."""

    path: KeyPath
    message: str
    found: str | None = None
    hint: str | None = None
    prefer_key: bool = False  # point at the key's line (unknown keys, whole sections), not the value's


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``None`` from a type: ``Annotated[int, ...] | None`` -> ``int``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [member for member in get_args(annotation) if member is not type(None)]
            if len(members) != 1:
                return Union[tuple(members)]  # noqa: UP007 - runtime construction of a union
            annotation = members[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _tagged_members(annotation: Any) -> dict[str, type[BaseModel]]:
    """For a union of models discriminated by ``type``: tag -> model (``{"linear": Linear, ...}``)."""
    members: dict[str, type[BaseModel]] = {}
    for member in get_args(annotation):
        member = _unwrap(member)
        if _is_model(member) and "type" in member.model_fields:
            for tag in get_args(member.model_fields["type"].annotation):
                members[str(tag)] = member
    return members


@dataclass(frozen=True)
class Location:
    """Where an error is, in the user's terms."""

    path: KeyPath
    owner: type[BaseModel] | None  # the model whose field (or unknown key) is the last segment
    annotation: Any  # the expected type at ``path`` (``None`` when unknown)
    in_union: bool  # a union member's label was dropped: several errors may describe one value


def locate(loc: Iterable[str | int]) -> Location:
    """Walk ``Recipe`` along a pydantic ``loc``, keeping only the segments a user wrote.

    Examples
    --------
    >>> dotted(locate(("model", "layers", 1, "linear", "out")).path)
    'model.layers.1.out'
    """
    current: Any = Recipe
    owner: type[BaseModel] | None = None
    path: list[str | int] = []
    in_union = False
    for segment in loc:
        current = _unwrap(current)
        origin = get_origin(current)
        if _is_model(current):
            if isinstance(segment, str) and segment in current.model_fields:
                owner, current = current, current.model_fields[segment].annotation
                path.append(segment)
            elif isinstance(segment, str) and _LABEL.match(segment):
                continue
            else:  # a key the model does not have (extra_forbidden)
                owner, current = current, None
                path.append(segment)
        elif origin is list:
            path.append(segment)
            current = get_args(current)[0]
        elif origin is dict:
            path.append(segment)
            current = get_args(current)[1]
        elif origin in (Union, types.UnionType):
            members = _tagged_members(current)
            if isinstance(segment, str) and segment in members:
                current = members[segment]  # a discriminator tag: the user wrote it as `type:`
            else:
                in_union, current = True, None
        elif isinstance(segment, str) and _LABEL.match(segment):
            continue
        else:
            path.append(segment)
            current = None
    return Location(tuple(path), owner, _unwrap(current) if current is not None else None, in_union)


def _sections(model: type[BaseModel], prefix: KeyPath = ()) -> dict[KeyPath, type[BaseModel]]:
    found: dict[KeyPath, type[BaseModel]] = {prefix: model}
    for name, info in model.model_fields.items():
        annotation = _unwrap(info.annotation)
        if _is_model(annotation):
            found.update(_sections(annotation, (*prefix, name)))
    return found


SECTIONS = _sections(Recipe)
"""Every section of a recipe and its model: ``{(): Recipe, ("optimizer",): OptimizerConfig, ...}``."""


def home_sections(key: str, *, excluding: KeyPath | None = None) -> list[str]:
    """Sections that have a field ``key`` (``"lr"`` -> ``["optimizer"]``); ``"the top level"`` for ``()``."""
    homes = [path for path, model in SECTIONS.items() if key in model.model_fields and path != excluding]
    return [f"`{dotted(path)}`" if path else "the top level" for path in homes]


# ------------------------------------------------------------------------------------------ wording
def _looks_numeric(text: str) -> bool:
    return bool(_NUMBER.match(text.strip()))


def _number_message(kind: str, value: Any, example: str) -> tuple[str, str | None]:
    if isinstance(value, bool):
        return f"expected {kind}, not true/false", None
    if isinstance(value, str) and _looks_numeric(value):
        return (
            f"expected {kind}, but the value is quoted, so YAML reads it as text",
            f"remove the quotes: {value.strip()}",
        )
    if kind == "a whole number" and isinstance(value, float) and value.is_integer():
        return "expected a whole number, not a decimal", f"write {int(value)}"
    return f"expected {kind}, e.g. {example}", None


def _bool_message(value: Any) -> tuple[str, str | None]:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return "expected true or false, but the value is quoted, so YAML reads it as text", "remove the quotes"
    if isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
        word = "true" if value.lower() in ("yes", "on", "y") else "false"
        return f"expected true or false; YAML 1.2 reads `{value}` as text, not a boolean", f"write {word}"
    return "expected true or false", None


def _literal_values(error: ErrorDetails) -> list[str]:
    expected = str(error.get("ctx", {}).get("expected", ""))
    quoted = re.findall(r"'([^']*)'", expected)
    return quoted or [part.strip() for part in re.split(r",| or ", expected) if part.strip()]


def _section_message(where: Location, value: Any) -> tuple[str, str | None]:
    if value is None:
        return "is empty", "fill it in, or remove the line to use the defaults"
    model = where.annotation
    if isinstance(value, str) and _is_model(model) and "name" in model.model_fields:
        key = where.path[-1] if where.path else "section"
        return "expected a section of `key: value` lines", f"write `{key}: {{name: {value}}}`"
    return "expected a section of `key: value` lines", None


def _constraint(error: ErrorDetails) -> str:
    context = error.get("ctx", {})
    words = {"gt": "greater than", "ge": "at least", "lt": "less than", "le": "at most"}
    for key, word in words.items():
        if key in context:
            return f"must be {word} {short_value(context[key])}"
    return str(error["msg"])


def _short_kind(error: ErrorDetails) -> str:
    """What one union member wanted, for joining several into "a whole number or same"."""
    kind = error["type"]
    if kind == "literal_error":
        return one_of([f"`{value}`" for value in _literal_values(error)])
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return "a number that " + _constraint(error).removeprefix("must ").replace("be ", "is ", 1)
    return {
        "int_type": "a whole number",
        "float_type": "a number",
        "bool_type": "true or false",
        "string_type": "text",
        "list_type": "a list",
    }.get(kind, str(error["msg"]).removeprefix("Input should be "))


_SECTION_EXAMPLES: dict[KeyPath, str] = {
    ("data",): "data: {source: digits}",
    ("model",): "model: {layers: [{type: linear, out: 10}]}",
}


def _unknown_key(where: Location) -> Draft:
    path = where.path
    key, section = str(path[-1]), path[:-1]
    fields = list(where.owner.model_fields) if where.owner is not None else []
    guess = did_you_mean(key, fields)
    # "belongs in" only for config sections: inside a layer, a key of another section is just a typo.
    homes = home_sections(key, excluding=section) if SECTIONS.get(section) is where.owner else []
    if homes:
        where_to = " or ".join(home if home == "the top level" else f"in {home}" for home in homes)
        where_to = where_to.replace("the top level", "at the top level")
        hint = f"move it there (or did you mean `{guess}`?)" if guess else "move it there"
        return Draft(path, f"`{key}` does not belong here; it belongs {where_to}", None, hint, prefer_key=True)
    hint = f"did you mean `{guess}`?" if guess else f"allowed keys here: {', '.join(fields)}"
    return Draft(path, f"unknown key `{key}`", None, hint, prefer_key=True)


def word_error(error: ErrorDetails) -> Draft:
    """One pydantic error in plain English, with its user-facing key path."""
    where = locate(error["loc"])
    path, kind, value = where.path, error["type"], error.get("input")
    found = short_value(value)
    hint: str | None = None
    if kind == "extra_forbidden":
        return _unknown_key(where)
    if kind == "missing":
        key = str(path[-1])
        if _is_model(where.annotation):
            example = _SECTION_EXAMPLES.get(path, f"{key}: {{...}}")
            return Draft(path, f"the `{key}` section is missing", None, f"add it, e.g. `{example}`", prefer_key=True)
        return Draft(path, f"required key `{key}` is missing", None, f"add `{key}:`", prefer_key=True)
    if kind == "union_tag_invalid":
        tag = str(error.get("ctx", {}).get("tag", value))
        guess = did_you_mean(tag, LAYER_TYPES)
        hint = f"did you mean `{guess}`?" if guess else f"layer types: {', '.join(LAYER_TYPES)}"
        return Draft((*path, "type"), f"unknown layer type `{tag}`", short_value(tag), hint)
    if kind == "union_tag_not_found":
        hint = f"add `type:`, one of {', '.join(LAYER_TYPES)}"
        return Draft(path, "a layer needs a `type`", found, hint, prefer_key=True)
    if kind == "model_attributes_type" and isinstance(value, str) and value in LAYER_TYPES:
        return Draft(path, "a layer is a mapping with `type:`", found, f"write `- {{type: {value}}}`")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        message, hint = _section_message(where, value)
        return Draft(path, message, found, hint, prefer_key=True)
    if kind == "int_type":
        message, hint = _number_message("a whole number", value, "10")
    elif kind == "float_type":
        message, hint = _number_message("a number", value, "1.0e-3")
    elif kind == "bool_type":
        message, hint = _bool_message(value)
    elif kind == "string_type":
        message = "expected text"
        hint = f'write it in quotes: "{found}"' if isinstance(value, (int, float)) else None
    elif kind == "list_type":
        message, hint = "expected a list, e.g. [a, b]", None
        if path and path[-1] == "layers":
            message, hint = "expected a list of layers", "write one `- {type: ..., ...}` line per layer"
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        message = _constraint(error)
    elif kind == "literal_error":
        allowed = _literal_values(error)
        message = f"must be {'one of ' if len(allowed) > 1 else ''}{one_of(allowed)}"
        guess = did_you_mean(str(value), allowed) if isinstance(value, str) else None
        hint = f"did you mean `{guess}`?" if guess else None
    elif kind in ("too_short", "too_long"):
        context = error.get("ctx", {})
        limit = context.get("min_length", context.get("max_length"))
        word = "at least" if kind == "too_short" else "at most"
        message = f"needs {word} {limit} item{'s' if limit != 1 else ''}, found {context.get('actual_length')}"
    elif kind == "string_pattern_mismatch":
        owner_field = where.owner.model_fields.get(str(path[-1])) if where.owner is not None and path else None
        described = owner_field.description if owner_field is not None else None
        message = f"must be {described}" if described else f"must match {error.get('ctx', {}).get('pattern')}"
        if path == ("device",) and isinstance(value, str):
            guess = (
                "cuda" if value.lower() in ("gpu", "nvidia") else did_you_mean(value, ["auto", "cpu", "cuda", "mps"])
            )
            hint = f"did you mean `{guess}`?" if guess else None
    elif kind == "finite_number":
        message = number_range_problem(value) or str(error["msg"])
    elif kind == "number_out_of_range":
        context = error.get("ctx", {})
        index = context.get("index")
        if index is not None:
            path = (*path, index)
        return Draft(path, str(context.get("problem", error["msg"])), short_value(context.get("number")))
    elif kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
        return Draft(path, message, None, None, prefer_key=True)
    else:
        message = str(error["msg"])
    return Draft(path, message, found, hint)


def word_errors(errors: Iterable[ErrorDetails]) -> list[Draft]:
    """All errors in plain English; the errors of one union value (e.g. ``padding``) become one draft."""
    drafts: list[Draft] = []
    union_groups: dict[KeyPath, list[ErrorDetails]] = {}
    order: list[KeyPath | int] = []
    for error in errors:
        where = locate(error["loc"])
        if where.in_union:
            if where.path not in union_groups:
                union_groups[where.path] = []
                order.append(where.path)
            union_groups[where.path].append(error)
        else:
            order.append(len(drafts))
            drafts.append(word_error(error))
    result: list[Draft] = []
    for item in order:
        if isinstance(item, int):
            result.append(drafts[item])
            continue
        group = union_groups[item]
        if len(group) == 1:
            result.append(word_error(group[0]))
            continue
        kinds = list(dict.fromkeys(_short_kind(error) for error in group))
        message = "expected " + " or ".join(kinds)
        result.append(Draft(item, message, short_value(group[0].get("input"))))
    return result
