"""``batch_independence``: one sample's output must not depend on the other samples of its batch.

Karpathy's "use backprop to chart dependencies": in eval mode (batch norm on running statistics, dropout
off), take the output of sample ``i``, project it on a fixed random vector (a plain sum would be blind to
outputs that always sum to 1, e.g. softmax), back-propagate to the inputs, and require the gradient on every
other sample to be exactly zero. This catches ``view``/``reshape`` bugs that move the batch axis (``x.view(C,
B, -1)`` where ``x.permute(1, 0, 2)`` was meant), reductions over ``dim=0``, and normalisation over the batch
in eval mode. A forward check completes it: sample ``i`` alone must give the output it gets in the batch,
which also catches mixing through paths without gradient (``.detach()``, indexing, integer inputs).

Batch norm in *training* mode legitimately mixes samples; that is why eval mode is used (lightning-bolts'
``BatchGradientVerification`` had false positives until it did the same, bolts #568).
"""

from __future__ import annotations

__all__ = ["NAME", "batch_independence", "check_batch_independence"]

from typing import Any

import torch
from torch import nn

from dlcheck.checks import thresholds
from dlcheck.checks._probe import timed
from dlcheck.engine.isolation import probe_copy
from dlcheck.engine.parts import RecipeParts
from dlcheck.engine.step import as_tensor_output
from dlcheck.formatting import number, plural
from dlcheck.verdict import CheckResult

NAME = "batch_independence"

_ADVICE = (
    "Look for a view/reshape that moves the batch axis (x.view(C, B, -1) where x.permute(1, 0, 2) was meant), "
    "a reduction or normalisation over dim 0, or state kept between samples; keep dim 0 the batch everywhere."
)

_RANDOM_ADVICE = (
    "Use nn.Dropout modules (or F.dropout(x, training=self.training)) so that model.eval() switches them off; "
    "gate any noise on self.training."
)


def _probe_indices(batch_size: int, probes: int) -> list[int]:
    candidates = [0, batch_size - 1, batch_size // 2, 1, batch_size // 4, (3 * batch_size) // 4]
    chosen: list[int] = []
    for index in candidates:
        if 0 <= index < batch_size and index not in chosen:
            chosen.append(index)
    return chosen[: max(1, probes)]


def _judge_gradients(
    model: nn.Module, inputs: torch.Tensor, indices: list[int], seed: int, metrics: dict[str, Any]
) -> tuple[list[str], torch.Tensor]:
    """Gradient leaks per probed sample; returns the problems found and the batch's outputs."""
    problems: list[str] = []
    probe_inputs = inputs.detach().clone().requires_grad_(True)
    outputs = as_tensor_output(model(probe_inputs))  # (B, ...)
    if outputs.shape[0] != inputs.shape[0]:
        return [
            f"The model returns {outputs.shape[0]} output rows for a batch of {inputs.shape[0]}: the batch axis is "
            "merged into or split across another axis."
        ], outputs.detach()
    if not outputs.requires_grad:  # no gradient path from the inputs at all (e.g. torch.no_grad() in forward)
        metrics["gradient_test"] = "skipped (the outputs carry no gradient)"
        return problems, outputs.detach()
    generator = torch.Generator().manual_seed(seed)
    worst_leak, worst_index, worst_count = 0.0, None, 0
    independent_of_own = []
    for index in indices:
        projection = torch.randn(outputs.shape[1:], generator=generator).to(outputs.device, outputs.dtype)
        (gradient,) = torch.autograd.grad(
            (outputs[index] * projection).sum(), probe_inputs, retain_graph=True, allow_unused=True
        )
        if gradient is None:  # the inputs are not on the graph of the outputs: only the forward check can tell
            metrics["gradient_test"] = "skipped (the inputs are not on the outputs' graph)"
            return problems, outputs.detach()
        per_sample = gradient.detach().reshape(gradient.shape[0], -1).float().norm(dim=1)  # (B,)
        own = float(per_sample[index])
        others = torch.cat([per_sample[:index], per_sample[index + 1 :]])
        largest_other = float(others.max()) if others.numel() else 0.0
        if own == 0.0 and largest_other == 0.0:
            independent_of_own.append(index)
            continue
        leak = largest_other / own if own > 0 else float("inf")
        if leak > worst_leak:
            worst_leak, worst_index = leak, index
            worst_count = int((others > thresholds.GRADIENT_LEAK_TOLERANCE * max(own, 1e-30)).sum())
    metrics["gradient_leak"] = worst_leak
    if independent_of_own:
        metrics["outputs_independent_of_inputs"] = len(independent_of_own)
    if worst_leak > thresholds.GRADIENT_LEAK_TOLERANCE and worst_index is not None:
        relative = "infinitely more than" if worst_leak == float("inf") else f"{number(worst_leak)}x"
        problems.append(
            f"The output of sample {worst_index} depends on the inputs of {plural(worst_count, 'other sample')} in "
            f"the batch (gradient {relative} its own): the model mixes samples."
        )
    return problems, outputs.detach()


def _judge_repeatable(
    model: nn.Module, inputs: torch.Tensor, outputs: torch.Tensor, metrics: dict[str, Any]
) -> list[str]:
    """The same batch twice in eval mode must give the same outputs (else the forward comparison means nothing)."""
    with torch.no_grad():
        again = as_tensor_output(model(inputs))
    scale = float(outputs.float().pow(2).mean().sqrt()) or 1.0
    difference = float((again.float() - outputs.float()).abs().max()) / scale if again.shape == outputs.shape else 1.0
    metrics["repeat_difference"] = difference
    if difference > thresholds.FORWARD_CONSISTENCY_TOLERANCE:
        return [
            f"The same batch gives different outputs on two eval-mode calls (difference {number(difference)} of "
            "the outputs' scale): something random stays on in eval mode, such as F.dropout(x, training=True) or "
            "added noise, so evaluation is not reproducible."
        ]
    return []


def _judge_forward(
    model: nn.Module, inputs: torch.Tensor, outputs: torch.Tensor, indices: list[int], metrics: dict[str, Any]
) -> list[str]:
    scale = float(outputs.float().pow(2).mean().sqrt()) or 1.0
    worst, worst_index = 0.0, None
    with torch.no_grad():
        for index in indices:
            alone = as_tensor_output(model(inputs[index : index + 1]))
            if alone.shape[1:] != outputs.shape[1:] or alone.shape[0] != 1:
                return [
                    f"Sample {index} alone gives outputs of shape {tuple(alone.shape)}, but in the batch "
                    f"{tuple(outputs.shape[1:])} per sample: the model's shapes depend on the batch size."
                ]
            difference = float((alone[0].float() - outputs[index].float()).abs().max()) / scale
            if difference > worst:
                worst, worst_index = difference, index
    metrics["forward_difference"] = worst
    if worst > thresholds.FORWARD_CONSISTENCY_TOLERANCE and worst_index is not None:
        return [
            f"Sample {worst_index} alone gives a different output than in the batch (difference {number(worst)} of "
            "the outputs' scale): its output depends on the rest of the batch."
        ]
    return []


@timed
def check_batch_independence(model: nn.Module, inputs: torch.Tensor, *, seed: int = 0) -> CheckResult:
    """Check, in eval mode, that no sample's output depends on the other samples of the batch.

    Parameters
    ----------
    model : torch.nn.Module
        The model; a copy is probed in eval mode, the model itself is not changed.
    inputs : torch.Tensor
        ``(B, ...)`` with ``B >= 2``, on the model's device; at most
        :data:`~dlcheck.checks.thresholds.BATCH_INDEPENDENCE_BATCH` samples are used.
    seed : int
        Seeds the random projections of the outputs.

    Returns
    -------
    CheckResult
        ``batch_independence``: ``fail`` when gradients or outputs reveal mixing; metrics ``gradient_leak``
        (largest other-sample / own gradient norm, 0 when independent) and ``forward_difference``.

    Examples
    --------
    >>> class Mixer(nn.Module):  # the classic bug: a view that scrambles the batch axis
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.linear = nn.Linear(4, 2)
    ...     def forward(self, x):  # x (B, 2, 2)
    ...         return self.linear(x.transpose(0, 1).reshape(x.shape[0], -1))
    >>> check_batch_independence(Mixer(), torch.randn(8, 2, 2)).status
    'fail'
    >>> check_batch_independence(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), torch.randn(8, 2, 2)).status
    'pass'
    """
    inputs = inputs[: thresholds.BATCH_INDEPENDENCE_BATCH]
    metrics: dict[str, Any] = {"batch_size": int(inputs.shape[0])}
    if inputs.shape[0] < 2:
        return CheckResult(NAME, "skip", "Needs a batch of at least 2 samples.", metrics)
    probe = probe_copy(model).eval()
    indices = _probe_indices(int(inputs.shape[0]), thresholds.BATCH_INDEPENDENCE_PROBES)
    metrics["probed_samples"] = len(indices)
    if inputs.is_floating_point():
        problems, outputs = _judge_gradients(probe, inputs, indices, seed, metrics)
    else:  # integer inputs (token ids) carry no gradient: the forward check alone
        problems = []
        with torch.no_grad():
            outputs = as_tensor_output(probe(inputs))
        metrics["gradient_test"] = "skipped (integer inputs)"
    if not problems and outputs.shape[0] == inputs.shape[0]:
        problems += _judge_repeatable(probe, inputs, outputs, metrics)
    if not problems and outputs.shape[0] == inputs.shape[0]:
        problems += _judge_forward(probe, inputs, outputs, indices, metrics)
    if problems:
        summary = problems[0] + (f" {problems[1]}" if len(problems) > 1 else "")
        advice = _RANDOM_ADVICE if "eval-mode calls" in summary else _ADVICE
        return CheckResult(NAME, "fail", summary, metrics, [advice])
    how = "forward passes" if "gradient_test" in metrics else "gradients and forward passes"
    summary = (
        f"{plural(len(indices), 'probed sample')} touch no other sample of a batch of {inputs.shape[0]} ({how}, "
        "eval mode)."
    )
    if metrics.get("outputs_independent_of_inputs"):
        summary += f" ({plural(metrics['outputs_independent_of_inputs'], 'output')} ignore even their own input.)"
    return CheckResult(NAME, "pass", summary, metrics)


@timed
def batch_independence(parts: RecipeParts, *, seed: int | None = None) -> CheckResult:
    """:func:`check_batch_independence` on a recipe's fresh model and first training batch (no augmentation)."""
    seed = parts.recipe.seed if seed is None else seed
    model = parts.fresh_model(seed)
    inputs, _ = parts.first_batch("train", batch_size=thresholds.BATCH_INDEPENDENCE_BATCH, augment=False)
    return check_batch_independence(model, inputs, seed=seed)
