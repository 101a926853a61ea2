"""The documented examples run: the pytest example, the CI workflow and the pre-commit hooks."""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import pytest
import yaml

from dlcheck.cli._app import app

ROOT = Path(__file__).parents[2]


def _example_module():  # type: ignore[no-untyped-def]
    path = ROOT / "examples" / "test_my_model.py"
    spec = importlib.util.spec_from_file_location("dlcheck_example_test_my_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLE = _example_module()
EXAMPLE_TESTS = sorted(name for name in vars(EXAMPLE) if name.startswith("test_"))


@pytest.mark.parametrize("name", EXAMPLE_TESTS)
def test_pytest_example_passes(name: str) -> None:
    getattr(EXAMPLE, name)()


def test_pytest_example_catches_a_planted_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    from torch import nn

    def broken_model() -> nn.Module:  # softmax before CrossEntropyLoss
        return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 3), nn.Softmax(dim=1))

    monkeypatch.setattr(EXAMPLE, "make_model", broken_model)
    with pytest.raises(AssertionError, match="probabilities"):
        EXAMPLE.test_loss_at_initialisation_is_chance()


def _commands() -> set[str]:
    return {
        command.name or (command.callback.__name__ if command.callback else "") for command in app.registered_commands
    }


def test_pre_commit_hooks_name_real_commands_and_options() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {hook["id"] for hook in hooks} == {"dlcheck-babysit", "dlcheck-init-loss"}
    for hook in hooks:
        words = shlex.split(hook["entry"])
        assert words[0] == "dlcheck" and words[1] in _commands()
        assert hook["language"] == "python" and hook["pass_filenames"] is False


def test_github_workflow_runs_babysit_with_reports() -> None:
    workflow = yaml.safe_load((ROOT / "examples" / "github-actions.yml").read_text())
    steps = workflow["jobs"]["babysit"]["steps"]
    commands = [step.get("run", "") for step in steps]
    babysit = next(command for command in commands if command.startswith("dlcheck babysit"))
    for option in ("--quick", "--json", "--junit"):
        assert option in babysit
