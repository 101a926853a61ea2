"""Read metrics from CSV logs: Lightning's CSVLogger ``metrics.csv``, Keras' CSVLogger (any file name), any
table with a step or epoch column.

Lightning writes sparse rows (training and validation metrics on different lines, the other cells
empty): an empty cell is a missing value, while ``nan``/``inf`` are logged non-finite values. The step
comes from the first column named like a step (:data:`STEP_COLUMNS`), else from ``epoch``, else the row
number. Columns holding mostly text are not series; a stray text cell in a numeric column is skipped and
counted.

Keras' ``CSVLogger(append=True)`` and re-run scripts append runs to one file: a repeated header row, or a
step/epoch counter that goes back to (or below) where the current run started, starts a new run; a counter
that goes back less far is a resume, whose later values replace the earlier ones (as TensorBoard does).
Each part becomes its own run and the report says how the file was split.
"""

from __future__ import annotations

__all__ = ["EPOCH_COLUMNS", "STEP_COLUMNS", "looks_like_csv_log", "read_csv_log", "read_csv_logs"]

import csv
import math
from pathlib import Path

import numpy as np

from dlcheck.curves.log_run import LogRun, RunFacts, assemble_series, epochs_from_series
from dlcheck.curves.safe_io import read_text
from dlcheck.curves.series import Series, classify_name
from dlcheck.errors import InputError

STEP_COLUMNS = ("step", "global_step", "_step", "trainer/global_step", "iteration", "iter", "it", "batch")
EPOCH_COLUMNS = ("epoch", "epochs")
_MAX_LINE = 100_000  # characters in one CSV line; below the csv module's field limit of 131,072
_TEXT_SHARE = 0.5  # a column is numeric when at most half of its filled cells are text


def _find_column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [column.strip().lower() for column in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def looks_like_csv_log(first_line: str) -> bool:
    """A header naming a step or epoch column and a loss or accuracy: a metrics table whatever its file name.

    >>> looks_like_csv_log("epoch,acc,loss,val_acc,val_loss"), looks_like_csv_log("name,age")
    (True, False)
    """
    cells = [cell.strip().strip('"').lower() for cell in first_line.split(",")]
    if len(cells) < 2:
        return False
    has_step = any(cell in STEP_COLUMNS or cell in EPOCH_COLUMNS for cell in cells)
    has_metric = any(classify_name(cell).role is not None for cell in cells)
    return has_step and has_metric


def _number(cell: str) -> float | None:
    """A cell as a float (``nan``/``inf`` included); ``None`` for text."""
    try:
        return float(cell)
    except (ValueError, OverflowError):
        return None


def _rows(path: Path) -> tuple[list[list[str]], list[str]]:
    text = read_text(path)
    lines = text.text.splitlines()
    kept = [line for line in lines if len(line) <= _MAX_LINE]
    if len(kept) < len(lines):  # the csv module refuses fields past 131,072 characters; a metrics row is short
        text.notes.append(f"{path.name}: {len(lines) - len(kept)} line(s) longer than {_MAX_LINE:,} characters skipped")
    try:
        rows = list(csv.reader(kept))
    except csv.Error as error:
        raise InputError(f"{path}: is not a CSV log dlcheck can read ({error}).") from error
    return [row for row in rows if row and any(cell.strip() for cell in row)], text.notes


def _segments(header: list[str], body: list[list[str]], step_column: int | None) -> tuple[list[list[list[str]]], int]:
    """Split ``body`` into runs at repeated headers and at step counters that restart; count resumes."""
    segments: list[list[list[str]]] = [[]]
    first: float | None = None
    last: float | None = None
    resumes = 0
    for row in body:
        if [cell.strip() for cell in row] == header:
            if segments[-1]:
                segments.append([])
            first = last = None
            continue
        step = _number(row[step_column].strip()) if step_column is not None and step_column < len(row) else None
        if step is not None and math.isfinite(step):
            if last is not None and step < last:
                if first is not None and step <= first:
                    segments.append([])
                    first = None
                else:
                    resumes += 1
            first = step if first is None else first
            last = step
        segments[-1].append(row)
    return [segment for segment in segments if segment], resumes


def read_csv_logs(path: Path, *, name: str) -> list[LogRun]:
    """Every run in a CSV file with a header row (appended runs split).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "training.log"
    >>> _ = path.write_text("epoch,loss,val_loss\\n0,2.0,2.1\\n1,1.5,1.7\\n0,2.2,2.3\\n1,1.4,1.6\\n2,1.1,1.3\\n")
    >>> [(run.name, run.find("loss").values.tolist()) for run in read_csv_logs(path, name="demo")]
    [('demo (run 1 of 2)', [2.0, 1.5]), ('demo (run 2 of 2)', [2.2, 1.4, 1.1])]
    """
    rows, notes = _rows(path)
    if len(rows) < 2:
        raise InputError(f"{path}: needs a header row and at least one row of values; found {len(rows)} row(s).")
    header = [cell.strip() for cell in rows[0]]
    step_column = _find_column(header, STEP_COLUMNS)
    epoch_column = _find_column(header, EPOCH_COLUMNS)
    counter = step_column if step_column is not None else epoch_column
    segments, resumes = _segments(header, rows[1:], counter)
    runs = []
    for index, body in enumerate(segments):
        label = name if len(segments) == 1 else f"{name} (run {index + 1} of {len(segments)})"
        run = _table_run(path, label, header, body, step_column, epoch_column)
        run.facts.notes[:0] = notes
        if len(segments) > 1:
            run.facts.notes.append(
                f"{path.name} holds {len(segments)} runs one after another (a repeated header or a step counter "
                "that starts again): each is judged on its own"
            )
        if resumes:
            run.facts.notes.append(
                f"the step counter went back {resumes} time(s) without starting over (a resumed run): later "
                "values replace earlier ones"
            )
        runs.append(run)
    return runs


def read_csv_log(path: Path, *, name: str) -> LogRun:
    """The first run of a CSV file (see :func:`read_csv_logs` for files holding several).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "metrics.csv"
    >>> _ = path.write_text("epoch,step,train_loss,val_loss\\n0,9,2.1,\\n0,9,,2.0\\n1,19,1.5,\\n1,19,,1.7\\n")
    >>> run = read_csv_log(path, name="demo")
    >>> [(series.name, series.steps.tolist(), series.values.tolist()) for series in run.series]
    [('train_loss', [9.0, 19.0], [2.1, 1.5]), ('val_loss', [9.0, 19.0], [2.0, 1.7])]
    """
    return read_csv_logs(path, name=name)[0]


def _table_run(
    path: Path,
    name: str,
    header: list[str],
    body: list[list[str]],
    step_column: int | None,
    epoch_column: int | None,
) -> LogRun:
    units = "step"
    if step_column is None and epoch_column is not None:
        step_column, units = epoch_column, "epoch"
    width = len(header)
    row_steps = np.full(len(body), np.nan)
    bad_steps = 0
    for index, row in enumerate(body):
        if step_column is None:
            row_steps[index] = index
            continue
        cell = row[step_column].strip() if step_column < len(row) else ""
        value = _number(cell) if cell else math.nan
        if value is None:
            bad_steps += 1
            value = math.nan
        row_steps[index] = value
    if step_column is None:
        units = "row"
    if step_column is not None and units == "step" and np.isnan(row_steps).all() and epoch_column is not None:
        step_column, units = epoch_column, "epoch"
        row_steps = np.array([_float_or_nan(row[epoch_column] if epoch_column < len(row) else "") for row in body])
    series: list[Series] = []
    skip = {step_column, epoch_column}
    skipped_cells = 0
    repeated = 0
    for column in range(width):
        if column in skip or not header[column]:
            continue
        steps: list[float] = []
        values: list[float] = []
        text_cells = 0
        for index, row in enumerate(body):
            cell = row[column].strip() if column < len(row) else ""
            if not cell or math.isnan(row_steps[index]):
                continue
            number = _number(cell)
            if number is None:
                text_cells += 1
                continue
            values.append(number)
            steps.append(row_steps[index])
        if values and text_cells <= _TEXT_SHARE * (text_cells + len(values)):
            series.append(assemble_series(header[column], steps, values, units))
            skipped_cells += text_cells
            repeated = max(repeated, len(steps) - len(set(steps)))
    facts = RunFacts()
    if bad_steps:
        facts.notes.append(f"{bad_steps} row(s) whose `{header[step_column or 0]}` is not a number were skipped")
    if skipped_cells:
        facts.notes.append(f"{skipped_cells} non-numeric cell(s) in numeric columns were skipped")
    if repeated:
        facts.notes.append(
            f"{repeated} row(s) repeat an earlier {units} (a resume or a re-written row): later values kept"
        )
    if epoch_column is not None and units != "epoch":
        epochs = np.array([_float_or_nan(row[epoch_column] if epoch_column < len(row) else "") for row in body])
        table_steps, table_epochs, per_epoch = epochs_from_series(row_steps, epochs)
        order = np.argsort(table_steps, kind="stable")
        facts.epoch_steps, facts.epoch_values = table_steps[order], table_epochs[order]
        if per_epoch is not None:
            facts.steps_per_epoch, facts.steps_per_epoch_source = per_epoch, "the `epoch` column"
    if units == "row":
        facts.notes.append("no step or epoch column: steps are row numbers")
    lightning = path.name == "metrics.csv" and step_column is not None and header[step_column].lower() == "step"
    return LogRun(
        name, path, "lightning-csv" if lightning else "csv", sorted(series, key=lambda item: item.name), facts
    )


def _float_or_nan(cell: str) -> float:
    value = _number(cell.strip()) if cell.strip() else math.nan
    return math.nan if value is None else value
