"""Metric sinks of a run: a JSONL log that any tool can read, and TensorBoard scalars.

Both are written by rank 0 only. On resume, records past the checkpoint's step are dropped first, so
the logs of a resumed run read exactly like those of an uninterrupted one (TensorBoard's
``purge_step`` does the same for its event files).
"""

from __future__ import annotations

__all__ = ["MetricLogger"]

import json
import math
from pathlib import Path
from typing import Any


class MetricLogger:
    """Append step and epoch records to ``metrics.jsonl`` and, optionally, TensorBoard."""

    def __init__(self, run_path: Path, *, tensorboard: bool, resume_step: int | None = None) -> None:
        self.jsonl_path = run_path / "metrics.jsonl"
        if resume_step is not None:
            _truncate_jsonl(self.jsonl_path, resume_step)
        self._file = self.jsonl_path.open("a", encoding="utf-8")
        self._writer: Any = None
        if tensorboard:
            # Imported here: tensorboard costs ~1 s to import and only training needs it.
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(
                log_dir=str(run_path / "tensorboard"), purge_step=resume_step if resume_step else None
            )

    def log(self, record: dict[str, Any]) -> None:
        """Write one record: ``{"step": int, "epoch": int, "<split>/<metric>": float, ...}``."""
        clean = {key: _json_number(value) for key, value in record.items()}
        self._file.write(json.dumps(clean) + "\n")
        self._file.flush()
        if self._writer is not None:
            step = int(record["step"])
            for key, value in record.items():
                if key in ("step", "epoch", "kind") or not isinstance(value, (int, float)):
                    continue
                self._writer.add_scalar(key, value, global_step=step)

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()


def _json_number(value: Any) -> Any:
    # JSON has no NaN/Infinity; write them as strings readers can recognise rather than invalid JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _truncate_jsonl(path: Path, last_step: int) -> None:
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a kill
            continue
        if int(record.get("step", 0)) <= last_step:
            kept.append(line)
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
