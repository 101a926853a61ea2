"""``initial_loss``: the loss at initialisation against what chance predicts (Karpathy: "verify loss @ init").

A freshly initialised network knows nothing, so its loss should be what uninformative outputs give: ``log C``
for cross-entropy over C classes, ``ln 2`` per output for BCE with logits, ``mean(y**2)`` for MSE with
outputs near zero, and so on (see :mod:`dlcheck.checks._loss_reference`). A much higher loss means
over-confident random outputs (an output layer initialised too large, a missing normalisation): the
curve starts with a "hockey stick" that wastes the first part of training. A loss below the best any
input-independent prediction can reach is too good to be true. The outputs themselves are also looked at:
probabilities fed to a loss that expects logits (a softmax before ``cross_entropy``) give a plausible loss
at init but can never fit.

The loss is measured in training mode (what the first training step sees), on up to
:data:`~dlcheck.checks.thresholds.INITIAL_LOSS_SAMPLES` samples; its standard error comes from the spread
of the loss over chunks of the sample, so the verdict allows for sampling noise.
"""

from __future__ import annotations

__all__ = ["NAME", "check_initial_loss", "initial_loss"]

import itertools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dlcheck.checks import thresholds
from dlcheck.checks._loss_reference import implied_output_scale, loss_reference
from dlcheck.checks._probe import timed
from dlcheck.engine.isolation import probe_copy
from dlcheck.engine.losses import loss_name_of
from dlcheck.engine.parts import RecipeParts
from dlcheck.engine.step import as_tensor_output
from dlcheck.formatting import number
from dlcheck.seeding import Purpose, derive_seed, seeded
from dlcheck.verdict import CheckResult, Status

NAME = "initial_loss"

_INIT_ADVICE = (
    "Scale down the last layer at initialisation (multiply its weights by 0.01-0.1, or zero them) and set its "
    "bias to the data: the log of the class prior, or the mean of the regression targets (Karpathy, 'A Recipe "
    "for Training Neural Networks': init well)."
)


def _chunk_losses(loss_function: Callable[..., Any], outputs: torch.Tensor, targets: torch.Tensor) -> list[float]:
    count = outputs.shape[0]
    chunks = min(thresholds.INITIAL_LOSS_CHUNKS, count)
    bounds = [round(index * count / chunks) for index in range(chunks + 1)]
    with torch.no_grad():
        return [
            float(loss_function(outputs[start:stop], targets[start:stop]))
            for start, stop in itertools.pairwise(bounds)
            if stop > start
        ]


def _class_axis(loss_function: Any, outputs: torch.Tensor, targets: torch.Tensor) -> int:
    """Where the classes are: 1 as torch's cross_entropy wants them, or -1 for sequence logits (B, T, V).

    A loss function that says ``sequence`` (dlcheck's) decides; otherwise the shapes do when only one reading
    fits, and torch's convention wins a tie.
    """
    if getattr(loss_function, "sequence", False):
        return -1
    one_more = outputs.ndim == targets.ndim + 1 and outputs.ndim >= 3
    classes_last = one_more and tuple(outputs.shape[:-1]) == tuple(targets.shape)
    classes_second = one_more and tuple(outputs.shape[2:]) == tuple(targets.shape[1:])
    return -1 if classes_last and not classes_second else 1


def _output_problem(loss_name: str, outputs: torch.Tensor, class_axis: int = 1) -> tuple[Status, str, str] | None:
    """Outputs that are not logits: probabilities, or never negative."""
    if loss_name not in ("cross_entropy", "bce_with_logits") or outputs.numel() == 0:
        return None
    low, high = float(outputs.min()), float(outputs.max())
    if loss_name == "cross_entropy" and outputs.ndim >= 2 and outputs.shape[class_axis] > 1 and low >= 0.0:
        sums = outputs.sum(dim=class_axis)
        if bool(((sums - 1.0).abs() <= thresholds.PROBABILITY_SUM_TOLERANCE).all()):
            return (
                "fail",
                "The model outputs probabilities (every row is non-negative and sums to 1), but cross_entropy "
                "applies log-softmax itself: the loss looks normal at init but can never approach 0.",
                "Remove the softmax at the end of the model (keep it for inference only), or use "
                "log_softmax with nll_loss.",
            )
    squashed = low >= 0.0 and high <= 1.0 and outputs.numel() >= thresholds.NON_NEGATIVE_OUTPUTS_MIN_VALUES
    if loss_name == "bce_with_logits" and squashed:
        return (
            "fail",
            f"Every output lies in [0, 1] ({number(low)} to {number(high)}): a sigmoid before bce_with_logits, "
            "which applies the sigmoid itself; the loss can never approach 0.",
            "Remove the sigmoid at the end of the model (keep it for inference), or use binary_cross_entropy.",
        )
    if low >= 0.0 and high > 0.0 and outputs.numel() >= thresholds.NON_NEGATIVE_OUTPUTS_MIN_VALUES:
        return (
            "warn",
            f"No output is negative (min {number(low)}): logits should be free to take any sign, so something like "
            "a ReLU after the last layer is cutting half of them off.",
            "Remove the activation after the last linear or convolution layer.",
        )
    return None


def _judge(
    loss_name: str,
    loss_function: Callable[..., Any],
    outputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    seed: int,
) -> CheckResult:
    metrics: dict[str, Any] = {"loss_name": loss_name, "samples": int(outputs.shape[0])}
    if not bool(torch.isfinite(outputs).all()):
        return CheckResult(
            NAME,
            "fail",
            "The model outputs NaN or infinite values at initialisation.",
            metrics,
            [
                "Check the inputs for NaN (data_sanity), divisions and logs in forward(), and the initialisation scale.",
            ],
        )
    losses = _chunk_losses(loss_function, outputs, targets)
    measured = sum(losses) / len(losses)
    standard_error = (
        float(torch.tensor(losses, dtype=torch.float64).std()) / math.sqrt(len(losses)) if len(losses) > 1 else 0.0
    )
    metrics.update(loss=measured, standard_error=standard_error)
    if not math.isfinite(measured):
        return CheckResult(
            NAME,
            "fail",
            f"The loss at initialisation is {measured} although the outputs are finite.",
            metrics,
            ["Check the targets (NaN, or labels outside the outputs) and the loss function's inputs."],
        )
    axis = _class_axis(loss_function, outputs, targets)
    reference = loss_reference(loss_name, loss_function, outputs, targets, class_axis=axis)
    ratio = measured / reference.chance if reference.chance > 0 else float("inf")
    margin = thresholds.NOISE_STANDARD_ERRORS * standard_error
    scale = implied_output_scale(loss_function, outputs, targets, measured, seed=seed)
    scale_low = implied_output_scale(loss_function, outputs, targets, measured - margin, seed=seed)
    relative_scale = scale_low / reference.reference_scale
    centred = outputs - outputs.mean(dim=axis, keepdim=True) if loss_name == "cross_entropy" else outputs
    metrics.update(
        expected=reference.chance,
        ratio=ratio,
        prior_loss=reference.prior,
        output_scale=scale,
        reference_scale=reference.reference_scale,
        output_std=float(centred.float().std()) if centred.numel() > 1 else 0.0,
    )
    if loss_name == "cross_entropy" and outputs.ndim >= 2:
        metrics["num_classes"] = int(outputs.shape[axis])
    chance_words = _chance_words(loss_name, outputs, reference.chance, axis)
    problem = _output_problem(loss_name, outputs, axis)
    if problem is not None and problem[0] == "fail":
        return CheckResult(NAME, "fail", problem[1], metrics, [problem[2]])

    what = "logits" if loss_name in ("cross_entropy", "bce_with_logits") else "outputs"
    if relative_scale > thresholds.OUTPUT_SCALE_WARN:
        status: Status = "fail" if relative_scale > thresholds.OUTPUT_SCALE_FAIL else "warn"
        if loss_name in ("cross_entropy", "bce_with_logits"):
            comparison = f"as if random with std {number(scale)}, where a well-initialised output layer gives about 1"
        else:
            comparison = (
                f"as if random with std {number(scale)}, {number(scale / reference.reference_scale)}x the targets' "
                f"root-mean-square {number(reference.reference_scale)}"
            )
        summary = (
            f"Loss at init {number(measured)} is {number(ratio)}x chance ({chance_words}): the {what} start "
            f"too large, {comparison}."
        )
        advice = [
            _INIT_ADVICE,
            "Look for a missing normalisation (of the inputs or between layers) before the last layer.",
        ]
        if problem is not None:
            advice.insert(0, problem[2])
        return CheckResult(NAME, status, summary, metrics, advice)
    if measured + margin < thresholds.INITIAL_LOSS_LOW_RATIO * reference.prior:
        summary = (
            f"Loss at init {number(measured)} is below {number(reference.prior)}, the best any input-independent "
            f"prediction can do ({chance_words.split(';')[0]}): too good for an untrained model."
        )
        advice = [
            "If the weights are pretrained this is expected; otherwise look for labels leaking into the inputs, "
            "or a loss that ignores most samples (ignore_index, masking, a wrong reduction).",
        ]
        return CheckResult(NAME, "warn", summary, metrics, advice)
    if problem is not None:
        return CheckResult(NAME, problem[0], problem[1], metrics, [problem[2]])
    summary = (
        f"Loss at init {number(measured)} vs chance {number(reference.chance)} ({chance_words}; ratio {number(ratio)})."
    )
    return CheckResult(NAME, "pass", summary, metrics, [])


def _chance_words(loss_name: str, outputs: torch.Tensor, chance: float, class_axis: int = 1) -> str:
    if loss_name == "cross_entropy" and outputs.ndim >= 2:
        return f"log {outputs.shape[class_axis]} classes"
    if loss_name == "bce_with_logits":
        return "ln 2 per output"
    return {"mse": "mean of y²", "l1": "mean of |y|", "huber": "Huber loss of zero outputs"}.get(
        loss_name, "zero outputs"
    )


def _forward(model: nn.Module, inputs: torch.Tensor, seed: int) -> torch.Tensor:
    copy = probe_copy(model)
    copy.train()
    device = inputs.device
    with seeded(derive_seed(seed, Purpose.PROBE), device), torch.no_grad():
        return as_tensor_output(copy(inputs)).detach()


@timed
def check_initial_loss(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_function: Callable[..., Any],
    *,
    loss_name: str | None = None,
    seed: int = 0,
) -> CheckResult:
    """Compare a model's loss at initialisation with what chance predicts for this loss and these targets.

    Parameters
    ----------
    model : torch.nn.Module
        The freshly initialised model; it is not changed (a copy is run, in training mode).
    inputs : torch.Tensor
        ``(N, ...)`` on the model's device, as the model receives them. A few hundred samples make a
        precise verdict; the standard error is estimated from chunks of them.
    targets : torch.Tensor
        ``(N,)`` class indices, or targets shaped like the outputs; ``(N, T)`` next tokens for ``(N, T, V)``
        sequence logits (the classes are last when the loss says ``sequence`` or only that reading fits).
    loss_function : callable
        ``loss_function(outputs, targets) -> mean loss``: a torch loss module or function, or dlcheck's.
    loss_name : {"cross_entropy", "bce_with_logits", "mse", "l1", "huber"}, optional
        Recognised from ``loss_function`` when it is a torch loss; needed otherwise.
    seed : int
        Seeds dropout during the forward pass and the Gaussian draws of the implied output scale.

    Returns
    -------
    CheckResult
        ``initial_loss`` with metrics ``loss``, ``expected`` (chance), ``ratio``, ``prior_loss``,
        ``output_scale`` (std of random outputs that would give this loss) and ``standard_error``.

    Examples
    --------
    >>> model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 10))
    >>> inputs, labels = torch.randn(256, 8), torch.arange(256) % 10
    >>> check_initial_loss(model, inputs, labels, nn.CrossEntropyLoss()).status
    'pass'
    >>> with torch.no_grad():
    ...     _ = model[2].weight.mul_(50)
    >>> check_initial_loss(model, inputs, labels, nn.CrossEntropyLoss()).status
    'fail'
    """
    name = loss_name_of(loss_function, loss_name)
    outputs = _forward(model, inputs, seed)
    return _judge(name, loss_function, outputs, targets, seed=seed)


@timed
def initial_loss(parts: RecipeParts, *, seed: int | None = None) -> CheckResult:
    """:func:`check_initial_loss` on a recipe: a fresh model, a seeded random sample of the training split."""
    seed = parts.recipe.seed if seed is None else seed
    model = parts.fresh_model(seed)
    inputs, targets = parts.sample_batch(thresholds.INITIAL_LOSS_SAMPLES, seed=seed)
    outputs = _forward(model, inputs, seed)
    return _judge(parts.loss_name, parts.loss_function(regularized=True), outputs, targets, seed=seed)
