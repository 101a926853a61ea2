"""Loss functions by recipe name, and the accuracy that goes with classification losses.

Every loss here returns the **sum** over the batch when asked, so the trainer can average over an epoch
exactly (a mean of per-batch means is wrong when the last batch is short).

Token sequences (``sequence``) score ``(B, T, V)`` logits, the vocabulary last, against ``(B, T)`` next-token
targets; positions whose target is ``ignore_index`` (padding) count nowhere. The mean loss of a batch is the
mean over its counted tokens (what torch's ``cross_entropy`` computes); the summed loss and the correct count
of a batch are per sample, each sample's mean over its counted tokens, so the epoch totals divide by samples
like every other task. Without padding the two agree exactly: every window has T counted tokens.
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
    ignore_index: int | None = None  # a target id left out of loss and accuracy (padding)
    sequence: bool = False  # outputs (B, T, V) against targets (B, T): the class axis is last

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        if self.name == "cross_entropy" and self.sequence:
            return self._sequence_cross_entropy(outputs, targets, reduction)
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

    def _sequence_cross_entropy(self, outputs: torch.Tensor, targets: torch.Tensor, reduction: str) -> torch.Tensor:
        ignore = -100 if self.ignore_index is None else self.ignore_index  # -100: torch's default, never a token
        if reduction == "mean":  # the mean over every counted token of the batch
            return F.cross_entropy(
                outputs.reshape(-1, outputs.shape[-1]),  # (B*T, V)
                targets.reshape(-1),  # (B*T,)
                ignore_index=ignore,
                label_smoothing=self.label_smoothing,
            )
        per_token = F.cross_entropy(
            outputs.transpose(1, 2),  # (B, V, T): torch wants the classes second
            targets,
            reduction="none",
            ignore_index=ignore,
            label_smoothing=self.label_smoothing,
        )  # (B, T), 0 where ignored
        counted = (targets != ignore).sum(dim=1).clamp(min=1)  # (B,)
        per_sample = per_token.sum(dim=1) / counted  # (B,)
        return per_sample.sum() if reduction == "sum" else per_sample


_REGRESSION_LOSSES: dict[str, Callable[..., torch.Tensor]] = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}


def _match_targets(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Targets as floats shaped like the outputs: (N,) scalars become (N, 1) for a (N, 1) output."""
    targets = targets.to(outputs.dtype)
    if targets.dim() == 1 and outputs.dim() == 2 and outputs.shape[1] == 1:
        targets = targets.unsqueeze(1)
    return targets


def build_loss(
    name: str, *, label_smoothing: float = 0.0, ignore_index: int | None = None, sequence: bool = False
) -> LossFunction:
    return LossFunction(name, label_smoothing, ignore_index, sequence)


def count_correct(outputs: torch.Tensor, targets: torch.Tensor, loss: str | LossFunction) -> torch.Tensor:
    """Number of correctly classified samples in the batch, as a 0-dim tensor (no host sync).

    For token sequences (a :class:`LossFunction` with ``sequence``) each sample counts the fraction of its
    counted tokens predicted right, so the sum divided by the samples is the per-token accuracy (exactly so
    when nothing is padded).

    Examples
    --------
    >>> logits = torch.tensor([[[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]])  # (B=1, T=3, V=2)
    >>> round(float(count_correct(logits, torch.tensor([[0, 1, 1]]), LossFunction("cross_entropy", sequence=True))), 4)
    0.6667
    >>> padded = LossFunction("cross_entropy", ignore_index=-1, sequence=True)
    >>> float(count_correct(logits, torch.tensor([[0, 1, -1]]), padded))
    1.0
    """
    loss_name = loss if isinstance(loss, str) else loss.name
    if isinstance(loss, LossFunction) and loss.sequence and loss_name == "cross_entropy":
        counted = targets != (-100 if loss.ignore_index is None else loss.ignore_index)  # (B, T)
        right = ((outputs.argmax(dim=-1) == targets) & counted).sum(dim=1)  # (B,)
        return (right / counted.sum(dim=1).clamp(min=1)).sum()
    if loss_name == "cross_entropy":
        return (outputs.argmax(dim=1) == targets).sum()
    # bce_with_logits: a logit above 0 is a positive prediction; multi-label counts exact matches
    predictions = outputs > 0
    matched = _match_targets(outputs, targets) > 0.5
    if predictions.dim() == 1 or predictions.shape[1] == 1:
        return (predictions.reshape(-1) == matched.reshape(-1)).sum()
    return (predictions == matched).all(dim=1).sum()
