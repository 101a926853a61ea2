"""The steps ``gradient_flow`` takes: a few optimiser steps on one batch, recording each tensor's gradients and updates."""

from __future__ import annotations

__all__ = ["STEPS", "TensorRecord", "norm", "record_steps", "tensor_records"]

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlcheck.checks._probe import as_tensor_output, seeded

STEPS = 3  # optimiser steps probed ("ever" rather than "at step one")


@dataclass
class TensorRecord:
    name: str
    parameter: nn.Parameter
    trainable: bool
    is_weight: bool  # a linear/convolution-like weight (ndim >= 2, not an embedding)
    start: torch.Tensor
    ever_gradient: bool = False
    ever_non_zero: bool = False
    non_finite: bool = False
    first_relative_gradient: float | None = None
    first_update_ratio: float | None = None
    notes: list[str] = field(default_factory=list)


def tensor_records(model: nn.Module) -> list[TensorRecord]:
    embeddings = {
        id(module.weight) for module in model.modules() if isinstance(module, (nn.Embedding, nn.EmbeddingBag))
    }
    return [
        TensorRecord(
            name=name,
            parameter=parameter,
            trainable=parameter.requires_grad,
            is_weight=parameter.ndim >= 2 and id(parameter) not in embeddings,
            start=parameter.detach().clone(),
        )
        for name, parameter in model.named_parameters()  # shared parameters appear once
    ]


def norm(tensor: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(tensor.detach().float()))


def record_steps(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_function: Callable[..., Any],
    optimizer: torch.optim.Optimizer,
    tensors: list[TensorRecord],
    *,
    seed: int,
    clip: Callable[[list[nn.Parameter]], Any] | None,
) -> float:
    """Take :data:`STEPS` steps on one batch, recording gradients and updates; return the first loss."""
    model.train()
    first_loss = math.nan
    for step in range(STEPS):
        optimizer.zero_grad(set_to_none=True)
        for record in tensors:
            record.parameter.grad = None
        with seeded(seed + step, inputs.device):
            loss = loss_function(as_tensor_output(model(inputs)), targets)
        if step == 0:
            first_loss = float(loss.detach())
        if not math.isfinite(float(loss.detach())):
            return float(loss.detach()) if step == 0 else first_loss
        loss.backward()
        before = [record.parameter.detach().clone() for record in tensors] if step == 0 else None
        for record in tensors:
            gradient = record.parameter.grad
            if gradient is None:
                continue
            if gradient.is_sparse:  # nn.Embedding(sparse=True): the rows that were used
                gradient = gradient.coalesce().values()
            record.ever_gradient = True
            if not bool(torch.isfinite(gradient).all()):
                record.non_finite = True
            elif bool((gradient != 0).any()):
                record.ever_non_zero = True
            if step == 0 and record.is_weight:
                weight_norm = norm(record.parameter)
                record.first_relative_gradient = norm(gradient) / weight_norm if weight_norm > 0 else None
        if clip is not None:
            clip([record.parameter for record in tensors if record.parameter.grad is not None])
        optimizer.step()
        if before is not None:
            for record, previous in zip(tensors, before, strict=True):
                previous_norm = norm(previous)
                if record.is_weight and previous_norm > 0 and record.ever_gradient:
                    record.first_update_ratio = norm(record.parameter.detach() - previous) / previous_norm
    optimizer.zero_grad(set_to_none=True)
    return first_loss
