"""Batches as the step takes them: endless streams for short runs, fixed held-out batches, accumulation groups."""

from __future__ import annotations

__all__ = ["accumulation_groups", "endless_batches", "held_out_batches"]

from collections.abc import Iterable, Iterator

from dlcheck.data import Batcher
from dlcheck.engine.step import Batch


def accumulation_groups(batches: Iterable[Batch], size: int) -> Iterator[list[Batch]]:
    """Group micro-batches ``size`` at a time, one group per optimiser step; the last group may be shorter.

    The trainer starts every epoch (and every mid-epoch resume) at a group boundary, so the groups of an epoch
    are always the same; :class:`~dlcheck.engine.step.OptimizerStep` averages a short last group over its own
    length.

    Examples
    --------
    >>> [[int(x) for x, _ in group] for group in accumulation_groups([(i, i) for i in range(5)], 2)]
    [[0, 1], [2, 3], [4]]
    """
    if size == 1:  # the common case without a list per step of bookkeeping
        for batch in batches:
            yield [batch]
        return
    group: list[Batch] = []
    for batch in batches:
        group.append(batch)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def endless_batches(batcher: Batcher) -> Iterator[Batch]:
    """Batches of epoch 0, 1, 2, ... of a :class:`dlcheck.data.Batcher`, without end (the caller decides)."""
    epoch = 0
    while True:
        produced = False
        for batch in batcher.epoch(epoch):
            produced = True
            yield batch
        if not produced:
            return
        epoch += 1


def held_out_batches(batcher: Batcher, max_samples: int, max_batches: int | None = None) -> list[Batch]:
    """The first batches of a non-shuffled batcher, up to ``max_samples`` samples (and ``max_batches`` batches)."""
    chosen: list[Batch] = []
    seen = 0
    for batch in batcher.epoch(0):
        if seen >= max_samples or (max_batches is not None and len(chosen) >= max_batches):
            break
        chosen.append(batch)
        seen += int(batch[0].shape[0])
    return chosen
