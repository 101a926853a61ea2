"""A user's own model: ``model.factory: "module:callable"`` called with ``model.args``.

The callable is resolved by :func:`dlcheck.recipe.factory.resolve_factory` (the module is looked up next to
the recipe first, then on the Python path). Whatever goes wrong inside the user's code is reported as a
:class:`ModelError` naming ``model.factory``, with the original exception chained for ``--debug``.
"""

from __future__ import annotations

__all__ = ["build_factory_model"]

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from dlcheck.errors import DlcheckError, ModelError

_KEY = "model.factory"


def build_factory_model(spec: str, args: dict[str, Any], *, directory: Path) -> nn.Module:
    """Call the factory named by ``spec`` with ``**args`` and check that it returns a module.

    The caller owns the random state: the factory's layers draw their default initialisation from
    torch's global CPU generator.

    Parameters
    ----------
    spec : str
        ``"module:callable"``, e.g. ``"my_models:make_net"``.
    args : dict
        Keyword arguments for the callable (``model.args``).
    directory : pathlib.Path
        The recipe's folder, searched first for ``module``.

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    ModelError
        When the factory raises or returns something that is not a ``torch.nn.Module``.
    """
    factory = _resolve(spec, directory=directory, args=args)
    try:
        model = factory(**args)
    except DlcheckError:
        raise
    except Exception as error:
        raise ModelError(
            f"{_KEY}: {spec} raised {type(error).__name__}: {error}; fix the factory or its `model.args`"
        ) from error
    if not isinstance(model, nn.Module):
        raise ModelError(
            f"{_KEY}: {spec} returned a {type(model).__module__}.{type(model).__qualname__}, not a "
            "torch.nn.Module; make it return the model (e.g. `return nn.Sequential(...)`)"
        )
    return model


def _resolve(spec: str, *, directory: Path, args: dict[str, Any]) -> Callable[..., Any]:
    try:
        from dlcheck.recipe.factory import resolve_factory
    except ModuleNotFoundError as error:
        if error.name != "dlcheck.recipe.factory":
            raise
        # TODO: remove this fallback once dlcheck.recipe.factory (written in parallel) is in the tree.
        resolve_factory = _resolve_factory_fallback
    return resolve_factory(spec, directory=directory, key=_KEY, args=args)


def _resolve_factory_fallback(spec: str, *, directory: Path, key: str, args: dict[str, Any]) -> Callable[..., Any]:
    """Minimal stand-in for ``dlcheck.recipe.factory.resolve_factory`` (no signature check of ``args``)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ModelError(f"{key}: {spec!r} is not 'module:callable'; write e.g. 'my_models:make_net'")
    # The recipe's folder goes first on the path for the import only, so the caller's sys.path is unchanged.
    sys.path.insert(0, str(directory))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise ModelError(
            f"{key}: module {module_name!r} not found next to the recipe ({directory}) or on the Python path"
        ) from error
    finally:
        sys.path.remove(str(directory))
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ModelError(f"{key}: {module_name} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ModelError(f"{key}: {spec} is a {type(target).__name__}, not a callable")
    return target
