"""The pieces of the data check: a split as checked (tensors, or a sample of a Dataset) and a finding."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from dlcheck.checks import thresholds
from dlcheck.verdict import Status


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
