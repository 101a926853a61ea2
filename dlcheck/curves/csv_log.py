"""Read metrics from CSV logs: Lightning's CSVLogger ``metrics.csv``, Keras' CSVLogger, any table with a step column.

Lightning writes sparse rows (training and validation metrics on different lines, the other cells
empty): an empty cell is a missing value, while ``nan``/``inf`` are logged non-finite values. The step
comes from the first column named like a step (:data:`STEP_COLUMNS`), else from ``epoch``, else the row
number. Columns holding text are not series.
"""

from __future__ import annotations

__all__ = ["EPOCH_COLUMNS", "STEP_COLUMNS", "read_csv_log"]

import csv
import math
from pathlib import Path

import numpy as np

from dlcheck.curves.log_run import LogRun, RunFacts, assemble_series, epochs_from_series
from dlcheck.curves.series import Series
from dlcheck.errors import InputError

STEP_COLUMNS = ("step", "global_step", "_step", "trainer/global_step", "iteration", "iter", "it", "batch")
EPOCH_COLUMNS = ("epoch", "epochs")


def _find_column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [column.strip().lower() for column in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def read_csv_log(path: Path, *, name: str) -> LogRun:
    """One run from a CSV file with a header row.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "metrics.csv"
    >>> _ = path.write_text("epoch,step,train_loss,val_loss\\n0,9,2.1,\\n0,9,,2.0\\n1,19,1.5,\\n1,19,,1.7\\n")
    >>> run = read_csv_log(path, name="demo")
    >>> [(series.name, series.steps.tolist(), series.values.tolist()) for series in run.series]
    [('train_loss', [9.0, 19.0], [2.1, 1.5]), ('val_loss', [9.0, 19.0], [2.0, 1.7])]
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: is not a text CSV file ({error.reason}); give a CSV log with a header row."
        ) from error
    rows = [row for row in rows if row and any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise InputError(f"{path}: needs a header row and at least one row of values; found {len(rows)} row(s).")
    header = [cell.strip() for cell in rows[0]]
    body = rows[1:]
    step_column = _find_column(header, STEP_COLUMNS)
    epoch_column = _find_column(header, EPOCH_COLUMNS)
    units = "step"
    if step_column is None and epoch_column is not None:
        step_column, units = epoch_column, "epoch"
    width = len(header)
    row_steps = np.full(len(body), np.nan)
    for index, row in enumerate(body):
        if step_column is None:
            row_steps[index] = index
            continue
        cell = row[step_column].strip() if step_column < len(row) else ""
        try:
            row_steps[index] = float(cell) if cell else np.nan
        except ValueError as error:
            raise InputError(
                f"{path}: line {index + 2}: the step column `{header[step_column]}` holds {cell!r}, not a number; "
                "fix the file or give the log in another format."
            ) from error
    if step_column is None:
        units = "row"
    if step_column is not None and units == "step" and np.isnan(row_steps).all() and epoch_column is not None:
        step_column, units = epoch_column, "epoch"
        row_steps = np.array([_float_or_nan(row[epoch_column] if epoch_column < len(row) else "") for row in body])
    series: list[Series] = []
    skip = {step_column, epoch_column}
    for column in range(width):
        if column in skip or not header[column]:
            continue
        steps: list[float] = []
        values: list[float] = []
        numeric = True
        for index, row in enumerate(body):
            cell = row[column].strip() if column < len(row) else ""
            if not cell or math.isnan(row_steps[index]):
                continue
            try:
                values.append(float(cell))
            except ValueError:
                numeric = False
                break
            steps.append(row_steps[index])
        if numeric and values:
            series.append(assemble_series(header[column], steps, values, units))
    facts = RunFacts()
    if epoch_column is not None and units != "epoch":
        epochs = np.array([_float_or_nan(row[epoch_column] if epoch_column < len(row) else "") for row in body])
        table_steps, table_epochs, per_epoch = epochs_from_series(row_steps, epochs)
        order = np.argsort(table_steps, kind="stable")
        facts.epoch_steps, facts.epoch_values = table_steps[order], table_epochs[order] + 1.0
        if per_epoch is not None:
            facts.steps_per_epoch, facts.steps_per_epoch_source = per_epoch, "the `epoch` column"
    if units == "row":
        facts.notes.append("no step or epoch column: steps are row numbers")
    lightning = path.name == "metrics.csv" and step_column is not None and header[step_column].lower() == "step"
    return LogRun(
        name, path, "lightning-csv" if lightning else "csv", sorted(series, key=lambda item: item.name), facts
    )


def _float_or_nan(cell: str) -> float:
    try:
        return float(cell) if cell.strip() else math.nan
    except ValueError:
        return math.nan
