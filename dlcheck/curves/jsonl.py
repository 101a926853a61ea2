"""Read metrics from JSON logs: JSONL (one record per line) and Hugging Face's ``trainer_state.json``.

A record is an object of numbers, with a step key (:data:`STEP_KEYS`, else ``epoch``, else the line
number). ``null`` is a logged non-finite value (JSON has no NaN) and so are the strings ``"nan"``,
``"inf"``; a key that is absent is missing. Nested objects are flattened with ``/``
(``{"train": {"loss": 1}}`` is ``train/loss``). When records carry a ``kind`` (dlcheck writes ``step``
and ``epoch`` records) and one key appears under several kinds, the less frequent kinds get a suffix:
``train/loss`` per step, ``train/loss@epoch`` per epoch.
"""

from __future__ import annotations

__all__ = ["STEP_KEYS", "read_jsonl_log", "read_records", "read_trainer_state"]

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dlcheck.curves.log_run import LogRun, RunFacts, assemble_series, epochs_from_series, number_or_none
from dlcheck.curves.series import Series
from dlcheck.errors import InputError

STEP_KEYS = ("step", "global_step", "_step", "iteration", "iter")
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
        integral = bool(np.allclose(table_epochs, np.round(table_epochs)))
        facts.epoch_steps, facts.epoch_values = table_steps, table_epochs + (1.0 if integral else 0.0)
        if per_epoch is not None:
            facts.steps_per_epoch, facts.steps_per_epoch_source = per_epoch, f"the `epoch` values of {source}"
    if step_key is None:
        facts.notes.append("no step key: steps are record numbers")
    return sorted(series, key=lambda item: item.name), facts


def read_jsonl_log(path: Path, *, name: str, format_name: str = "jsonl") -> LogRun:
    """One run from a JSONL file; lines that are not JSON objects are errors naming the line."""
    records: list[dict[str, Any]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            if number == len(lines) and number > 1:  # the last line, cut short by a kill: ignore it
                break
            raise InputError(
                f"{path}: line {number} is not JSON ({error.msg}); a JSONL log has one JSON object per line."
            ) from error
        if not isinstance(record, dict):
            raise InputError(f"{path}: line {number} is a JSON {type(record).__name__}, not an object of metrics.")
        records.append(record)
    series, facts = read_records(records, source=path.name)
    return LogRun(name, path, format_name, series, facts)


def read_trainer_state(path: Path, *, name: str) -> LogRun:
    """One run from a Hugging Face ``trainer_state.json`` (its ``log_history``)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: is not valid JSON ({error.msg} at line {error.lineno}).") from error
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise InputError(f"{path}: has no `log_history` list; is it a Hugging Face trainer_state.json?")
    records = [record for record in history if isinstance(record, dict)]
    series, facts = read_records(records, source=path.name)
    max_steps, epochs = state.get("max_steps"), state.get("num_train_epochs")
    if isinstance(max_steps, (int, float)) and isinstance(epochs, (int, float)) and max_steps > 0 and epochs > 0:
        facts.steps_per_epoch, facts.steps_per_epoch_source = max_steps / epochs, "trainer_state.json"
    return LogRun(name, path, "hf-trainer-state", series, facts)
