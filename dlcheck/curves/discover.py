"""Find the runs in the paths a user gives: files of any supported format, or folders to search.

A folder is searched (hidden folders, ``checkpoint-*`` copies and virtual environments skipped) for:
dlcheck run directories, TensorBoard event files (a folder of them is a run; Keras' ``train/`` and
``validation/`` folders join their parent's run), CSV and JSONL logs with a loss or accuracy column,
and Hugging Face ``trainer_state.json``. Facts next to a run - Lightning's ``hparams.yaml``, a Hugging
Face ``config.json`` - give the number of classes when they name it.
"""

from __future__ import annotations

__all__ = ["MAX_FILES", "read_logs"]

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dlcheck.curves.csv_log import read_csv_log
from dlcheck.curves.dlcheck_run import is_dlcheck_run, read_dlcheck_run
from dlcheck.curves.jsonl import read_jsonl_log, read_trainer_state
from dlcheck.curves.log_run import LogRun
from dlcheck.curves.series import classify_name
from dlcheck.curves.tensorboard import SPLIT_FOLDERS, is_event_file, read_tensorboard_run
from dlcheck.errors import DlcheckError, InputError

MAX_FILES = 100_000  # files looked at under one folder before the search stops (a mistyped `/`)
_SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "site-packages", ".venv", "venv", "wandb"})
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_LOOKED_FOR = (
    "TensorBoard event files (events.out.tfevents.*), CSV logs (Lightning's metrics.csv or a table with a step "
    "or epoch column), JSONL logs, Hugging Face trainer_state.json, or dlcheck run directories"
)


def _run_name(path: Path, root: Path) -> str:
    try:
        relative = path.relative_to(root)
    except ValueError:
        return path.name
    return str(root) if str(relative) == "." else str(relative)


def _has_metric(run: LogRun) -> bool:
    return any(classify_name(series.name).role is not None for series in run.series)


def _read_file(path: Path, name: str) -> LogRun:
    if is_event_file(path):
        prefix = path.parent.name + "/" if path.parent.name.lower() in SPLIT_FOLDERS else ""
        return read_tensorboard_run(path.parent, [(path, prefix)], name=name)
    if path.name == "metrics.jsonl" and is_dlcheck_run(path.parent):
        return read_dlcheck_run(path.parent, name=name)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv_log(path, name=name)
    if suffix in _JSONL_SUFFIXES:
        return read_jsonl_log(path, name=name)
    if suffix == ".json":
        return read_trainer_state(path, name=name)
    raise InputError(f"{path}: not a log format dlcheck reads; give {_LOOKED_FOR}.")


def _search(root: Path, notes: list[str]) -> list[LogRun]:
    runs: list[LogRun] = []
    event_groups: dict[Path, list[tuple[Path, str]]] = {}
    loose: list[tuple[Path, Callable[..., LogRun]]] = []
    seen = 0
    for folder_name, folders, files in os.walk(root):
        folder = Path(folder_name)
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".") and name not in _SKIPPED_FOLDERS and not name.startswith("checkpoint-")
        )
        if is_dlcheck_run(folder):
            runs.append(read_dlcheck_run(folder, name=_run_name(folder, root)))
            folders[:] = []  # its tensorboard/ copy of the same metrics is not another run
            continue
        for file_name in sorted(files):
            seen += 1
            path = folder / file_name
            if is_event_file(path):
                if folder.name.lower() in SPLIT_FOLDERS:  # Keras: train/ and validation/ join their parent's run
                    group = folder.parent if folder != root else folder
                    event_groups.setdefault(group, []).append((path, folder.name + "/"))
                else:
                    event_groups.setdefault(folder, []).append((path, ""))
            elif file_name == "trainer_state.json":
                loose.append((path, read_trainer_state))
            elif path.suffix.lower() == ".csv":
                loose.append((path, read_csv_log))
            elif path.suffix.lower() in _JSONL_SUFFIXES:
                loose.append((path, read_jsonl_log))
        if seen > MAX_FILES:
            notes.append(f"{root}: stopped searching after {MAX_FILES:,} files")
            break
    for folder, event_files in sorted(event_groups.items()):
        runs.append(read_tensorboard_run(folder, event_files, name=_run_name(folder, root)))
    for path, reader in loose:
        try:
            run = reader(path, name=_run_name(path, root))
        except DlcheckError as error:  # found while searching, not named: say so and go on
            notes.append(f"skipped {path}: {error}")
            continue
        if _has_metric(run):
            runs.append(run)
    return runs


def _classes_near(run: LogRun) -> None:
    """Fill ``num_classes`` from Lightning's hparams.yaml or a Hugging Face config.json near the run."""
    if run.facts.num_classes is not None:
        return
    start = run.path if run.path.is_dir() else run.path.parent
    for folder in (start, start.parent, start.parent.parent):
        hparams = folder / "hparams.yaml"
        if hparams.is_file():
            import yaml

            try:
                values: Any = yaml.safe_load(hparams.read_text(encoding="utf-8"))
            except yaml.YAMLError:
                values = None
            if isinstance(values, dict):
                for key in ("num_classes", "n_classes", "classes", "num_labels"):
                    if isinstance(values.get(key), int) and values[key] >= 2:
                        run.facts.num_classes, run.facts.num_classes_source = int(values[key]), str(hparams)
                        return
        config = folder / "config.json"
        if config.is_file():
            try:
                values = json.loads(config.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                values = None
            if isinstance(values, dict):
                labels = values.get("id2label")
                count = len(labels) if isinstance(labels, dict) else values.get("num_labels")
                if isinstance(count, int) and count >= 2:
                    run.facts.num_classes, run.facts.num_classes_source = count, str(config)
                    return


def read_logs(paths: Sequence[Path | str]) -> tuple[list[LogRun], list[str]]:
    """Every run in ``paths`` (files or folders), in the order given, and notes about the search.

    Raises
    ------
    InputError
        A path does not exist, a file named explicitly cannot be read, or no log is found at all.
    """
    runs: list[LogRun] = []
    notes: list[str] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder; give a log file or a folder of logs.")
        if path.is_file():
            found = [_read_file(path, path.name if path.parent == Path(".") else str(path))]
        else:
            found = _search(path, notes)
            if not found:
                raise InputError(f"{path}: no training logs found. dlcheck diagnose reads {_LOOKED_FOR}.")
        runs.extend(found)
    for run in runs:
        _classes_near(run)
    return runs, notes
