"""``data.factory``: the user's own function returning ``(train, val)``.

Each split is an ``(inputs, targets)`` pair of tensors or arrays (kept in memory and batched by slicing) or a
map-style Dataset whose items are ``(input, target)`` (read by a DataLoader); ``val`` may be ``None``. Only the
structure is checked here (types, lengths, item shape); value checks such as non-finite inputs come later, in
the data sanity check, where they are reported together.
"""

from __future__ import annotations

__all__ = ["Split", "load_factory"]

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from dlcheck.data._targets import as_input_tensor, as_target_tensor
from dlcheck.errors import DataError, DlcheckError
from dlcheck.recipe.factory import resolve_factory

_KEY = "data.factory"
Split = tuple[torch.Tensor, torch.Tensor] | Dataset


def _resolve(spec: str, *, directory: Path, args: dict[str, Any]) -> Callable[..., Any]:
    return resolve_factory(spec, directory=directory, key=_KEY, args=args)


def _is_array(value: Any) -> bool:
    return isinstance(value, (torch.Tensor, np.ndarray))


def _is_dataset(value: Any) -> bool:
    if isinstance(value, Dataset):
        return True
    # Duck typing for map-style datasets that do not subclass torch's Dataset; containers are not datasets.
    return (
        hasattr(value, "__getitem__")
        and hasattr(value, "__len__")
        and not isinstance(value, (str, bytes, dict, list, tuple, torch.Tensor, np.ndarray))
    )


def _check_split(value: Any, name: str, spec: str) -> Split:
    where = f"{_KEY}: {spec} returned {name}"
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_array(part) for part in value):
        inputs = as_input_tensor(value[0], f"{where} inputs", keep_integers=True)
        targets, names = as_target_tensor(value[1], f"{where} targets")
        if names is not None:
            raise DataError(f"{where} targets as strings; return integer class indices (0, 1, ...)")
        if inputs.shape[0] != targets.shape[0]:
            raise DataError(
                f"{where} with {inputs.shape[0]} inputs but {targets.shape[0]} targets; both need one row per sample"
            )
        if inputs.shape[0] == 0:
            raise DataError(f"{where} with no samples")
        return inputs, targets
    if _is_dataset(value):
        try:
            count = len(value)
        except TypeError as error:
            raise DataError(
                f"{where} as a Dataset without a length; define __len__ (map-style datasets only)"
            ) from error
        if count == 0:
            raise DataError(f"{where} as an empty Dataset")
        try:
            item = value[0]
        except Exception as error:
            raise DataError(f"{where} as a Dataset whose item 0 raised {type(error).__name__}: {error}") from error
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise DataError(
                f"{where} as a Dataset whose items are {type(item).__name__}; each item must be an (input, target) pair"
            )
        return value
    if _is_array(value):
        raise DataError(
            f"{where} as a single {type(value).__name__}; the factory returns (train, val), each an (inputs, targets) "
            "pair: did you return (inputs, targets)? return ((inputs, targets), None) or split off a validation part"
        )
    raise DataError(
        f"{where} as a {type(value).__name__}; expected an (inputs, targets) pair of tensors or arrays, "
        "or a map-style torch.utils.data.Dataset of (input, target) items"
    )


def load_factory(spec: str, args: dict[str, Any], *, directory: Path) -> tuple[Split, Split | None]:
    """Call the data factory and check the structure of what it returns.

    Parameters
    ----------
    spec : str
        ``data.factory``: ``"module:callable"``; the module is found next to the recipe first.
    args : dict
        ``data.args``, passed as keyword arguments.
    directory : pathlib.Path
        The recipe's folder.

    Returns
    -------
    train : tuple of torch.Tensor or Dataset
        ``(inputs (N, ...), targets (N, ...))`` with floating inputs as float32 (integer inputs are kept), or the
        Dataset as returned.
    val : tuple of torch.Tensor or Dataset or None
        Likewise.

    Raises
    ------
    DataError
        When the factory cannot be found, raises, or returns something else.
    """
    factory = _resolve(spec, directory=directory, args=args)
    try:
        result = factory(**args)
    except DlcheckError:
        raise
    except Exception as error:
        raise DataError(
            f"{_KEY}: {spec} raised {type(error).__name__}: {error}; fix the factory or `data.args`"
        ) from error
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise DataError(
            f"{_KEY}: {spec} returned a {type(result).__name__}; expected a (train, val) tuple, where val may be None"
        )
    train = _check_split(result[0], "train", spec)
    val = None if result[1] is None else _check_split(result[1], "val", spec)
    return train, val
