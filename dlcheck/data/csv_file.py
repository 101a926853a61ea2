"""``csv`` source: a table with a header row, numeric feature columns and one label column.

Labels that are all integers mean classification; other numbers mean regression; anything else is a string
label, mapped to a class index in sorted order. A cell that is not a number is reported with its line and
column, since that is where the user has to look.
"""

from __future__ import annotations

__all__ = ["read_csv"]

import array
import csv
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlcheck.data._targets import as_target_tensor
from dlcheck.errors import DataError


def _column_index(header: list[str], name: str, option: str, path: Path) -> int:
    if name not in header:
        raise DataError(f"data.{option}: {path.name} has no column {name!r}; its columns are {header}")
    return header.index(name)


def _parse_labels(values: list[str]) -> np.ndarray:
    # int first: "3" is a class; "3.5" (or "3.0") is a regression value; "cat" is a class name.
    try:
        return np.array([int(value) for value in values], dtype=np.int64)
    except ValueError:
        pass
    try:
        return np.array([float(value) for value in values], dtype=np.float32)
    except ValueError:
        return np.array([value.strip() for value in values])


def _read_rows(
    rows: Any, path: Path, *, features: list[str] | None, target: str | None
) -> tuple[list[str], int, list[int], array.array[float], list[str]]:
    try:
        header = [name.strip() for name in next(rows)]
    except StopIteration:
        raise DataError(f"data.path: {path} is empty; expected a header row and one row per sample") from None
    target_index = len(header) - 1 if target is None else _column_index(header, target, "target", path)
    if features is None:
        feature_indices = [index for index in range(len(header)) if index != target_index]
    else:
        feature_indices = [_column_index(header, name, "features", path) for name in features]
        if target_index in feature_indices:  # the label as an input: a perfect, useless model
            raise DataError(
                f"data.features: lists the target column {header[target_index]!r}; remove it from `features`"
            )
    if not feature_indices:
        raise DataError(f"data.features: {path.name} has no feature column besides the target {header[target_index]!r}")
    values = array.array("f")
    labels: list[str] = []
    for row in rows:
        line = rows.line_num
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines, e.g. a trailing newline
        if len(row) != len(header):
            raise DataError(
                f"{path.name}:{line}: the row has {len(row)} cells but the header has {len(header)} columns"
            )
        for index in feature_indices:
            cell = row[index]
            try:
                values.append(float(cell))
            except ValueError:
                raise DataError(
                    f"{path.name}:{line}: column {header[index]!r} holds {cell[:40]!r}, which is not a number; "
                    "fix the cell, or leave the column out with `data.features`"
                ) from None
        label = row[target_index].strip()
        if not label:
            raise DataError(f"{path.name}:{line}: the label column {header[target_index]!r} is empty")
        labels.append(label)
    if not labels:
        raise DataError(f"data.path: {path} has a header but no rows")
    return header, target_index, feature_indices, values, labels


def read_csv(
    path: Path, *, features: list[str] | None, target: str | None
) -> tuple[torch.Tensor, torch.Tensor, list[str] | None]:
    """Read a CSV file with a header row.

    Parameters
    ----------
    path : pathlib.Path
        The file (UTF-8; a byte-order mark is ignored).
    features : list of str or None
        ``data.features``: feature columns, in this order; ``None`` takes every column but the target.
    target : str or None
        ``data.target``: the label column; ``None`` takes the last column.

    Returns
    -------
    inputs : torch.Tensor
        ``(N, F)`` float32.
    targets : torch.Tensor
        ``(N,)`` int64 labels or float32 values.
    class_names : list of str or None
        Sorted names when the labels are strings.

    Raises
    ------
    DataError
        For a missing column, a row of the wrong length, a non-numeric feature (naming line and column), an
        empty table, a file that is not UTF-8, or one the csv module cannot read (a cell over its size limit).
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header, target_index, feature_indices, values, labels = _read_rows(
                csv.reader(handle), path, features=features, target=target
            )
    except UnicodeDecodeError as error:
        raise DataError(
            f"data.path: {path} is not UTF-8 text (found the byte {error.object[error.start : error.start + 1]!r}); "
            "save the table as UTF-8 CSV"
        ) from None
    except csv.Error as error:  # e.g. a cell over csv.field_size_limit(), usually a binary or broken file
        raise DataError(
            f"data.path: {path} is not a readable CSV table ({error}); check that it is the right file"
        ) from None
    rows = len(labels)
    # One float32 buffer, filled row by row: 4 bytes a cell instead of a Python float's 32 in nested lists.
    inputs = torch.from_numpy(np.frombuffer(values, dtype=np.float32).reshape(rows, len(feature_indices)))  # (N, F)
    targets, names = as_target_tensor(
        _parse_labels(labels), f"data.path ({path.name}), column {header[target_index]!r}"
    )
    return inputs, targets, names
