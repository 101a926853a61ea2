"""The Python API: one function per command, each taking a recipe file or a loaded recipe; errors name parameters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import dlcheck
from dlcheck.engine.parts import RecipeParts, as_parts
from dlcheck.errors import InputError, InvalidArgument
from dlcheck.train.records import STOP_REASONS, TrainResult
from dlcheck.verdict import Verdict

ROOT = Path(__file__).parents[1]
SPIRALS = ROOT / "recipes" / "spirals_mlp.yaml"
SMALL = ["device=cpu", "data.samples=300", "train.epochs=1"]


def test_import_dlcheck_loads_no_torch_and_offers_the_five_entry_points() -> None:
    code = (
        "import sys, dlcheck\n"
        "assert 'torch' not in sys.modules, 'torch imported by `import dlcheck`'\n"
        "assert callable(dlcheck.train) and 'torch' not in sys.modules\n"
        "names = [dlcheck.babysit, dlcheck.lr_find, dlcheck.diagnose, dlcheck.load_recipe]\n"
        "assert all(map(callable, names))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert completed.returncode == 0, completed.stderr


def test_every_entry_point_takes_a_path_a_loaded_recipe_or_parts(tmp_path: Path) -> None:
    loaded = dlcheck.load_recipe(SPIRALS, SMALL)
    parts = as_parts(loaded)
    assert as_parts(parts) is parts and isinstance(as_parts(str(SPIRALS), overrides=SMALL), RecipeParts)
    report = dlcheck.babysit(SPIRALS, overrides=SMALL, checks=["initial_loss"])
    assert report["initial_loss"].status == "pass"
    assert dlcheck.babysit(parts, checks=["initial_loss"]).checks[0].metrics == report.checks[0].metrics
    result = dlcheck.train(dlcheck.load_recipe(SPIRALS, [*SMALL, "train.epochs=4"]), run_directory=tmp_path / "run")
    assert isinstance(result, TrainResult) and result.status == "completed" and result.status in STOP_REASONS
    diagnosis = dlcheck.diagnose(tmp_path / "run")  # one folder, not only a list of them
    assert diagnosis.status in ("pass", "warn", "fail")


def test_lr_find_returns_a_verdict_with_the_json_contract() -> None:
    report = dlcheck.lr_find(SPIRALS, overrides=SMALL, steps=40, repeats=1)
    assert isinstance(report, Verdict)
    assert [check.name for check in report.checks] == ["lr_range"] and report.status == report.check.status
    document = json.loads(json.dumps(report.to_json()))
    for key in ("schema_version", "command", "status", "checks", "suggested_lr", "band", "confidence", "history"):
        assert key in document, key
    assert document["command"] == "lr-find" and document["batch_size"] == 64


def test_the_checklist_report_is_a_verdict_too() -> None:
    report = dlcheck.babysit(SPIRALS, overrides=SMALL, checks=["initial_loss"])
    assert isinstance(report, Verdict)
    assert report.to_json("init-loss")["command"] == "init-loss"


def test_bad_arguments_name_the_parameter_and_are_value_errors() -> None:
    with pytest.raises(InvalidArgument, match=r"^steps=5: ") as raised:
        dlcheck.lr_find(SPIRALS, overrides=SMALL, steps=5)
    assert raised.value.parameter == "steps" and "--steps" not in str(raised.value)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, InputError)
    with pytest.raises(ValueError, match="recipe=int"):
        dlcheck.babysit(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="overrides="):
        dlcheck.train(dlcheck.load_recipe(SPIRALS), overrides=["seed=1"])
    with pytest.raises(ValueError, match="checks="):
        dlcheck.babysit(SPIRALS, overrides=SMALL, checks=["no_such_check"])
