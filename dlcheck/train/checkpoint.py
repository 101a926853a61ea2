"""Run directories and checkpoints.

A run directory holds everything needed to understand and continue a run::

    runs/digits-mlp-20261123-101500/
      recipe.yaml         the resolved recipe (defaults filled in), as run
      run.json            seed, world size, per-process batch, device, library versions, command
      metrics.jsonl       one JSON object per logged step and per epoch
      tensorboard/        TensorBoard scalars
      checkpoints/        last.pt, best.pt, epoch-0003.pt ...

Checkpoints are written atomically (temporary file in the same folder, then ``os.replace``), so a
run killed while saving never leaves a truncated ``last.pt`` behind.
"""

from __future__ import annotations

__all__ = [
    "CHECKPOINT_FORMAT",
    "RunDirectory",
    "copy_checkpoint",
    "find_resume_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "serialize_checkpoint",
    "write_checkpoint_bytes",
]

import contextlib
import datetime as _datetime
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import torch

from dlcheck.errors import InputError

CHECKPOINT_FORMAT = 1


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically and durably, streamed (no copy of it in memory)."""
    with _atomic_file(path) as file:
        torch.save({"format": CHECKPOINT_FORMAT, **state}, file)


def serialize_checkpoint(state: dict[str, Any]) -> memoryview:
    """The bytes of a checkpoint of ``state``: a snapshot, so training may change the tensors afterwards."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state}, buffer)
    return buffer.getbuffer()  # the buffer itself, not a second copy


def write_checkpoint_bytes(path: Path, data: bytes | memoryview) -> None:
    """Write a serialised checkpoint (:func:`serialize_checkpoint`) to ``path`` atomically and durably."""
    with _atomic_file(path) as file:
        file.write(data)


@contextlib.contextmanager
def _atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A temporary file next to ``path``, flushed to the disk and renamed over ``path`` when the block ends well;
    removed when it does not. A reader never sees a half-written ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def copy_checkpoint(source: Path, destination: Path) -> None:
    """Make ``destination`` hold ``source``'s bytes, atomically, without serialising the state again.

    A hard link costs nothing; it stays correct because :func:`save_checkpoint` replaces files (a new
    inode) rather than writing into them. Falls back to a copy where links are not supported.
    """
    temporary = destination.with_name(f".{destination.name}.link")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copyfile(source, temporary)
    os.replace(temporary, destination)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; errors name the file and the fix."""
    if not path.is_file():
        raise InputError(
            f"resume={path}: the checkpoint does not exist. Give a checkpoint file, a run directory, or `auto`."
        )
    try:
        # weights_only=False: the checkpoint holds RNG states and plain Python metadata we wrote ourselves.
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many kinds for a corrupt file
        raise InputError(
            f"resume={path}: could not be read as a dlcheck checkpoint ({type(error).__name__}: {error})."
        ) from error
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError(
            f"resume={path}: not a dlcheck checkpoint (format {CHECKPOINT_FORMAT}); "
            "dlcheck resumes only from the `checkpoints/*.pt` files it wrote."
        )
    return state


def find_resume_checkpoint(spec: str, *, runs_directory: Path, name: str) -> Path:
    """Resolve ``resume`` (``auto``, a run directory or a checkpoint file) to a checkpoint file."""
    if spec == "auto":
        # NAME-YYYYmmdd-HHMMSS[-N] exactly: `spirals` must not pick up a run of `spirals-mlp`
        pattern = re.compile(re.escape(name) + r"-\d{8}-\d{6}(-\d+)?")
        candidates = sorted(
            (
                path
                for path in runs_directory.glob(f"{name}-*/checkpoints/last.pt")
                if pattern.fullmatch(path.parent.parent.name)
            ),
            key=lambda path: path.stat().st_mtime,
            reverse=True,
        )
        if not candidates:
            raise InputError(
                f"resume=auto: no checkpoint of a run named {name!r} under {runs_directory}/ "
                f"(looked for {name}-*/checkpoints/last.pt). Start a new run, or give the run directory."
            )
        return candidates[0]
    path = Path(spec)
    if path.is_dir():
        last = path / "checkpoints" / "last.pt"
        if last.is_file():
            return last
        raise InputError(
            f"resume={path}: the folder has no checkpoints/last.pt; give a checkpoint file or another run directory."
        )
    return path


class RunDirectory:
    """The folder of one run; created by rank 0 only."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, base: Path, name: str) -> RunDirectory:
        stamp = _datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = base / f"{name}-{stamp}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = base / f"{name}-{stamp}-{suffix}"
        (path / "checkpoints").mkdir(parents=True)
        return cls(path)

    @classmethod
    def use(cls, path: Path) -> RunDirectory:
        """A folder the user named (``run_directory``): new or empty, never another run's (logs would mix)."""
        if path.exists() and not path.is_dir():
            raise InputError(f"run_directory={path}: is a file; give a folder for the run.")
        if (path / "metrics.jsonl").exists() or (path / "checkpoints" / "last.pt").exists():
            raise InputError(
                f"run_directory={path}: already holds a run; its logs and checkpoints would be mixed with this one. "
                f"Continue it with resume={path}, choose a new folder, or delete this one."
            )
        (path / "checkpoints").mkdir(parents=True, exist_ok=True)
        return cls(path)

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints / "best.pt"

    def epoch_checkpoint(self, epoch: int) -> Path:
        return self.checkpoints / f"epoch-{epoch:04d}.pt"

    def prune_epoch_checkpoints(self, keep_last: int) -> None:
        epoch_files = sorted(self.checkpoints.glob("epoch-*.pt"))
        for old in epoch_files[:-keep_last]:
            old.unlink(missing_ok=True)
