"""What a loss should be at initialisation, computed with the loss function itself on synthetic outputs.

Three references, each evaluated by calling the user's loss on outputs we make up for the real targets, so
that every option of the loss (label smoothing, class weights, Huber's delta, reduction) is accounted for
without a formula per case:

- *chance*: all outputs zero. Uniform class probabilities: ``log C`` for cross-entropy whatever the label
  prior, ``ln 2`` per output for BCE with logits; ``mean(y**2)`` for MSE, ``mean(|y|)`` for L1.
- *prior*: the best constant output, what a last bias initialised to the data gives (Karpathy: "init well"):
  the entropy of the label prior, the binary entropy of the positive rates, the target variance, the mean
  absolute deviation from the median. No input-independent prediction does better.
- *implied output scale*: the standard deviation sigma of zero-mean Gaussian outputs, independent of the
  inputs, whose expected loss equals the measured one. It turns "the loss is too high" into "the outputs
  start as if they had std 40", a number comparable across losses and numbers of classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

LossCall = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_DRAWS = 4  # Gaussian output draws averaged per evaluation of the expected loss
_BISECTIONS = 40
_RELATIVE_TOLERANCE = 1e-2  # the scale is compared with thresholds a factor of 2 apart


@dataclass(frozen=True)
class LossReference:
    chance: float  # loss of all-zero outputs
    prior: float  # loss of the best constant output
    reference_scale: float  # output std a unit-scale output layer gives (1 for logits, RMS of the targets)


def _evaluate(loss_function: LossCall, outputs: torch.Tensor, targets: torch.Tensor) -> float:
    with torch.no_grad():
        return float(loss_function(outputs, targets))


def _constant_outputs(
    loss_name: str, outputs: torch.Tensor, targets: torch.Tensor, class_axis: int = 1
) -> list[torch.Tensor]:
    """Candidate best constant outputs (one per output element, broadcast over the batch)."""
    if loss_name == "cross_entropy":
        # outputs (N, C, *dims), or (N, T, V) with class_axis -1; targets (N, *dims) class indices:
        # logits = log of the label prior (for tokens, the unigram distribution)
        classes = outputs.shape[class_axis]
        labels = targets[(targets >= 0) & (targets < classes)].long().reshape(-1)
        counts = torch.bincount(labels.cpu(), minlength=classes).double() if labels.numel() else None
        if counts is None:
            return []
        log_prior = (counts.clamp(min=0.5) / counts.clamp(min=0.5).sum()).log().to(outputs.dtype)
        shape = [1] * outputs.ndim
        shape[class_axis] = classes
        return [log_prior.to(outputs.device).reshape(shape).expand_as(outputs)]
    matched = targets.to(outputs.dtype).reshape(outputs.shape) if targets.numel() == outputs.numel() else None
    if matched is None:
        return []
    if loss_name == "bce_with_logits":
        rate = matched.mean(dim=0, keepdim=True).clamp(1e-6, 1 - 1e-6)
        return [(rate / (1 - rate)).log().expand_as(outputs)]
    mean = matched.mean(dim=0, keepdim=True).expand_as(outputs)
    median = matched.median(dim=0, keepdim=True).values.expand_as(outputs)
    return [mean, median]


def loss_reference(
    loss_name: str, loss_function: LossCall, outputs: torch.Tensor, targets: torch.Tensor, *, class_axis: int = 1
) -> LossReference:
    """Chance and prior-optimal losses for these targets, and the output scale a sane init gives.

    Parameters
    ----------
    loss_name : str
        ``cross_entropy``, ``bce_with_logits``, ``mse``, ``l1`` or ``huber``.
    loss_function : callable
        ``loss_function(outputs, targets) -> scalar``, the mean loss.
    outputs : torch.Tensor
        The model's outputs on this batch (only their shape, dtype and device are used).
    targets : torch.Tensor
        The batch's targets.
    class_axis : int
        The classes' axis of cross-entropy outputs: 1 (torch's convention) or -1 (sequence logits (N, T, V)).

    Examples
    --------
    >>> import math
    >>> from torch.nn.functional import cross_entropy
    >>> targets = torch.tensor([0, 0, 0, 1])
    >>> reference = loss_reference("cross_entropy", cross_entropy, torch.zeros(4, 2), targets)
    >>> round(reference.chance, 4) == round(math.log(2), 4), round(reference.prior, 3)
    (True, 0.562)
    """
    chance = _evaluate(loss_function, torch.zeros_like(outputs), targets)
    candidates = [
        _evaluate(loss_function, constant, targets)
        for constant in _constant_outputs(loss_name, outputs, targets, class_axis)
    ]
    prior = min([chance, *candidates])
    if loss_name in ("cross_entropy", "bce_with_logits"):
        scale = 1.0
    else:
        scale = float(targets.float().pow(2).mean().sqrt()) or 1.0
    return LossReference(chance=chance, prior=prior, reference_scale=scale)


def implied_output_scale(
    loss_function: LossCall, outputs: torch.Tensor, targets: torch.Tensor, measured: float, *, seed: int = 0
) -> float:
    """The std of input-independent zero-mean Gaussian outputs whose expected loss is ``measured``.

    0 when ``measured`` is at or below the loss of all-zero outputs; ``inf`` when even outputs of std 1e6 do
    not reach it.

    Examples
    --------
    >>> from torch.nn.functional import mse_loss
    >>> targets = torch.zeros(256, 1)
    >>> scale = implied_output_scale(mse_loss, torch.zeros(256, 1), targets, measured=4.0)  # E[(s g)^2] = s^2
    >>> abs(scale - 2.0) < 0.2
    True
    """
    generator = torch.Generator().manual_seed(seed)
    # _DRAWS draws of the whole batch, stacked along the batch axis: one loss call per evaluation
    draws = torch.randn((_DRAWS * outputs.shape[0], *outputs.shape[1:]), generator=generator)
    draws = draws.to(outputs.device, outputs.dtype)
    repeated = targets.repeat((_DRAWS,) + (1,) * (targets.ndim - 1))

    def expected(sigma: float) -> float:
        return _evaluate(loss_function, sigma * draws, repeated)

    if not measured > expected(0.0):
        return 0.0
    low, high = 0.0, 1.0
    while expected(high) < measured:
        low, high = high, high * 4.0
        if high > 1e6:
            return float("inf")
    for _ in range(_BISECTIONS):
        middle = 0.5 * (low + high)
        if expected(middle) < measured:
            low = middle
        else:
            high = middle
        if high - low <= _RELATIVE_TOLERANCE * high:
            break
    return 0.5 * (low + high)
