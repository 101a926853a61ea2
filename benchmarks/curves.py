"""Curve diagnosis speed: a 1M-point series diagnosed, and the TensorBoard reader vs EventAccumulator.

1. ``diagnose_run`` on one training-loss series of 1,000,000 points (noisy exponential decay with a
   planted spike), with and without a known epoch length: median of 5 runs; the spike must be the
   only finding.
2. One event file holding ``SCALARS`` scalars (train/loss every step, val/loss and val/accuracy every
   100 steps, plus the histograms and text a real run logs, which both readers must skip), written by
   PyTorch's SummaryWriter. Timed: ``dlcheck.curves.tensorboard.read_event_files`` against tensorboard's
   ``EventAccumulator(size_guidance={"scalars": 0}).Reload()`` followed by ``Scalars(tag)`` for every tag;
   median of 5 runs each, values checked identical.

Run: ``.venv/bin/python benchmarks/curves.py`` (about half a minute).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dlcheck.curves.diagnosis import diagnose_run
from dlcheck.curves.log_run import LogRun, RunFacts
from dlcheck.curves.series import Series
from dlcheck.curves.tensorboard import read_event_files

POINTS = 1_000_000
SCALARS = 100_000
REPEATS = 5


def _median_seconds(function: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def diagnose_million() -> None:
    generator = np.random.default_rng(0)
    steps = np.arange(1.0, POINTS + 1.0)
    values = (2.3 * np.exp(-steps / 1e5) + 0.05) * np.exp(generator.normal(0.0, 0.2, POINTS))
    values[500_000] *= 50.0
    print(f"1. diagnose one series of {POINTS:,} points (median of {REPEATS})")
    print(f"   {'epoch length':<22}{'seconds':>10}  findings")
    for label, facts in (("unknown (searched)", RunFacts()), ("known (1,000 steps)", RunFacts(steps_per_epoch=1000.0))):
        run = LogRun("bench", Path("bench"), "bench", [Series("train/loss", steps, values)], facts)
        seconds, result = _median_seconds(lambda run=run: diagnose_run(run))
        found = ", ".join(
            f"{finding.kind} at {finding.metrics.get('peak_step', finding.step):,.0f}" for finding in result.findings
        )
        print(f"   {label:<22}{seconds:>10.3f}  {found or 'none'}")


def write_events(directory: Path) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    generator = np.random.default_rng(1)
    writer = SummaryWriter(log_dir=str(directory))
    written = 0
    step = 0
    while written < SCALARS:
        step += 1
        writer.add_scalar("train/loss", float(generator.random()), step)
        written += 1
        if step % 100 == 0:
            writer.add_scalar("val/loss", float(generator.random()), step)
            writer.add_scalar("val/accuracy", float(generator.random()), step)
            written += 2
        if step % 1000 == 0:
            writer.add_histogram("weights", generator.normal(size=256), step)
            writer.add_text("note", f"step {step}", step)
    writer.close()
    return next(directory.glob("events.out.tfevents.*"))


def compare_readers() -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with tempfile.TemporaryDirectory() as folder:
        path = write_events(Path(folder))
        size = path.stat().st_size

        def ours() -> dict[str, tuple[list[float], list[float]]]:
            return {item.name: (item.steps.tolist(), item.values.tolist()) for item in read_event_files([(path, "")])}

        def accumulator() -> dict[str, tuple[list[float], list[float]]]:
            loaded = EventAccumulator(folder, size_guidance={"scalars": 0})
            loaded.Reload()
            return {
                tag: (
                    [float(event.step) for event in loaded.Scalars(tag)],
                    [event.value for event in loaded.Scalars(tag)],
                )
                for tag in loaded.Tags()["scalars"]
            }

        ours_seconds, ours_result = _median_seconds(ours)
        theirs_seconds, theirs_result = _median_seconds(accumulator)
        identical = ours_result == theirs_result
        print(f"\n2. read {SCALARS:,} scalars from one event file ({size / 1e6:.1f} MB; median of {REPEATS})")
        print(f"   {'reader':<36}{'seconds':>10}{'ratio':>8}")
        print(f"   {'dlcheck.curves.tensorboard':<36}{ours_seconds:>10.3f}{1.0:>8.2f}")
        print(f"   {'tensorboard EventAccumulator':<36}{theirs_seconds:>10.3f}{theirs_seconds / ours_seconds:>8.2f}")
        print(f"   values identical: {identical}")


if __name__ == "__main__":
    diagnose_million()
    compare_readers()
