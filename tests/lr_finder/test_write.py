"""--write edits optimizer.lr in place and keeps everything else of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlcheck.errors import InputError
from dlcheck.lr_finder.write import format_learning_rate, write_learning_rate
from dlcheck.recipe import load_recipe

ROOT = Path(__file__).parents[2]


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    return [(old, new) for old, new in zip(before.splitlines(), after.splitlines(), strict=False) if old != new]


def test_replaces_a_flow_style_value_and_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "digits.yaml"
    original = (ROOT / "recipes" / "digits_mlp.yaml").read_text()
    path.write_text(original)
    outcome = write_learning_rate(path, 0.0071)
    edited = path.read_text()
    assert _changed_lines(original, edited) == [
        (
            "optimizer: {name: adam, lr: 1.0e-3, weight_decay: 1.0e-4}",
            "optimizer: {name: adam, lr: 7.1e-3, weight_decay: 1.0e-4}",
        )
    ]
    assert len(edited.splitlines()) == len(original.splitlines())
    assert outcome.old_lr == pytest.approx(1e-3) and outcome.new_lr == pytest.approx(7.1e-3) and not outcome.inserted
    assert load_recipe(path).recipe.optimizer.lr == pytest.approx(7.1e-3)


def test_replaces_a_block_style_value_with_a_trailing_comment(tmp_path: Path) -> None:
    path = tmp_path / "block.yaml"
    path.write_text(
        "data: {source: blobs, classes: 3}\nmodel: {layers: [{type: linear, out: 3}]}\n"
        "optimizer:\n  name: sgd\n  lr: 0.1   # tuned by hand\n  momentum: 0.9\n"
    )
    write_learning_rate(path, 0.032)
    assert "  lr: 3.2e-2   # tuned by hand\n" in path.read_text()
    assert load_recipe(path).recipe.optimizer.momentum == 0.9


def test_inserts_the_key_into_a_block_section(tmp_path: Path) -> None:
    path = tmp_path / "no_lr.yaml"
    path.write_text(
        "data: {source: blobs, classes: 3}\nmodel: {layers: [{type: linear, out: 3}]}\n"
        "optimizer:\n    name: sgd   # no lr: the default applies\n    momentum: 0.9\ntrain: {epochs: 1}\n"
    )
    outcome = write_learning_rate(path, 0.05)
    text = path.read_text()
    assert "optimizer:\n    lr: 5.0e-2\n    name: sgd   # no lr: the default applies\n" in text
    assert outcome.inserted and outcome.old_lr is None
    assert load_recipe(path).recipe.optimizer.lr == pytest.approx(0.05)


def test_inserts_the_key_into_a_flow_section(tmp_path: Path) -> None:
    path = tmp_path / "flow.yaml"
    path.write_text(
        "data: {source: blobs, classes: 3}\nmodel: {layers: [{type: linear, out: 3}]}\noptimizer: {name: adamw}\n"
    )
    write_learning_rate(path, 3e-4)
    assert "optimizer: {name: adamw, lr: 3.0e-4}\n" in path.read_text()


def test_adds_an_optimizer_section_when_there_is_none(tmp_path: Path) -> None:
    path = tmp_path / "bare.yaml"
    path.write_text("data: {source: blobs, classes: 3}\nmodel: {layers: [{type: linear, out: 3}]}  # tiny")
    write_learning_rate(path, 2e-3)
    recipe = load_recipe(path).recipe
    assert recipe.optimizer.lr == pytest.approx(2e-3) and recipe.optimizer.name == "adam"
    assert path.read_text().startswith(
        "data: {source: blobs, classes: 3}\nmodel: {layers: [{type: linear, out: 3}]}  # tiny\n"
    )


def test_refuses_a_one_cycle_recipe_whose_peak_is_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "cycle.yaml"
    text = (
        "data: {source: blobs, classes: 3}\nmodel: {layers: [{type: linear, out: 3}]}\n"
        "optimizer: {name: sgd, lr: 0.1}\nschedule: {name: one_cycle, max_lr: 0.5}\n"
    )
    path.write_text(text)
    with pytest.raises(InputError, match=r"schedule\.max_lr"):
        write_learning_rate(path, 0.01)
    assert path.read_text() == text


def test_formats_floats_that_any_yaml_reader_takes_as_numbers() -> None:
    import yaml

    for value in (3.1622e-3, 0.2, 1.0, 12.5, 4e-7):
        text = format_learning_rate(value)
        assert isinstance(yaml.safe_load(f"lr: {text}")["lr"], float), text  # PyYAML is YAML 1.1
        assert float(text) == pytest.approx(value, rel=0.05)
