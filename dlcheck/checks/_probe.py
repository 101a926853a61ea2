"""What the checks share: timing, dropout switches, and the CPU thread setting of the tiny-batch runs.

Private to :mod:`dlcheck.checks`. The checks probe a model without changing it: they work on a deep copy
(:func:`dlcheck.engine.isolation.probe_copy`) or restore it (:class:`dlcheck.engine.isolation.StateGuard`), and every
random draw (dropout masks, projections) comes from a seeded stream (:mod:`dlcheck.seeding`) rather than from
whatever state the caller's global generator is in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec

import torch
from torch import nn

from dlcheck.formatting import number, percent, plural  # noqa: F401  (the data checks import them from here)
from dlcheck.verdict import CheckResult

DROPOUT_TYPES: tuple[type[nn.Module], ...] = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)

Parameters = ParamSpec("Parameters")


def timed(function: Callable[Parameters, CheckResult]) -> Callable[Parameters, CheckResult]:
    """Fill in :attr:`CheckResult.seconds` with the wall time of the call."""

    def wrapper(*args: Parameters.args, **kwargs: Parameters.kwargs) -> CheckResult:
        started = time.perf_counter()
        result = function(*args, **kwargs)
        return dataclasses.replace(result, seconds=time.perf_counter() - started)

    wrapper.__name__ = function.__name__
    wrapper.__qualname__ = function.__qualname__
    wrapper.__doc__ = function.__doc__
    wrapper.__module__ = function.__module__
    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


@contextlib.contextmanager
def single_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run the block with one intra-op CPU thread (restored afterwards); no effect on other devices.

    For the tiny-batch loops: their operations are far below the size at which a second thread pays off
    (PyTorch parallelises from 32768 elements), and while another process keeps the cores busy every parallel
    region waits for a descheduled thread. Measured on the 2-core development machine under load: 0.1 s with
    one thread against 13.7 s with two for the digits MLP's overfit check.
    """
    previous = torch.get_num_threads()
    if device.type != "cpu" or previous <= 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def dropout_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The dropout modules of ``model`` with a non-zero rate, by qualified name."""
    return [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, DROPOUT_TYPES) and float(getattr(module, "p", 0.0)) > 0.0
    ]


def disable_dropout(model: nn.Module) -> int:
    """Set the rate of every dropout module to 0 in place; return how many were active."""
    active = dropout_modules(model)
    for _, module in active:
        module.p = 0.0  # type: ignore[assignment]
    return len(active)
