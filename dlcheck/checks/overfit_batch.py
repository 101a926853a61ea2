"""``overfit_batch``: a model that cannot memorise a handful of samples has a bug (Karpathy: "overfit one batch").

A tiny fixed batch (:data:`~dlcheck.checks.thresholds.OVERFIT_SAMPLES_PER_CLASS` samples per class, stored
order shuffled by the seed), regularisation off (every dropout rate set to 0 on a fresh model, weight decay 0,
no label smoothing, no augmentation, no L1, no max-norm), the recipe's optimiser at its learning rate without a
schedule, training mode, up to :data:`~dlcheck.checks.thresholds.OVERFIT_STEPS` steps.

**Precision.** On a recipe, each step is the recipe's own :class:`~dlcheck.engine.step.OptimizerStep`: its
``train.precision`` (a ``bf16-mixed`` recipe fits the batch under bf16 autocast) and its gradient clipping, so the
check judges the step training will take. ``precision="fp32"`` runs it in full precision instead, to tell a
precision problem from a model problem. The plain-PyTorch :func:`check_overfit_batch` runs ``policy`` (fp32 by
default). The batch counts as fitted when
the loss falls to :data:`~dlcheck.checks.thresholds.OVERFIT_LOSS_FRACTION` of its first value (or the given
``loss_threshold``) with 100% accuracy for classification; the run stops as soon as it is. On failure the
curve's shape is diagnosed (:mod:`dlcheck.checks.overfit_curve`) and the same budget is tried once at 3x (or
1/3) the learning rate, so the advice can say whether the learning rate alone was the problem.
"""

from __future__ import annotations

__all__ = ["NAME", "OverfitRun", "check_overfit_batch", "overfit_batch", "run_overfit", "select_tiny_batch"]

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dlcheck.checks import thresholds
from dlcheck.checks._fitting import FitHistory, fit_batch, fitting_step
from dlcheck.checks._probe import disable_dropout, timed
from dlcheck.checks.overfit_curve import diagnose_curve
from dlcheck.data import make_batcher
from dlcheck.data.bundle import split_size
from dlcheck.engine.isolation import probe_copy
from dlcheck.engine.losses import loss_name_of
from dlcheck.engine.parts import RecipeParts
from dlcheck.engine.step import PLAIN, StepPolicy
from dlcheck.errors import InputError
from dlcheck.formatting import number, percent, plural
from dlcheck.verdict import CheckResult

NAME = "overfit_batch"


@dataclass
class OverfitRun:
    """The check's result with what ``regularization_effect`` needs to repeat the run with regularisation on."""

    result: CheckResult
    inputs: torch.Tensor
    targets: torch.Tensor
    history: FitHistory


def _judge(
    history: FitHistory,
    retry: FitHistory | None,
    *,
    retry_factor: float,
    steps: int,
    batch_words: str,
    extra: dict[str, Any],
) -> CheckResult:
    metrics: dict[str, Any] = {
        **extra,
        "initial_loss": history.initial_loss,
        "final_loss": history.final_loss,
        "min_loss": min(history.losses) if history.losses else None,
        "target_loss": history.target_loss,
        "steps_budget": steps,
        "steps_run": history.steps_run,
        "steps_to_threshold": history.reached_at,
        "lr": history.lr,
    }
    if history.final_accuracy is not None:
        metrics["accuracy"] = history.final_accuracy
    details = {"losses": history.losses, "accuracies": history.accuracies}
    accuracy_words = f", {percent(history.final_accuracy)} accuracy" if history.final_accuracy is not None else ""
    if history.fitted:
        summary = (
            f"Fitted {batch_words} in {history.reached_at} steps: loss {number(history.initial_loss)} -> "
            f"{number(history.losses[history.reached_at or 0])} (target {number(history.target_loss)}){accuracy_words}."
        )
        return CheckResult(NAME, "pass", summary, {**metrics, "shape": "fitted"}, [], details)
    if history.losses and min(history.losses) <= history.target_loss and history.accuracies:
        diagnosis_words = "reached the loss target but not 100% accuracy"
        advice = [
            "Some samples stay misclassified although the loss is low: look for identical inputs with different "
            "labels, or a metric that disagrees with the loss (argmax over the wrong axis)."
        ]
        shape = "accuracy"
    else:
        diagnosis = diagnose_curve(history.losses, history.target_loss)
        diagnosis_words, advice, shape = f"the loss {diagnosis.description}", list(diagnosis.advice), diagnosis.shape
    metrics["shape"] = shape
    metrics["parameter_change"] = history.parameter_change
    if history.parameter_change < thresholds.OVERFIT_NEGLIGIBLE_CHANGE:
        if history.first_gradient_norm == 0.0:
            cause = "the gradient is exactly zero, so nothing can move (see gradient_flow and activation_stats)."
        else:
            cause = (
                "the learning rate is far too small (or the gradients vanish before they reach the weights); try "
                "dlcheck lr-find."
            )
        advice.insert(
            0,
            f"The parameters moved by only {number(history.parameter_change)} of their norm over "
            f"{history.steps_run} steps at lr {number(history.lr)}: {cause}",
        )
    if retry is not None:
        metrics["retry_lr"] = retry.lr
        metrics["retry_fitted"] = retry.fitted
        direction = f"{number(retry_factor)}x" if retry_factor > 1 else f"1/{number(1 / retry_factor)}"
        if retry.fitted:
            metrics["retry_steps_to_threshold"] = retry.reached_at
            relation = "too low" if retry_factor > 1 else "too high"
            advice.insert(
                0,
                f"With lr {number(retry.lr)} ({direction} the recipe's) the batch was fitted in {retry.reached_at} "
                f"steps: the learning rate is {relation} for this model.",
            )
        else:
            advice.append(f"A run at lr {number(retry.lr)} ({direction} the recipe's) did not fit the batch either.")
    summary = f"Did not fit {batch_words} in {history.steps_run} steps: {diagnosis_words}{accuracy_words}."
    return CheckResult(NAME, "fail", summary, metrics, advice, details)


def _retry_factor(history: FitHistory) -> float:
    if not history.losses:
        return 1.0 / thresholds.OVERFIT_RETRY_LR_FACTOR
    diagnosis = diagnose_curve(history.losses, history.target_loss)
    factor = thresholds.OVERFIT_RETRY_LR_FACTOR
    return factor if diagnosis.wants_higher_lr else 1.0 / factor


# ------------------------------------------------------------------------------------------ plain PyTorch


@timed
def check_overfit_batch(
    model: nn.Module | Callable[[], nn.Module],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_function: Callable[..., Any],
    *,
    optimizer_factory: Callable[[list[nn.Parameter]], torch.optim.Optimizer] | None = None,
    lr: float = 1e-3,
    steps: int = thresholds.OVERFIT_STEPS,
    loss_threshold: float | None = None,
    loss_name: str | None = None,
    seed: int = 0,
    policy: StepPolicy = PLAIN,
) -> CheckResult:
    """Train on one tiny batch with dropout off; it must reach a near-zero loss (and 100% accuracy).

    Parameters
    ----------
    model : torch.nn.Module or callable
        The model (a deep copy is trained, from its current weights) or a function returning a fresh one.
    inputs, targets : torch.Tensor
        The tiny batch (a few samples per class), already on the model's device, without augmentation.
    loss_function : callable
        ``loss_function(outputs, targets) -> mean loss``, without regularisation (no label smoothing).
    optimizer_factory : callable, optional
        ``optimizer_factory(parameters) -> optimizer`` without weight decay; default Adam at ``lr``.
    lr : float
        Learning rate of the default Adam.
    steps : int
        Step budget; the run stops as soon as the batch is fitted.
    loss_threshold : float, optional
        Absolute loss that counts as fitted (default: 2% of the loss at step 0).
    loss_name : str, optional
        For the accuracy criterion; recognised from torch's losses when not given.
    seed : int
        Seeds everything random in the run.
    policy : StepPolicy
        How each step runs: precision, gradient clipping (default fp32, no clipping). Its L1 and max-norm are
        switched off: the check fits without regularisation.

    Returns
    -------
    CheckResult
        ``overfit_batch`` with ``steps_to_threshold``, ``initial_loss``, ``final_loss``, ``accuracy`` and, on
        failure, ``shape`` (exploding, rising, flat, oscillating, floor, slow) and the retry's outcome.

    Examples
    --------
    >>> torch.manual_seed(0) and None
    >>> model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
    >>> inputs, labels = torch.randn(12, 4), torch.arange(12) % 3
    >>> result = check_overfit_batch(model, inputs, labels, nn.CrossEntropyLoss(), lr=1e-2)
    >>> result.status, result.metrics["accuracy"]
    ('pass', 1.0)
    """
    try:
        name: str | None = loss_name_of(loss_function, loss_name)
    except InputError:
        name = None

    def build(factor: float) -> tuple[nn.Module, torch.optim.Optimizer]:
        fresh = model() if not isinstance(model, nn.Module) else probe_copy(model)
        disable_dropout(fresh)
        parameters = [parameter for parameter in fresh.parameters() if parameter.requires_grad]
        optimizer = (
            optimizer_factory(parameters) if optimizer_factory is not None else torch.optim.Adam(parameters, lr=lr)
        )
        for group in optimizer.param_groups:
            group["lr"] = group["lr"] * factor
        return fresh, optimizer

    def run(factor: float) -> FitHistory:
        fresh, optimizer = build(factor)
        step = fitting_step(fresh, optimizer, loss_function, name, policy.without_regularization())
        return fit_batch(
            step, lambda index: (inputs, targets), steps=steps, loss_name=name, seed=seed, target_loss=loss_threshold
        )

    history = run(1.0)
    retry, factor = None, 1.0
    if not history.fitted:
        factor = _retry_factor(history)
        retry = run(factor)
    batch_words = plural(int(inputs.shape[0]), "sample")
    return _judge(
        history,
        retry,
        retry_factor=factor,
        steps=steps,
        batch_words=batch_words,
        extra={"samples": int(inputs.shape[0])},
    )


# ------------------------------------------------------------------------------------------------ recipes


def _class_labels(targets: torch.Tensor, loss_name: str) -> torch.Tensor | None:
    """One class index per sample where the task has classes (single-label), else None."""
    if targets.ndim != 1:
        return None
    if loss_name == "cross_entropy" and not targets.is_floating_point():
        return targets.long()
    if loss_name == "bce_with_logits":
        return (targets.float() >= 0.5).long()
    return None


def select_tiny_batch(
    parts: RecipeParts, *, samples_per_class: int = thresholds.OVERFIT_SAMPLES_PER_CLASS, seed: int
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The tiny batch: ``samples_per_class`` of each class (or :data:`OVERFIT_SAMPLES` samples), normalised,
    not augmented, on the parts's device; with words describing it."""

    train = parts.data.train
    generator = torch.Generator().manual_seed(seed)
    if isinstance(train, tuple):
        inputs, targets = train
        order = torch.randperm(inputs.shape[0], generator=generator)
    else:  # a Dataset: read a seeded sample of items
        order = torch.randperm(split_size(train), generator=generator)[: thresholds.DATASET_SAMPLE]
        items = [train[int(index)] for index in order]
        inputs = torch.stack([torch.as_tensor(item[0]) for item in items])
        targets = torch.stack([torch.as_tensor(item[1]) for item in items])
        order = torch.arange(len(items))
    labels = _class_labels(targets, parts.loss_name)
    if labels is not None:
        shuffled = labels[order]
        chosen = [order[shuffled == label][:samples_per_class] for label in torch.unique(shuffled).tolist()]
        rows = torch.cat(chosen).sort().values
        words = f"{plural(len(rows), 'sample')} ({samples_per_class} per class)"
    else:
        rows = order[: thresholds.OVERFIT_SAMPLES].sort().values
        words = plural(len(rows), "sample")
    batcher = make_batcher(
        (inputs[rows], targets[rows]),
        batch_size=len(rows),
        shuffle=False,
        seed=seed,
        device=parts.device,
        augment=None,
        normalization=parts.data.normalization,
        loader="tensor",
    )
    batch_inputs, batch_targets = next(iter(batcher.epoch(0)))
    return batch_inputs, batch_targets, words


def run_overfit(
    parts: RecipeParts,
    *,
    seed: int | None = None,
    samples_per_class: int = thresholds.OVERFIT_SAMPLES_PER_CLASS,
    steps: int = thresholds.OVERFIT_STEPS,
    loss_threshold: float | None = None,
    precision: str = "recipe",
) -> OverfitRun:
    """Run the overfit check on a recipe and keep the batch and curve for ``regularization_effect``.

    ``precision="recipe"`` (the default) fits in the recipe's ``train.precision``; ``"fp32"`` in full precision.
    """
    started = time.perf_counter()
    seed = parts.recipe.seed if seed is None else seed
    inputs, targets, words = select_tiny_batch(parts, samples_per_class=samples_per_class, seed=seed)
    lr = float(parts.recipe.optimizer.lr)
    policy = parts.step_policy(regularized=False, precision=precision)

    def run(factor: float) -> FitHistory:
        model = parts.fresh_model(seed)
        disable_dropout(model)
        optimizer = parts.optimizer(model, lr=lr * factor, regularized=False)
        loss = parts.loss_function(regularized=False)
        step = fitting_step(model, optimizer, loss, parts.loss_name, policy, forward=parts.forward_module(model))
        return fit_batch(
            step,
            lambda index: (inputs, targets),
            steps=steps,
            loss_name=parts.loss_name,
            seed=seed,
            target_loss=loss_threshold,
        )

    history = run(1.0)
    retry, factor = None, 1.0
    if not history.fitted:
        factor = _retry_factor(history)
        retry = run(factor)
    extra = {
        "samples": int(inputs.shape[0]),
        "optimizer": parts.recipe.optimizer.name,
        "precision": policy.precision.name,
    }
    result = _judge(history, retry, retry_factor=factor, steps=steps, batch_words=words, extra=extra)
    result = dataclasses.replace(result, seconds=time.perf_counter() - started)
    return OverfitRun(result, inputs, targets, history)


def overfit_batch(
    parts: RecipeParts,
    *,
    seed: int | None = None,
    samples_per_class: int = thresholds.OVERFIT_SAMPLES_PER_CLASS,
    steps: int = thresholds.OVERFIT_STEPS,
    loss_threshold: float | None = None,
    precision: str = "recipe",
) -> CheckResult:
    """:func:`check_overfit_batch` on a recipe: its optimiser and learning rate, its step (precision, clipping),
    regularisation off."""
    return run_overfit(
        parts,
        seed=seed,
        samples_per_class=samples_per_class,
        steps=steps,
        loss_threshold=loss_threshold,
        precision=precision,
    ).result
