"""Per-batch training metrics of one epoch, kept on the device until someone needs to read them.

The hot loop only appends 0-dim tensors to Python lists: no kernel launch, no host sync. Once per
logging window :meth:`EpochMeter.check_window` stacks the window, finds the first non-finite loss (so a
blow-up is named at its exact batch) and reads the window's mean: one sync per window instead of one per
step. Epoch totals are sums of ``loss * batch size`` in float64 over the stored per-batch values, so a
run resumed mid-epoch (which restores those values) reports bit-identical epoch losses.
"""

from __future__ import annotations

__all__ = ["EpochMeter", "WindowCheck"]

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class WindowCheck:
    mean_loss: float  # mean of the per-batch losses since the last check (NaN when empty)
    first_bad_batch: int | None  # batch index (in the epoch) of the first non-finite loss, if any


class EpochMeter:
    """Collect (loss, batch size, correct count) per batch; read them back in few syncs."""

    def __init__(self, device: torch.device, *, first_step: int) -> None:
        self.device = device
        self.first_step = first_step  # optimiser steps taken before this epoch's first batch
        self._checked: list[torch.Tensor] = []  # stacked windows already verified, float32 (n,)
        self._window: list[torch.Tensor] = []  # 0-dim losses since the last check
        self._correct: list[torch.Tensor] = []  # 0-dim counts
        self._sizes: list[int] = []
        self._restored_correct = 0.0  # float: token sequences count fractions of samples

    @property
    def batches(self) -> int:
        return len(self._sizes)

    def record(self, loss: torch.Tensor, size: int, correct: torch.Tensor | None) -> None:
        self._window.append(loss)
        self._sizes.append(size)
        if correct is not None:
            self._correct.append(correct)

    def check_window(self) -> WindowCheck:
        """Verify and summarise the batches recorded since the last call (one host sync)."""
        if not self._window:
            return WindowCheck(float("nan"), None)
        start = self.batches - len(self._window)
        losses = torch.stack(self._window).float()  # (W,)
        self._window = []
        finite = torch.isfinite(losses)
        if not bool(finite.all()):
            return WindowCheck(float("nan"), start + int((~finite).nonzero()[0]))
        self._checked.append(losses)
        return WindowCheck(float(losses.mean()), None)

    def _all_losses(self) -> torch.Tensor:
        parts = [*self._checked]
        if self._window:
            parts.append(torch.stack(self._window).float())
        return torch.cat(parts) if parts else torch.zeros(0, device=self.device)

    def _correct_total(self) -> torch.Tensor:
        restored = torch.tensor(self._restored_correct, dtype=torch.float64, device=self.device)
        return torch.stack(self._correct).double().sum() + restored if self._correct else restored

    def totals(self) -> torch.Tensor:
        """``[loss sum, correct, samples]`` (float64, on the device) for a cross-process all-reduce."""
        sizes = torch.tensor(self._sizes, dtype=torch.float64, device=self.device)
        loss_sum = (self._all_losses().double() * sizes).sum()
        samples = torch.tensor(float(sum(self._sizes)), dtype=torch.float64, device=self.device)
        return torch.stack([loss_sum, self._correct_total().double(), samples])

    def state(self) -> dict[str, Any]:
        """The partial epoch as plain Python values, for a mid-epoch checkpoint."""
        return {
            "losses": self._all_losses().tolist(),
            "sizes": list(self._sizes),
            "correct": float(self._correct_total()),
        }

    def restore(self, state: dict[str, Any] | None) -> None:
        """Continue the partial epoch saved by :meth:`state`."""
        if not state:
            return
        self._checked = [torch.tensor(state["losses"], dtype=torch.float32, device=self.device)]
        self._sizes = list(state["sizes"])
        self._restored_correct = float(state["correct"])
