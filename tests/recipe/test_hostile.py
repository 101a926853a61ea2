"""Hostile recipes: a corpus of nasty files and hypothesis properties of the loader (issue 12).

Whatever the bytes, ``dlcheck recipe check`` ends with exit 0, or exit 2 and a message naming what is wrong:
never a traceback, a hang, gigabytes of memory, or code run from the recipe. The corpus holds one file per
hole the fuzzer found (``benchmarks/fuzz.py`` drives thousands more through real subprocesses).
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlcheck.errors import RecipeError
from dlcheck.recipe import parse_recipe
from dlcheck.recipe.factory import ALLOW_VARIABLE
from tests.bounded import within_seconds
from tests.cli_runner import run_cli

CORPUS = Path(__file__).resolve().parents[1] / "data" / "nasty_recipes"
CANARY = "CANARY"

# file -> words the error must contain (the limit, the key or the refusal it names)
EXPECTED: dict[str, str] = {
    "alias_bomb.yaml": "more than 100,000 values (the limit)",
    "merge_bomb.yaml": "more than 100,000 values (the limit)",
    "self_merge_flow.yaml": "merges a mapping into itself",
    "self_merge_block.yaml": "merges a mapping into itself",
    "recursive_anchor.yaml": "recursive anchor",
    "deep_flow.yaml": "deeper than 64 levels (the limit)",
    "deep_block.yaml": "deeper than 64 levels (the limit)",
    "huge_int.yaml": "5,000 digits; the limit is 100",
    "huge_hex_seed.yaml": "2,000 digits; the limit is 100",
    "giant_integer_key.yaml": "YAML syntax error",  # PyYAML's 1024-character limit on keys speaks first
    "lr_infinite.yaml": "optimizer.lr must be a finite number",
    "lr_nan.yaml": "optimizer.lr must be a finite number",
    "lr_overflow.yaml": "optimizer.lr must lie within ±1e+12",
    "eps_subnormal.yaml": "optimizer.eps must be 0 or at least 1e-30",
    "seed_too_big.yaml": "seed must lie within ±2147483647",
    "milestones_too_big.yaml": "schedule.milestones.1 must lie within ±2147483647",
    "layer_too_big.yaml": "memory limit",
    "samples_too_big.yaml": "memory limit",
    "nul_byte.yaml": "a NUL byte, which YAML does not allow",
    "non_utf8.yaml": "is not UTF-8 text",
    "binary_garbage.yaml": "",  # whatever the syntax error, as long as it is one
    "python_tag.yaml": "unknown `!!` tag",
    "factory_os_system.yaml": "refused: `os:system`",
    "factory_subprocess_run.yaml": "refused: `subprocess:run`",
    "factory_runpy.yaml": "refused: `runpy:run_path`",
    "factory_builtins_exec.yaml": "refused: `builtins:exec`",
    "factory_logging_alias.yaml": "refused: `logging:os.system`",
    "factory_import_module.yaml": "refused: `importlib:import_module`",
    "data_dev_zero.yaml": "not a regular file",
    "many_documents.yaml": "more than one YAML document",
    "truncated.yaml": "YAML syntax error",
    "tabs.yaml": "tab character",
}


def test_the_corpus_and_the_table_agree() -> None:
    assert sorted(path.name for path in CORPUS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_nasty_recipe_exits_2_with_a_message(name: str, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv(ALLOW_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)  # a payload would write its canary here
    (tmp_path / "payload.py").write_text(f"import pathlib\npathlib.Path({CANARY!r}).touch()\n")
    (tmp_path / "payload.txt").write_text(f"import pathlib\npathlib.Path({CANARY!r}).touch()\n")
    recipe = tmp_path / name
    recipe.write_bytes((CORPUS / name).read_bytes())
    with within_seconds(60):
        code, _, err = run_cli(capsys, monkeypatch, "recipe", "check", str(recipe))
    flat = " ".join(err.split())
    assert code == 2, flat
    assert "Traceback (most recent call last)" not in err and EXPECTED[name] in flat
    assert not (tmp_path / CANARY).exists()


# ------------------------------------------------------------------------------- hypothesis properties

HOSTILE_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID = "data: {source: digits}\nmodel: {layers: [{type: linear, out: 32}, {type: relu}, {type: linear, out: 10}]}\n"


def _loads_or_refuses(text: str, overrides: tuple[str, ...] = ()) -> None:
    """The property: a recipe loads, or RecipeError (exit 2) says why. Any other exception is a bug."""
    try:
        loaded = parse_recipe(text, source="fuzz.yaml", overrides=overrides, check_factories=False)
    except RecipeError as error:
        assert error.issues and all(issue.message for issue in error.issues)
        str(error)  # the message itself renders
        return
    assert loaded.recipe.optimizer.lr < float("inf")


@HOSTILE_SETTINGS
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_any_text_loads_or_is_refused(text: str) -> None:
    _loads_or_refuses(text)


YAML_PIECES = ["&a ", "*a", "<<: ", "[", "]", "{", "}", ", ", ": ", "- ", "\n", "  ", "!!", "'", '"', "#", "---", "?"]


@HOSTILE_SETTINGS
@given(st.lists(st.sampled_from(YAML_PIECES) | st.text(string.ascii_letters + string.digits, max_size=4), max_size=80))
def test_yaml_punctuation_soup_loads_or_is_refused(pieces: list[str]) -> None:
    _loads_or_refuses(VALID + "extra: " + "".join(pieces))


SCALARS = (
    st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.booleans()
    | st.none()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
KEYS = [
    "optimizer.lr",
    "optimizer.eps",
    "optimizer.betas",
    "seed",
    "train.epochs",
    "train.batch_size",
    "model.layers.0.out",
    "model.layers.1",
    "data.samples",
    "data.val_fraction",
    "schedule.milestones",
    "schedule",
    "model",
    "data.path",
]


@HOSTILE_SETTINGS
@given(st.lists(st.tuples(st.sampled_from(KEYS), VALUES), min_size=1, max_size=4))
def test_any_values_at_real_keys_load_or_are_refused(replacements: list[tuple[str, Any]]) -> None:
    overrides = tuple(
        f"{key}={yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()}" for key, value in replacements
    )
    overrides = tuple(text.removesuffix("\n...") for text in overrides)
    _loads_or_refuses(VALID, overrides)


@HOSTILE_SETTINGS
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=len(VALID)))
def test_bytes_spliced_into_a_valid_recipe_load_or_are_refused(noise: bytes, position: int) -> None:
    text = (VALID.encode()[:position] + noise + VALID.encode()[position:]).decode("utf-8", "replace")
    _loads_or_refuses(text)


@HOSTILE_SETTINGS
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(min_value=-(10**40), max_value=10**40))
def test_every_number_that_loads_is_finite_and_in_range(number: float) -> None:
    text = VALID + f"optimizer: {{lr: {yaml.safe_dump(number).splitlines()[0]}}}\n"
    try:
        recipe = parse_recipe(text, check_factories=False).recipe
    except RecipeError as error:
        assert error.issues[0].path == "optimizer.lr"
        return
    assert 1e-30 <= recipe.optimizer.lr <= 1e12
