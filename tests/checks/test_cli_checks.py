"""`dlcheck babysit`, `init-loss` and `overfit` as users and CI scripts see them: exit codes, JSON, JUnit, text."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from dlcheck.checklist import CHECK_NAMES
from dlcheck.checks import CheckResult
from dlcheck.report.checks import checks_report
from tests.cli_runner import run_cli

ROOT = Path(__file__).parents[2]
RECIPES = ROOT / "recipes"


def test_babysit_quick_passes_a_healthy_recipe_and_writes_json_and_junit(capsys, monkeypatch, tmp_path: Path) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "checks.xml"
    code, out, err = run_cli(
        capsys,
        monkeypatch,
        "babysit",
        str(RECIPES / "spirals_mlp.yaml"),
        "--quick",
        "--json",
        str(report),
        "--junit",
        str(junit),
    )
    assert code == 0, out + err
    assert "✓  initial_loss" in out and "PASS" in out and "(exit 0)" in out
    document = json.loads(report.read_text())
    assert document["schema_version"] == 1 and document["command"] == "babysit" and document["status"] == "pass"
    assert [check["name"] for check in document["checks"]] == list(CHECK_NAMES)
    assert set(document["checks"][1]) == {"name", "status", "summary", "metrics", "advice", "seconds"}
    assert document["checks"][1]["metrics"]["expected"] == pytest.approx(1.098612, rel=1e-5)  # log 3
    assert document["checks"][-1]["status"] == "skip"
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "8" and suite.get("failures") == "0"


def test_init_loss_runs_the_data_check_and_the_loss_check(capsys, monkeypatch, tmp_path: Path) -> None:
    report = tmp_path / "init.json"
    code, out, _ = run_cli(capsys, monkeypatch, "init-loss", str(RECIPES / "digits_mlp.yaml"), "--json", str(report))
    assert code == 0
    document = json.loads(report.read_text())
    assert document["command"] == "init-loss"
    assert [check["name"] for check in document["checks"]] == ["data_sanity", "initial_loss"]
    assert "log 10 classes" in out


def test_overfit_fails_with_a_budget_too_short_and_names_the_shape(capsys, monkeypatch, tmp_path: Path) -> None:
    report = tmp_path / "overfit.json"
    code, out, _ = run_cli(
        capsys,
        monkeypatch,
        "overfit",
        str(RECIPES / "digits_mlp.yaml"),
        "--steps",
        "3",
        "--samples-per-class",
        "2",
        "--json",
        str(report),
    )
    assert code == 1
    document = json.loads(report.read_text())
    overfit = document["checks"][0]
    assert overfit["name"] == "overfit_batch" and overfit["status"] == "fail"
    assert overfit["metrics"]["samples"] == 20 and overfit["metrics"]["steps_run"] == 3
    assert document["checks"][1] == {**document["checks"][1], "name": "regularization_effect", "status": "skip"}
    assert "Did not fit 20 samples" in out and "→" in out


def test_loss_threshold_option_is_the_target(capsys, monkeypatch, tmp_path: Path) -> None:
    report = tmp_path / "overfit.json"
    code, _, _ = run_cli(
        capsys,
        monkeypatch,
        "overfit",
        str(RECIPES / "spirals_mlp.yaml"),
        "--loss-threshold",
        "0.5",
        "--json",
        str(report),
    )
    assert code == 0
    assert json.loads(report.read_text())["checks"][0]["metrics"]["target_loss"] == 0.5


def test_warnings_exit_0_and_1_with_strict(capsys, monkeypatch, zoo_recipe: Callable[..., Path]) -> None:
    recipe = zoo_recipe("leaky_split", data="blobs(duplicate_val: 30)")
    code, out, _ = run_cli(capsys, monkeypatch, "init-loss", str(recipe))
    assert code == 0 and "WARN" in out and "exact copies" in out
    code, _, _ = run_cli(capsys, monkeypatch, "init-loss", str(recipe), "--strict")
    assert code == 1


def test_bad_data_fails_babysit_but_is_unusable_input_for_overfit(capsys, monkeypatch, zoo_recipe) -> None:
    recipe = zoo_recipe("labels_past_the_outputs", data="blobs(label_equal_to_classes: 2)")
    code, out, _ = run_cli(capsys, monkeypatch, "babysit", str(recipe), "--quick")
    assert code == 1 and "✗  data_sanity" in out and "found label 4" in out
    code, _, err = run_cli(capsys, monkeypatch, "overfit", str(recipe))
    assert code == 2 and "labels_past_the_outputs.yaml" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["babysit", "no_such_recipe.yaml"], "no_such_recipe.yaml"),
        (["babysit", str(RECIPES / "digits_mlp.yaml"), "--samples-per-class", "0"], "--samples-per-class"),
        (["overfit", str(RECIPES / "digits_mlp.yaml"), "--loss-threshold", "-1"], "--loss-threshold"),
        (["init-loss", str(RECIPES / "digits_mlp.yaml"), "--json", "/no/such/folder/report.json"], "--json"),
        (["babysit", str(RECIPES / "digits_mlp.yaml"), "--set", "optimizer.lr=-1"], "optimizer.lr"),
    ],
)
def test_unusable_input_exits_2_with_a_message(capsys, monkeypatch, arguments: list[str], words: str) -> None:
    code, out, err = run_cli(capsys, monkeypatch, *arguments)
    assert code == 2, out + err
    assert words in out + err and "Traceback" not in out + err


def test_check_commands_help_does_not_import_torch() -> None:
    code = (
        "import sys\nfrom dlcheck.cli import main\n"
        "for command in ('babysit', 'init-loss', 'overfit'):\n"
        "    sys.argv = ['dlcheck', command, '--help']\n"
        "    try:\n        main()\n    except SystemExit:\n        pass\n"
        "assert 'torch' not in sys.modules, 'torch imported by --help'\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert "--samples-per-class" in completed.stdout and "--loss-threshold" in completed.stdout


def test_report_at_80_columns() -> None:
    checks = [
        CheckResult("data_sanity", "pass", "384 train / 96 val samples, 4 classes; no NaN/inf.", seconds=0.1),
        CheckResult(
            "initial_loss",
            "fail",
            "Loss at init 6.4 is 4.62x chance (log 4 classes): the logits start too large.",
            advice=["Scale down the last layer at initialisation.", "Look for a missing normalisation."],
            seconds=0.2,
        ),
        CheckResult("regularization_effect", "warn", "Regularisation changed nothing.", advice=["Call dropout."]),
        CheckResult("lr_range", "skip", "skipped with --quick."),
    ]
    console = Console(file=io.StringIO(), width=80, color_system=None, highlight=False)
    console.print(checks_report("babysit", checks, recipe="zoo.yaml", facts=["seed 0", "cpu"], seconds=1.25))
    text = "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())  # type: ignore[attr-defined]
    assert text == (
        "dlcheck babysit  zoo.yaml  (seed 0, cpu)\n"
        "\n"
        "✓  data_sanity            384 train / 96 val samples, 4 classes; no NaN/inf.\n"
        "✗  initial_loss           Loss at init 6.4 is 4.62x chance (log 4 classes): the\n"
        "                          logits start too large.\n"
        "                          → Scale down the last layer at initialisation.\n"
        "                          → Look for a missing normalisation.\n"
        "!  regularization_effect  Regularisation changed nothing.\n"
        "                          → Call dropout.\n"
        "–  lr_range               skipped with --quick.\n"
        "\n"
        "FAIL  1 failed, 1 warning, 1 passed, 1 skipped in 1.2 s (exit 1)"
    )
    assert max(len(line) for line in text.splitlines()) <= 80


def test_progress_shows_each_check_in_a_terminal_and_nothing_when_quiet() -> None:
    from dlcheck.report.checks import CheckProgress

    result = CheckResult("initial_loss", "pass", "Loss at chance.", seconds=0.25)
    terminal = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    with CheckProgress(console=terminal) as progress:
        assert progress.enabled
        progress.on_check_start("initial_loss", 1, 8)
        progress.on_check_end(result)
    assert "✓ initial_loss  0.2 s" in terminal.file.getvalue()  # type: ignore[attr-defined]
    for console, quiet in (
        (Console(file=io.StringIO(), force_terminal=True), True),
        (Console(file=io.StringIO()), False),
    ):
        with CheckProgress(console=console, quiet=quiet) as progress:
            assert not progress.enabled
            progress.on_check_start("initial_loss", 1, 8)
            progress.on_check_end(result)
        assert console.file.getvalue() == ""  # type: ignore[attr-defined]
