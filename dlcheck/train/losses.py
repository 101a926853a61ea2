"""Loss functions by recipe name, and the accuracy that goes with classification losses.

Every loss here returns the **sum** over the batch when asked, so the trainer can average over an epoch
exactly (a mean of per-batch means is wrong when the last batch is short).
"""

from __future__ import annotations

__all__ = ["LossFunction", "build_loss", "count_correct", "is_classification_loss"]

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

CLASSIFICATION_LOSSES = ("cross_entropy", "bce_with_logits")


def is_classification_loss(name: str) -> bool:
    return name in CLASSIFICATION_LOSSES


@dataclass(frozen=True)
class LossFunction:
    """``loss(outputs, targets, reduction)`` for a recipe's ``loss`` name."""

    name: str
    label_smoothing: float = 0.0

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        if self.name == "cross_entropy":
            # outputs (N, C) logits, targets (N,) class indices
            return F.cross_entropy(outputs, targets, reduction=reduction, label_smoothing=self.label_smoothing)
        if self.name == "bce_with_logits":
            return F.binary_cross_entropy_with_logits(outputs, _match_targets(outputs, targets), reduction=reduction)
        function: Callable[..., torch.Tensor] = _REGRESSION_LOSSES[self.name]
        matched = _match_targets(outputs, targets)
        if reduction == "mean":
            return function(outputs, matched, reduction="mean")
        # per-sample loss summed over the batch: mean over each sample's elements, sum over samples
        per_element = function(outputs, matched, reduction="none")
        per_sample = per_element.reshape(per_element.shape[0], -1).mean(dim=1)
        return per_sample.sum() if reduction == "sum" else per_sample


_REGRESSION_LOSSES: dict[str, Callable[..., torch.Tensor]] = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}


def _match_targets(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Targets as floats shaped like the outputs: (N,) scalars become (N, 1) for a (N, 1) output."""
    targets = targets.to(outputs.dtype)
    if targets.dim() == 1 and outputs.dim() == 2 and outputs.shape[1] == 1:
        targets = targets.unsqueeze(1)
    return targets


def build_loss(name: str, *, label_smoothing: float = 0.0) -> LossFunction:
    return LossFunction(name, label_smoothing)


def count_correct(outputs: torch.Tensor, targets: torch.Tensor, loss_name: str) -> torch.Tensor:
    """Number of correctly classified samples in the batch, as a 0-dim tensor (no host sync)."""
    if loss_name == "cross_entropy":
        return (outputs.argmax(dim=1) == targets).sum()
    # bce_with_logits: a logit above 0 is a positive prediction; multi-label counts exact matches
    predictions = outputs > 0
    matched = _match_targets(outputs, targets) > 0.5
    if predictions.dim() == 1 or predictions.shape[1] == 1:
        return (predictions.reshape(-1) == matched.reshape(-1)).sum()
    return (predictions == matched).all(dim=1).sum()
