"""Package attributes loaded on first use, so that ``import dlcheck`` and ``dlcheck --help`` do not import torch.

The pattern scikit-image's ``lazy_loader`` uses: a package names where each public attribute lives, and its
module ``__getattr__`` imports that module only when the attribute is first read.
"""

from __future__ import annotations

__all__ = ["attach"]

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def attach(package: str, homes: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose attribute ``name`` lives in module ``homes[name]``
    (or is that module, when it is the subpackage ``package.name``).

    Examples
    --------
    >>> getter, listing = attach("json", {"JSONEncoder": "json.encoder"})
    >>> getter("JSONEncoder").__name__, "JSONEncoder" in listing()
    ('JSONEncoder', True)
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(home)
        # a subpackage named like the attribute is the attribute itself (``dlcheck.train``)
        return module if home == f"{package}.{name}" else getattr(module, name)

    def __dir__() -> list[str]:
        return sorted(set(homes) | set(vars(sys.modules[package])))

    return __getattr__, __dir__
