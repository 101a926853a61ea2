"""``data.factory``: the user's function returning ``(train, val)`` as tensors or Datasets."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest
import torch

from dlcheck.data import LoaderBatcher, TensorBatcher, make_batcher
from dlcheck.errors import DataError, DlcheckError

from .conftest import CPU, load

_MODULE = '''
import numpy as np
import torch
from torch.utils.data import Dataset


def tensors(count=30):
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(count, 4, generator=generator)
    targets = torch.arange(count) % 3
    return (inputs[:20], targets[:20]), (inputs[20:].numpy(), targets[20:].numpy())


class Squares(Dataset):
    """Items (tensor (1, 4, 4), int) with value index / 10; labels index % 2."""

    def __init__(self, count):
        self.count = count

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        return torch.full((1, 4, 4), index / 10.0), index % 2


def datasets():
    return Squares(12), Squares(4)


def regression():
    inputs = torch.linspace(0, 1, 10, dtype=torch.float64)[:, None]
    return (inputs, 2 * inputs[:, 0]), None


def single_pair():
    return torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)


def mismatch():
    return (torch.zeros(4, 2), torch.zeros(3, dtype=torch.long)), None


def not_a_tuple():
    return {"train": 1}


def broken(size=1):
    raise RuntimeError("disk on fire")
'''

_MODULE_NUMBERS = itertools.count()


@pytest.fixture
def factory_module(tmp_path: Path) -> str:
    # A module name per test: Python caches imported modules by name.
    name = f"data_factory_{next(_MODULE_NUMBERS)}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(_MODULE))
    return name


def test_factory_returning_tensors(tmp_path: Path, factory_module: str) -> None:
    bundle = load(tmp_path, factory=f"{factory_module}:tensors")
    assert bundle.source == "factory" and bundle.in_memory
    assert bundle.input_shape == (4,) and bundle.num_classes == 3
    assert len(bundle.train[0]) == 20 and isinstance(bundle.val[0], torch.Tensor)  # type: ignore[index]
    assert torch.allclose(bundle.normalization.mean, bundle.train[0].mean(0))  # type: ignore[union-attr,index]
    assert isinstance(make_batcher(bundle.train, batch_size=8, shuffle=True, seed=0, device=CPU), TensorBatcher)


def test_factory_args_are_passed(tmp_path: Path, factory_module: str) -> None:
    bundle = load(tmp_path, factory=f"{factory_module}:tensors", args={"count": 24})
    assert len(bundle.val[0]) == 4  # type: ignore[index]


def test_factory_returning_datasets(tmp_path: Path, factory_module: str) -> None:
    bundle = load(tmp_path, factory=f"{factory_module}:datasets")
    assert not bundle.in_memory and bundle.input_shape == (1, 4, 4) and bundle.num_classes == 2
    values = torch.arange(12) / 10.0
    assert torch.allclose(bundle.normalization.mean, values.mean().reshape(1, 1, 1))  # type: ignore[union-attr]
    batcher = make_batcher(bundle.train, batch_size=5, shuffle=False, seed=0, device=CPU)
    assert isinstance(batcher, LoaderBatcher)
    inputs, targets = next(iter(batcher.epoch(0)))
    assert inputs.shape == (5, 1, 4, 4) and targets.tolist() == [0, 1, 0, 1, 0]


def test_factory_regression_targets(tmp_path: Path, factory_module: str) -> None:
    bundle = load(tmp_path, factory=f"{factory_module}:regression")
    assert bundle.num_classes is None and bundle.val is None
    assert bundle.train[0].dtype == torch.float32  # type: ignore[index]


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("single_pair", r"returned train as a single Tensor; .*did you return \(inputs, targets\)\?"),
        ("mismatch", "returned train with 4 inputs but 3 targets"),
        ("not_a_tuple", r"returned a dict; expected a \(train, val\) tuple"),
        ("broken", "raised RuntimeError: disk on fire"),
    ],
)
def test_factory_errors(tmp_path: Path, factory_module: str, function: str, message: str) -> None:
    with pytest.raises(DataError, match=rf"data\.factory: .*{message}"):
        load(tmp_path, factory=f"{factory_module}:{function}")


def test_missing_factory_module(tmp_path: Path) -> None:
    with pytest.raises(DlcheckError, match=r"data\.factory"):
        load(tmp_path, factory="no_such_module_here:make")
