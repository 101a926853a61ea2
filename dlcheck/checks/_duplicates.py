"""Exact copies in the data: one input for every sample, one input with two labels, validation copies of training.

Samples are compared by a 128-bit BLAKE2 hash of their bytes (dtype and shape included), one pass per split.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from dlcheck.checks import thresholds
from dlcheck.checks._data_parts import Finding, Split
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
