"""The tiny-batch training loop shared by ``overfit_batch`` and ``regularization_effect``.

Each step is an :class:`~dlcheck.engine.step.OptimizerStep`, the step training takes (the recipe's precision,
clipping and, when switched on, L1 and max-norm). The batch stays on the device, losses and correct counts are
kept there (:class:`~dlcheck.engine.tape.LossTape`), and the host reads them back only every
:data:`~dlcheck.checks.thresholds.OVERFIT_CHECK_EVERY` steps (the one synchronisation), where it decides whether
to stop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from dlcheck.checks import thresholds
from dlcheck.checks._probe import single_cpu_thread
from dlcheck.engine.losses import LossFunction, count_correct, is_classification_loss
from dlcheck.engine.step import Batch, LossCallable, OptimizerStep, StepPolicy, as_tensor_output
from dlcheck.engine.tape import LossTape
from dlcheck.seeding import Purpose, derive_seed, seeded

BatchAt = Callable[[int], Batch]  # step index -> (inputs, targets) of that step


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


def fitting_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_function: LossCallable,
    loss_name: str | None,
    policy: StepPolicy,
    *,
    forward: torch.nn.Module | None = None,
) -> OptimizerStep:
    """The step :func:`fit_batch` takes: ``policy``'s step (through ``forward``, default ``model``), counting
    correct samples for a classification loss."""
    metric = None
    if is_classification_loss(loss_name):
        # dlcheck's own loss knows whether its batches are token sequences (accuracy per token then)
        loss: str | LossFunction = loss_function if isinstance(loss_function, LossFunction) else str(loss_name)

        def metric(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return count_correct(outputs, targets, loss)

    return OptimizerStep(
        model, optimizer, loss_function, policy, forward=forward, metric=metric, output=as_tensor_output
    )


def first_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def fit_batch(
    step: OptimizerStep,
    batch_at: BatchAt,
    *,
    steps: int,
    loss_name: str | None,
    seed: int,
    target_loss: float | None = None,
    target_fraction: float = thresholds.OVERFIT_LOSS_FRACTION,
    stop_when_fitted: bool = True,
) -> FitHistory:
    """Train ``step.model`` on one fixed batch for up to ``steps`` optimiser steps (training mode).

    Parameters
    ----------
    step : OptimizerStep
        The model, its optimiser, the loss and how the step runs (precision, clipping, L1, max-norm); from
        :func:`fitting_step`, so that it counts correct samples.
    batch_at : callable
        ``batch_at(index)`` is the batch of step ``index``: the same tiny batch every time, or an augmented copy.
    loss_name : str or None
        ``cross_entropy`` or ``bce_with_logits`` adds the accuracy (:func:`~dlcheck.engine.losses.count_correct`;
        fitted then also needs 100%); None or a regression loss judges the loss alone.
    seed : int
        Seeds the dropout masks of the run.
    target_loss : float, optional
        Absolute loss that counts as fitted; default ``target_fraction`` times the loss at step 0.
    stop_when_fitted : bool
        Stop at the first check after the target is met (``overfit_batch``), or run every step
        (``regularization_effect`` compares curves of equal length).
    """
    model = step.model
    classification = is_classification_loss(loss_name)
    losses, correct = LossTape(thresholds.OVERFIT_CHECK_EVERY), LossTape(thresholds.OVERFIT_CHECK_EVERY)
    history = FitHistory(accuracies=[] if classification else None, lr=first_lr(step.optimizer))
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    start = [parameter.detach().clone() for parameter in parameters]
    first_norm: torch.Tensor | None = None
    model.train()
    device = start[0].device if start else torch.device("cpu")
    with seeded(derive_seed(seed, Purpose.FIT), device), single_cpu_thread(device):
        for index in range(steps):
            batch = batch_at(index)
            result = step([batch], measure_grad_norm=index == 0)
            if index == 0:
                first_norm = result.grad_norm
            losses.append(result.losses[0])
            if classification and result.metrics is not None:
                correct.append(result.metrics[0])
            if not losses.due() and index + 1 < steps:
                continue
            # ---- the one host sync per window
            window = losses.read()
            history.losses.extend(window.values)
            if history.accuracies is not None:
                size = int(batch[0].shape[0])
                history.accuracies.extend(count / size for count in correct.read().values)
            if window.start == 0:
                history.target_loss = target_loss if target_loss is not None else target_fraction * window.values[0]
            if window.first_non_finite is not None:
                cut = window.first_non_finite + 1
                del history.losses[cut:]
                if history.accuracies is not None:
                    del history.accuracies[cut:]
                break
            if history.reached_at is None:
                history.reached_at = _first_fitted(history, window.start)
            if history.reached_at is not None and stop_when_fitted:
                break
    with torch.no_grad():
        moved = sum(
            float((parameter - first).float().pow(2).sum()) for parameter, first in zip(parameters, start, strict=True)
        )
        scale = sum(float(first.float().pow(2).sum()) for first in start)
    history.parameter_change = math.sqrt(moved / scale) if scale > 0 else math.sqrt(moved)
    if first_norm is not None and history.losses:
        history.first_gradient_norm = float(first_norm)
    return history


def _first_fitted(history: FitHistory, start: int) -> int | None:
    for index in range(start, len(history.losses)):
        loss_ok = history.losses[index] <= history.target_loss
        accuracy_ok = history.accuracies is None or history.accuracies[index] >= 1.0
        if loss_ok and accuracy_ok:
            return index
    return None
