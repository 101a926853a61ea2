"""One input feature that predicts the label almost perfectly: the label (or an ID sorted by it) leaking into the inputs.

Every input coordinate (a tabular feature, or a pixel or time step of an image or sequence) is tried alone:

- classification: each held-out sample (the validation split, else the odd rows of training after fitting on the
  even ones) takes the label of the training sample nearest to it in that coordinate alone, and the prediction is
  scored by balanced accuracy, so that a majority class does not help;
- regression: the absolute Spearman rank correlation of the coordinate with the target (a copy of the target, or
  any monotone function of it, gives 1).

A real problem whose one feature separates the classes perfectly exists, but is then not a problem for a network;
the warning says which coordinate and how well it predicts, so the user can tell. Data with a single coordinate
is not checked: there, the feature predicting the label is the problem itself.
"""

from __future__ import annotations

from typing import Any

import torch

from dlcheck.checks import thresholds
from dlcheck.checks._data_parts import Finding
from dlcheck.checks._probe import number, percent


def _columns(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, K)`` coordinates of flattened rows (at most :data:`LEAK_MAX_COORDINATES`, a stride) and their indices."""
    flat = rows.reshape(rows.shape[0], -1)
    index = torch.arange(0, flat.shape[1], max(1, -(-flat.shape[1] // thresholds.LEAK_MAX_COORDINATES)))
    return flat[:, index].double(), index


def _balanced_accuracy_per_column(
    fit: torch.Tensor, fit_labels: torch.Tensor, score: torch.Tensor, score_labels: torch.Tensor
) -> torch.Tensor:
    """Balanced accuracy, per column, of predicting each held-out label from the training sample nearest in that
    column alone (1-nearest neighbour in one dimension), ``(K,)``.

    Nearest neighbours, not bins: a column holding the label with jitter has a gap between classes, and a nearest
    neighbour never crosses a gap, so it scores 100 %. Fixed bins straddle the gaps and cost a perfect column up to
    a few percent, which is enough to miss it at a 99 % line (seen: 98.6 % on a column ``10 * label + U(0, 1)``).
    An ordinary feature with overlapping classes scores lower with one neighbour than with a majority vote, so
    the rule cannot raise false alarms there. Ties in value are broken by order; a tie group that mixes labels is
    not a perfect predictor anyway.
    """
    classes = int(torch.cat([fit_labels, score_labels]).max()) + 1
    values, order = fit.sort(dim=0)  # (n_fit, K) each column ascending
    labels = fit_labels[order].T.contiguous()  # (K, n_fit): labels in that order
    values = values.T.contiguous()  # (K, n_fit)
    held = score.T.contiguous()  # (K, n_score)
    right = torch.searchsorted(values, held).clamp_max(values.shape[1] - 1)  # first training value >= each one
    left = (right - 1).clamp_min(0)
    closer_right = (torch.gather(values, 1, right) - held).abs() < (held - torch.gather(values, 1, left)).abs()
    nearest = torch.where(closer_right, right, left)  # (K, n_score)
    predicted = torch.gather(labels, 1, nearest)
    correct = predicted == score_labels[None, :]
    present = torch.bincount(score_labels, minlength=classes)
    recall = torch.zeros(fit.shape[1], classes, dtype=torch.float64)
    recall.index_add_(1, score_labels, correct.double())
    recall = recall[:, present > 0] / present[present > 0]
    return recall.mean(dim=1)


def _ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks per column (ties broken by order: a constant column then has no correlation but a spurious one, so
    constant columns are masked by the caller)."""
    return values.argsort(dim=0).argsort(dim=0).double()


def leaking_feature(
    train_rows: torch.Tensor,
    train_targets: torch.Tensor,
    val_rows: torch.Tensor | None,
    val_targets: torch.Tensor | None,
    *,
    classification: bool,
    findings: list[Finding],
    metrics: dict[str, Any],
) -> None:
    """Warn when one input coordinate alone predicts the label almost perfectly; the best score goes in metrics."""
    columns, index = _columns(train_rows)
    if columns.shape[1] < 2 or columns.shape[0] < thresholds.LEAK_MIN_SAMPLES:
        return
    targets = train_targets.reshape(train_targets.shape[0], -1)
    if targets.shape[1] != 1:
        return  # multi-output or multi-label targets: no single label to predict
    target = targets[:, 0]
    varying = columns.std(dim=0) > 0
    if classification:
        labels = target.long()
        if labels.min() < 0 or int(labels.max()) >= thresholds.LEAK_MAX_CLASSES or labels.unique().numel() < 2:
            return
        if val_rows is not None and val_targets is not None and val_rows.shape[1:] == train_rows.shape[1:]:
            held, _ = _columns(val_rows)
            held_labels = val_targets.reshape(val_targets.shape[0], -1)[:, 0].long()
            keep = (held_labels >= 0) & (held_labels <= int(labels.max()))
            fit, fit_labels, score, score_labels = columns, labels, held[keep], held_labels[keep]
        else:
            fit, fit_labels, score, score_labels = columns[0::2], labels[0::2], columns[1::2], labels[1::2]
        if score.shape[0] < thresholds.LEAK_MIN_SAMPLES // 2:
            return
        quality = _balanced_accuracy_per_column(fit, fit_labels, score, score_labels)
        quality = torch.where(varying, quality, torch.zeros_like(quality))
        measure, limit = "balanced accuracy", thresholds.LEAK_BALANCED_ACCURACY_WARN
    else:
        ranks = _ranks(columns)
        target_ranks = target.double().argsort().argsort().double()
        ranks = ranks - ranks.mean(dim=0)
        target_ranks = target_ranks - target_ranks.mean()
        denominator = (ranks.pow(2).sum(dim=0) * target_ranks.pow(2).sum()).sqrt().clamp_min(1e-300)
        quality = ((ranks * target_ranks[:, None]).sum(dim=0) / denominator).abs()
        quality = torch.where(varying, quality, torch.zeros_like(quality))
        measure, limit = "rank correlation", thresholds.LEAK_RANK_CORRELATION_WARN
    best = int(quality.argmax())
    score_value = float(quality[best])
    metrics["single_feature_best_score"] = score_value
    if score_value < limit:
        return
    unit = "feature" if train_rows.ndim == 2 else "input coordinate"
    where = f"{unit} {int(index[best])}"
    shown = percent(score_value) if classification else number(score_value)
    findings.append(
        Finding(
            "warn",
            f"{where.capitalize()} alone predicts the {'label' if classification else 'target'} almost perfectly "
            f"({measure} {shown}): the label may be leaking into the inputs.",
            [
                f"Check what {where} is: a copy or encoding of the label, an ID or timestamp sorted by class, or a "
                "measurement taken after the outcome must not be an input. If it is a genuine feature, the problem "
                "needs no network.",
            ],
        )
    )
