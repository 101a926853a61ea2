"""dlcheck: a command-line babysitter for deep-learning training runs, and the same as a Python library.

The Python API mirrors the commands, each taking a recipe file or a loaded recipe::

    import dlcheck

    recipe = dlcheck.load_recipe("recipes/digits_mlp.yaml")
    report = dlcheck.babysit(recipe)          # the checklist: report.status, report["overfit_batch"]
    found = dlcheck.lr_find(recipe)           # the LR range test: found.result.suggested_lr
    result = dlcheck.train(recipe)            # a training run: result.status, result.history
    diagnosis = dlcheck.diagnose("runs/")     # curve diagnosis of any tool's logs

The names load on first use (torch among them), so ``import dlcheck`` stays light. The plain-PyTorch checks for
a project's own tests are in :mod:`dlcheck.checks`.
"""

from __future__ import annotations

__all__ = ["__version__", "babysit", "diagnose", "load_recipe", "lr_find", "train"]

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlcheck._lazy import attach
from dlcheck._version import __version__

if TYPE_CHECKING:
    from dlcheck.checklist import babysit
    from dlcheck.lr_finder.workflow import lr_find
    from dlcheck.recipe import load_recipe
    from dlcheck.train.trainer import train

# `train` is the subpackage dlcheck.train, which is callable (see dlcheck/train/__init__.py).
__getattr__, __dir__ = attach(
    __name__,
    {
        "babysit": "dlcheck.checklist",
        "load_recipe": "dlcheck.recipe",
        "lr_find": "dlcheck.lr_finder.workflow",
        "train": "dlcheck.train",
    },
)


def diagnose(paths: str | Path | Sequence[str | Path], **options: Any) -> Any:
    """Diagnose training logs (files or folders of any tool): :func:`dlcheck.curves.diagnosis.diagnose` for one
    path or several.

    Examples
    --------
    >>> diagnosis = diagnose("runs/digits-mlp-20261123-101500")  # doctest: +SKIP
    >>> diagnosis.status  # doctest: +SKIP
    'pass'
    """
    from dlcheck.curves.diagnosis import diagnose as run  # here: `import dlcheck` must not load the log readers

    return run([paths] if isinstance(paths, (str, Path)) else list(paths), **options)
