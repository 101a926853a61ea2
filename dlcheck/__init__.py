"""dlcheck: a command-line babysitter for deep-learning training runs.

The checks are importable for a project's own tests, e.g. ``from dlcheck import babysit``; they load
torch on first use, so ``import dlcheck`` stays light.
"""

from __future__ import annotations

__all__ = ["__version__", "babysit"]

from typing import Any

__version__ = "0.1.0"

_LAZY = {"babysit": "dlcheck.checks.checklist"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dlcheck' has no attribute {name!r}")
