"""What the checks share: timing, seeded randomness, probe copies of models, loss names, number formatting.

Private to :mod:`dlcheck.checks`. The checks probe a model without changing it: they work on a deep copy
(:func:`probe_copy`), and every random draw (dropout masks, projections) comes from a generator seeded
here rather than from whatever state the caller's global generator is in.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec

import torch
from torch import nn

from dlcheck.checks.result import CheckResult
from dlcheck.errors import InputError

LOSS_NAMES = ("cross_entropy", "bce_with_logits", "mse", "l1", "huber")
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
def seeded(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Run the block with torch's generators (CPU, and ``device`` if CUDA) seeded; restore them afterwards.

    Dropout and other modules draw from the global generators; forking them keeps the caller's random state
    as it was and makes a check's result a function of ``seed``.
    """
    devices = [device] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        if devices:
            torch.cuda.manual_seed(seed)
        yield


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


def probe_copy(model: nn.Module) -> nn.Module:
    """A deep copy to probe (train mode, optimiser steps, hooks) without touching the caller's model."""
    try:
        return copy.deepcopy(model)
    except Exception as error:
        raise InputError(
            f"the model ({type(model).__name__}) cannot be copied with copy.deepcopy ({type(error).__name__}: "
            f"{error}); pass a function that builds the model instead, or make the model copyable."
        ) from error


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


def loss_name_of(loss_function: Any, loss_name: str | None = None) -> str:
    """The dlcheck name of a loss function: given, or recognised from torch's classes and functions.

    Raises
    ------
    InputError
        When neither ``loss_name`` is given nor the loss recognised.

    Examples
    --------
    >>> loss_name_of(nn.CrossEntropyLoss()), loss_name_of(torch.nn.functional.mse_loss)
    ('cross_entropy', 'mse')
    """
    if loss_name is not None:
        if loss_name not in LOSS_NAMES:
            raise InputError(f"loss_name={loss_name!r} is not one of {', '.join(LOSS_NAMES)}.")
        return loss_name
    name = getattr(loss_function, "name", None)
    if isinstance(name, str) and name in LOSS_NAMES:  # dlcheck's own LossFunction
        return name
    by_class = {
        nn.CrossEntropyLoss: "cross_entropy",
        nn.BCEWithLogitsLoss: "bce_with_logits",
        nn.MSELoss: "mse",
        nn.L1Loss: "l1",
        nn.HuberLoss: "huber",
        nn.SmoothL1Loss: "huber",
    }
    for kind, known in by_class.items():
        if isinstance(loss_function, kind):
            return known
    by_function = {
        "cross_entropy": "cross_entropy",
        "binary_cross_entropy_with_logits": "bce_with_logits",
        "mse_loss": "mse",
        "l1_loss": "l1",
        "huber_loss": "huber",
        "smooth_l1_loss": "huber",
    }
    function_name = getattr(loss_function, "__name__", None)
    if function_name in by_function:
        return by_function[function_name]
    raise InputError(
        f"cannot tell which loss {loss_function!r} computes; pass loss_name= one of {', '.join(LOSS_NAMES)}."
    )


def label_smoothing_of(loss_function: Any) -> float:
    return float(getattr(loss_function, "label_smoothing", 0.0) or 0.0)


def as_tensor_output(outputs: Any) -> torch.Tensor:
    """The model's output as one tensor; a tuple or list counts by its first element (e.g. (logits, aux))."""
    if isinstance(outputs, (tuple, list)) and outputs and isinstance(outputs[0], torch.Tensor):
        return outputs[0]
    if not isinstance(outputs, torch.Tensor):
        raise InputError(
            f"the model returned a {type(outputs).__name__}; the checks need a tensor of outputs (N, ...)."
        )
    return outputs


def number(value: float | None, digits: int = 3) -> str:
    """A short human number: 3 significant digits, scientific outside [1e-3, 1e5).

    Examples
    --------
    >>> number(2.302585), number(0.000123), number(1e-4), number(123456.0), number(float("nan"))
    ('2.3', '1.23e-04', '1e-04', '1.23e+05', 'nan')
    """
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(exponent):+03d}"
    return f"{value:.{digits}g}"


def percent(fraction: float) -> str:
    """Examples
    --------
    >>> percent(0.5), percent(0.0004), percent(1.0)
    ('50%', '0.04%', '100%')
    """
    if fraction == 0 or fraction >= 0.01:
        return f"{100 * fraction:.0f}%" if fraction >= 0.1 or fraction == 0 else f"{100 * fraction:.1f}%"
    return f"{100 * fraction:.2g}%"


def plural(count: int, word: str, words: str | None = None) -> str:
    """Examples
    --------
    >>> plural(1, "sample"), plural(3, "class", "classes")
    ('1 sample', '3 classes')
    """
    return f"{count} {word if count == 1 else (words or word + 's')}"
