"""Factory paths: found next to the recipe, errors naming the key, sys.path left as it was."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dlcheck.errors import RecipeError, RecipeIssue
from dlcheck.recipe import load_recipe
from dlcheck.recipe.factory import ALLOW_VARIABLE, blocked_target, resolve_factory
from tests.cli_runner import run_cli

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


# ------------------------------------------------------------------------ refused targets (issue 12)
# `recipe check` ran `os:system`, `subprocess:run` and `runpy:run_path` from a recipe (also via --set), and
# `recipe show` / `recipe check --no-build` imported the module next to the recipe. A payload here touches
# a canary file; it must not exist afterwards.

CANARY = "CANARY"
PAYLOAD = f"import pathlib\npathlib.Path(__file__).with_name({CANARY!r}).touch()\n\n\ndef make_net(hidden: int = 8):\n    return hidden\n"

DANGEROUS = [
    ("os:system", {"command": f"touch {CANARY}"}),
    ("os:popen", {"cmd": f"touch {CANARY}"}),
    ("posix:system", {"command": f"touch {CANARY}"}),
    ("subprocess:run", {"args": ["touch", CANARY]}),
    ("subprocess:Popen", {"args": ["touch", CANARY]}),
    ("runpy:run_path", {"path_name": "payload_module.py"}),
    ("runpy:run_module", {"mod_name": "payload_module"}),
    ("builtins:__import__", {"name": "payload_module"}),
    ("builtins:eval", {}),
    ("builtins:exec", {}),
    ("builtins:compile", {}),
    ("builtins:open", {"file": CANARY, "mode": "w"}),
    ("importlib:import_module", {"name": "payload_module"}),
    ("pty:spawn", {"argv": ["touch", CANARY]}),
    ("shutil:copy", {"src": "payload_module.py", "dst": CANARY}),
    ("shutil:rmtree", {"path": "victim"}),
    ("pickle:loads", {"data": "x"}),
    ("torch:load", {"f": "payload.pt", "weights_only": False}),
    ("logging:os.system", {"command": f"touch {CANARY}"}),  # an alias: os.system reached through logging
    ("pathlib:Path.touch", {"self": CANARY}),  # an unbound method happily takes a string as `self`
    ("logging:FileHandler", {"filename": CANARY}),
    ("zipfile:ZipFile", {"file": CANARY, "mode": "w"}),
    ("torch:save", {"obj": "x", "f": CANARY}),
    ("numpy:save", {"file": CANARY, "arr": [1, 2]}),
]


def _hostile_folder(tmp_path: Path) -> Path:
    (tmp_path / "payload_module.py").write_text(PAYLOAD)
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "file").write_text("precious\n")
    return tmp_path


def _unharmed(folder: Path) -> bool:
    return not (folder / CANARY).exists() and (folder / "victim" / "file").exists()


@pytest.mark.parametrize(("spec", "args"), DANGEROUS, ids=[spec for spec, _ in DANGEROUS])
def test_dangerous_targets_are_refused_and_do_not_run(
    tmp_path: Path, spec: str, args: dict[str, object], capsys, monkeypatch
) -> None:
    folder = _hostile_folder(tmp_path)
    monkeypatch.delenv(ALLOW_VARIABLE, raising=False)
    monkeypatch.chdir(folder)
    recipe = folder / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"data": {"source": "digits"}, "model": {"factory": spec, "args": args}}))
    code, _, err = run_cli(capsys, monkeypatch, "recipe", "check", str(recipe))
    assert code == 2 and "refused" in err and ALLOW_VARIABLE in err and "Traceback" not in err
    assert _unharmed(folder)


@pytest.mark.parametrize("section", ["model", "data"])
def test_dangerous_target_through_set_is_refused(tmp_path: Path, section: str, capsys, monkeypatch) -> None:
    folder = _hostile_folder(tmp_path)
    monkeypatch.delenv(ALLOW_VARIABLE, raising=False)
    monkeypatch.chdir(folder)
    recipe = folder / "recipe.yaml"
    recipe.write_text("data: {source: digits}\nmodel: {layers: [{type: linear, out: 10}]}\n")
    value = f"{section}={{factory: 'os:system', args: {{command: 'touch {CANARY}'}}}}"
    code, _, err = run_cli(capsys, monkeypatch, "recipe", "check", str(recipe), "--set", value)
    assert code == 2 and "refused" in err and "--set" in err
    assert _unharmed(folder)


def test_a_local_module_re_exporting_a_dangerous_function_is_refused(tmp_path: Path, module_name: str) -> None:
    (tmp_path / f"{module_name}.py").write_text("from os import system\nfrom subprocess import run as make\n")
    for attribute, identity in (("system", "posix.system"), ("make", "subprocess.run")):
        with pytest.raises(RecipeError) as caught:
            resolve_factory(f"{module_name}:{attribute}", directory=tmp_path, key="model.factory", args={})
        (issue,) = caught.value.issues
        assert "refused" in issue.message and (identity in issue.message or "nt.system" in issue.message)


def test_opt_in_allows_a_refused_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_VARIABLE, raising=False)
    with pytest.raises(RecipeError, match="refused"):
        resolve_factory("os:getcwd", directory=tmp_path, key="data.factory", args={})
    for allowed in ("os:getcwd", "os", "math, os.getcwd", "*"):
        monkeypatch.setenv(ALLOW_VARIABLE, allowed)
        assert resolve_factory("os:getcwd", directory=tmp_path, key="data.factory", args={}) is os.getcwd
    monkeypatch.setenv(ALLOW_VARIABLE, "os:getcwd")
    with pytest.raises(RecipeError, match="refused"):  # allowing one target allows no other
        resolve_factory("subprocess:run", directory=tmp_path, key="data.factory", args={})


@pytest.mark.parametrize("command", [["recipe", "show"], ["recipe", "check", "--no-build"]])
def test_viewing_a_recipe_runs_none_of_its_code(tmp_path: Path, command: list[str], capsys, monkeypatch) -> None:
    (tmp_path / "payload_module.py").write_text(PAYLOAD)
    recipe = write_recipe(tmp_path, "payload_module:make_net")
    code, out, err = run_cli(capsys, monkeypatch, *command, str(recipe))
    assert code == 0, err
    assert not (tmp_path / CANARY).exists() and "payload_module" not in sys.modules
    if "check" in command:
        assert "not imported (--no-build): model.factory payload_module:make_net" in out
    sys.modules.pop("payload_module", None)


def test_viewing_still_refuses_a_dangerous_target_by_name(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv(ALLOW_VARIABLE, raising=False)
    recipe = write_recipe(tmp_path, "subprocess:run", "{args: [touch, CANARY]}")
    for command in (["recipe", "show"], ["recipe", "check", "--no-build"]):
        code, _, err = run_cli(capsys, monkeypatch, *command, str(recipe))
        assert code == 2 and "refused" in err


@pytest.mark.parametrize(
    ("name", "entry"),
    [
        ("os.path.join", "os"),
        ("nt.system", "nt"),
        ("numpy.lib._npyio_impl.load", "numpy.lib._npyio_impl"),
        ("torch.nn.Linear", None),
        ("my_models.make_net", None),
        ("ossify.make", None),
    ],
)
def test_blocked_target_matches_whole_dotted_names(name: str, entry: str | None) -> None:
    assert blocked_target(name) == entry


def test_classmethods_and_partials_of_the_users_own_code_are_allowed(tmp_path: Path, module_name: str) -> None:
    (tmp_path / f"{module_name}.py").write_text(
        "import functools\nimport os\n\n\nclass Nets:\n    @classmethod\n    def small(cls, width: int = 2):\n"
        "        return ('small', width)\n\n\ndef make(width: int = 1):\n    return width\n\n\n"
        "wide = functools.partial(make, width=9)\nrun = functools.partial(os.system, 'true')\n"
    )
    small = resolve_factory(f"{module_name}:Nets.small", directory=tmp_path, key="model.factory", args={})
    assert small() == ("small", 2)
    assert resolve_factory(f"{module_name}:wide", directory=tmp_path, key="model.factory", args={})() == 9
    with pytest.raises(RecipeError, match="refused"):  # a partial of os.system is os.system
        resolve_factory(f"{module_name}:run", directory=tmp_path, key="model.factory", args={})
