"""Rich rendering of a training run: header, model table, live progress, epoch rows, summary."""

from __future__ import annotations

__all__ = ["TrainingDisplay", "model_table", "summary_table", "train_json", "write_train_json"]

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from dlcheck._version import __version__
from dlcheck.formatting import fixed
from dlcheck.train.events import EpochRecord, RunInfo, StepRecord, TrainingEvents

if TYPE_CHECKING:
    from dlcheck.model import ModelSummary
    from dlcheck.train.records import TrainResult

_COLUMNS = ("train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr")
_STATUS_STYLE = {
    "completed": "green",
    "early_stopped": "green",
    "max_steps": "green",
    "interrupted": "yellow",
    "non_finite": "red",
}


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(size) for size in shape) + ")"


def model_table(summary: ModelSummary) -> Table:
    """One row per top-level layer: name, kind, output shape, parameters."""
    table = Table(title=None, show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("layer")
    table.add_column("type")
    table.add_column("output", justify="right")
    table.add_column("parameters", justify="right")
    for row in summary.rows:
        table.add_row(row.name, row.kind, _shape(row.output_shape), f"{row.parameters:,}")
    table.add_section()
    trainable = summary.trainable_parameters
    note = "" if trainable == summary.total_parameters else f" ({trainable:,} trainable)"
    table.add_row("total", "", _shape(summary.output_shape), f"{summary.total_parameters:,}{note}")
    return table


def _format(value: float | None, key: str) -> str:
    if value is not None and key == "lr":
        return f"{value:.2e}"
    return fixed(value)


class TrainingDisplay(TrainingEvents):
    """Prints to ``console``; live bars only when it is a terminal and ``quiet`` is off."""

    def __init__(self, console: Console | None = None, *, quiet: bool = False) -> None:
        self.console = console or Console(highlight=False)
        self.quiet = quiet
        self._progress: Progress | None = None
        self._task: Any = None
        self._columns: list[str] = []
        self._epochs = 0
        self._bits_per_token = False  # token sequences: losses also in bits per token
        self.silent = False

    # ------------------------------------------------------------------------------------------ start
    def on_start(self, info: RunInfo) -> None:
        if not info.is_main:  # one report per job, from rank 0
            self.quiet, self.silent = True, True
        self._epochs = info.epochs
        self._bits_per_token = info.data.get("task") == "sequence"
        self._columns = [key for key in _COLUMNS if _applies(key, info)]
        if not self.silent:  # shown even with --quiet: they are about the user's settings
            for warning in info.warnings:
                self.console.print(Text.assemble(("warning: ", "bold yellow"), warning))
        if self.quiet:
            return
        out = self.console
        processes = f"{info.world_size} processes" if info.world_size > 1 else "1 process"
        out.print(
            Text.assemble(
                ("dlcheck train ", "bold"),
                (info.name, "bold cyan"),
                f" · {info.device} · {info.precision} · {processes} · seed {info.seed}",
            )
        )
        data = info.data
        out.print(f"data   {_describe_data(data)}")
        batch = f"batch {info.batch_size}"
        if info.per_process_batch_size != info.batch_size:
            batch += f" ({info.per_process_batch_size} per process x {info.world_size} x {info.gradient_accumulation} accumulation)"
        out.print(
            f"train  {info.epochs} epochs x {info.steps_per_epoch} steps, {batch}, {info.optimizer}, {info.loader}"
        )
        if info.resumed_from is not None:
            out.print(
                f"resume {info.resumed_from} at epoch {info.start_epoch + 1}, batch {info.start_batch}", style="yellow"
            )
        out.print(model_table(info.model_summary))
        if info.run_directory is not None:
            out.print(f"run    {info.run_directory}", style="dim")
        out.print(self._header())
        if out.is_terminal:
            self._progress = Progress(
                TextColumn("epoch {task.fields[epoch]}"),
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]} lr {task.fields[lr]}"),
                TimeElapsedColumn(),
                console=out,
                transient=True,
            )
            self._progress.start()

    def _header(self) -> Text:
        text = Text("epoch".rjust(6), style="bold")
        for key in self._columns:
            text.append(key.rjust(_width(key)), style="bold")
        text.append("time".rjust(7), style="bold")
        return text

    # ------------------------------------------------------------------------------------------- loop
    def on_epoch_start(self, epoch: int, batches: int, start_batch: int) -> None:
        if self._progress is None:
            return
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(
            "train", total=batches, completed=start_batch, epoch=f"{epoch + 1}/{self._epochs}", loss="-", lr="-"
        )

    def on_batch(self, epoch: int, batch: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=batch + 1)

    def on_step(self, record: StepRecord) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task, loss=f"{record.metrics['train/loss']:.4f}", lr=f"{record.metrics['lr']:.2e}"
            )

    def on_epoch_end(self, record: EpochRecord) -> None:
        if self.quiet:
            return
        text = Text(f"{record.epoch}".rjust(6))
        for key in self._columns:
            text.append(_format(record.metrics.get(key), key).rjust(_width(key)))
        text.append(f"{record.seconds:.1f}s".rjust(7))
        if record.improved:
            text.append(" *", style="green")
        self.console.print(text)

    # -------------------------------------------------------------------------------------------- end
    def on_end(self, result: TrainResult) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if not self.silent:
            self.console.print(summary_table(result, bits_per_token=self._bits_per_token))


def _width(key: str) -> int:
    # fits epoch rows of all five columns in 80 terminal columns
    return max(len(key) + 1, 10)


def _applies(key: str, info: RunInfo) -> bool:
    classification = info.data.get("num_classes") is not None
    has_val = bool(info.data.get("val_size"))
    if key.endswith("accuracy") and not classification:
        return False
    return not (key.startswith("val/") and not has_val)


def _describe_data(data: dict[str, Any]) -> str:
    parts = [str(data.get("source", "?"))]
    if data.get("train_size") is not None:
        parts.append(f"{data['train_size']} train / {data.get('val_size') or 0} val")
    if data.get("input_shape") is not None:
        parts.append(f"inputs {_shape(tuple(data['input_shape']))}")
    if data.get("task") == "sequence":
        parts.append(f"vocabulary of {data.get('tokens') or str(data.get('vocabulary_size')) + ' tokens'}")
    elif data.get("num_classes") is not None:
        parts.append(f"{data['num_classes']} classes")
    if data.get("normalization"):
        parts.append("normalised")
    return ", ".join(parts)


def summary_table(result: TrainResult, *, bits_per_token: bool = False) -> Table:
    """The final summary: how the run ended, where it is, the last and best metrics.

    With ``bits_per_token`` (token sequences) each loss, in nats, is also given in bits per token,
    ``loss / ln 2``: the unit language models are compared in (bits per character for characters).
    """
    style = _STATUS_STYLE.get(result.status, "red")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("status", Text(f"{result.status}: {result.message}", style=style))
    table.add_row(
        "trained",
        f"{_count(result.epochs_completed, 'epoch')}, {_count(result.global_step, 'step')} in {result.seconds:.1f} s",
    )
    if result.final_metrics:
        last = _metrics_text(result.final_metrics, bits_per_token)
        table.add_row("last", f"epoch {result.epochs_completed}: {last}")
    if result.best_epoch is not None and result.best_metrics:
        kept = " (weights restored)" if result.restored_best else ""
        table.add_row("best", f"epoch {result.best_epoch}{kept}: {_metrics_text(result.best_metrics, bits_per_token)}")
    if result.run_directory is not None:
        table.add_row("run", str(result.run_directory))
    return table


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _metrics_text(metrics: dict[str, float], bits_per_token: bool = False) -> str:
    shown = [key for key in _COLUMNS if key in metrics and key != "lr"]
    parts = []
    for key in shown:
        text = f"{key} {_format(metrics[key], key)}"
        if bits_per_token and key.endswith("/loss") and math.isfinite(metrics[key]):
            text += f" ({metrics[key] / math.log(2):.3f} bits/token)"
        parts.append(text)
    return "  ".join(parts)


def train_json(result: TrainResult) -> dict[str, Any]:
    """The ``--json`` report of ``dlcheck train`` (same envelope as the check reports)."""
    status = "pass" if result.ok else "fail"
    return {
        "schema_version": 1,
        "tool": "dlcheck",
        "version": __version__,
        "command": "train",
        "status": status,
        "run": {
            "name": result.name,
            "status": result.status,
            "message": result.message,
            "run_directory": str(result.run_directory) if result.run_directory else None,
            "epochs_completed": result.epochs_completed,
            "global_step": result.global_step,
            "seconds": result.seconds,
            "final_metrics": result.final_metrics,
            "best_epoch": result.best_epoch,
            "best_metrics": result.best_metrics,
            "monitor": result.monitor,
        },
        "warnings": result.warnings,
        "history": result.history,
    }


def write_train_json(result: TrainResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(train_json(result), indent=2) + "\n", encoding="utf-8")
