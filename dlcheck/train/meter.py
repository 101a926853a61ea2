"""Per-batch training metrics of one epoch, kept on the device until someone needs to read them.

The hot loop only appends 0-dim tensors to Python lists: no kernel launch, no host sync. Once per logging
window :meth:`EpochMeter.check_window` reads the window's losses back in one transfer (a
:class:`~dlcheck.engine.tape.LossTape`), finds the first non-finite loss (so a blow-up is named at its exact
batch) and gives the window's mean. Epoch totals are float64 sums of ``loss * batch size`` over the per-batch
values, so a run resumed mid-epoch (which restores those values) reports bit-identical epoch losses.
"""

from __future__ import annotations

__all__ = ["EpochMeter"]

import math
from typing import Any

import torch

from dlcheck.engine.step import StepResult
from dlcheck.engine.tape import LossTape, TapeWindow


class EpochMeter:
    """Collect (loss, batch size, correct count) per micro-batch; read them back in few syncs."""

    def __init__(self, device: torch.device, *, first_step: int) -> None:
        self.device = device
        self.first_step = first_step  # optimiser steps taken before this epoch's first batch
        self._tape = LossTape(every=1)  # read when the trainer says (check_window), not by count
        self._sizes: list[int] = []
        self._correct: list[torch.Tensor] = []  # (B,) per sample: right or not, or a sequence's share of right tokens
        self._restored_correct = 0.0  # float: token sequences count fractions of samples

    @property
    def batches(self) -> int:
        return len(self._sizes)

    def record(self, step: StepResult) -> None:
        """Keep the micro-batches of one optimiser step."""
        for loss in step.losses:
            self._tape.append(loss)
        self._sizes.extend(step.sizes)
        if step.metrics is not None:
            self._correct.extend(step.metrics)

    def check_window(self) -> TapeWindow:
        """Read and verify the batches recorded since the last call (one host sync)."""
        return self._tape.read()

    def totals(self) -> torch.Tensor:
        """``[loss sum, correct, samples]`` (float64, on the device) for a cross-process all-reduce.

        Reads the losses not yet checked (one host sync); call :meth:`check_window` first to see them.
        """
        self._tape.read()
        loss_sum = math.fsum(loss * size for loss, size in zip(self._tape.values, self._sizes, strict=True))
        correct = float(self._correct_total())
        return torch.tensor([loss_sum, correct, float(sum(self._sizes))], dtype=torch.float64, device=self.device)

    def losses(self) -> list[float]:
        """Every loss of the epoch so far (reads the unchecked ones back)."""
        self._tape.read()
        return list(self._tape.values)

    def _correct_total(self) -> float:
        counted = (
            float(torch.cat([hits.reshape(-1) for hits in self._correct]).double().sum()) if self._correct else 0.0
        )
        return counted + self._restored_correct

    def state(self) -> dict[str, Any]:
        """The partial epoch as plain Python values, for a mid-epoch checkpoint."""
        return {"losses": self.losses(), "sizes": list(self._sizes), "correct": self._correct_total()}

    def restore(self, state: dict[str, Any] | None) -> None:
        """Continue the partial epoch saved by :meth:`state`."""
        if not state:
            return
        self._tape.values = [float(value) for value in state["losses"]]
        self._sizes = list(state["sizes"])
        self._restored_correct = float(state["correct"])
