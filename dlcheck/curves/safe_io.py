"""Reading log files that may be anything: bounded, decoded with errors counted, regular files only.

Logs come from other people's machines, CI caches and half-written runs. Fuzzing found FIFOs that hang a
reader, endless files (``/dev/zero``-like) that grow without bound, non-UTF-8 bytes, Git LFS pointers
committed instead of the log, JSON nested thousands deep and numbers past every limit (issue 12). The
readers go through this module, so that none of these crashes, hangs or exhausts memory:

- only regular files are opened (:func:`check_regular`); a FIFO, device or socket is refused with a note;
- at most :data:`MAX_FILE_BYTES` are read from a file (:func:`read_bytes`), and the report says so;
- text is decoded as UTF-8 with undecodable bytes replaced and counted (:func:`read_text`);
- a Git LFS pointer is named as such (:func:`lfs_pointer`);
- JSON is parsed with recursion and number errors turned into :class:`~dlcheck.errors.InputError`
  (:func:`parse_json`).
"""

from __future__ import annotations

__all__ = [
    "LFS_MARK",
    "MAX_FILE_BYTES",
    "MAX_JSON_DEPTH",
    "FileText",
    "check_regular",
    "inside",
    "lfs_pointer",
    "parse_json",
    "read_bytes",
    "read_text",
]

import json
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcheck.errors import InputError

MAX_FILE_BYTES = 256 * 1024 * 1024
"""Bytes read from one log file at most: a 256 MiB event file holds millions of scalars, and a reader
keeps memory well under 1 GB (issue 12's budget) even when a file is endless."""
MAX_JSON_DEPTH = 64
"""Nesting of JSON objects flattened into series names (``train/loss`` is depth 2); deeper is not a log."""
LFS_MARK = b"version https://git-lfs.github.com/spec/"
_REPLACEMENT = "\ufffd"


@dataclass
class FileText:
    """A file's text and what was odd about reading it."""

    text: str
    notes: list[str] = field(default_factory=list)


def check_regular(path: Path) -> None:
    """Raise :class:`InputError` unless ``path`` is a regular file (a FIFO would block, a device never end).

    >>> check_regular(Path("/dev/null"))
    Traceback (most recent call last):
    ...
    dlcheck.errors.InputError: /dev/null: is a character device, not a regular file; give a log file.
    """
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror}).") from error
    if stat.S_ISREG(mode):
        return
    kinds = (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    )
    kind = next((text for test, text in kinds if test(mode)), "not a regular file")
    raise InputError(f"{path}: is {kind}, not a regular file; give a log file.")


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, symlinks followed, stays inside ``root`` (also followed)."""
    try:
        resolved, base = path.resolve(), root.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return False
    return resolved == base or base in resolved.parents


def read_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of a regular file, and whether the file was longer.

    Raises
    ------
    InputError
        The path is not a regular file or cannot be read.
    """
    check_regular(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror}).") from error
    return data[:limit], len(data) > limit


def lfs_pointer(data: bytes) -> bool:
    """A Git LFS pointer: the small text file git stores instead of the content when LFS is not pulled.

    >>> lfs_pointer(b"version https://git-lfs.github.com/spec/v1\\noid sha256:ab12\\nsize 1024\\n")
    True
    """
    return data.startswith(LFS_MARK) and len(data) < 1024


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> FileText:
    """A log file's text: UTF-8 (a BOM dropped), undecodable bytes replaced and counted, at most ``limit`` bytes.

    Raises
    ------
    InputError
        Not a regular file, unreadable, or a Git LFS pointer.
    """
    data, truncated = read_bytes(path, limit)
    if lfs_pointer(data):
        raise InputError(
            f"{path}: is a Git LFS pointer, not the log itself; run `git lfs pull` (or download the file) first."
        )
    notes = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="replace")
        replaced = text.count(_REPLACEMENT) - data.count(_REPLACEMENT.encode())
        notes.append(f"{path.name}: {max(replaced, 1):,} undecodable byte(s) replaced (not UTF-8)")
    if "\x00" in text:
        count = text.count("\x00")
        text = text.replace("\x00", "")
        notes.append(f"{path.name}: {count:,} NUL byte(s) removed")
    if truncated:
        notes.append(f"{path.name}: only the first {limit // (1024 * 1024)} MiB were read")
    return FileText(text, notes)


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of lists and objects, stopping at ``limit`` (iterative: no recursion to exhaust)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse_json(text: str, *, where: str) -> Any:
    """``json.loads`` with the failures of hostile input turned into :class:`InputError`.

    Deep nesting (RecursionError), numbers past Python's integer-digit limit (ValueError) and
    malformed text all name ``where`` (a file, or a file and line). ``NaN``/``Infinity`` are accepted.

    >>> parse_json('{"loss": 1e999}', where="demo")["loss"]
    inf
    >>> parse_json("[" * 100_000, where="demo")
    Traceback (most recent call last):
    ...
    dlcheck.errors.InputError: demo: JSON nested too deeply to be a log.
    """
    try:
        value = json.loads(text)
    except RecursionError as error:
        raise InputError(f"{where}: JSON nested too deeply to be a log.") from error
    except json.JSONDecodeError as error:
        raise InputError(f"{where}: is not valid JSON ({error.msg} at line {error.lineno}).") from error
    except ValueError as error:  # e.g. an integer past sys.get_int_max_str_digits()
        raise InputError(f"{where}: holds a number dlcheck cannot read ({error}).") from error
    if _depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise InputError(f"{where}: JSON nested more than {MAX_JSON_DEPTH} levels deep; not a log of metrics.")
    return value
