"""The steps ``gradient_flow`` takes: a few optimiser steps on one batch, recording each tensor's gradients and updates.

The steps are :class:`~dlcheck.engine.step.OptimizerStep` calls; what is recorded is read by
:class:`GradientRecorder`, a :class:`~dlcheck.engine.step.StepHooks`: the gradients after backward (unscaled,
before clipping) and the update after the optimiser step.
"""

from __future__ import annotations

__all__ = ["STEPS", "GradientRecorder", "TensorRecord", "norm", "record_steps", "tensor_records"]

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from dlcheck.engine.regularization import matrix_weights
from dlcheck.engine.step import OptimizerStep, StepHooks
from dlcheck.seeding import Purpose, derive_seed, seeded

STEPS = 3  # optimiser steps probed ("ever" rather than "at step one")


@dataclass
class TensorRecord:
    name: str
    parameter: nn.Parameter
    trainable: bool
    is_weight: bool  # multiplies inputs (engine.regularization.matrix_weights): its relative gradient is judged
    start: torch.Tensor
    ever_gradient: bool = False
    ever_non_zero: bool = False
    non_finite: bool = False
    first_relative_gradient: float | None = None
    first_update_ratio: float | None = None
    notes: list[str] = field(default_factory=list)


def tensor_records(model: nn.Module) -> list[TensorRecord]:
    weights = matrix_weights(model)
    return [
        TensorRecord(
            name=name,
            parameter=parameter,
            trainable=parameter.requires_grad,
            is_weight=id(parameter) in weights,
            start=parameter.detach().clone(),
        )
        for name, parameter in model.named_parameters()  # shared parameters appear once
    ]


def norm(tensor: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(tensor.detach().float()))


class _NonFiniteLoss(Exception):
    """Raised by the recorder to abandon a step whose loss is NaN or infinite (its gradients mean nothing)."""


class GradientRecorder(StepHooks):
    """What each step did to each tensor: gradient received, finite, non-zero; first relative gradient and update."""

    def __init__(self, tensors: list[TensorRecord]) -> None:
        self.tensors = tensors
        self.steps = 0
        self.losses: list[float] = []
        self._before: list[torch.Tensor] | None = None

    def after_forward(self, loss: torch.Tensor) -> None:
        value = float(loss.detach())  # a host read: fine for a probe of three steps
        self.losses.append(value)
        if not math.isfinite(value):
            raise _NonFiniteLoss

    def after_backward(self, model: nn.Module) -> None:
        first = self.steps == 0
        for record in self.tensors:
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
            if first and record.is_weight:
                weight_norm = norm(record.parameter)
                record.first_relative_gradient = norm(gradient) / weight_norm if weight_norm > 0 else None
        if first:
            self._before = [record.parameter.detach().clone() for record in self.tensors]

    def after_step(self, model: nn.Module) -> None:
        if self._before is not None:
            for record, previous in zip(self.tensors, self._before, strict=True):
                previous_norm = norm(previous)
                if record.is_weight and previous_norm > 0 and record.ever_gradient:
                    record.first_update_ratio = norm(record.parameter.detach() - previous) / previous_norm
            self._before = None
        self.steps += 1


def record_steps(
    step: OptimizerStep, recorder: GradientRecorder, inputs: torch.Tensor, targets: torch.Tensor, *, seed: int
) -> float:
    """Take :data:`STEPS` steps on one batch (``step`` built with ``hooks=recorder``); return the first loss.

    A step whose loss is not finite is abandoned before its backward, and no later step is taken.
    """
    step.model.train()
    for index in range(STEPS):
        try:
            with seeded(derive_seed(seed, Purpose.PROBE, index), inputs.device):
                step([(inputs, targets)])
        except _NonFiniteLoss:
            break
    return recorder.losses[0] if recorder.losses else math.nan
