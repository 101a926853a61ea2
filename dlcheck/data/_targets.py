"""Conversions shared by every source: arrays to tensors, labels to class indices, and the task they imply.

Integer targets mean classification (``num_classes = max + 1``, or the number of class names); floating targets
mean regression (``num_classes = None``). String labels are mapped to indices in sorted order, so the mapping
does not depend on the order of the rows.
"""

from __future__ import annotations

__all__ = ["as_input_tensor", "as_target_tensor", "count_classes"]

from typing import Any

import numpy as np
import torch

from dlcheck.errors import DataError


def _as_tensor(values: Any, where: str) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.detach()
    try:
        array = np.asarray(values)
    except Exception as error:  # ragged lists and the like
        raise DataError(f"{where}: cannot be read as an array ({type(error).__name__}: {error})") from error
    if array.dtype == object:
        raise DataError(
            f"{where}: holds Python objects (dtype=object), not numbers; store a numeric array "
            "(for labels, integers or strings)"
        )
    return torch.from_numpy(np.ascontiguousarray(array))


def as_input_tensor(values: Any, where: str, *, keep_integers: bool = False) -> torch.Tensor:
    """Inputs as a tensor: floating and (unless ``keep_integers``) integer values become float32.

    Parameters
    ----------
    values : array_like or torch.Tensor
        ``(N, *sample_shape)``.
    where : str
        Names the data in error messages, e.g. ``"data.path (train.npz), key 'x'"``.
    keep_integers : bool
        Keep integer inputs as they are (a factory may return token ids for an embedding).

    Raises
    ------
    DataError
        For strings, objects, or a scalar.
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "USO":
        raise DataError(f"{where}: inputs must be numbers, found {values.dtype} values")
    tensor = _as_tensor(values, where)
    if tensor.ndim == 0:
        raise DataError(f"{where}: inputs must have one row per sample, found a scalar")
    if tensor.is_complex():
        raise DataError(f"{where}: complex inputs are not supported")
    if tensor.is_floating_point() or not keep_integers:
        tensor = tensor.to(torch.float32)  # the models are float32; float64 would only double memory and time
    return tensor


def as_target_tensor(values: Any, where: str) -> tuple[torch.Tensor, list[str] | None]:
    """Targets as int64 class indices (integers, booleans, strings) or float32 regression values.

    Returns
    -------
    targets : torch.Tensor
        ``(N,)`` int64 for classification; ``(N, *target_shape)`` float32 for regression.
    class_names : list of str or None
        The sorted distinct labels when the labels were strings; index ``i`` is ``class_names[i]``.

    Examples
    --------
    >>> targets, names = as_target_tensor(np.array(["dog", "cat", "dog"]), "labels")
    >>> targets.tolist(), names
    ([1, 0, 1], ['cat', 'dog'])
    """
    if isinstance(values, (list, tuple)) and values and all(isinstance(value, str) for value in values):
        values = np.asarray(values)
    if isinstance(values, np.ndarray) and values.dtype.kind in "US":
        names, indices = np.unique(values.astype(str), return_inverse=True)
        return torch.from_numpy(indices.reshape(-1).astype(np.int64)), [str(name) for name in names]
    tensor = _as_tensor(values, where)
    if tensor.ndim == 0:
        raise DataError(f"{where}: targets must have one entry per sample, found a scalar")
    if tensor.is_floating_point():
        return tensor.to(torch.float32), None
    if tensor.is_complex():
        raise DataError(f"{where}: complex targets are not supported")
    return tensor.to(torch.int64), None


def count_classes(targets: list[torch.Tensor], class_names: list[str] | None, where: str) -> int | None:
    """The number of classes implied by integer targets, ``None`` for regression.

    Parameters
    ----------
    targets : list of torch.Tensor
        The targets of every split (the largest label of any split counts).
    class_names : list of str or None
        Known names; their number wins over ``max + 1``.
    where : str
        Names the data in error messages.

    Raises
    ------
    DataError
        When class labels are not 1-D, are negative, or exceed the class names.
    """
    present = [tensor for tensor in targets if tensor.numel() > 0]
    if not present or present[0].is_floating_point():
        return None
    for tensor in present:
        if tensor.ndim != 1:
            raise DataError(
                f"{where}: integer targets are class labels and must be 1-D (one label per sample), found shape "
                f"{tuple(tensor.shape)}; for one-hot labels pass the class index (argmax), for regression pass floats"
            )
    smallest = min(int(tensor.min()) for tensor in present)
    largest = max(int(tensor.max()) for tensor in present)
    if smallest < 0:
        raise DataError(f"{where}: class labels must be 0, 1, 2, ...; found the label {smallest}")
    if class_names is not None:
        if largest >= len(class_names):
            raise DataError(
                f"{where}: the label {largest} has no class name (there are {len(class_names)} names: {class_names})"
            )
        return len(class_names)
    return largest + 1
