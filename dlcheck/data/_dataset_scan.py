"""One pass over (a seeded sample of) a Dataset: input shape, normalisation statistics and labels.

Reading a Dataset can be slow (``image_folder`` decodes files), so everything :func:`dlcheck.data.load_data`
needs from a Dataset is gathered in a single pass over at most ``limit`` items, fetched in chunks.
"""

from __future__ import annotations

__all__ = ["DatasetScan", "scan_dataset"]

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dlcheck.data._collate import fetch_batch
from dlcheck.data.normalization import Normalization, RunningMoments
from dlcheck.errors import DataError
from dlcheck.seeding import Purpose, numpy_generator

_CHUNK = 256  # items fetched at a time: bounds memory for large images


@dataclass
class DatasetScan:
    """What one pass over a Dataset found.

    Attributes
    ----------
    input_shape : tuple of int
        Shape of one input.
    input_is_float : bool
        Whether the inputs are floating point (integer inputs are not normalised).
    normalization : Normalization or None
        Statistics of the scanned items (``None`` unless asked for, or for integer inputs).
    targets : torch.Tensor
        ``(M,)`` or ``(M, ...)`` targets of the scanned items; all of them when ``exhaustive``.
    exhaustive : bool
        Whether every item was scanned.
    """

    input_shape: tuple[int, ...]
    input_is_float: bool
    normalization: Normalization | None
    targets: torch.Tensor
    exhaustive: bool


def scan_dataset(dataset: Any, *, seed: int, limit: int, statistics: bool, where: str) -> DatasetScan:
    """Scan up to ``limit`` items chosen with a seeded generator (all of them when the dataset is smaller).

    Parameters
    ----------
    dataset : map-style Dataset
        Items are ``(input, target)``.
    seed : int
        Recipe seed (the sample has its own stream).
    limit : int
        Largest number of items read.
    statistics : bool
        Accumulate per-channel / per-feature mean and standard deviation of the inputs.
    where : str
        Names the data in error messages.

    Raises
    ------
    DataError
        When items differ in shape or cannot be stacked.
    """
    count = len(dataset)
    if count <= limit:
        indices = np.arange(count)
    else:
        # A random sample, not the first items: an image folder is sorted by class.
        indices = np.sort(numpy_generator(seed, Purpose.STATISTICS).choice(count, size=limit, replace=False))
    moments = RunningMoments()
    targets: list[torch.Tensor] = []
    input_shape: tuple[int, ...] | None = None
    input_is_float = True
    for start in range(0, len(indices), _CHUNK):
        chunk = [int(index) for index in indices[start : start + _CHUNK]]
        try:
            inputs, chunk_targets = fetch_batch(dataset, chunk)  # (B, *input_shape), (B, ...)
        except (RuntimeError, TypeError, ValueError) as error:
            raise DataError(
                f"{where}: items {chunk[0]}..{chunk[-1]} could not be stacked into a batch ({error}); every input "
                "must have the same shape (for images of different sizes set `data.image_size`)"
            ) from error
        if input_shape is None:
            input_shape, input_is_float = tuple(inputs.shape[1:]), inputs.is_floating_point()
        elif tuple(inputs.shape[1:]) != input_shape:
            raise DataError(f"{where}: inputs have shape {tuple(inputs.shape[1:])} and {input_shape}; all must match")
        if statistics and input_is_float:
            moments.update(inputs)
        targets.append(chunk_targets.reshape(len(chunk), *chunk_targets.shape[1:]))
    assert input_shape is not None  # the dataset is not empty (checked by the caller)
    normalization = moments.normalization() if statistics and input_is_float else None
    return DatasetScan(
        input_shape=input_shape,
        input_is_float=input_is_float,
        normalization=normalization,
        targets=torch.cat(targets),
        exhaustive=len(indices) == count,
    )
