"""Shared helpers for the data tests: recipes' ``data`` sections built in code, and a CPU device."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from dlcheck.data import DataBundle, load_data
from dlcheck.recipe.schema import DataConfig

CPU = torch.device("cpu")


def load(tmp_path: Path | None = None, *, seed: int = 0, **data: Any) -> DataBundle:
    """``load_data`` for a ``data:`` section given as keyword arguments (relative paths from ``tmp_path``)."""
    return load_data(DataConfig.model_validate(data), seed=seed, directory=tmp_path or Path("."))


@pytest.fixture(scope="session")
def digits() -> DataBundle:
    return load(source="digits", val_fraction=0.2)
