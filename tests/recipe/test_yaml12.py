"""YAML 1.2 scalars, duplicate keys and positions (the loader every recipe goes through)."""

from __future__ import annotations

import math

import pytest

from dlcheck.errors import RecipeError
from dlcheck.recipe.yaml12 import is_plain_yaml_string, read_yaml


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
