"""The tiny-batch training loop shared by ``overfit_batch`` and ``regularization_effect``.

Plain PyTorch, as fast as a hand-written loop: the batch stays on the device, losses and accuracies are
written into preallocated device tensors, and the host reads them back only every
:data:`~dlcheck.checks.thresholds.OVERFIT_CHECK_EVERY` steps (the one synchronisation), where it decides
whether to stop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlcheck.checks import thresholds
from dlcheck.checks._probe import as_tensor_output, seeded, single_cpu_thread

Augment = Callable[[torch.Tensor, int], torch.Tensor]  # (inputs, step) -> augmented inputs


@dataclass
class FitHistory:
    """What happened on the tiny batch: the loss (and accuracy) before each step."""

    losses: list[float] = field(default_factory=list)
    accuracies: list[float] | None = None
    reached_at: int | None = None  # first step whose loss met the target (and accuracy was 100%)
    target_loss: float = math.nan
    lr: float = math.nan
    parameter_change: float = math.nan  # ||theta_end - theta_start|| / ||theta_start|| over the trainable tensors
    first_gradient_norm: float = math.nan  # global gradient norm of the first step

    @property
    def steps_run(self) -> int:
        return len(self.losses)

    @property
    def initial_loss(self) -> float:
        return self.losses[0] if self.losses else math.nan

    @property
    def final_loss(self) -> float:
        return self.losses[-1] if self.losses else math.nan

    @property
    def final_accuracy(self) -> float | None:
        return self.accuracies[-1] if self.accuracies else None

    @property
    def fitted(self) -> bool:
        return self.reached_at is not None


def accuracy(outputs: torch.Tensor, targets: torch.Tensor, loss_name: str) -> torch.Tensor:
    """Share of correct labels as a 0-dim tensor (no host sync); per element for dense or multi-label targets."""
    if loss_name == "cross_entropy":
        return (outputs.argmax(dim=1) == targets).float().mean()
    matched = targets.to(outputs.dtype).reshape(outputs.shape) if targets.numel() == outputs.numel() else targets
    return ((outputs > 0) == (matched > 0.5)).float().mean()


def first_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def fit_batch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_function: Callable[..., Any],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    steps: int,
    loss_name: str | None,
    seed: int,
    target_loss: float | None = None,
    target_fraction: float = thresholds.OVERFIT_LOSS_FRACTION,
    stop_when_fitted: bool = True,
    clip: Callable[[list[nn.Parameter]], Any] | None = None,
    penalty: Callable[[nn.Module], torch.Tensor] | None = None,
    after_step: Callable[[nn.Module], None] | None = None,
    augment: Augment | None = None,
) -> FitHistory:
    """Train ``model`` on one fixed batch for up to ``steps`` optimiser steps (training mode).

    Parameters
    ----------
    target_loss : float, optional
        Absolute loss that counts as fitted; default ``target_fraction`` times the loss at step 0.
    loss_name : str or None
        ``cross_entropy`` or ``bce_with_logits`` adds the accuracy (fitted then also needs 100%); None or a
        regression loss judges the loss alone.
    stop_when_fitted : bool
        Stop at the first check after the target is met (``overfit_batch``), or run every step
        (``regularization_effect`` compares curves of equal length).
    clip, penalty, after_step, augment
        Gradient clipping, a loss penalty added for the gradient (L1), a constraint after each step
        (max-norm), and per-step augmentation of the inputs: what a training step does besides the basics.
    """
    device = inputs.device
    classification = loss_name in ("cross_entropy", "bce_with_logits")
    losses = torch.full((steps,), math.nan, device=device)
    accuracies = torch.full((steps,), math.nan, device=device) if classification else None
    history = FitHistory(accuracies=[] if classification else None, lr=first_lr(optimizer))
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    start = [parameter.detach().clone() for parameter in parameters]
    model.train()
    checked = 0
    with seeded(seed, device), single_cpu_thread(device):
        for step in range(steps):
            batch = augment(inputs, step) if augment is not None else inputs
            outputs = as_tensor_output(model(batch))
            loss = loss_function(outputs, targets)
            total = loss + penalty(model) if penalty is not None else loss
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            if step == 0:
                gradients = [parameter.grad for parameter in parameters if parameter.grad is not None]
                first_norm = (
                    torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in gradients]))
                    if gradients
                    else torch.zeros((), device=device)
                )
            if clip is not None:
                clip(parameters)
            optimizer.step()
            if after_step is not None:
                after_step(model)
            losses[step] = loss.detach()
            if accuracies is not None:
                accuracies[step] = accuracy(outputs.detach(), targets, str(loss_name))
            if (step + 1) % thresholds.OVERFIT_CHECK_EVERY and step + 1 < steps:
                continue
            # ---- the one host sync per window
            window = losses[checked : step + 1].tolist()
            history.losses.extend(window)
            if accuracies is not None and history.accuracies is not None:
                history.accuracies.extend(accuracies[checked : step + 1].tolist())
            if checked == 0:
                history.target_loss = target_loss if target_loss is not None else target_fraction * window[0]
            checked = step + 1
            if not all(math.isfinite(value) for value in window):
                cut = next(index for index, value in enumerate(history.losses) if not math.isfinite(value)) + 1
                del history.losses[cut:]
                if history.accuracies is not None:
                    del history.accuracies[cut:]
                break
            if history.reached_at is None:
                history.reached_at = _first_fitted(history, checked - len(window))
            if history.reached_at is not None and stop_when_fitted:
                break
    with torch.no_grad():
        moved = sum(
            float((parameter - first).float().pow(2).sum()) for parameter, first in zip(parameters, start, strict=True)
        )
        size = sum(float(first.float().pow(2).sum()) for first in start)
    history.parameter_change = math.sqrt(moved / size) if size > 0 else math.sqrt(moved)
    if steps > 0 and history.losses:
        history.first_gradient_norm = float(first_norm)
    return history


def _first_fitted(history: FitHistory, start: int) -> int | None:
    for index in range(start, len(history.losses)):
        loss_ok = history.losses[index] <= history.target_loss
        accuracy_ok = history.accuracies is None or history.accuracies[index] >= 1.0
        if loss_ok and accuracy_ok:
            return index
    return None
