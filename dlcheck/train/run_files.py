"""The files of one run: its directory, ``recipe.yaml`` and ``run.json``, the metric logs and the checkpoints.

Written by rank 0 only; the other ranks of a torchrun job hold no :class:`RunFiles`. The loop hands over a
checkpoint's state and goes on: the bytes are serialised at once (the weights keep changing), written in the
background and made durable there, so the next epoch does not wait for the disk. A state too large to hold a
second copy of in memory (:data:`BACKGROUND_LIMIT_BYTES`) is written directly, as before. A later write, a read of
:meth:`RunFiles.last_good_checkpoint` and :meth:`RunFiles.close` wait for the pending one first, and an error in
the background is raised at that point.
"""

from __future__ import annotations

__all__ = ["BACKGROUND_LIMIT_BYTES", "RunFiles", "run_facts"]

import json
import platform
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from dlcheck._version import __version__
from dlcheck.train.checkpoint import (
    RunDirectory,
    copy_checkpoint,
    save_checkpoint,
    serialize_checkpoint,
    write_checkpoint_bytes,
)
from dlcheck.train.loggers import MetricLogger

BACKGROUND_LIMIT_BYTES = 256 * 2**20  # larger states stream to the file instead of being copied into memory first


class RunFiles:
    """Where a run writes, and the writes themselves.

    Parameters
    ----------
    run : RunDirectory
    tensorboard : bool
        Write TensorBoard scalars besides ``metrics.jsonl``.
    resume_step : int, optional
        The checkpoint's step when resuming: log records past it are dropped first.
    """

    def __init__(self, run: RunDirectory, *, tensorboard: bool, resume_step: int | None = None) -> None:
        self.run = run
        self.logger = MetricLogger(run.path, tensorboard=tensorboard, resume_step=resume_step)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dlcheck-checkpoint")
        self._pending: Future[None] | None = None

    @classmethod
    def open(
        cls,
        *,
        base: Path,
        name: str,
        resumed_from: Path | None,
        run_directory: Path | None,
        tensorboard: bool,
        resume_step: int | None,
    ) -> RunFiles:
        """The resumed run's folder, the folder the user named (``--run-dir``), or a new ``base/NAME-TIME``."""
        if resumed_from is not None:
            run = RunDirectory(resumed_from.parent.parent)
        elif run_directory is not None:
            run = RunDirectory.use(run_directory)
        else:
            run = RunDirectory.create(base, name)
        return cls(run, tensorboard=tensorboard, resume_step=resume_step)

    @property
    def path(self) -> Path:
        return self.run.path

    def write_description(self, recipe_text: str, facts: dict[str, Any], *, resumed_at_step: int | None) -> None:
        """``recipe.yaml`` (the resolved recipe) and ``run.json`` (or ``run-resumed-stepN.json`` on resume)."""
        self.path.joinpath("recipe.yaml").write_text(recipe_text, encoding="utf-8")
        facts = {
            **facts,
            "versions": {
                "dlcheck": __version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
                "cuda": torch.version.cuda,
            },
        }
        name = "run.json" if resumed_at_step is None else f"run-resumed-step{resumed_at_step}.json"
        self.path.joinpath(name).write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")

    def log(self, record: dict[str, Any]) -> None:
        self.logger.log(record)

    # ------------------------------------------------------------------------------------- checkpoints
    def save_last(self, state: dict[str, Any], *, wait: bool = False) -> None:
        """Write ``state`` as ``last.pt`` (``wait``: before returning)."""
        self._submit(state, epoch=None, improved=False, every_epochs=0, keep_last=0)
        if wait:
            self.wait()

    def save_epoch(
        self, state: dict[str, Any], *, epoch: int, improved: bool, every_epochs: int, keep_last: int, save_best: bool
    ) -> None:
        """``last.pt``, linked as ``epoch-NNNN.pt`` every ``every_epochs`` epochs and as ``best.pt`` when improved."""
        self._submit(
            state,
            epoch=epoch,
            improved=improved and save_best,
            every_epochs=every_epochs,
            keep_last=keep_last,
        )

    def _submit(
        self, state: dict[str, Any], *, epoch: int | None, improved: bool, every_epochs: int, keep_last: int
    ) -> None:
        self.wait()  # one write at a time, in order: last.pt is never older than the previous save
        if _tensor_bytes(state) > BACKGROUND_LIMIT_BYTES:
            self._write(state, epoch, improved, every_epochs, keep_last)
            return
        data = serialize_checkpoint(state)  # a snapshot: training changes the tensors from the next step on
        self._pending = self._writer.submit(self._write, data, epoch, improved, every_epochs, keep_last)

    def _write(
        self, data: memoryview | dict[str, Any], epoch: int | None, improved: bool, every_epochs: int, keep_last: int
    ) -> None:
        run = self.run
        if isinstance(data, dict):
            save_checkpoint(run.last_checkpoint, data)
        else:
            write_checkpoint_bytes(run.last_checkpoint, data)  # serialised once, linked below
        if epoch is not None and every_epochs and epoch % every_epochs == 0:
            copy_checkpoint(run.last_checkpoint, run.epoch_checkpoint(epoch))
            run.prune_epoch_checkpoints(keep_last)
        if improved:
            copy_checkpoint(run.last_checkpoint, run.best_checkpoint)

    def wait(self) -> None:
        """Wait for the checkpoint being written; raise its error, if any."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def last_good_checkpoint(self) -> Path | None:
        self.wait()
        return self.run.last_checkpoint if self.run.last_checkpoint.is_file() else None

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._writer.shutdown(wait=True)
            self.logger.close()


def _tensor_bytes(value: Any) -> int:
    """Bytes of the tensors in a (nested) state."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(_tensor_bytes(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_tensor_bytes(item) for item in value)
    return 0


def run_facts(
    *,
    name: str,
    recipe_file: Path,
    overrides: Sequence[str],
    command: Sequence[str] | None,
    **facts: Any,
) -> dict[str, Any]:
    """The facts ``run.json`` starts with; the caller adds the run's own (seed, world size, device...)."""
    return {
        "name": name,
        "recipe_file": str(recipe_file),
        "overrides": list(overrides),
        **facts,
        "command": list(command) if command is not None else None,
    }
