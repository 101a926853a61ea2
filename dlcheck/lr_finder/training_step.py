"""One optimiser step exactly as ``dlcheck train`` takes it, and held-out losses, for the finder's short runs.

The range test is only meaningful with the recipe's own optimiser (betas, momentum, weight decay), batch size,
regularisation (label smoothing, L1, max-norm, gradient clipping), gradient accumulation and precision
(research section 4: "run the range test with the same batch size and regularization as the real training").
:class:`TrainingStep` does what one step of :mod:`dlcheck.train.trainer` does, without its logging, and
returns the loss as a device tensor so the caller decides when to synchronise.
"""

from __future__ import annotations

__all__ = ["TrainingStep", "endless_batches", "evaluate_loss", "held_out_batches"]

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dlcheck.train.regularization import apply_max_norm, clip_gradients, l1_penalty

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class TrainingStep:
    """Forward, backward and optimiser step over ``accumulation`` micro-batches (one optimiser step).

    Attributes
    ----------
    model, optimizer, loss_function
        What to train; ``loss_function(outputs, targets, reduction=...)`` as :mod:`dlcheck.train.losses`.
    precision : dlcheck.train.runtime.Precision
        Autocast settings; fp16 uses ``scaler``.
    scaler : torch.amp.GradScaler, optional
        Only for fp16 (a fresh one per run: the user's scaler is never touched).
    accumulation : int
        Micro-batches per optimiser step; the recorded loss is their mean.
    l1 : float
        L1 penalty coefficient (added to the objective, not to the recorded loss, as in training).
    clip : GradientClipConfig, optional
        Gradient clipping as in training.
    max_norm : float, optional
        Max-norm constraint applied after the step.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_function: Any
    precision: Any
    scaler: Any = None
    accumulation: int = 1
    l1: float = 0.0
    clip: Any = None
    max_norm: float | None = None

    def __call__(self, batches: Iterator[Batch]) -> torch.Tensor:
        """Take one optimiser step on the next ``accumulation`` batches; return the mean data loss (0-dim)."""
        scaling = self.scaler is not None and self.precision.uses_scaler
        self.optimizer.zero_grad(set_to_none=True)
        recorded: torch.Tensor | None = None
        for _ in range(self.accumulation):
            inputs, targets = next(batches)
            with self.precision.autocast():
                outputs = self.model(inputs)  # (B, C) logits or (B, ...) predictions
                loss = self.loss_function(outputs, targets)
                objective = loss + self.l1 * l1_penalty(self.model) if self.l1 else loss
            if self.accumulation > 1:
                objective = objective / self.accumulation
            (self.scaler.scale(objective) if scaling else objective).backward()
            value = loss.detach().float()
            recorded = value if recorded is None else recorded + value
        if self.clip is not None:
            if scaling:
                self.scaler.unscale_(self.optimizer)
            clip_gradients(self.model.parameters(), self.clip)
        if scaling:  # fp16: skips the step on inf/NaN gradients and lowers the scale
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        if self.max_norm is not None:
            apply_max_norm(self.model, self.max_norm)
        assert recorded is not None
        return recorded / self.accumulation if self.accumulation > 1 else recorded


def endless_batches(batcher: Any) -> Iterator[Batch]:
    """Batches of epoch 0, 1, 2, ... of a :class:`dlcheck.data.Batcher`, without end (the sweep decides)."""
    epoch = 0
    while True:
        produced = False
        for batch in batcher.epoch(epoch):
            produced = True
            yield batch
        if not produced:
            return
        epoch += 1


def held_out_batches(batcher: Any, max_samples: int, max_batches: int | None = None) -> list[Batch]:
    """The first batches of a non-shuffled batcher, up to ``max_samples`` samples (and ``max_batches`` batches)."""
    chosen: list[Batch] = []
    seen = 0
    for batch in batcher.epoch(0):
        if seen >= max_samples or (max_batches is not None and len(chosen) >= max_batches):
            break
        chosen.append(batch)
        seen += int(batch[0].shape[0])
    return chosen


@torch.no_grad()
def evaluate_loss(model: nn.Module, loss_function: Any, precision: Any, batches: Sequence[Batch]) -> torch.Tensor:
    """Mean loss over ``batches`` in eval mode (sample-weighted), as a 0-dim float tensor on the model's device.

    The model's train/eval flags are put back afterwards. An empty ``batches`` gives NaN.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    total: torch.Tensor | None = None
    count = 0
    try:
        for inputs, targets in batches:
            with precision.autocast():
                outputs = model(inputs)
                summed = loss_function(outputs, targets, reduction="sum").float()
            total = summed if total is None else total + summed
            count += int(inputs.shape[0])
    finally:
        for module, training in modes:
            module.training = training
    if total is None:
        return torch.tensor(math.nan)
    return total / count
