"""``gradient_flow``: every trainable parameter gets a gradient and moves; frozen ones stay; scales are sane.

A few optimiser steps on one batch (training mode, the recipe's optimiser without weight decay, so that a
change can only come from the gradient), then, per parameter tensor:

- it received a gradient (``None`` means it is not on the loss's autograd graph: unused in ``forward``, used
  through ``.detach()`` / ``.data`` or under ``torch.no_grad()``), finite, and not exactly zero on every step;
- it changed after the steps (unchanged with a real gradient: not in the optimiser, or a learning rate so
  small that the update is below float32 resolution), while parameters with ``requires_grad=False`` (frozen
  on purpose) did not change;
- relative gradients ``||grad|| / ||weight||`` of the linear and convolution weights stay within
  :data:`~dlcheck.checks.thresholds.GRADIENT_SPREAD_WARN` of each other (vanishing or exploding gradients);
- the update / weight ratio of the first step is near 1e-3 (Karpathy, CS231n), warned far outside it.

"Ever non-zero over a few steps" rather than "non-zero at the first step": a zero-initialised last layer blocks
gradients to the layers before it for exactly one step, which is fine.

On a recipe, each step is the recipe's own :class:`~dlcheck.engine.step.OptimizerStep` (its ``train.precision``
and gradient clipping; L1 and max-norm off, so a change can only come from the gradient); ``precision="fp32"``
probes in full precision instead.
"""

from __future__ import annotations

__all__ = ["NAME", "check_gradient_flow", "gradient_flow"]

import math
import statistics
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dlcheck.checks import thresholds
from dlcheck.checks._gradient_steps import STEPS, GradientRecorder, TensorRecord, record_steps, tensor_records
from dlcheck.checks._probe import timed
from dlcheck.engine.isolation import StateGuard, probe_copy
from dlcheck.engine.parts import RecipeParts
from dlcheck.engine.step import PLAIN, OptimizerStep, StepPolicy, as_tensor_output
from dlcheck.formatting import number, plural
from dlcheck.verdict import CheckResult, Status

NAME = "gradient_flow"
_NEGLIGIBLE_RELATIVE_GRADIENT = 1e-6  # below this a gradient cannot move a float32 weight: not expected to


def _judge(
    tensors: list[TensorRecord],
    optimizer_parameters: set[int],
    first_loss: float,
    *,
    judge_updates: bool,
    optimizer_name: str,
) -> CheckResult:
    trainable = [record for record in tensors if record.trainable]
    frozen = [record for record in tensors if not record.trainable]
    metrics: dict[str, Any] = {
        "trainable_tensors": len(trainable),
        "trainable_parameters": sum(record.parameter.numel() for record in trainable),
        "frozen_tensors": len(frozen),
        "loss": first_loss,
        "steps": STEPS,
    }
    details: dict[str, Any] = {
        "tensors": [
            {
                "name": record.name,
                "trainable": record.trainable,
                "relative_gradient": record.first_relative_gradient,
                "update_ratio": record.first_update_ratio,
            }
            for record in tensors
        ]
    }
    if not math.isfinite(first_loss):
        return CheckResult(
            NAME,
            "fail",
            f"The loss on the first batch is {first_loss}, so no gradient can be checked.",
            metrics,
            ["Run data_sanity and initial_loss first: non-finite inputs or outputs make every gradient NaN."],
            details,
        )
    failures: list[tuple[str, str]] = []  # (message, advice)

    def names(records: list[TensorRecord]) -> str:
        shown = ", ".join(record.name for record in records[:4])
        return shown + (f" and {len(records) - 4} more" if len(records) > 4 else "")

    missing = [record for record in trainable if not record.ever_gradient]
    non_finite = [record for record in trainable if record.non_finite]
    zero = [
        record for record in trainable if record.ever_gradient and not record.non_finite and not record.ever_non_zero
    ]
    outside = [record for record in trainable if id(record.parameter) not in optimizer_parameters]
    changed = {id(record.parameter): not torch.equal(record.start, record.parameter.detach()) for record in tensors}
    should_move = [
        record
        for record in trainable
        if record.ever_non_zero
        and not record.non_finite
        and id(record.parameter) in optimizer_parameters
        and (record.first_relative_gradient is None or record.first_relative_gradient > _NEGLIGIBLE_RELATIVE_GRADIENT)
    ]
    stuck = [record for record in should_move if not changed[id(record.parameter)]]
    moved_frozen = [record for record in frozen if changed[id(record.parameter)]]
    metrics.update(
        no_gradient=len(missing),
        zero_gradient=len(zero),
        non_finite_gradient=len(non_finite),
        not_in_optimizer=len(outside),
        unchanged=len(stuck),
        frozen_changed=len(moved_frozen),
    )
    if missing:
        failures.append(
            (
                f"{plural(len(missing), 'trainable tensor')} receive no gradient ({names(missing)}).",
                "They are not on the loss's graph: used through .detach() or .data, under torch.no_grad(), or not used "
                "in forward() at all. Use them, or set requires_grad=False if they are frozen on purpose.",
            )
        )
    if non_finite:
        failures.append(
            (
                f"{plural(len(non_finite), 'tensor')} get NaN or infinite gradients ({names(non_finite)}).",
                "Look for log(0), sqrt(0), division by a small number or an overflow in forward(); clip gradients.",
            )
        )
    if zero:
        failures.append(
            (
                f"{plural(len(zero), 'trainable tensor')} get a gradient of exactly zero on every step ({names(zero)}).",
                "Something blocks the gradient: dead ReLUs (see activation_stats), a multiplication by zero, an all-zero "
                "initialisation that keeps every unit identical, or a hard threshold / argmax / rounding in forward().",
            )
        )
    if outside:
        failures.append(
            (
                f"{plural(len(outside), 'trainable tensor')} are not in the optimiser ({names(outside)}).",
                "Build the optimiser after the whole model exists, from model.parameters().",
            )
        )
    if stuck:
        failures.append(
            (
                f"{plural(len(stuck), 'tensor')} with a gradient did not change after {STEPS} {optimizer_name} steps "
                f"({names(stuck)}).",
                "The learning rate is zero or so small that the update is below float32 resolution; check the "
                "optimiser's lr and the schedule's first value.",
            )
        )
    if moved_frozen:
        failures.append(
            (
                f"{plural(len(moved_frozen), 'frozen tensor')} (requires_grad=False) changed ({names(moved_frozen)}).",
                "Something updates frozen parameters: an optimiser holding them with weight decay or momentum, or an "
                "in-place change in forward().",
            )
        )
    warnings: list[tuple[str, str]] = []
    relative = [(record.name, record.first_relative_gradient) for record in trainable if record.first_relative_gradient]
    if len(relative) >= 2:
        values = [value for _, value in relative]
        largest, smallest = max(values), min(values)
        spread = largest / smallest
        metrics.update(relative_gradient_min=smallest, relative_gradient_max=largest, gradient_spread=spread)
        if spread > thresholds.GRADIENT_SPREAD_WARN:
            small_name = relative[values.index(smallest)][0]
            large_name = relative[values.index(largest)][0]
            vanishing = values.index(smallest) < values.index(largest)
            kind = "vanishing" if vanishing else "exploding"
            warnings.append(
                (
                    f"Relative gradients span {number(spread)}x across layers ({kind}: {small_name} gets "
                    f"{number(smallest)}, {large_name} {number(largest)}).",
                    "Use an initialisation matched to the activations (He for ReLU, Glorot for tanh), normalisation "
                    "layers, or residual connections; avoid saturating activations in deep stacks.",
                )
            )
    ratios = [record.first_update_ratio for record in trainable if record.first_update_ratio]
    if ratios:
        # the typical layer: one small layer with a large first gradient (often the last) is no verdict
        typical = statistics.median(ratios)
        metrics.update(update_ratio_min=min(ratios), update_ratio_max=max(ratios), update_ratio_median=typical)
        if judge_updates and typical > thresholds.UPDATE_RATIO_HIGH_WARN:
            warnings.append(
                (
                    f"One {optimizer_name} step changes the typical layer by {number(typical)} of its norm (healthy: about "
                    "1e-3): the learning rate is probably too high.",
                    "Lower the learning rate (dlcheck lr-find suggests one), or add warm-up.",
                )
            )
        elif judge_updates and typical < thresholds.UPDATE_RATIO_LOW_WARN:
            warnings.append(
                (
                    f"One {optimizer_name} step changes the typical layer by only {number(typical)} of its norm (healthy: "
                    "about 1e-3): the learning rate is probably too low.",
                    "Raise the learning rate (dlcheck lr-find suggests one).",
                )
            )
    if failures or warnings:
        status: Status = "fail" if failures else "warn"
        found = failures + warnings
        summary = found[0][0] + (
            f" (+{plural(len(found) - 1, 'more problem')}: " + " ".join(m for m, _ in found[1:]) + ")"
            if len(found) > 1
            else ""
        )
        return CheckResult(NAME, status, summary, metrics, list(dict.fromkeys(advice for _, advice in found)), details)
    parts = [
        f"{plural(len(trainable), 'trainable tensor')} ({metrics['trainable_parameters']:,} values) get finite, "
        f"non-zero gradients and move under {optimizer_name}"
    ]
    if "update_ratio_min" in metrics:
        parts.append(f"update/weight {number(metrics['update_ratio_min'])}-{number(metrics['update_ratio_max'])}")
    if "gradient_spread" in metrics:
        parts.append(f"gradient spread {number(metrics['gradient_spread'])}x")
    if frozen:
        parts.append(f"{plural(len(frozen), 'frozen tensor')} stayed fixed")
    return CheckResult(NAME, "pass", "; ".join(parts) + ".", metrics, [], details)


def _optimizer_name(optimizer: torch.optim.Optimizer) -> str:
    return type(optimizer).__name__.lower()


@timed
def check_gradient_flow(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_function: Callable[..., Any],
    optimizer: torch.optim.Optimizer | None = None,
    *,
    seed: int = 0,
    policy: StepPolicy = PLAIN,
) -> CheckResult:
    """Check that gradients reach every trainable parameter and that a few optimiser steps move them.

    Parameters
    ----------
    model : torch.nn.Module
        The model, on the device of ``inputs``. It is left as it was: parameters, buffers, gradients and
        training flags are restored (and the optimiser's state) after the probe.
    inputs, targets : torch.Tensor
        One batch.
    loss_function : callable
        ``loss_function(outputs, targets) -> mean loss``.
    optimizer : torch.optim.Optimizer, optional
        Your optimiser over ``model``'s parameters: parameters missing from it are reported, and update /
        weight ratios are judged with its learning rate. Without one, Adam (lr 1e-3; SGD for sparse
        embeddings) on a copy of the model is used and update ratios are only reported.
    seed : int
        Seeds dropout during the probe.
    policy : StepPolicy
        How each step runs (precision, clipping; default plain fp32). L1 and max-norm are switched off, so a
        change can only come from the gradient.

    Returns
    -------
    CheckResult
        ``gradient_flow``: ``fail`` for tensors without gradient, with non-finite or always-zero gradients, not
        in the optimiser, not moving, or frozen but changed; ``warn`` for a gradient spread across layers
        beyond 1e3 or update ratios outside [1e-5, 1e-1].

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    >>> inputs, labels = torch.randn(16, 4), torch.arange(16) % 3
    >>> check_gradient_flow(model, inputs, labels, nn.CrossEntropyLoss()).status
    'pass'
    >>> _ = model[0].weight.requires_grad_(False)  # frozen on purpose: must stay fixed, and does
    >>> check_gradient_flow(model, inputs, labels, nn.CrossEntropyLoss()).metrics["frozen_tensors"]
    1
    """
    policy = policy.without_regularization()
    if optimizer is None:
        probe = probe_copy(model)
        tensors = tensor_records(probe)
        trainable = [record.parameter for record in tensors if record.trainable]
        sparse = any(getattr(module, "sparse", False) is True for module in probe.modules())
        # Adam moves every parameter with a gradient by ~lr, however small the gradient; it refuses sparse ones
        own = torch.optim.SGD(trainable, lr=1e-2) if sparse else torch.optim.Adam(trainable, lr=1e-3)
        first = _probe(probe, own, loss_function, policy, tensors, inputs, targets, seed)
        members = {id(parameter) for group in own.param_groups for parameter in group["params"]}
        name = "sgd (lr 1e-2)" if sparse else "adam (lr 1e-3)"
        return _judge(tensors, members, first, judge_updates=False, optimizer_name=name)
    # the caller's model and optimiser: probe them in place, then put everything back
    with StateGuard(model, optimizer):
        tensors = tensor_records(model)
        first = _probe(model, optimizer, loss_function, policy, tensors, inputs, targets, seed)
        members = {id(parameter) for group in optimizer.param_groups for parameter in group["params"]}
        return _judge(tensors, members, first, judge_updates=True, optimizer_name=_optimizer_name(optimizer))


def _probe(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_function: Callable[..., Any],
    policy: StepPolicy,
    tensors: list[TensorRecord],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    seed: int,
    forward: nn.Module | None = None,
) -> float:
    recorder = GradientRecorder(tensors)
    step = OptimizerStep(
        model, optimizer, loss_function, policy, forward=forward, output=as_tensor_output, hooks=recorder
    )
    return record_steps(step, recorder, inputs, targets, seed=seed)


@timed
def gradient_flow(parts: RecipeParts, *, seed: int | None = None, precision: str = "recipe") -> CheckResult:
    """:func:`check_gradient_flow` on a recipe: fresh model, first training batch, the recipe's optimiser (weight
    decay off, so only gradients move parameters) and its step (precision and gradient clipping)."""
    seed = parts.recipe.seed if seed is None else seed
    model = parts.fresh_model(seed)
    optimizer = parts.optimizer(model, regularized=False)
    inputs, targets = parts.first_batch("train")
    tensors = tensor_records(model)
    policy = parts.step_policy(regularized=False, precision=precision)
    loss = parts.loss_function(regularized=False)
    first = _probe(model, optimizer, loss, policy, tensors, inputs, targets, seed, parts.forward_module(model))
    members = {id(parameter) for group in optimizer.param_groups for parameter in group["params"]}
    name = f"{parts.recipe.optimizer.name} (lr {number(parts.recipe.optimizer.lr)})"
    return _judge(tensors, members, first, judge_updates=True, optimizer_name=name)
