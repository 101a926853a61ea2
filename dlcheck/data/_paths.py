"""Resolving ``data.path`` against the recipe's folder, with an error that says what to do.

A file source is read whole into memory, so the file must be a regular file (a FIFO blocks forever and
``/dev/zero`` never ends) of a size the memory limit allows (:func:`dlcheck.limits.check_memory`); both
are checked before the first byte is read.
"""

from __future__ import annotations

__all__ = ["resolve_data_path"]

import stat
from pathlib import Path

from dlcheck.errors import DataError
from dlcheck.limits import check_memory, describe_bytes


def resolve_data_path(path: str | None, *, directory: Path, source: str, folder: bool = False) -> Path:
    """The file (or, with ``folder``, the directory) named by ``data.path``.

    Parameters
    ----------
    path : str or None
        ``data.path`` as written; relative paths are relative to ``directory``; ``~`` is expanded.
    directory : pathlib.Path
        The recipe's folder.
    source : str
        ``data.source``, for the messages.
    folder : bool
        Expect a directory instead of a file.

    Raises
    ------
    DataError
        When ``path`` is missing from the recipe, names nothing or the wrong kind of thing (a folder for a
        file, a device or FIFO), or a file larger than the memory limit.
    """
    kind = "folder" if folder else "file"
    if path is None:
        raise DataError(f"data.path: source {source} reads a {kind}; add `path:` (relative to the recipe's folder)")
    candidate = Path(path).expanduser()
    resolved = candidate if candidate.is_absolute() else (directory / candidate)
    resolved = resolved.resolve()
    if not resolved.exists():
        raise DataError(
            f"data.path: {path!r} resolves to {resolved}, which does not exist; relative paths are relative to the "
            f"recipe's folder ({directory.resolve()}); fix the path or use an absolute one"
        )
    if folder and not resolved.is_dir():
        raise DataError(
            f"data.path: source {source} needs a folder with one subfolder per class, but {resolved} is a file"
        )
    if not folder and resolved.is_dir():
        raise DataError(f"data.path: source {source} needs a file, but {resolved} is a folder")
    if not folder:
        status = resolved.stat()
        if not stat.S_ISREG(status.st_mode):
            raise DataError(
                f"data.path: {path!r} resolves to {resolved}, which is not a regular file (a device, FIFO or "
                f"socket); source {source} reads a file saved on disk"
            )
        check_memory(
            status.st_size,
            f"data.path: {resolved} ({describe_bytes(status.st_size)}, read whole into memory)",
            DataError,
            "stream it instead with `source: image_folder` or a `data.factory` returning a Dataset",
        )
    return resolved
