"""Find the runs in the paths a user gives: files of any supported format, or folders to search.

A folder is searched (hidden folders, ``checkpoint-*`` copies and virtual environments skipped) for:
dlcheck run directories, TensorBoard event files (a folder of them is a run; Keras' ``train/`` and
``validation/`` folders join their parent's run), CSV and JSONL logs with a loss or accuracy column,
text files whose first line is such a table or JSON record (Keras' ``training.log``, ``log.txt``), and
Hugging Face ``trainer_state.json`` (its TensorBoard copy in ``runs/`` is the same run, read once).
Only regular files are read: FIFOs, devices and sockets are skipped with a note, and so are links that
lead out of the folder given. Facts next to a run - Lightning's ``hparams.yaml``, a Hugging
Face ``config.json`` - give the number of classes when they name it.
"""

from __future__ import annotations

__all__ = ["MAX_FILES", "read_logs", "sniff"]

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dlcheck.curves.csv_log import looks_like_csv_log, read_csv_logs
from dlcheck.curves.dlcheck_run import is_dlcheck_run, read_dlcheck_run
from dlcheck.curves.jsonl import read_jsonl_logs, read_trainer_state
from dlcheck.curves.log_run import LogRun
from dlcheck.curves.safe_io import check_regular, inside, lfs_pointer, parse_json, read_bytes, read_text
from dlcheck.curves.series import classify_name
from dlcheck.curves.tensorboard import SPLIT_FOLDERS, is_event_file, read_event_files, read_tensorboard_run
from dlcheck.errors import DlcheckError, InputError

MAX_FILES = 100_000  # files looked at under one folder before the search stops (a mistyped `/`)
_SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "site-packages", ".venv", "venv", "wandb"})
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_SNIFFED_SUFFIXES = (".log", ".txt", ".tsv", ".out")  # read only when their first line is a metrics table or JSON
_SNIFF_BYTES = 4096
_FACTS_BYTES = 1024 * 1024  # hparams.yaml / config.json read for the class count
_HF_TAG_PREFIXES = frozenset({"train", "eval", "test"})
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


def sniff(path: Path) -> str | None:
    """What a text log holds, from its first line: ``jsonl`` or ``csv`` (a metrics table), else ``None``.

    Keras' CSVLogger writes ``training.log`` (its documentation's name), DeiT/MAE-style loops write JSON
    lines to ``log.txt``: the name says nothing, the content does.

    Raises
    ------
    InputError
        Not a regular file, or a Git LFS pointer.
    """
    head, _ = read_bytes(path, _SNIFF_BYTES)
    if lfs_pointer(head):
        raise InputError(f"{path}: is a Git LFS pointer, not the log itself; run `git lfs pull` first.")
    text = head.decode("utf-8-sig", errors="replace")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith("{"):
        names = re.findall(r'"([^"]{1,80})"\s*:', first)
        if any(classify_name(name).role is not None for name in names):
            return "jsonl"
        return None
    return "csv" if looks_like_csv_log(first) else None


def _read_file(path: Path, name: str) -> list[LogRun]:
    check_regular(path)
    if is_event_file(path):
        prefix = path.parent.name + "/" if path.parent.name.lower() in SPLIT_FOLDERS else ""
        return [read_tensorboard_run(path.parent, [(path, prefix)], name=name)]
    if path.name == "metrics.jsonl" and is_dlcheck_run(path.parent):
        return [read_dlcheck_run(path.parent, name=name)]
    suffix = path.suffix.lower()
    if suffix == ".json":
        return [read_trainer_state(path, name=name)]
    kind = "csv" if suffix == ".csv" else "jsonl" if suffix in _JSONL_SUFFIXES else sniff(path)
    if kind == "csv":
        return read_csv_logs(path, name=name)
    if kind == "jsonl":
        return read_jsonl_logs(path, name=name)
    raise InputError(f"{path}: not a log format dlcheck reads; give {_LOOKED_FOR}.")


def _same_hf_run(state: Path, folder: Path, event_files: list[tuple[Path, str]]) -> bool:
    """TensorBoard files under a trainer_state.json's folder with Hugging Face's tags: the same run twice."""
    if state.parent not in (folder, *folder.parents):
        return False
    try:
        tags = {series.name for series in read_event_files(event_files)}
    except (OSError, InputError):
        return False
    return bool(tags) and all(tag.split("/", 1)[0] in _HF_TAG_PREFIXES for tag in tags)


def _search(root: Path, notes: list[str]) -> list[LogRun]:
    runs: list[LogRun] = []
    event_groups: dict[Path, list[tuple[Path, str]]] = {}
    loose: list[tuple[Path, Callable[..., list[LogRun]]]] = []
    states: list[Path] = []
    seen = 0
    skipped: list[str] = []
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
            if path.is_symlink() and not inside(path, root):
                skipped.append(f"{path} (a link to a file outside {root})")
                continue
            try:
                check_regular(path)
            except InputError as error:
                skipped.append(str(error).split(";")[0])
                continue
            suffix = path.suffix.lower()
            if is_event_file(path):
                if folder.name.lower() in SPLIT_FOLDERS:  # Keras: train/ and validation/ join their parent's run
                    group = folder.parent if folder != root else folder
                    event_groups.setdefault(group, []).append((path, folder.name + "/"))
                else:
                    event_groups.setdefault(folder, []).append((path, ""))
            elif file_name == "trainer_state.json":
                states.append(path)
                loose.append((path, lambda path, name: [read_trainer_state(path, name=name)]))
            elif suffix == ".csv":
                loose.append((path, read_csv_logs))
            elif suffix in _JSONL_SUFFIXES:
                loose.append((path, read_jsonl_logs))
            elif suffix in _SNIFFED_SUFFIXES:
                try:
                    kind = sniff(path)
                except InputError as error:
                    notes.append(f"skipped {error}")
                    continue
                if kind == "csv":
                    loose.append((path, read_csv_logs))
                elif kind == "jsonl":
                    loose.append((path, read_jsonl_logs))
        if seen > MAX_FILES:
            notes.append(f"{root}: stopped searching after {MAX_FILES:,} files")
            break
    for folder, event_files in sorted(event_groups.items()):
        state = next((item for item in states if _same_hf_run(item, folder, event_files)), None)
        if state is not None:
            notes.append(
                f"{_run_name(folder, root)}: the TensorBoard copy of {_run_name(state, root)} (Hugging Face writes "
                "both): read once"
            )
            continue
        try:
            runs.append(read_tensorboard_run(folder, event_files, name=_run_name(folder, root)))
        except InputError as error:
            notes.append(f"skipped {error}")
    for path, reader in loose:
        try:
            found = reader(path, name=_run_name(path, root))
        except DlcheckError as error:  # found while searching, not named: say so and go on
            notes.append(f"skipped {error}")
            continue
        runs.extend(run for run in found if _has_metric(run) or path.name == "trainer_state.json")
    if skipped:
        shown = "; ".join(skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        notes.append(f"not read: {shown}")
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
                values: Any = yaml.safe_load(read_text(hparams, _FACTS_BYTES).text)
            except (yaml.YAMLError, InputError, RecursionError, ValueError):
                values = None
            if isinstance(values, dict):
                for key in ("num_classes", "n_classes", "classes", "num_labels"):
                    if isinstance(values.get(key), int) and values[key] >= 2:
                        run.facts.num_classes, run.facts.num_classes_source = int(values[key]), str(hparams)
                        return
        config = folder / "config.json"
        if config.is_file():
            try:
                values = parse_json(read_text(config, _FACTS_BYTES).text, where=str(config))
            except InputError:
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
        if not path.is_dir():
            found = _read_file(path, path.name if path.parent == Path(".") else str(path))
        else:
            found = _search(path, notes)
            if not found:
                raise InputError(f"{path}: no training logs found. dlcheck diagnose reads {_LOOKED_FOR}.")
        runs.extend(found)
    for run in runs:
        _classes_near(run)
    return runs, notes
