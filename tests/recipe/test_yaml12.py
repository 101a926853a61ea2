"""YAML 1.2 scalars, duplicate keys and positions (the loader every recipe goes through)."""

from __future__ import annotations

import math

import pytest

from dlcheck.errors import RecipeError
from dlcheck.recipe.yaml12 import (
    MAX_DEPTH,
    MAX_DOCUMENT_CHARACTERS,
    MAX_INTEGER_DIGITS,
    MAX_VALUES,
    is_plain_yaml_string,
    read_yaml,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1e-3", 0.001),
        ("1.0e-3", 0.001),
        (".5", 0.5),
        ("-2E+4", -20000.0),
        ("3.", 3.0),
        ("010", 10),  # YAML 1.1 (plain PyYAML) reads octal 8
        ("0o10", 8),
        ("0x1f", 31),
        ("-7", -7),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("on", "on"),  # YAML 1.1 reads True
        ("off", "off"),
        ("yes", "yes"),
        ("no", "no"),
        ("1:30", "1:30"),  # YAML 1.1 reads sexagesimal 90
        ("2024-01-01", "2024-01-01"),  # no timestamps in the core schema
        ("null", None),
        ("~", None),
        ("", None),
        ("'1e-3'", "1e-3"),  # quoted stays text
    ],
)
def test_scalars_follow_yaml_1_2_core_schema(text: str, expected: object) -> None:
    value = read_yaml(f"value: {text}\n").data["value"]
    assert value == expected
    assert type(value) is type(expected)


def test_infinity_and_nan() -> None:
    data = read_yaml("a: .inf\nb: -.Inf\nc: .nan\n").data
    assert data["a"] == math.inf and data["b"] == -math.inf and math.isnan(data["c"])


def test_duplicate_key_is_an_error_with_both_lines() -> None:
    with pytest.raises(RecipeError) as caught:
        read_yaml("optimizer:\n  lr: 0.1\n  momentum: 0.9\n  lr: 0.2\n", source="r.yaml")
    (issue,) = caught.value.issues
    assert (issue.line, issue.column) == (4, 3)
    assert "duplicate key 'lr'" in issue.message and "line 2" in issue.message
    assert str(caught.value).startswith("r.yaml: 1 problem")


def test_positions_of_values_keys_and_list_items() -> None:
    text = "optimizer:\n  lr: 1e-3\nmodel:\n  layers:\n    - {type: linear, out: 8}\n    - {type: relu}\n"
    document = read_yaml(text)
    assert document.positions[("optimizer", "lr")] == (2, 7)
    assert document.key_positions[("optimizer", "lr")] == (2, 3)
    assert document.key_positions[("model",)] == (3, 1)
    assert document.positions[("model", "layers", 1)] == (6, 7)
    assert document.positions[("model", "layers", 0, "out")] == (5, 27)
    # A path that is not written falls back to its nearest written ancestor.
    assert document.position(("model", "layers", 1, "bias")) == (6, 7)


def test_syntax_error_names_line_and_says_it_in_plain_words() -> None:
    with pytest.raises(RecipeError) as caught:
        read_yaml("data:\n\tsource: digits\n", source="r.yaml")
    (issue,) = caught.value.issues
    assert issue.line == 2
    assert "tab" in issue.message and issue.hint is not None and "spaces" in issue.hint


def test_merge_key_fills_only_missing_keys() -> None:
    data = read_yaml("base: &base {out: 8, bias: false}\nlayer:\n  <<: *base\n  out: 16\n").data
    assert data["layer"] == {"out": 16, "bias": False}


def test_only_one_document() -> None:
    with pytest.raises(RecipeError, match="more than one YAML document"):
        read_yaml("a: 1\n---\nb: 2\n")


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("val/loss", True),
        ("digits", True),
        ("on", False),
        ("yes", False),
        ("true", False),
        ("null", False),
        ("1e3", False),
        ("a:b", False),
        ("", False),
        ("-x", False),
    ],
)
def test_plain_strings_are_those_that_read_back_as_text(text: str, plain: bool) -> None:
    assert is_plain_yaml_string(text) is plain
    if plain:
        assert read_yaml(f"v: {text}").data["v"] == text


# ------------------------------------------------------------------------------------- reading limits
# Issue 12: alias and merge-key bombs ran past 20 s and 1.4 GB; deep flow collections, huge integer
# literals and self-referencing merges ended in tracebacks; a NUL byte too. Each is now one RecipeError.


def _billion_laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 10)}]" for level in range(1, levels)]
    return "\n".join(lines) + "\n"


def _merge_bomb(levels: int) -> str:
    lines = ["m0: &m0 {" + ", ".join(f"k{index}: {index}" for index in range(10)) + "}"]
    for level in range(1, levels):
        items = ", ".join(f"x{index}: *m{level - 1}" for index in range(10))
        lines.append(f"m{level}: &m{level} {{<<: *m{level - 1}, {items}}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text", [_billion_laughs(9), _merge_bomb(8)], ids=["aliases", "merge_keys"])
def test_alias_bombs_are_refused_at_the_value_limit(text: str) -> None:
    with pytest.raises(RecipeError) as caught:
        read_yaml(text, source="bomb.yaml")
    (issue,) = caught.value.issues
    assert f"more than {MAX_VALUES:,} values (the limit)" in issue.message and "billion laughs" in (issue.hint or "")
    assert issue.line is not None


def test_a_small_alias_expansion_is_still_read() -> None:
    expanded = read_yaml(_billion_laughs(3)).data["a2"]
    assert len(expanded) == 10 and expanded[9][9] == ["lol"] * 10


@pytest.mark.parametrize(
    "text",
    ["loop: &x {a: 1, <<: *x}\n", "loop: &x\n  a: 1\n  <<: *x\n", "loop: &x {a: {<<: *x}}\n"],
    ids=["flow", "block", "nested"],
)
def test_self_referencing_merge_is_refused(text: str) -> None:
    with pytest.raises(RecipeError) as caught:
        read_yaml(text)
    (issue,) = caught.value.issues
    assert "merges a mapping into itself" in issue.message and issue.path.startswith("loop")


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5_000 + "]" * 5_000,
        "a: " + "{b: " * 3_000 + "1" + "}" * 3_000,
        "a:\n" + "".join(" " * (level + 1) + f"k{level}:\n" for level in range(MAX_DEPTH + 5)),
    ],
    ids=["flow_lists", "flow_mappings", "block_mappings"],
)
def test_deep_nesting_is_refused_at_the_depth_limit(text: str) -> None:
    with pytest.raises(RecipeError) as caught:
        read_yaml(text)
    (issue,) = caught.value.issues
    assert f"deeper than {MAX_DEPTH} levels (the limit)" in issue.message


def test_nesting_up_to_the_depth_limit_is_read() -> None:
    lists = MAX_DEPTH - 1  # the mapping holding them is the first level
    data = read_yaml("a: " + "[" * lists + "]" * lists).data["a"]
    levels = 0
    while isinstance(data, list):
        levels, data = levels + 1, data[0] if data else None
    assert levels == lists


@pytest.mark.parametrize("digits", [MAX_INTEGER_DIGITS + 1, 5_000, 100_000])
def test_huge_integer_literal_names_its_key(digits: int) -> None:
    with pytest.raises(RecipeError) as caught:
        read_yaml("train:\n  epochs: " + "9" * digits + "\n", source="r.yaml")
    (issue,) = caught.value.issues
    assert issue.path == "train.epochs" and (issue.line, issue.column) == (2, 11)
    assert f"{digits:,} digits; the limit is {MAX_INTEGER_DIGITS}" in issue.message


def test_long_hex_literal_is_refused_too() -> None:
    with pytest.raises(RecipeError, match="digits; the limit is"):
        read_yaml("seed: 0x" + "f" * 1_000)


@pytest.mark.parametrize(("text", "line", "column"), [("a: 1\nb: x\x00y\n", 2, 5), ("\x00", 1, 1), ("a: \x07\n", 1, 4)])
def test_control_characters_are_named_with_their_place(text: str, line: int, column: int) -> None:
    with pytest.raises(RecipeError) as caught:
        read_yaml(text, source="r.yaml")
    (issue,) = caught.value.issues
    assert (issue.line, issue.column) == (line, column)
    assert "YAML does not allow" in issue.message


def test_document_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(RecipeError, match=f"the limit is {MAX_DOCUMENT_CHARACTERS:,}"):
        read_yaml("# " + "x" * MAX_DOCUMENT_CHARACTERS)


@pytest.mark.parametrize(
    "text",
    ["a: !!set {x, y}\n", "a: !!omap [{x: 1}]\n", "a: !!python/object/apply:os.system ['touch x']\n", "a: !tag [1]\n"],
)
def test_tags_on_lists_and_mappings_are_refused_not_ignored(text: str) -> None:
    with pytest.raises(RecipeError, match=r"unknown `!!` tag") as caught:
        read_yaml(text)
    assert caught.value.issues[0].path == "a"
