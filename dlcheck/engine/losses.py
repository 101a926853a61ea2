"""Loss functions by recipe name, the names of torch's own losses, and the one definition of accuracy.

Every loss here returns the **sum** over the batch when asked, so the trainer can average over an epoch
exactly (a mean of per-batch means is wrong when the last batch is short).

Token sequences (``sequence``) score ``(B, T, V)`` logits, the vocabulary last, against ``(B, T)`` next-token
targets; positions whose target is ``ignore_index`` (padding) count nowhere. The mean loss of a batch is the
mean over its counted tokens (what torch's ``cross_entropy`` computes); the summed loss and the correct count
of a batch are per sample, each sample's mean over its counted tokens, so the epoch totals divide by samples
like every other task. Without padding the two agree exactly: every window has T counted tokens.

**Accuracy** means the same everywhere in dlcheck (the training curves, the overfit check, the reports): the
share of *samples* whose prediction is entirely right (:func:`correct_samples`, :func:`count_correct`). For ``cross_entropy`` that is
the arg-max class; for ``bce_with_logits`` every output thresholded at 0 must match its target above 0.5, so a
multi-label sample counts only when all of its labels are right (exact match, scikit-learn's
``accuracy_score`` for multi-label data). A per-label mean would call a model that gets 9 of 10 labels right
on every sample "90% accurate" while it gets no sample right. A token sequence is the exception: each of its
tokens is a prediction of its own, so a sequence counts the share of its tokens predicted right (per-token
accuracy, the language-model convention).
"""

from __future__ import annotations

__all__ = [
    "CLASSIFICATION_LOSSES",
    "LOSS_NAMES",
    "LossFunction",
    "build_loss",
    "correct_samples",
    "count_correct",
    "is_classification_loss",
    "loss_name_of",
]

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlcheck.errors import InvalidArgument

CLASSIFICATION_LOSSES = ("cross_entropy", "bce_with_logits")
LOSS_NAMES = (*CLASSIFICATION_LOSSES, "mse", "l1", "huber")


def is_classification_loss(name: str | None) -> bool:
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


def correct_samples(outputs: torch.Tensor, targets: torch.Tensor, loss: str | LossFunction) -> torch.Tensor:
    """Which samples of the batch are predicted entirely right: a ``(N,)`` boolean tensor (no host sync); for a
    token sequence (a :class:`LossFunction` with ``sequence``) the ``(N,)`` shares of its counted tokens right.

    Parameters
    ----------
    outputs : torch.Tensor
        ``(N, C, ...)`` logits for ``cross_entropy``; ``(N, ...)`` logits for ``bce_with_logits``.
    targets : torch.Tensor
        ``(N, ...)`` class indices, or 0/1 (or probability) targets shaped like the outputs.
    loss : {"cross_entropy", "bce_with_logits"} or LossFunction

    Examples
    --------
    >>> logits = torch.tensor([[2.0, -1.0], [-1.0, 2.0], [3.0, 1.0]])
    >>> correct_samples(logits, torch.tensor([0, 1, 1]), "cross_entropy").tolist()
    [True, True, False]
    >>> correct_samples(torch.tensor([[1.0, -1.0], [1.0, 1.0]]), torch.tensor([[1.0, 0.0], [1.0, 0.0]]),
    ...                 "bce_with_logits").tolist()  # multi-label: every label must be right
    [True, False]
    >>> sequence = torch.tensor([[[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]])  # (B=1, T=3, V=2)
    >>> correct_samples(sequence, torch.tensor([[0, 1, 1]]), LossFunction("cross_entropy", sequence=True)).tolist()
    [0.6666666865348816]
    """
    loss_name = loss if isinstance(loss, str) else loss.name
    if isinstance(loss, LossFunction) and loss.sequence and loss_name == "cross_entropy":
        counted = targets != (-100 if loss.ignore_index is None else loss.ignore_index)  # (B, T)
        right = ((outputs.argmax(dim=-1) == targets) & counted).sum(dim=1)  # (B,)
        return right / counted.sum(dim=1).clamp(min=1)
    if loss_name == "cross_entropy":
        hits = outputs.argmax(dim=1) == targets  # (N,) or (N, ...) for dense outputs
        return hits if hits.dim() == 1 else hits.reshape(hits.shape[0], -1).all(dim=1)
    # bce_with_logits: a logit above 0 is a positive prediction
    predictions = outputs > 0
    matched = _match_targets(outputs, targets) > 0.5
    if predictions.dim() == 1 or (predictions.dim() == 2 and predictions.shape[1] == 1):
        return predictions.reshape(-1) == matched.reshape(-1)
    return (predictions == matched).reshape(predictions.shape[0], -1).all(dim=1)


def count_correct(outputs: torch.Tensor, targets: torch.Tensor, loss: str | LossFunction) -> torch.Tensor:
    """Number of samples of the batch predicted entirely right (:func:`correct_samples`), a 0-dim tensor.

    For token sequences each sample counts the share of its counted tokens predicted right, so the sum divided by
    the samples is the per-token accuracy (exactly so when nothing is padded).

    Examples
    --------
    >>> int(count_correct(torch.tensor([[2.0, -1.0], [-1.0, 2.0]]), torch.tensor([0, 0]), "cross_entropy"))
    1
    """
    return correct_samples(outputs, targets, loss).sum()


def loss_name_of(loss_function: Any, loss_name: str | None = None) -> str:
    """The dlcheck name of a loss function: given, or recognised from torch's classes and functions.

    Raises
    ------
    InvalidArgument
        When neither ``loss_name`` is given nor the loss recognised.

    Examples
    --------
    >>> loss_name_of(nn.CrossEntropyLoss()), loss_name_of(torch.nn.functional.mse_loss)
    ('cross_entropy', 'mse')
    """
    if loss_name is not None:
        if loss_name not in LOSS_NAMES:
            raise InvalidArgument("loss_name", f"loss_name={loss_name!r} is not one of {', '.join(LOSS_NAMES)}.")
        return loss_name
    name = getattr(loss_function, "name", None)
    if isinstance(name, str) and name in LOSS_NAMES:  # dlcheck's own LossFunction
        return name
    for kind, known in _BY_CLASS.items():
        if isinstance(loss_function, kind):
            return known
    function_name = getattr(loss_function, "__name__", None)
    if function_name in _BY_FUNCTION:
        return _BY_FUNCTION[function_name]
    raise InvalidArgument(
        "loss_name",
        f"cannot tell which loss {loss_function!r} computes; pass loss_name= one of {', '.join(LOSS_NAMES)}.",
    )


_BY_CLASS: dict[type[nn.Module], str] = {
    nn.CrossEntropyLoss: "cross_entropy",
    nn.BCEWithLogitsLoss: "bce_with_logits",
    nn.MSELoss: "mse",
    nn.L1Loss: "l1",
    nn.HuberLoss: "huber",
    nn.SmoothL1Loss: "huber",
}
_BY_FUNCTION = {
    "cross_entropy": "cross_entropy",
    "binary_cross_entropy_with_logits": "bce_with_logits",
    "mse_loss": "mse",
    "l1_loss": "l1",
    "huber_loss": "huber",
    "smooth_l1_loss": "huber",
}
