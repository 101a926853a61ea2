"""``data_sanity``: the data as the model will see it, checked before anything is trained on it.

Karpathy's first step ("become one with the data") made mechanical: non-finite values, labels the model has
no output for (found here, before a cryptic index error deep in the loss), inputs far from zero mean and unit
scale, heavy class imbalance (and the baseline it implies), exact duplicates between the training and
validation splits (leakage), and a look at one batch exactly as the model receives it.

Train and validation from one distribution (issue 14): per-feature or per-channel mean and scale compared between
the splits (``_split_shift``: not normalised like training, or drifted), near-copies of training samples in
validation (``_duplicates.near_duplicates``), and one input coordinate that predicts the label almost perfectly
(``_leaking_feature``). Their false-alarm rates on healthy data are measured by
``benchmarks/data_sanity_false_alarms.py``.

Tensor splits are checked whole; map-style Datasets on :data:`~dlcheck.checks.thresholds.DATASET_SAMPLE`
evenly spread items.
"""

from __future__ import annotations

__all__ = ["NAME", "check_data", "data_sanity"]

from typing import TYPE_CHECKING, Any

import torch

from dlcheck.checks import thresholds
from dlcheck.checks._data_parts import Finding, Split, View, as_split, model_view
from dlcheck.checks._duplicates import conflicting_labels, identical_inputs, leakage, near_duplicates, row_hashes
from dlcheck.checks._leaking_feature import leaking_feature
from dlcheck.checks._probe import number, percent, plural, timed
from dlcheck.checks._split_shift import compare_splits
from dlcheck.checks.result import CheckResult, Status
from dlcheck.errors import DlcheckError

if TYPE_CHECKING:
    from dlcheck.checks.subject import CheckSubject

NAME = "data_sanity"
_IGNORE_INDEX = -100  # cross_entropy's default ignore_index: such labels are skipped by the loss


def _non_finite(split: Split, findings: list[Finding], metrics: dict[str, Any]) -> None:
    for part, tensor in (("inputs", split.inputs), ("targets", split.targets)):
        if not tensor.is_floating_point() or tensor.numel() == 0:
            continue
        bad = ~torch.isfinite(tensor.reshape(tensor.shape[0], -1)).all(dim=1)  # (N,)
        count = int(bad.sum())
        metrics[f"non_finite_{split.name}_{part}"] = count
        if count:
            first = int(bad.nonzero()[0, 0])
            findings.append(
                Finding(
                    "fail",
                    f"{plural(count, f'{split.name} sample')} hold NaN or infinite {part} (first: sample {first}"
                    f"{'' if split.exhaustive else ' of the checked sample'}).",
                    [
                        f"Find where the non-finite {part} come from (division by zero, log of 0, missing values read "
                        "as NaN) and clean or drop those samples; every loss they touch becomes NaN."
                    ],
                )
            )


def _label_range(
    split: Split, loss_name: str | None, num_outputs: int | None, findings: list[Finding], metrics: dict[str, Any]
) -> None:
    targets = split.targets
    if targets.numel() == 0:
        return
    if loss_name == "cross_entropy" and not targets.is_floating_point():
        labels = targets[targets != _IGNORE_INDEX]
        if labels.numel() == 0:
            return
        low, high = int(labels.min()), int(labels.max())
        metrics[f"{split.name}_label_range"] = [low, high]
        if num_outputs is None:
            return
        outside = int(((labels < 0) | (labels >= num_outputs)).sum())
        if outside:
            found = high if high >= num_outputs else low
            findings.append(
                Finding(
                    "fail",
                    f"{plural(outside, f'{split.name} label')} fall outside the model's {num_outputs} outputs (found "
                    f"label {found}; cross_entropy needs 0 to {num_outputs - 1}).",
                    [
                        f"If there are {high + 1} classes, make the last layer output {high + 1} values; if labels "
                        f"start at 1, subtract 1; otherwise drop or fix the samples labelled {found}.",
                    ],
                )
            )
            metrics["labels_out_of_range"] = metrics.get("labels_out_of_range", 0) + outside
    elif loss_name == "bce_with_logits":
        values = targets.float()
        outside = int(((values < 0) | (values > 1)).sum())
        if outside:
            findings.append(
                Finding(
                    "fail",
                    f"{plural(outside, f'{split.name} target')} of bce_with_logits lie outside [0, 1] (found "
                    f"{number(float(values.min()))} to {number(float(values.max()))}).",
                    ["bce_with_logits needs 0/1 labels (or probabilities); for several classes use cross_entropy."],
                )
            )
            metrics["labels_out_of_range"] = metrics.get("labels_out_of_range", 0) + outside


def _channel_statistics(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std per feature of (N, F) inputs, per channel of (N, C, ...) inputs."""
    values = inputs.float()
    if values.ndim == 1:
        values = values[:, None]
    dims = [0, *range(2, values.ndim)]  # everything but the feature/channel axis
    return values.mean(dim=dims), values.std(dim=dims, unbiased=False)


def _scale(split: Split, view: View | None, findings: list[Finding], metrics: dict[str, Any], regression: bool) -> None:
    if view is not None and view.inputs.numel():
        rows = view.inputs
        means, stds = _channel_statistics(rows)
        unit = "channel" if rows.ndim >= 3 else "feature"
        worst_mean, worst_std = int(means.abs().argmax()), int(stds.argmax())
        metrics["input_mean_max_abs"] = float(means.abs().max())
        metrics["input_std_max"] = float(stds.max())
        rms = float(rows.pow(2).mean().sqrt())
        metrics["input_rms"] = rms
        if float(means.abs().max()) > thresholds.INPUT_MEAN_WARN or float(stds.max()) > thresholds.INPUT_STD_WARN:
            index = worst_mean if abs(float(means[worst_mean])) > thresholds.INPUT_MEAN_WARN else worst_std
            findings.append(
                Finding(
                    "warn",
                    f"Inputs are far from zero mean and unit scale: {unit} {index} has mean "
                    f"{number(float(means[index]))} and std {number(float(stds[index]))} as the model sees it.",
                    [
                        "Standardise the inputs with training-split statistics: `data.normalize: auto` in a recipe, "
                        "or (x - mean) / std per feature or channel; images in 0..255 also work divided by 255.",
                    ],
                )
            )
        elif rms < thresholds.INPUT_RMS_LOW_WARN:
            findings.append(
                Finding(
                    "warn",
                    f"Inputs are nearly zero at the scale of the model (root-mean-square {number(rms)}).",
                    ["Standardise the inputs (`data.normalize: auto`), or check that they were not scaled twice."],
                )
            )
    if regression and split.targets.is_floating_point() and split.targets.numel():
        targets = split.targets.float()
        target_rms = float(torch.where(torch.isfinite(targets), targets, 0.0).pow(2).mean().sqrt())
        metrics["target_rms"] = target_rms
        if target_rms > thresholds.TARGET_RMS_WARN:
            findings.append(
                Finding(
                    "warn",
                    f"Regression targets are large (root-mean-square {number(target_rms)}): the loss starts in the "
                    "thousands and the last layer needs many steps to reach their scale.",
                    [
                        "Standardise the targets (and undo it on the predictions), or initialise the last bias to "
                        "their mean (Karpathy: 'init well')."
                    ],
                )
            )


def _prior_entropy(counts: torch.Tensor) -> float:
    probabilities = counts.double() / counts.sum()
    probabilities = probabilities[probabilities > 0]
    return float(-(probabilities * probabilities.log()).sum())


def _imbalance(
    split: Split, loss_name: str | None, num_outputs: int | None, findings: list[Finding], metrics: dict[str, Any]
) -> None:
    targets = split.targets
    if targets.is_floating_point() and loss_name != "bce_with_logits":
        return
    if loss_name == "bce_with_logits" or (loss_name is None and targets.ndim == 1 and int(targets.max()) <= 1):
        if targets.ndim > 1 and targets.reshape(targets.shape[0], -1).shape[1] > 1:
            rates = targets.reshape(targets.shape[0], -1).float().mean(dim=0)
            metrics["positive_rate_min"] = float(rates.min())
            return  # multi-label: rare labels are the norm, not a mistake
        counts = torch.stack([(targets.float() < 0.5).sum(), (targets.float() >= 0.5).sum()])
    else:
        labels = targets[targets >= 0].long().reshape(-1)
        if labels.numel() == 0:
            return
        size = max(int(labels.max()) + 1, num_outputs or 0)
        counts = torch.bincount(labels, minlength=size)
        if num_outputs is not None:
            counts = counts[:num_outputs] if counts.numel() > num_outputs else counts
    total = int(counts.sum())
    if total == 0:
        return
    present = counts[counts > 0]
    ratio = float(present.max()) / float(present.min())
    majority = int(counts.argmax())
    metrics["class_counts"] = counts.tolist()
    metrics["imbalance_ratio"] = ratio
    metrics["majority_baseline"] = float(counts.max()) / total
    metrics["prior_entropy"] = _prior_entropy(counts)
    missing = (counts == 0).nonzero().flatten().tolist()
    if missing and split.exhaustive:
        findings.append(
            Finding(
                "warn",
                f"{plural(len(missing), 'class', 'classes')} of the model's outputs have no {split.name} sample "
                f"(class {', '.join(str(index) for index in missing[:5])}{', ...' if len(missing) > 5 else ''}).",
                ["Check the labels: a class the model never sees cannot be learned (and skews its predictions)."],
            )
        )
    if ratio >= thresholds.IMBALANCE_RATIO_WARN:
        findings.append(
            Finding(
                "warn",
                f"Classes are heavily imbalanced: the largest has {number(ratio)}x as many {split.name} samples as "
                f"the smallest; predicting class {majority} always already scores "
                f"{percent(metrics['majority_baseline'])} accuracy.",
                [
                    "Judge the model by per-class recall or balanced accuracy, not accuracy alone.",
                    "Weight the loss by inverse class frequency or resample the classes; initialise the last bias to "
                    "the log of the class prior (Karpathy: 'init well').",
                ],
            )
        )


def _batch_look(batch: Any, metrics: dict[str, Any], details: dict[str, Any]) -> None:
    if batch is None:
        return
    inputs, targets = batch[0], batch[1]
    look: dict[str, Any] = {"shape": list(inputs.shape), "dtype": str(inputs.dtype).replace("torch.", "")}
    if inputs.numel():
        values = inputs.detach().float()
        finite = values[torch.isfinite(values)]
        if finite.numel():
            look.update(
                min=float(finite.min()),
                max=float(finite.max()),
                mean=float(finite.mean()),
                std=float(finite.std(unbiased=False)),
            )
    look["targets_shape"] = list(targets.shape)
    look["targets_dtype"] = str(targets.dtype).replace("torch.", "")
    if targets.numel():
        look["targets_min"], look["targets_max"] = float(targets.min()), float(targets.max())
    details["batch"] = look
    metrics.update({f"batch_{key}": value for key, value in look.items()})


def _one_distribution(
    train: Split,
    train_view: View,
    train_hashes: list[bytes],
    val: Split | None,
    normalization: Any,
    classification: bool,
    findings: list[Finding],
    metrics: dict[str, Any],
) -> None:
    """Train and validation from one distribution: scale and drift, near-copies, a feature that gives the label."""
    val_view = None
    if val is not None and val.inputs.numel() and tuple(val.inputs.shape[1:]) == tuple(train.inputs.shape[1:]):
        val_view = model_view(val, normalization, thresholds.MODEL_VIEW_ROWS)
        compare_splits(train_view.inputs, val_view.inputs, findings, metrics)
        near_duplicates(train, train_view, train_hashes, val, val_view, findings, metrics)
    leaking_feature(
        train_view.inputs,
        train_view.targets,
        val_view.inputs if val_view is not None else None,
        val_view.targets if val_view is not None else None,
        classification=classification,
        findings=findings,
        metrics=metrics,
    )


def _judge(
    train: Split,
    val: Split | None,
    *,
    loss_name: str | None,
    num_outputs: int | None,
    normalization: Any,
    batch: Any,
) -> CheckResult:
    findings: list[Finding] = []
    metrics: dict[str, Any] = {"train_size": train.size, "val_size": val.size if val is not None else 0}
    details: dict[str, Any] = {}
    regression = loss_name in ("mse", "l1", "huber") or (loss_name is None and train.targets.is_floating_point())
    for split in (train, val):
        if split is not None:
            _non_finite(split, findings, metrics)
            _label_range(split, loss_name, num_outputs, findings, metrics)
    identical_inputs(train, findings, metrics)
    # The inputs as the model sees them (normalised), for the value statistics; integer inputs without a
    # normalisation are indices (tokens, categories), not values.
    numeric = train.inputs.numel() > 0 and (train.inputs.is_floating_point() or normalization is not None)
    train_view = model_view(train, normalization, thresholds.MODEL_VIEW_ROWS) if numeric else None
    if not metrics.get("identical_inputs"):  # otherwise scale and copies only repeat that one finding
        _scale(train, train_view, findings, metrics, regression)
    if not regression:
        _imbalance(train, loss_name, num_outputs, findings, metrics)
    if not metrics.get("identical_inputs"):
        train_hashes = row_hashes(train.inputs) if train.inputs.numel() else []
        conflicting_labels(train, train_hashes, findings, metrics)
        leakage(train, train_hashes, val, findings, metrics)
        if train_view is not None:
            _one_distribution(train, train_view, train_hashes, val, normalization, not regression, findings, metrics)
    _batch_look(batch, metrics, details)
    details["findings"] = [{"status": finding.status, "message": finding.message} for finding in findings]
    if not train.exhaustive or (val is not None and not val.exhaustive):
        details["note"] = f"Dataset splits were checked on {thresholds.DATASET_SAMPLE} evenly spread items each."

    failures = [finding for finding in findings if finding.status == "fail"]
    warnings = [finding for finding in findings if finding.status == "warn"]
    ordered = failures + warnings
    advice = [line for finding in ordered for line in finding.advice]
    if ordered:
        status: Status = "fail" if failures else "warn"
        summary = ordered[0].message
        if len(ordered) > 1:
            summary += f" (+{plural(len(ordered) - 1, 'more problem')}: " + " ".join(f.message for f in ordered[1:])
            summary += ")"
        return CheckResult(NAME, status, summary, metrics, list(dict.fromkeys(advice)), details)
    sizes = f"{train.size} train" + (f" / {val.size} val" if val is not None else "") + " samples"
    parts = [sizes]
    if "class_counts" in metrics:
        parts.append(f"{len(metrics['class_counts'])} classes (largest/smallest {number(metrics['imbalance_ratio'])})")
    if "input_rms" in metrics:
        parts.append(
            f"inputs |mean| <= {metrics['input_mean_max_abs']:.2f}, std <= {metrics['input_std_max']:.2f} per "
            f"{'channel' if len(train.inputs.shape) >= 3 else 'feature'}"
        )
    checked = ["no NaN/inf"]
    if num_outputs is not None:
        checked.append("labels in range")
    if val is not None:
        checked.append("no train/val duplicates")
    if "split_shift_units" in metrics:
        checked.append("val scaled like train" + (", no near-copies" if "near_duplicate_fraction" in metrics else ""))
    if "single_feature_best_score" in metrics:
        checked.append("no feature giving the label")
    return CheckResult(NAME, "pass", ", ".join(parts) + "; " + ", ".join(checked) + ".", metrics, [], details)


@timed
def check_data(
    train_inputs: Any,
    train_targets: Any,
    val_inputs: Any = None,
    val_targets: Any = None,
    *,
    num_outputs: int | None = None,
    loss_name: str | None = None,
    batch: tuple[Any, Any] | None = None,
) -> CheckResult:
    """Check data given as tensors (or arrays), as the model will see them (already normalised).

    Parameters
    ----------
    train_inputs, train_targets : torch.Tensor or array_like
        ``(N, ...)`` inputs and ``(N,)`` class indices (or ``(N, ...)`` regression / multi-label targets).
    val_inputs, val_targets : torch.Tensor or array_like, optional
        The validation split, as the model sees it: compared with training (scale, drift, exact and near copies).
    num_outputs : int, optional
        Outputs per sample of the model (the number of classes for ``cross_entropy``): labels outside
        ``0 .. num_outputs - 1`` fail the check.
    loss_name : {"cross_entropy", "bce_with_logits", "mse", "l1", "huber"}, optional
        Decides how targets are read; by default integer targets are class labels, floating ones regression.
    batch : tuple of torch.Tensor, optional
        One ``(inputs, targets)`` batch exactly as the model receives it, described in ``metrics``.

    Returns
    -------
    CheckResult
        ``data_sanity``: ``fail`` for non-finite values or labels outside the outputs, ``warn`` for inputs far
        from unit scale, heavy imbalance, train/validation duplicates or near-copies, a validation split not on
        the training scale or drifted, one feature that gives the label; metrics include ``class_counts``,
        ``majority_baseline``, ``leakage_fraction``, ``split_shift_flagged``, ``near_duplicate_fraction``,
        ``single_feature_best_score`` and ``batch_*`` statistics.

    Examples
    --------
    >>> inputs, labels = torch.randn(100, 3), torch.arange(100) % 4
    >>> check_data(inputs, labels, num_outputs=4).status
    'pass'
    >>> check_data(inputs, labels, num_outputs=3).status
    'fail'
    """
    if loss_name is None:  # integer labels are classes (cross_entropy), floats regression
        targets = torch.as_tensor(train_targets)
        loss_name = "cross_entropy" if not targets.is_floating_point() and targets.ndim == 1 else None
    val = None
    if val_inputs is not None and val_targets is not None:
        val = as_split("validation", (val_inputs, val_targets))
    train = as_split("training", (train_inputs, train_targets))
    assert train is not None
    return _judge(train, val, loss_name=loss_name, num_outputs=num_outputs, normalization=None, batch=batch)


def _num_outputs(subject: CheckSubject) -> int | None:
    shape = tuple(subject.summary.output_shape)
    if subject.loss_name == "cross_entropy":
        return int(shape[0]) if shape else None
    return None


@timed
def data_sanity(subject: CheckSubject) -> CheckResult:
    """:func:`check_data` on a recipe's splits (normalised as training normalises them) and its first batch."""
    data = subject.data
    train = as_split("training", data.train)
    assert train is not None
    val = as_split("validation", data.val)
    try:
        batch = subject.first_batch("train")
    except DlcheckError:  # e.g. augmentation that does not fit the inputs: reported where it is built
        batch = None
    return _judge(
        train,
        val,
        loss_name=subject.loss_name,
        num_outputs=_num_outputs(subject),
        normalization=data.normalization,
        batch=batch,
    )
