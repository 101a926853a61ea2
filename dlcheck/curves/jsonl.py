"""Read metrics from JSON logs: JSONL (one record per line) and Hugging Face's ``trainer_state.json``.

A record is an object of numbers, with a step key (:data:`STEP_KEYS`, else ``epoch``, else the line
number). ``null`` is a logged non-finite value (JSON has no NaN) and so are the strings ``"nan"``,
``"inf"``; a key that is absent is missing. Nested objects are flattened with ``/``
(``{"train": {"loss": 1}}`` is ``train/loss``). When records carry a ``kind`` (dlcheck writes ``step``
and ``epoch`` records) and one key appears under several kinds, the less frequent kinds get a suffix:
``train/loss`` per step, ``train/loss@epoch`` per epoch.
"""

from __future__ import annotations

__all__ = ["STEP_KEYS", "read_jsonl_log", "read_jsonl_logs", "read_records", "read_trainer_state"]

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dlcheck.curves.log_run import LogRun, RunFacts, assemble_series, epochs_from_series, number_or_none
from dlcheck.curves.safe_io import parse_json, read_text
from dlcheck.curves.series import Series
from dlcheck.errors import InputError

STEP_KEYS = ("step", "global_step", "_step", "iteration", "iter", "it")
_KIND_KEYS = ("kind",)
_NOT_METRICS = frozenset({"kind", "timestamp", "time", "wall_time", "_timestamp", "_runtime"})


def _flatten(record: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, name + "/")
        else:
            yield name, value


def read_records(records: list[dict[str, Any]], *, source: str) -> tuple[list[Series], RunFacts]:
    """Series and facts from a list of flat-or-nested records.

    Examples
    --------
    >>> series, facts = read_records([{"step": 1, "loss": 2.0}, {"step": 2, "loss": None}], source="demo")
    >>> series[0].name, series[0].values.tolist()
    ('loss', [2.0, nan])
    """
    if not records:
        return [], RunFacts()
    keys = {key for record in records for key in record}
    step_key = next((key for key in STEP_KEYS if key in keys), None)
    units = "step"
    if step_key is None and "epoch" in keys:
        step_key, units = "epoch", "epoch"
    kind_key = next((key for key in _KIND_KEYS if key in keys), None)
    # (name, kind) -> lists; kinds decide the suffixes afterwards
    steps: dict[tuple[str, str], list[float]] = {}
    values: dict[tuple[str, str], list[float]] = {}
    textual: set[str] = set()
    epoch_steps: list[float] = []
    epoch_values: list[float] = []
    for index, record in enumerate(records):
        step = number_or_none(record.get(step_key)) if step_key is not None else float(index)
        if step is None or np.isnan(step):
            continue
        kind = str(record.get(kind_key, "")) if kind_key is not None else ""
        for name, raw in _flatten(record):
            if name == step_key or name in _NOT_METRICS:
                continue
            number = number_or_none(raw)
            if number is None:
                textual.add(name)
                continue
            if name == "epoch":
                if kind in ("", "step"):
                    epoch_steps.append(step)
                    epoch_values.append(number)
                if step_key != "epoch":
                    continue
            steps.setdefault((name, kind), []).append(step)
            values.setdefault((name, kind), []).append(number)
    kinds_of: dict[str, Counter[str]] = {}
    for name, kind in steps:
        kinds_of.setdefault(name, Counter())[kind] = len(steps[(name, kind)])
    series = []
    for (name, kind), logged in steps.items():
        if name in textual:
            continue
        counts = kinds_of[name]
        main_kind = counts.most_common(1)[0][0]
        label = name if kind == main_kind or len(counts) == 1 else f"{name}@{kind}"
        series.append(assemble_series(label, logged, values[(name, kind)], units))
    facts = RunFacts()
    if len(epoch_steps) >= 2:
        table_steps, table_epochs, per_epoch = epochs_from_series(np.array(epoch_steps), np.array(epoch_values))
        facts.epoch_steps, facts.epoch_values = table_steps, table_epochs
        if per_epoch is not None:
            facts.steps_per_epoch, facts.steps_per_epoch_source = per_epoch, f"the `epoch` values of {source}"
    if step_key is None:
        facts.notes.append("no step key: steps are record numbers")
    return sorted(series, key=lambda item: item.name), facts


def _split_records(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split appended runs: a step counter that goes back to (or below) where the current run started."""
    keys = {key for record in records for key in record}
    step_key = next((key for key in STEP_KEYS if key in keys), None) or ("epoch" if "epoch" in keys else None)
    if step_key is None:
        return [records]
    parts: list[list[dict[str, Any]]] = [[]]
    first: float | None = None
    for record in records:
        step = number_or_none(record.get(step_key))
        if step is not None and not np.isnan(step):
            if first is not None and parts[-1] and step <= first and step < _last_step(parts[-1], step_key):
                parts.append([])
                first = None
            first = step if first is None else first
        parts[-1].append(record)
    return [part for part in parts if part]


def _last_step(records: list[dict[str, Any]], step_key: str) -> float:
    for record in reversed(records):
        step = number_or_none(record.get(step_key))
        if step is not None and not np.isnan(step):
            return step
    return -np.inf


def read_jsonl_logs(path: Path, *, name: str, format_name: str = "jsonl") -> list[LogRun]:
    """Every run of a JSONL file (one JSON object per line; appended runs split).

    Lines that are not JSON objects are skipped and counted; a file where most lines are not is refused.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "log.txt"
    >>> _ = path.write_text('{"it": 0, "loss": 2}\\n{"it": 5, "loss": 1}\\n{"it": 0, "loss": 0.9}\\n{"it": 5, "loss": 0.8}\\n')
    >>> [run.find("loss").values.tolist() for run in read_jsonl_logs(path, name="demo")]
    [[2.0, 1.0], [0.9, 0.8]]
    """
    text = read_text(path)
    records: list[dict[str, Any]] = []
    lines = text.text.splitlines()
    bad: list[int] = []
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            record = parse_json(stripped, where=f"{path}: line {number}")
        except InputError:
            bad.append(number)
            continue
        if not isinstance(record, dict):
            bad.append(number)
            continue
        records.append(record)
    if bad and (not records or len(bad) > len(records)):
        raise InputError(
            f"{path}: line {bad[0]} is not a JSON object of metrics ({len(bad)} such lines); a JSONL log has one "
            "JSON object per line."
        )
    parts = _split_records(records)
    runs = []
    for index, part in enumerate(parts):
        label = name if len(parts) == 1 else f"{name} (run {index + 1} of {len(parts)})"
        series, facts = read_records(part, source=path.name)
        facts.notes[:0] = text.notes
        if bad and not (len(bad) == 1 and bad[0] == len(lines)):
            facts.notes.append(f"{len(bad)} line(s) that are not JSON objects were skipped (first: line {bad[0]})")
        if len(parts) > 1:
            facts.notes.append(
                f"{path.name} holds {len(parts)} runs one after another (the step counter starts again): each is "
                "judged on its own"
            )
        runs.append(LogRun(label, path, format_name, series, facts))
    return runs


def read_jsonl_log(path: Path, *, name: str, format_name: str = "jsonl") -> LogRun:
    """The first run of a JSONL file (see :func:`read_jsonl_logs`)."""
    return read_jsonl_logs(path, name=name, format_name=format_name)[0]


def read_trainer_state(path: Path, *, name: str) -> LogRun:
    """One run from a Hugging Face ``trainer_state.json`` (its ``log_history``)."""
    text = read_text(path)
    state = parse_json(text.text, where=str(path))
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise InputError(f"{path}: has no `log_history` list; is it a Hugging Face trainer_state.json?")
    records = [record for record in history if isinstance(record, dict)]
    series, facts = read_records(records, source=path.name)
    facts.notes[:0] = text.notes
    max_steps, epochs = state.get("max_steps"), state.get("num_train_epochs")
    if (
        isinstance(max_steps, (int, float))
        and isinstance(epochs, (int, float))
        and not isinstance(max_steps, bool)
        and 0 < max_steps < 1e15
        and 0 < epochs < 1e9
    ):
        facts.steps_per_epoch, facts.steps_per_epoch_source = max_steps / epochs, "trainer_state.json"
    return LogRun(name, path, "hf-trainer-state", series, facts)
