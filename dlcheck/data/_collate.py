"""Turning a list of dataset indices into one ``(inputs, targets)`` batch with as little per-sample work as possible.

A DataLoader calls ``dataset.__getitems__(indices)`` when it exists and hands the result to ``collate_fn``
(research A7: the per-sample ``__getitem__`` + ``default_collate`` path costs 3-124x plain slicing for small
in-memory rows). Our in-memory wrapper returns an already stacked :class:`StackedBatch`, which
:func:`collate_batch` passes through; anything else goes to torch's ``default_collate``.
"""

from __future__ import annotations

__all__ = ["StackedBatch", "TensorPairDataset", "collate_batch", "fetch_batch"]

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset
from torch.utils.data._utils.collate import default_collate


class StackedBatch:
    """A batch that is already stacked: ``inputs`` ``(B, *sample_shape)`` and ``targets`` ``(B, *target_shape)``."""

    __slots__ = ("inputs", "targets")

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.inputs = inputs
        self.targets = targets


class TensorPairDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """In-memory ``(inputs, targets)`` tensors as a map-style Dataset whose batched fetch is one slice.

    Unlike ``TensorDataset`` (which has no ``__getitems__`` in PyTorch 2.13, research A7) a whole batch is
    fetched with one ``index_select``.
    """

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.inputs = inputs  # (N, *sample_shape)
        self.targets = targets  # (N, *target_shape)

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[index], self.targets[index]

    def __getitems__(self, indices: Sequence[int]) -> StackedBatch:
        index = torch.as_tensor(indices, dtype=torch.long)
        return StackedBatch(self.inputs.index_select(0, index), self.targets.index_select(0, index))


def collate_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``collate_fn`` for our loaders: pass a :class:`StackedBatch` through, stack a list of samples otherwise.

    Module-level (not a lambda) so that worker processes started with ``spawn`` can pickle it.
    """
    if isinstance(batch, StackedBatch):
        return batch.inputs, batch.targets
    inputs, targets = default_collate(list(batch))
    return torch.as_tensor(inputs), torch.as_tensor(targets)


def fetch_batch(dataset: Any, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Fetch ``dataset`` items ``indices`` in the main process, the way a DataLoader would.

    Returns
    -------
    inputs : torch.Tensor
        ``(B, *sample_shape)``.
    targets : torch.Tensor
        ``(B, *target_shape)``.
    """
    getitems = getattr(dataset, "__getitems__", None)
    batch = getitems(list(indices)) if getitems else [dataset[int(index)] for index in indices]
    return collate_batch(batch)
