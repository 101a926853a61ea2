"""Factory models: imported next to the recipe, called with `model.args`, errors naming `model.factory`."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from dlcheck.errors import DlcheckError, ModelError
from dlcheck.model import build_model, summarize_model
from dlcheck.recipe.schema import ModelConfig

MODELS = """
from torch import nn


def make_net(hidden=16, classes=10, first=64):
    return nn.Sequential(nn.Flatten(), nn.Linear(first, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def make_dict():
    return {"layer": nn.Linear(2, 2)}


def explode(**kwargs):
    raise ValueError("no such depth: 99")
"""

Write = Callable[[str], tuple[str, Path]]


@pytest.fixture
def write_module(tmp_path: Path) -> Iterator[Write]:
    """Write a module into a fresh recipe folder; return its unique name and the folder."""
    names: list[str] = []

    def write(source: str) -> tuple[str, Path]:
        name = f"user_models_{uuid.uuid4().hex[:12]}"  # unique: imported modules stay in sys.modules
        directory = tmp_path / "recipes"
        directory.mkdir(exist_ok=True)
        (directory / f"{name}.py").write_text(textwrap.dedent(source))
        names.append(name)
        return name, directory

    yield write
    for name in names:
        sys.modules.pop(name, None)


def _build(spec: str, directory: Path, args: dict[str, Any] | None = None, **extra: Any) -> nn.Module:
    config = ModelConfig.model_validate({"factory": spec, "args": args or {}, **extra})
    return build_model(config, (1, 8, 8), seed=0, directory=directory)


def test_factory_model_is_imported_next_to_the_recipe_and_called_with_args(write_module: Write) -> None:
    name, directory = write_module(MODELS)
    model = _build(f"{name}:make_net", directory, {"hidden": 32})
    summary = summarize_model(model, (1, 8, 8))

    assert summary.output_shape == (10,)
    assert summary.total_parameters == 64 * 32 + 32 + 32 * 10 + 10
    assert [(row.name, row.kind) for row in summary.rows] == [
        ("0", "Flatten"),
        ("1", "Linear"),
        ("2", "ReLU"),
        ("3", "Linear"),
    ]
    assert [row.output_shape for row in summary.rows] == [(64,), (32,), (32,), (10,)]
    assert str(directory) not in sys.path


def test_factory_models_are_seeded_and_default_init_is_kept_unless_given(write_module: Write) -> None:
    name, directory = write_module(MODELS)
    first, second = _build(f"{name}:make_net", directory), _build(f"{name}:make_net", directory)
    torch.testing.assert_close(first[1].weight, second[1].weight)
    # PyTorch's default: uniform in +-1/sqrt(fan_in) and a non-zero bias
    assert float(first[1].weight.detach().abs().max()) <= 1 / 8 and torch.count_nonzero(first[1].bias) > 0

    initialised = _build(f"{name}:make_net", directory, {"hidden": 256}, init={"weight": "normal", "std": 0.5})
    assert abs(float(initialised[1].weight.detach().std()) - 0.5) < 0.05
    assert torch.count_nonzero(initialised[1].bias) == 0


def test_a_factory_that_returns_something_else(write_module: Write) -> None:
    name, directory = write_module(MODELS)
    with pytest.raises(
        ModelError, match=r"^model\.factory: .*make_dict returned a builtins\.dict, not a torch\.nn\.Module"
    ):
        _build(f"{name}:make_dict", directory)


def test_an_exception_inside_the_factory_is_chained(write_module: Write) -> None:
    name, directory = write_module(MODELS)
    with pytest.raises(ModelError, match=r"^model\.factory: .*explode raised ValueError: no such depth: 99") as caught:
        _build(f"{name}:explode", directory)
    assert isinstance(caught.value.__cause__, ValueError)


def test_unknown_modules_and_names_are_errors_naming_the_key(write_module: Write) -> None:
    name, directory = write_module(MODELS)
    for spec in (f"{name}_missing:make_net", f"{name}:no_such_function"):
        with pytest.raises(DlcheckError, match=r"model\.factory"):
            _build(spec, directory)


def test_summary_of_a_factory_model_with_a_wrong_first_layer(write_module: Write) -> None:
    name, directory = write_module(MODELS)
    model = _build(f"{name}:make_net", directory, {"first": 32})
    model.train()
    with pytest.raises(ModelError) as caught:
        summarize_model(model, (1, 8, 8))
    message = str(caught.value)
    assert message.startswith("model.factory: the model received inputs of shape (2, 1, 8, 8) and raised RuntimeError:")
    assert "mat1 and mat2 shapes cannot be multiplied" in message
    assert "nn.Linear(64, ...)" in message
    assert model.training  # restored even though the forward pass failed
