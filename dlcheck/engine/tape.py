"""Losses kept on the device and read back a window at a time: one host sync every k steps, not one per step.

A ``float(loss)`` per step makes the host wait for the device at every step; on a GPU that stalls the queue of
kernels. The trainer, the LR sweep, ``--verify`` and the tiny-batch fitter all append their 0-dim device losses
to a :class:`LossTape` instead and read it when a window is due: one stack and one transfer, after which the
first non-finite loss is located at its exact step as if every step had been checked.
"""

from __future__ import annotations

__all__ = ["LossTape", "TapeWindow"]

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TapeWindow:
    """The values read by one :meth:`LossTape.read`.

    Attributes
    ----------
    start : int
        Index (in the whole tape) of the window's first value.
    values : list of float
        The window's values, in order.
    first_non_finite : int or None
        Index (in the whole tape) of the first NaN or infinite value of the window.
    """

    start: int
    values: list[float]
    first_non_finite: int | None

    @property
    def mean(self) -> float:
        """Mean of the window's values (NaN for an empty window)."""
        return math.fsum(self.values) / len(self.values) if self.values else math.nan


class LossTape:
    """Append 0-dim device tensors without a sync; read them back every ``every`` entries.

    Parameters
    ----------
    every : int
        Entries per window; :meth:`due` says when one is full.

    Examples
    --------
    >>> tape = LossTape(every=2)
    >>> for value in (1.0, 2.0, float("nan")):
    ...     tape.append(torch.tensor(value))
    ...     if tape.due():
    ...         window = tape.read()
    >>> window.values, tape.read().first_non_finite, tape.values
    ([1.0, 2.0], 2, [1.0, 2.0, nan])
    """

    def __init__(self, every: int) -> None:
        self.every = max(1, int(every))
        self.values: list[float] = []  # everything read so far
        self._pending: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self.values) + len(self._pending)

    def append(self, value: torch.Tensor) -> None:
        self._pending.append(value)

    def due(self) -> bool:
        """Whether a full window waits to be read."""
        return len(self._pending) >= self.every

    def read(self) -> TapeWindow:
        """Read every pending value back to the host (one transfer) and check them."""
        start = len(self.values)
        if not self._pending:
            return TapeWindow(start, [], None)
        values = torch.stack(self._pending).float().tolist()  # (W,): the one host sync
        self._pending = []
        self.values.extend(values)
        bad = next((offset for offset, value in enumerate(values) if not math.isfinite(value)), None)
        return TapeWindow(start, values, None if bad is None else start + bad)
