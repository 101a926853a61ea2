"""The live monitor of ``dlcheck train``: the spike and divergence rules, judged as the loss arrives.

The trainer already reads the mean training loss of each logging window (``logging.every_steps``
steps) once, in one host sync; the monitor judges that value, so watching costs no extra sync:

- **spike**: the same rule as :func:`~dlcheck.curves.detectors.instability.detect_spikes` - robust z
  >= ``spike_z`` against the level (median of the previous W/2 windows) and noise (MAD of the differences
  over the previous W windows), >= ``spike_min_ratio`` x the level, and either >= ``spike_large_ratio``
  x or >= ``spike_min_excess`` of the starting loss. The trainer then finds the window's worst
  micro-batch and appends its sample indices to ``spikes.jsonl`` in the run directory.
- **divergence**: the fail rule of :func:`~dlcheck.curves.detectors.instability.detect_divergence` on
  a running median of 5 windows: >= ``divergence_fail_ratio`` x the best so far (plus 3 standard
  errors) and >= ``divergence_undone_fail`` of the improvement given back, or back above the starting
  level after learning, for ``live_divergence_windows`` windows in a row. The trainer stops the run
  with status ``diverged``.

All state is a few Python lists; each window costs O(W) with W <= 100.
"""

from __future__ import annotations

__all__ = ["LiveMonitor", "LiveSpike", "SpikeRecorder"]

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlcheck.curves.robust import MAD_TO_SIGMA
from dlcheck.curves.thresholds import DEFAULT_THRESHOLDS, Thresholds

_SMOOTHING = 5  # windows in the running median the divergence rule reads


@dataclass(frozen=True)
class LiveSpike:
    """A logging window whose mean loss spiked."""

    step: int
    loss: float
    reference: float  # the level before it
    ratio: float
    z: float


class LiveMonitor:
    """Judge one training-loss value per logging window.

    Examples
    --------
    >>> monitor = LiveMonitor()
    >>> spikes = [monitor.observe(step, 1.0 + 0.01 * (step % 3)) for step in range(1, 60)]
    >>> monitor.observe(60, 25.0).ratio > 20, monitor.diverged
    (True, False)
    """

    def __init__(self, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> None:
        self.thresholds = thresholds
        self._steps: list[int] = []
        self._logs: list[float] = []  # log-loss per window (finite, positive losses only)
        self._smooth: list[float] = []
        self._best = math.inf
        self._best_step = 0
        self._diverging = 0
        self.diverged = False
        self.divergence: dict[str, float] | None = None

    def observe(self, step: int, loss: float) -> LiveSpike | None:
        """Add one window's mean loss; return a spike when it is one. Sets :attr:`diverged`."""
        if not math.isfinite(loss) or loss <= 0:  # non-finite losses stop the run elsewhere
            return None
        value = math.log(loss)
        spike = self._spike(step, value)
        self._steps.append(step)
        self._logs.append(value)
        self._smooth.append(float(np.median(self._logs[-_SMOOTHING:])))
        self._update_divergence(step)
        return spike

    def _spike(self, step: int, value: float) -> LiveSpike | None:
        thresholds = self.thresholds
        count = len(self._logs)
        window = int(min(thresholds.spike_window, max(10, (count + 1) // 5)))
        if count < window or count + 1 < thresholds.spike_min_points:
            return None
        recent = np.asarray(self._logs[-window:])
        level = float(np.median(recent[window // 2 :]))
        differences = np.diff(recent)
        sigma = MAD_TO_SIGMA * float(np.median(np.abs(differences - np.median(differences)))) / math.sqrt(2.0)
        rise = value - level
        z = rise / max(sigma, 1e-6)
        if z < thresholds.spike_z or rise < math.log(thresholds.spike_min_ratio):
            return None
        start = math.exp(float(np.median(self._logs[:_SMOOTHING])))
        large = rise >= math.log(thresholds.spike_large_ratio)
        if not large and math.exp(value) - math.exp(level) < thresholds.spike_min_excess * start:
            return None
        return LiveSpike(step, math.exp(value), math.exp(level), math.exp(rise), z)

    def _update_divergence(self, step: int) -> None:
        thresholds = self.thresholds
        current = self._smooth[-1]
        if len(self._smooth) >= _SMOOTHING and current < self._best:
            self._best, self._best_step = current, step
        if len(self._logs) < thresholds.live_min_points or not math.isfinite(self._best):
            return
        recent = np.asarray(self._logs[-thresholds.spike_window :])
        differences = np.diff(recent)
        sigma = MAD_TO_SIGMA * float(np.median(np.abs(differences - np.median(differences)))) / math.sqrt(2.0)
        margin = thresholds.divergence_noise_sigmas * 1.2533 * sigma / math.sqrt(_SMOOTHING)
        start = float(np.median(self._logs[:3]))  # the first windows: as close to initialisation as the log gets
        gained = math.exp(start) - math.exp(self._best)
        undone = (math.exp(current) - math.exp(self._best)) / gained if gained > 0 else math.inf
        exploded = current - self._best >= math.log(thresholds.divergence_fail_ratio) + margin
        learned = start - self._best >= math.log(1.5) + margin
        above_start = current - start >= math.log(thresholds.divergence_above_start_ratio) + margin
        if (exploded and undone >= thresholds.divergence_undone_fail) or (learned and above_start):
            self._diverging += 1
        else:
            self._diverging = 0
        if self._diverging >= thresholds.live_divergence_windows and not self.diverged:
            self.diverged = True
            self.divergence = {
                "step": float(step),
                "loss": math.exp(current),
                "best": math.exp(self._best),
                "best_step": float(self._best_step),
                "start": math.exp(start),
                "ratio": math.exp(current - self._best),
            }

    def divergence_text(self, where: str) -> str:
        """One sentence for the run's message, e.g. ``the training loss diverged at step 620: ...``."""
        facts = self.divergence or {}
        start, best = facts.get("start", math.nan), facts.get("best", math.nan)
        origin = f"; it started at {start:.4g}" if start > best else ""
        return (
            f"the training loss diverged at {where}: {facts.get('loss', math.nan):.4g} (median of the last "
            f"{_SMOOTHING} logged windows), {facts.get('ratio', math.nan):.3g}x its lowest {best:.4g} at step "
            f"{int(facts.get('best_step', 0))}{origin}"
        )


class SpikeRecorder:
    """Append spikes, with the sample indices of the window's worst batch, to ``spikes.jsonl``."""

    def __init__(self, run_path: Path) -> None:
        self.path = run_path / "spikes.jsonl"
        self.count = 0

    def record(self, spike: LiveSpike, *, epoch: int, batch: int, batch_loss: float, samples: Sequence[int]) -> None:
        """``epoch`` and ``batch`` are 0-based (the epoch plan's own indices); ``samples`` index the train split."""
        record: dict[str, Any] = {
            **asdict(spike),
            "epoch": epoch,
            "batch": batch,
            "batch_loss": batch_loss,
            "samples": [int(index) for index in samples],
        }
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        self.count += 1
