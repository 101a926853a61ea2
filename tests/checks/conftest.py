"""Zoo recipes: a recipe file written to a temporary folder next to a copy of ``zoo_factories.py``."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ZOO_SOURCE = Path(__file__).with_name("zoo_factories.py")


@pytest.fixture(scope="session")
def zoo_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder holding the zoo factories under a fresh module name (removed from sys.modules afterwards)."""
    folder = tmp_path_factory.mktemp("zoo")
    module = f"zoo_{uuid.uuid4().hex[:8]}"
    shutil.copy(ZOO_SOURCE, folder / f"{module}.py")
    yield folder, module
    for key in [key for key in sys.modules if key == module]:
        del sys.modules[key]


@pytest.fixture(scope="session")
def zoo_recipe(zoo_folder: tuple[Path, str]) -> Callable[..., Path]:
    """``zoo_recipe(name, data=..., model=..., loss=..., optimizer=..., extra=...)`` writes a recipe file.

    ``data`` and ``model`` name a factory of ``zoo_factories.py`` (with ``args``) or are YAML flow maps.
    """
    folder, module = zoo_folder

    def section(value: str) -> str:
        if value.startswith("{"):
            return value.replace("ZOO:", f"{module}:")
        name, _, args = value.partition("(")
        arguments = "{" + args.rstrip(")") + "}" if args else "{}"
        return f'{{factory: "{module}:{name}", args: {arguments}}}'

    def write(
        name: str,
        *,
        data: str = "blobs",
        model: str = "mlp",
        loss: str = "cross_entropy",
        optimizer: str = "{name: adam, lr: 3.0e-3}",
        extra: str = "",
    ) -> Path:
        path = folder / f"{name}.yaml"
        path.write_text(
            f"name: {name}\nseed: 0\ndata: {section(data)}\nmodel: {section(model)}\nloss: {loss}\n"
            f"optimizer: {optimizer}\ntrain: {{epochs: 1, batch_size: 32}}\ndevice: cpu\n{extra}"
        )
        return path

    return write
