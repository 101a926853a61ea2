"""Factory paths: found next to the recipe, errors naming the key, sys.path left as it was."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlcheck.errors import RecipeError, RecipeIssue
from dlcheck.recipe import load_recipe
from dlcheck.recipe.factory import resolve_factory

FACTORY_SOURCE = """
class Builders:
    @staticmethod
    def small(width: int = 4):
        return ("small", width)


def make_net(hidden: int, classes: int = 10):
    return ("net", hidden, classes)


def make_anything(**options):
    return options


NOT_CALLABLE = 3
"""


@pytest.fixture
def module_name() -> Iterator[str]:
    """A fresh module name per test, removed from sys.modules afterwards."""
    name = f"user_factories_{uuid.uuid4().hex[:8]}"
    yield name
    for key in [key for key in sys.modules if key == name or key.startswith(name + ".")]:
        del sys.modules[key]


def write_recipe(folder: Path, factory: str, args: str = "{hidden: 8}") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    recipe = folder / "recipe.yaml"
    recipe.write_text(f"data: {{source: digits}}\nmodel:\n  factory: {factory}\n  args: {args}\ntrain: {{epochs: 1}}\n")
    return recipe


def factory_issues(recipe: Path) -> list[RecipeIssue]:
    with pytest.raises(RecipeError) as caught:
        load_recipe(recipe)
    return caught.value.issues


def test_factory_next_to_the_recipe_resolves_from_another_folder(
    tmp_path: Path, module_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / f"{module_name}.py").write_text(FACTORY_SOURCE)
    recipe = write_recipe(tmp_path / "recipes", f"{module_name}:make_net")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path_before = list(sys.path)
    loaded = load_recipe(recipe)
    assert sys.path == path_before
    factory = resolve_factory(
        loaded.recipe.model.factory or "", directory=loaded.directory, key="model.factory", args={"hidden": 8}
    )
    assert factory(hidden=8) == ("net", 8, 10)
    assert sys.path == path_before


def test_dotted_attribute_and_kwargs_factories(tmp_path: Path, module_name: str) -> None:
    (tmp_path / f"{module_name}.py").write_text(FACTORY_SOURCE)
    small = resolve_factory(f"{module_name}:Builders.small", directory=tmp_path, key="model.factory", args={})
    assert small() == ("small", 4)
    anything = resolve_factory(f"{module_name}:make_anything", directory=tmp_path, key="data.factory", args={"a": 1})
    assert anything(a=1) == {"a": 1}


def test_module_not_found_says_where_it_looked(tmp_path: Path, module_name: str) -> None:
    (issue,) = factory_issues(write_recipe(tmp_path, f"{module_name}:make_net"))
    assert (issue.path, issue.line) == ("model.factory", 3)
    assert "not found" in issue.message and str(tmp_path) in issue.message and "Python path" in issue.message
    assert issue.found == f'"{module_name}:make_net"'


def test_missing_attribute_gets_did_you_mean(tmp_path: Path, module_name: str) -> None:
    (tmp_path / f"{module_name}.py").write_text(FACTORY_SOURCE)
    (issue,) = factory_issues(write_recipe(tmp_path, f"{module_name}:make_nett"))
    assert issue.path == "model.factory" and issue.line == 3
    assert "has no attribute `make_nett`" in issue.message and issue.hint == "did you mean `make_net`?"


def test_arguments_that_do_not_bind_are_named(tmp_path: Path, module_name: str) -> None:
    (tmp_path / f"{module_name}.py").write_text(FACTORY_SOURCE)
    issues = factory_issues(write_recipe(tmp_path, f"{module_name}:make_net", "{hiden: 8, clases: 3}"))
    by_path = {issue.path: issue for issue in issues}
    assert set(by_path) == {"model.args.hiden", "model.args.clases", "model.args"}
    assert by_path["model.args.hiden"].hint == "did you mean `hidden`?"
    assert by_path["model.args.hiden"].line == 4
    assert "needs `hidden`" in by_path["model.args"].message


@pytest.mark.parametrize(
    ("source", "spec", "words"),
    [
        ("raise RuntimeError('no GPU here')\n", "make", "raised RuntimeError: no GPU here"),
        ("import not_a_real_package_xyz\n", "make", "imports `not_a_real_package_xyz`"),
        (FACTORY_SOURCE, "NOT_CALLABLE", "is an int, not a function"),
    ],
)
def test_import_problems_are_named_without_traceback(
    tmp_path: Path, module_name: str, source: str, spec: str, words: str
) -> None:
    (tmp_path / f"{module_name}.py").write_text(source)
    path_before = list(sys.path)
    (issue,) = factory_issues(write_recipe(tmp_path, f"{module_name}:{spec}"))
    assert issue.path == "model.factory" and words in issue.message
    assert "Traceback" not in str(issue)
    assert sys.path == path_before


@pytest.mark.parametrize("spec", ["my_models.make_net", "my_models:", "make net", ":make"])
def test_malformed_spec(tmp_path: Path, spec: str) -> None:
    with pytest.raises(RecipeError) as caught:
        resolve_factory(spec, directory=tmp_path, key="data.factory", args={})
    (issue,) = caught.value.issues
    assert issue.path == "data.factory" and "module:callable" in issue.message
    if spec == "my_models.make_net":
        assert issue.hint is not None and "'my_models:make_net'" in issue.hint


def test_same_module_name_in_two_recipe_folders(tmp_path: Path, module_name: str) -> None:
    for folder, value in (("first", 1), ("second", 2)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / f"{module_name}.py").write_text(f"def make():\n    return {value}\n")
    first = resolve_factory(f"{module_name}:make", directory=tmp_path / "first", key="model.factory", args={})
    second = resolve_factory(f"{module_name}:make", directory=tmp_path / "second", key="model.factory", args={})
    assert (first(), second()) == (1, 2)
    again = resolve_factory(f"{module_name}:make", directory=tmp_path / "second", key="model.factory", args={})
    assert again is second  # the module is imported once per folder, not on every call


def test_factories_are_not_imported_when_the_recipe_has_other_errors(tmp_path: Path, module_name: str) -> None:
    (tmp_path / f"{module_name}.py").write_text("raise RuntimeError('should not run')\n")
    recipe = write_recipe(tmp_path, f"{module_name}:make")
    recipe.write_text(recipe.read_text().replace("epochs: 1", "epochs: 0"))
    (issue,) = factory_issues(recipe)
    assert issue.path == "train.epochs"
    assert module_name not in sys.modules


def test_check_factories_false_skips_the_import(tmp_path: Path, module_name: str) -> None:
    loaded = load_recipe(write_recipe(tmp_path, f"{module_name}:make_net"), check_factories=False)
    assert loaded.recipe.model.factory == f"{module_name}:make_net"
