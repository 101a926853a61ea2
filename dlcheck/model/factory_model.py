"""A user's own model: ``model.factory: "module:callable"`` called with ``model.args``.

The callable is resolved by :func:`dlcheck.recipe.factory.resolve_factory` (the module is looked up next to
the recipe first, then on the Python path). Whatever goes wrong inside the user's code is reported as a
:class:`ModelError` naming ``model.factory``, with the original exception chained for ``--debug``.
"""

from __future__ import annotations

__all__ = ["build_factory_model"]

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from dlcheck.errors import DlcheckError, ModelError
from dlcheck.recipe.factory import resolve_factory

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
    return resolve_factory(spec, directory=directory, key=_KEY, args=args)
