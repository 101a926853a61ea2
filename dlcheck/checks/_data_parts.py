"""The pieces of the data check: a split as checked (tensors, or a sample of a Dataset), a finding, and the rows
of a split as the model sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from dlcheck.checks import thresholds
from dlcheck.checks.result import Status


@dataclass
class Finding:
    status: Status  # "fail" or "warn"
    message: str
    advice: list[str] = field(default_factory=list)


@dataclass
class Split:
    name: str  # "training" or "validation"
    inputs: torch.Tensor  # (N, ...) as stored (before normalisation)
    targets: torch.Tensor  # (N, ...)
    size: int  # samples in the whole split
    exhaustive: bool  # inputs/targets hold every sample


def as_split(name: str, split: Any) -> Split | None:
    if split is None:
        return None
    if isinstance(split, (tuple, list)):
        inputs, targets = torch.as_tensor(split[0]), torch.as_tensor(split[1])
        return Split(name, inputs.detach().cpu(), targets.detach().cpu(), int(inputs.shape[0]), True)
    size = len(split)
    count = min(size, thresholds.DATASET_SAMPLE)
    indices = torch.linspace(0, size - 1, count).round().long().unique().tolist() if count else []
    items = [split[index] for index in indices]
    inputs = torch.stack([torch.as_tensor(item[0]) for item in items])
    targets = torch.stack([torch.as_tensor(item[1]) for item in items])
    return Split(name, inputs.cpu(), targets.cpu(), size, len(indices) == size)


@dataclass
class View:
    """Rows of a split as the model sees them: every ``step``-th sample, normalised, non-finite values set to 0."""

    inputs: torch.Tensor  # (n, ...) float
    targets: torch.Tensor  # (n, ...) the matching targets
    step: int  # stride over the checked split's rows


def model_view(split: Split, normalization: Any, max_rows: int) -> View:
    """Up to ``max_rows`` rows of ``split`` (a deterministic stride) as the model sees them.

    Float, normalised as training normalises them (``normalization`` may be None), non-finite values set to 0
    (they are reported on their own).
    """
    inputs = split.inputs
    step = max(1, -(-inputs.shape[0] // max_rows))  # ceil: never more than max_rows rows
    rows = inputs[::step].float()
    if normalization is not None:
        rows = normalization.to("cpu").apply(rows)
    rows = torch.where(torch.isfinite(rows), rows, torch.zeros((), dtype=rows.dtype))
    return View(rows, split.targets[::step], step)


def units(rows: torch.Tensor) -> torch.Tensor:
    """``(n, U, E)``: the values of each unit the data check compares, per sample.

    A unit is a feature of tabular ``(n, F)`` inputs (``E = 1``) or a channel of ``(n, C, ...)`` inputs (images,
    sequences as ``(C, L)``; ``E`` values per channel), as normalisation and :func:`model_view` treat them.
    """
    if rows.ndim == 1:
        return rows[:, None, None]
    if rows.ndim == 2:
        return rows[:, :, None]
    return rows.reshape(rows.shape[0], rows.shape[1], -1)
