"""One optimiser step, written once, for the trainer, the LR finder and the checks.

A check that judges a different step than the one training runs is judging something else. So
``dlcheck train``, the LR range test (and ``--verify``, ``--batch-sizes``), the overfit and regularisation
checks, the gradient-flow probe and the plain-PyTorch ``check_*`` functions all call :class:`OptimizerStep`,
and the code around it decides only what it owns: the data order, the learning rate, when to read values
back to the host, when to stop.

One step over a *group* of micro-batches (gradient accumulation), in the order nanoGPT's loop runs it:

1. for each micro-batch: forward and loss under autocast, the L1 penalty added to the objective (never to the
   recorded loss), the objective divided by the group's size, backward; under DDP the gradient all-reduce is
   skipped (``no_sync``) on all but the last micro-batch;
2. gradients unscaled (fp16 only), the ``after_backward`` hooks, clipping (its pre-clip norm returned);
3. the optimiser step through the scaler, gradients freed, max-norm applied, the ``after_step`` hooks.

The scaler is always there and enabled only for fp16 (``GradScaler(enabled=...)``, nanoGPT's habit), so fp32,
bf16 and fp16 run the same code without branches. The group is divided by its *own* length, so a short last
group of an epoch is averaged exactly. Nothing here reads a value back to the host: the losses, metrics and
gradient norm come back as device tensors, and the caller decides when to synchronise.
"""

from __future__ import annotations

__all__ = [
    "FP32",
    "PLAIN",
    "Batch",
    "OptimizerStep",
    "StepHooks",
    "StepPolicy",
    "StepResult",
    "as_tensor_output",
    "evaluate",
]

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from dlcheck.engine.regularization import apply_max_norm, clip_gradients, gradient_norm, l1_penalty
from dlcheck.engine.runtime import Precision, resolve_precision
from dlcheck.errors import InvalidArgument
from dlcheck.recipe import Recipe
from dlcheck.recipe.schema import GradientClipConfig

Batch = tuple[torch.Tensor, torch.Tensor]  # (inputs (B, ...), targets (B, ...)) on the model's device
LossCallable = Callable[..., torch.Tensor]  # loss(outputs, targets) -> 0-dim mean; reduction="sum" for evaluate
# (outputs, targets) -> a device tensor whose sum is the batch's share: a count, or a per-sample mask
Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
OutputAdapter = Callable[[Any], torch.Tensor]  # what the model returned -> the tensor the loss takes

FP32 = Precision("fp32", None, "cpu")  # no autocast and no scaler: the device type does not matter


def as_tensor_output(outputs: Any) -> torch.Tensor:
    """The model's output as one tensor; a tuple or list counts by its first element (e.g. ``(logits, aux)``).

    The output adapter the plain-PyTorch checks use (a recipe's model returns a tensor).

    Raises
    ------
    InvalidArgument
        When the model returned something else.
    """
    if isinstance(outputs, (tuple, list)) and outputs and isinstance(outputs[0], torch.Tensor):
        return outputs[0]
    if not isinstance(outputs, torch.Tensor):
        raise InvalidArgument(
            "model", f"the model returned a {type(outputs).__name__}; the checks need a tensor of outputs (N, ...)."
        )
    return outputs


@dataclass(frozen=True)
class StepPolicy:
    """Everything one optimiser step does besides forward, backward and update: a recipe's ``train`` and
    ``regularization`` sections as the step reads them.

    Attributes
    ----------
    precision : Precision
        Autocast dtype, and whether the fp16 scaler is on.
    accumulation : int
        Micro-batches per optimiser step that callers group (:func:`dlcheck.engine.batches.accumulation_groups`);
        the step itself divides by the length of the group it is given.
    l1 : float
        L1 coefficient: ``l1 * sum |w|`` over linear and convolution weights is added to the objective.
    clip : GradientClipConfig, optional
        Gradient clipping by global norm or by value.
    max_norm : float, optional
        Max-norm constraint on each unit's incoming weights, applied after the step.

    Examples
    --------
    >>> StepPolicy(l1=1e-4, max_norm=3.0).without_regularization()
    StepPolicy(precision=Precision(name='fp32', autocast_dtype=None, device_type='cpu'), accumulation=1, l1=0.0, clip=None, max_norm=None)
    """

    precision: Precision = FP32
    accumulation: int = 1
    l1: float = 0.0
    clip: GradientClipConfig | None = None
    max_norm: float | None = None

    @classmethod
    def from_recipe(cls, recipe: Recipe, device: torch.device) -> StepPolicy:
        """The step ``dlcheck train`` takes for ``recipe`` on ``device``: the only place that reads these keys.

        Raises
        ------
        InputError
            When ``train.precision`` cannot run on ``device`` (fp16 without CUDA...).
        """
        return cls(
            precision=resolve_precision(recipe.train.precision, device),
            accumulation=recipe.train.gradient_accumulation,
            l1=float(recipe.regularization.l1),
            clip=recipe.train.gradient_clip,
            max_norm=recipe.regularization.max_norm,
        )

    def without_regularization(self) -> StepPolicy:
        """L1 and max-norm off; precision, accumulation and clipping kept (they are how training steps, not
        regularisers)."""
        return replace(self, l1=0.0, max_norm=None)

    def in_fp32(self) -> StepPolicy:
        """The same step in full precision."""
        return replace(self, precision=FP32)


PLAIN = StepPolicy()  # fp32, no accumulation, no regularisation: the step of a plain-PyTorch check


class StepHooks:
    """Called by :class:`OptimizerStep` at three points of every step; subclass and override what you need.

    A step with hooks reads nothing back by itself either; a hook that reads a value (``float(loss)``) makes the
    host wait for the device, which is fine for a probe of a few steps and is why the trainer has no hooks.
    """

    def after_forward(self, loss: torch.Tensor) -> None:
        """The data loss of a micro-batch, before its backward; raise to abandon the step (nothing is updated)."""

    def after_backward(self, model: nn.Module) -> None:
        """Gradients are complete (the whole group) and unscaled; nothing is clipped or updated yet."""

    def after_step(self, model: nn.Module) -> None:
        """The parameters are updated (and max-norm applied); the gradients are freed."""


@dataclass
class StepResult:
    """What one step measured, as device tensors (reading any of them back is the caller's choice).

    Attributes
    ----------
    losses : list of torch.Tensor
        The data loss (0-dim, without the L1 term) of each micro-batch.
    sizes : list of int
        Samples of each micro-batch.
    metrics : list of torch.Tensor or None
        The step's ``metric`` of each micro-batch, when it has one (sum it to count).
    grad_norm : torch.Tensor or None
        The global gradient norm before clipping, when the step clips or was asked to measure it.
    """

    losses: list[torch.Tensor]
    sizes: list[int]
    metrics: list[torch.Tensor] | None = None
    grad_norm: torch.Tensor | None = None

    @property
    def loss(self) -> torch.Tensor:
        """The mean data loss over the group (0-dim float32), each micro-batch weighted equally."""
        total = self.losses[0].detach().float()
        for value in self.losses[1:]:
            total = total + value.float()
        return total / len(self.losses) if len(self.losses) > 1 else total


class OptimizerStep:
    """Forward, backward and one optimiser update over a group of micro-batches.

    Parameters
    ----------
    model : torch.nn.Module
        The model whose parameters the optimiser updates (clipping, L1 and max-norm read it).
    optimizer : torch.optim.Optimizer
    loss_function : callable
        ``loss_function(outputs, targets) -> 0-dim mean loss``.
    policy : StepPolicy
        Precision, L1, clipping and max-norm (default: plain fp32).
    forward : torch.nn.Module, optional
        What the inputs go through: a DDP, compiled or channels-last wrapper of ``model`` (default ``model``).
        A wrapper with a ``no_sync`` method (DDP) all-reduces gradients on the last micro-batch of a group only.
    scaler : torch.amp.GradScaler, optional
        The fp16 loss scaler, when the caller keeps its state (the trainer saves it in checkpoints); default a
        fresh one from the policy's precision (disabled unless fp16).
    metric : callable, optional
        ``metric(outputs, targets)`` for each micro-batch, kept on the device: a count (the number of correct
        samples) or a per-sample mask whose sum is one.
    output : callable, optional
        Turns what the model returns into the tensor the loss takes (e.g. the first element of a tuple).
    hooks : StepHooks, optional

    Examples
    --------
    >>> model = nn.Linear(3, 2)
    >>> step = OptimizerStep(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.functional.cross_entropy)
    >>> batch = (torch.randn(4, 3), torch.tensor([0, 1, 1, 0]))
    >>> result = step([batch, batch])  # two micro-batches, one update
    >>> result.loss.shape, result.sizes, model.weight.grad is None
    (torch.Size([]), [4, 4], True)
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_function: LossCallable,
        policy: StepPolicy = PLAIN,
        *,
        forward: nn.Module | None = None,
        scaler: torch.amp.GradScaler | None = None,
        metric: Metric | None = None,
        output: OutputAdapter | None = None,
        hooks: StepHooks | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_function = loss_function
        self.policy = policy
        self.forward = forward if forward is not None else model
        no_sync = getattr(self.forward, "no_sync", None)
        self._no_sync: Callable[[], contextlib.AbstractContextManager[Any]] | None = (
            no_sync if callable(no_sync) else None
        )
        self.scaler = scaler if scaler is not None else policy.precision.make_scaler()
        self.metric = metric
        self.output = output
        self.hooks = hooks
        self._parameters = list(model.parameters())

    def __call__(self, group: Sequence[Batch], *, measure_grad_norm: bool = False) -> StepResult:
        """Take one optimiser step on ``group`` (one or more micro-batches); return what it measured."""
        policy, model, scaler = self.policy, self.model, self.scaler
        count = len(group)
        losses: list[torch.Tensor] = []
        sizes: list[int] = []
        metrics: list[torch.Tensor] | None = [] if self.metric is not None else None
        self._clear_gradients()  # a caller's stale gradients never leak into the first step
        for index, (inputs, targets) in enumerate(group):
            deferred = self._no_sync is not None and index < count - 1
            with self._no_sync() if deferred else contextlib.nullcontext():  # type: ignore[misc]
                with policy.precision.autocast():
                    outputs = self.forward(inputs)  # (B, C) logits or (B, ...) predictions
                    if self.output is not None:
                        outputs = self.output(outputs)
                    loss = self.loss_function(outputs, targets)
                    if self.hooks is not None:
                        self.hooks.after_forward(loss)
                    objective = loss + policy.l1 * l1_penalty(model) if policy.l1 else loss
                if count > 1:  # the group's mean (no extra kernel without accumulation)
                    objective = objective / count
                scaler.scale(objective).backward()  # scale() is the identity unless fp16
            losses.append(loss.detach())
            sizes.append(int(inputs.shape[0]))
            if metrics is not None:
                metrics.append(self.metric(outputs.detach(), targets))  # type: ignore[misc]

        grad_norm: torch.Tensor | None = None
        if policy.clip is not None or measure_grad_norm or self.hooks is not None:
            scaler.unscale_(self.optimizer)  # a no-op unless fp16; at most once per step
        if self.hooks is not None:
            self.hooks.after_backward(model)
        if policy.clip is not None:
            grad_norm = clip_gradients(self._parameters, policy.clip)
        elif measure_grad_norm:
            grad_norm = gradient_norm(self._parameters)
        scaler.step(self.optimizer)  # fp16: skips the update on inf/NaN gradients; otherwise optimizer.step()
        scaler.update()
        self._clear_gradients()  # free the gradients' memory until the next backward
        if policy.max_norm is not None:
            apply_max_norm(model, policy.max_norm)
        if self.hooks is not None:
            self.hooks.after_step(model)
        return StepResult(losses, sizes, metrics, grad_norm)

    def _clear_gradients(self) -> None:
        # Every parameter of the model, also those the optimiser does not hold: their gradients would otherwise
        # pile up from step to step and inflate the clipped norm.
        for parameter in self._parameters:
            parameter.grad = None


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loss_function: LossCallable,
    batches: Iterable[Batch],
    precision: Precision = FP32,
    *,
    metric: Metric | None = None,
    output: OutputAdapter | None = None,
) -> torch.Tensor:
    """Sums over ``batches`` in eval mode: ``[loss sum, metric sum, samples]``, float64, on the model's device.

    The model's train/eval flags are put back afterwards. Divide the sums yourself (after an all-reduce across
    processes, where there are several); an empty ``batches`` gives zeros, so the mean is NaN.

    Parameters
    ----------
    loss_function : callable
        Must accept ``reduction="sum"`` (the losses of :mod:`dlcheck.engine.losses` do), so the mean is over
        samples, not over batch means.

    Examples
    --------
    >>> model = nn.Linear(2, 1)
    >>> totals = evaluate(model, nn.functional.mse_loss, [(torch.zeros(4, 2), torch.zeros(4, 1))])
    >>> totals.dtype, float(totals[2])
    (torch.float64, 4.0)
    """
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    metric_sum = torch.zeros((), dtype=torch.float64, device=device)
    samples = 0
    try:
        for inputs, targets in batches:
            with precision.autocast():
                outputs = model(inputs)
                if output is not None:
                    outputs = output(outputs)
                loss_sum += loss_function(outputs, targets, reduction="sum").double()
            if metric is not None:
                metric_sum += metric(outputs, targets).sum(dtype=torch.float64)
            samples += int(inputs.shape[0])
    finally:
        for module, training in modes:
            module.training = training
    return torch.stack([loss_sum, metric_sum, torch.tensor(float(samples), dtype=torch.float64, device=device)])
