"""Copies in the data: one input for every sample, one input with two labels, validation copies of training,
exact or near.

Exact copies are found by a 128-bit BLAKE2 hash of each sample's bytes (dtype and shape included), one pass per
split; near-copies by nearest neighbours among standardised inputs, on a sample (:func:`near_duplicates`).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch

from dlcheck.checks import thresholds
from dlcheck.checks._data_parts import Finding, Split, View
from dlcheck.checks._probe import percent, plural


def identical_inputs(split: Split, findings: list[Finding], metrics: dict[str, Any]) -> None:
    inputs = split.inputs
    if inputs.shape[0] < 2 or inputs.numel() == 0:
        return
    rows = inputs.reshape(inputs.shape[0], -1)
    if bool((rows == rows[:1]).all()):
        metrics["identical_inputs"] = True
        findings.append(
            Finding(
                "fail",
                f"All {split.size} {split.name} inputs are identical: the model cannot tell any sample from another.",
                [
                    "Check the loading code (the same file or index read for every sample, a tensor overwritten in a "
                    "loop, a normalisation that divides by zero)."
                ],
            )
        )


def row_hashes(inputs: torch.Tensor) -> list[bytes]:
    rows = inputs.reshape(inputs.shape[0], -1).contiguous().numpy()
    header = f"{rows.dtype}{tuple(inputs.shape[1:])}".encode()
    return [hashlib.blake2b(header + row.tobytes(), digest_size=16).digest() for row in rows]


def conflicting_labels(train: Split, hashes: list[bytes], findings: list[Finding], metrics: dict[str, Any]) -> None:
    """Exact copies of one input with different targets: label noise no model can fit."""
    if train.targets.is_floating_point() or train.targets.ndim != 1 or metrics.get("identical_inputs"):
        return
    labels: dict[bytes, set[int]] = {}
    for digest, label in zip(hashes, train.targets.tolist(), strict=True):
        labels.setdefault(digest, set()).add(int(label))
    conflicting = {digest for digest, found in labels.items() if len(found) > 1}
    count = sum(1 for digest in hashes if digest in conflicting)
    metrics["conflicting_duplicates"] = count
    fraction = count / max(1, len(hashes))
    if fraction >= thresholds.LEAKAGE_FRACTION_WARN:
        findings.append(
            Finding(
                "warn",
                f"{plural(count, f'{train.name} sample')} ({percent(fraction)}) share their exact input with a "
                "sample of another label: no model can fit both.",
                ["Check the labelling (and the join of inputs with labels); deduplicate or relabel the copies."],
            )
        )


def leakage(
    train: Split, train_hashes: list[bytes], val: Split | None, findings: list[Finding], metrics: dict[str, Any]
) -> None:
    seen = set(train_hashes)
    metrics["duplicates_within_train"] = len(train_hashes) - len(seen)
    if val is None or val.inputs.numel() == 0 or tuple(train.inputs.shape[1:]) != tuple(val.inputs.shape[1:]):
        return
    val_hashes = row_hashes(val.inputs)
    duplicates = sum(digest in seen for digest in val_hashes)
    metrics["duplicates_across_splits"] = duplicates
    fraction = duplicates / len(val_hashes)
    metrics["leakage_fraction"] = fraction
    if fraction >= thresholds.LEAKAGE_FRACTION_WARN:
        sampled = "" if train.exhaustive and val.exhaustive else " (in the samples checked)"
        findings.append(
            Finding(
                "warn",
                f"{plural(duplicates, 'validation sample')} ({percent(fraction)}) are exact copies of training "
                f"samples{sampled}: validation scores will be optimistic.",
                [
                    "Deduplicate before splitting (hash the samples), and split by source (patient, video, "
                    "document) when near-copies come from one source.",
                ],
            )
        )


def _standardised(train_rows: torch.Tensor, val_rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flattened rows standardised per coordinate with training statistics; constant coordinates dropped and at most
    :data:`NEAR_DUPLICATE_COORDINATES` kept (a stride: a near-copy is near in every subset of coordinates)."""
    train = train_rows.reshape(train_rows.shape[0], -1).float()
    val = val_rows.reshape(val_rows.shape[0], -1).float()
    mean, std = train.mean(dim=0), train.std(dim=0, unbiased=False)
    kept = (std > 1e-6 * std.max().clamp_min(1e-30)).nonzero().flatten()
    kept = kept[:: max(1, -(-kept.numel() // thresholds.NEAR_DUPLICATE_COORDINATES))]
    return (train[:, kept] - mean[kept]) / std[kept], (val[:, kept] - mean[kept]) / std[kept]


def _nearest(queries: torch.Tensor, reference: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
    """Distance from every query row to its nearest reference row, ``(q,)``; ``skip[i]`` is a reference row that does
    not count for query ``i`` (the query itself)."""
    nearest = torch.empty(queries.shape[0])
    for begin in range(0, queries.shape[0], 256):  # blocks bound the memory at 256 x reference rows
        block = torch.cdist(queries[begin : begin + 256], reference)  # (b, r)
        if skip is not None:
            block[torch.arange(block.shape[0]), skip[begin : begin + block.shape[0]]] = math.inf
        nearest[begin : begin + block.shape[0]] = block.min(dim=1).values
    return nearest


def _spread_sample(count: int, limit: int) -> torch.Tensor:
    return torch.arange(0, count, max(1, -(-count // limit)))


def near_duplicates(
    train: Split,
    train_view: View,
    train_hashes: list[bytes],
    val: Split,
    val_view: View,
    findings: list[Finding],
    metrics: dict[str, Any],
) -> None:
    """Validation samples that are near-copies of training samples (not exact ones: :func:`leakage` counts those).

    Nearest neighbours among standardised inputs, on a sample. A validation sample is a near-copy when its nearest
    training sample is closer than :data:`NEAR_DUPLICATE_DISTANCE_FRACTION` of the median distance between a training
    sample and its nearest other training sample. How often that happens by chance depends on the data's dimension
    (about 7 % of points in one dimension, 0.7 % in two, nearly never in more), so the rate is compared with the same
    rate among training samples themselves: a random split gives both the same. Warned when validation has clearly
    more near-copies than training has: the validation split re-uses perturbed training samples.

    Not caught: data whose training split is itself full of near-copies (several near-identical samples per source,
    split at random), where validation's rate is no higher than training's. Telling such groups from the natural
    clumps of sparse data (on 5 % of healthy sparse data sets, a rule for it fired) needs the source of each sample:
    split by source.
    """
    train_rows, val_rows, train_step, val_step = train_view.inputs, val_view.inputs, train_view.step, val_view.step
    if train_rows.shape[1:] != val_rows.shape[1:] or min(train_rows.shape[0], val_rows.shape[0]) < 10:
        return
    reference = _spread_sample(train_rows.shape[0], thresholds.NEAR_DUPLICATE_REFERENCE_ROWS)
    standard_train, standard_val = _standardised(train_rows[reference], val_rows)
    if standard_train.shape[1] < 2:  # one coordinate: "near" says nothing but how dense a line is
        return
    # Exact copies are left out on both sides: they are counted (and reported) as such.
    seen = set(train_hashes)
    copies: dict[bytes, int] = {}
    for digest in train_hashes:
        copies[digest] = copies.get(digest, 0) + 1
    val_hashes = row_hashes(val.inputs[::val_step])
    val_queries = [index for index, digest in enumerate(val_hashes) if digest not in seen]
    val_stride = max(1, -(-len(val_queries) // thresholds.NEAR_DUPLICATE_VAL_QUERIES))
    val_queries = val_queries[::val_stride]
    reference_hashes = [train_hashes[int(index) * train_step] for index in reference]
    train_queries = [index for index, digest in enumerate(reference_hashes) if copies[digest] == 1]
    train_queries = train_queries[:: max(1, -(-len(train_queries) // thresholds.NEAR_DUPLICATE_TRAIN_QUERIES))]
    if len(val_queries) < 10 or len(train_queries) < 10:
        return
    own = torch.tensor(train_queries)
    within = _nearest(standard_train[own], standard_train, skip=own)
    typical = float(within.median())
    if typical <= 0:
        return
    radius = thresholds.NEAR_DUPLICATE_DISTANCE_FRACTION * typical
    across = _nearest(standard_val[torch.tensor(val_queries)], standard_train)
    # The reference holds a given training sample (the one a validation sample copies) with this probability.
    coverage = min(1.0, len(reference) / max(1, train.size))
    val_close, train_close = int((across < radius).sum()), int((within < radius).sum())
    val_fraction = min(1.0, val_close / len(val_queries) / coverage)
    train_fraction = min(1.0, train_close / len(train_queries) / coverage)
    metrics["near_duplicate_fraction"] = val_fraction
    metrics["near_duplicate_fraction_within_train"] = train_fraction
    # One-sided Fisher exact test: validation has more near-copies in training than training has in itself.
    from scipy.stats import fisher_exact  # scipy arrives with scikit-image; imported here to keep start-up fast

    table = [[val_close, len(val_queries) - val_close], [train_close, len(train_queries) - train_close]]
    excess_p = float(fisher_exact(table, alternative="greater").pvalue)
    metrics["near_duplicate_p"] = excess_p
    if not (
        val_close >= 3
        and val_fraction - train_fraction >= thresholds.NEAR_DUPLICATE_FRACTION_WARN
        and excess_p < thresholds.NEAR_DUPLICATE_P
    ):
        return
    every_sample = val.exhaustive and val_step == 1 and val_stride == 1 and coverage == 1.0
    sampled = "" if every_sample else " (estimated on a sample)"
    findings.append(
        Finding(
            "warn",
            f"About {percent(val_fraction)} of validation samples are near-copies of training samples{sampled}: "
            f"closer to one than {thresholds.NEAR_DUPLICATE_DISTANCE_FRACTION:g}x the typical distance between "
            f"neighbouring training samples, against {percent(train_fraction)} of training samples among themselves. "
            "Validation scores will be optimistic.",
            [
                "Deduplicate near-copies (augmented, re-encoded or resized versions of one sample, consecutive "
                "frames) before splitting, and split by source (patient, video, document) so that one source "
                "never feeds both splits.",
            ],
        )
    )
