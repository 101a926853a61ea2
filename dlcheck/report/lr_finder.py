"""Rendering of ``dlcheck lr-find``: the rich panel and terminal plot, the JSON fields, the PNG, TensorBoard."""

from __future__ import annotations

__all__ = ["lr_finder_json", "lr_finder_report", "lr_plot", "save_lr_plot", "write_lr_scalars"]

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dlcheck.report.terminal_plot import LinePlot, PlotBand, PlotMarker, PlotSeries

if TYPE_CHECKING:
    from dlcheck.checks.result import CheckResult
    from dlcheck.lr_finder.batch_scaling import BatchScalingResult
    from dlcheck.lr_finder.finder import LRFinderResult
    from dlcheck.lr_finder.verify import VerifyResult
    from dlcheck.lr_finder.write import WriteOutcome

_STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "error": "red", "skip": "dim"}
_CONFIDENCE_STYLE = {"high": "green", "medium": "yellow", "low": "red"}
_RULE_LABELS = {"valley": "valley", "minimum": "minimum/3.2", "steepest": "steepest"}


def _lr(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.1e}"


def _compact(value: float) -> str:
    """``1e-7`` rather than ``1e-07``; plain digits for round numbers.

    Examples
    --------
    >>> _compact(1e-7), _compact(10.0), _compact(3e-4)
    ('1e-7', '10', '3e-4')
    """
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def _y_limits(result: LRFinderResult) -> tuple[float, float] | None:
    """Show the descent and the start of the rise: the divergence tail would squash everything else."""
    levels = [sweep.smoothed for sweep in result.sweeps if sweep.smoothed.size]
    if not levels:
        return None
    start = max(float(np.median(curve[: max(3, curve.size // 20)])) for curve in levels)
    lowest = min(float(curve.min()) for curve in levels)
    fall = max(start - lowest, 1e-12 * max(1.0, abs(start)))
    return lowest - 0.15 * fall, start + 0.6 * fall


def lr_plot(result: LRFinderResult, *, width: int | None = None, height: int = 12) -> LinePlot:
    """Loss against LR on a log axis: raw loss, the zero-lag smoothed curve of each sweep, band and suggestion."""
    first = result.sweeps[0]
    series = [PlotSeries(first.history.lr.tolist(), first.history.loss.tolist(), "raw loss", "grey50")]
    for index, sweep in enumerate(result.sweeps):
        lrs = sweep.history.lr[: sweep.smoothed.size].tolist()
        label = "smoothed" if index == 0 else ("other sweeps" if index == 1 else "")
        series.append(PlotSeries(lrs, sweep.smoothed.tolist(), label, "bold cyan" if index == 0 else "blue"))
    bands = [PlotBand(*result.band, "band")] if result.band else []
    markers = [PlotMarker(result.suggested_lr, f"suggested {_lr(result.suggested_lr)}")] if result.suggested_lr else []
    return LinePlot(
        series,
        bands=bands,
        markers=markers,
        x_log=result.settings.mode == "exp",
        height=height,
        width=width,
        y_limits=_y_limits(result),
        x_label="lr",
    )


_KIND_WORDS = {
    "constant": "held constant",
    "annealed": "peak of a decaying or warmed-up schedule",
    "one_cycle": "peak of a one-cycle schedule",
}


def _usage(result: LRFinderResult) -> str:
    """How the suggestion is meant to be used, and the values for the other uses."""
    others = "; ".join(
        f"{_KIND_WORDS[kind]}: {_lr(value)}"
        for kind, value in result.suggestions.items()
        if kind != result.suggestion_kind
    )
    return f"{_KIND_WORDS[result.suggestion_kind]} (recipe: {result.schedule}); {others}"


def _summary_table(result: LRFinderResult, check: CheckResult) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    where = f"batch {result.batch_size}"
    if result.accumulation > 1:
        where += f" ({result.accumulation} x {result.batch_size // result.accumulation})"
    where += f", {result.device}, {result.precision}"
    if result.suggested_lr is not None:
        table.add_row("suggested lr", Text.assemble((_lr(result.suggested_lr), "bold"), f"  at {where}"))
        table.add_row("", Text(_usage(result), style="dim"))
    else:
        table.add_row("suggested lr", Text.assemble(("none", "bold red"), f"  ({where})"))
    if result.band is not None:
        table.add_row("band", f"{_lr(result.band[0])} - {_lr(result.band[1])}  (loss starts falling - stops falling)")
    confidence = Text(result.confidence, style=_CONFIDENCE_STYLE.get(result.confidence, ""))
    if result.reasons:
        confidence.append(": " + "; ".join(result.reasons), style="")
    table.add_row("confidence", confidence)
    rules = "   ".join(f"{_RULE_LABELS[name]} {_lr(value)}" for name, value in result.rules.items())
    table.add_row("rules", rules)
    table.add_row("curve", Text.assemble((result.shape.name.replace("_", " "), "bold"), ": ", result.shape.message))
    settings = result.settings
    steps = "/".join(str(len(sweep.history.lr)) for sweep in result.sweeps)
    sweeps = (
        f"{len(result.sweeps)} x ({steps} of {settings.steps} steps, {_compact(settings.start_lr)} to "
        f"{_compact(settings.end_lr)}, {settings.mode}) on the {result.loss_source}"
    )
    if result.repeat_spread is not None:
        sweeps += f"; suggestions within {result.repeat_spread:.1f}x"
    table.add_row("sweeps", sweeps + f"; {result.seconds:.1f} s")
    if result.suggested_lr is not None:
        ratio = result.recipe_lr / result.suggested_lr
        times = f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.2g}"
        recipe = Text(f"{_lr(result.recipe_lr)} ({times}x the suggestion)")
        placement = check.details.get("placement")
        if placement is not None and placement.relation:
            recipe = Text(f"{_lr(result.recipe_lr)} {placement.relation}")
            if placement.status == "pass":
                recipe.append(f" ({times}x the suggestion)")
            else:
                recipe.append(f" ({placement.status})", style=f"bold {_STATUS_STYLE.get(placement.status, '')}")
        table.add_row("recipe lr", recipe)
    checksum = result.checksum
    restored = Text("restored and verified", style="green") if checksum.restored else Text("NOT restored", style="red")
    restored.append(f" (checksum {checksum.before[:12]})", style="dim")
    table.add_row("model state", restored)
    return table


def _verify_table(verify: VerifyResult) -> Table:
    table = Table(box=None)
    table.add_column("lr", justify="right")
    table.add_column("x suggestion", justify="right")
    table.add_column(f"{verify.split} loss", justify="right")
    table.add_column("train loss (end)", justify="right")
    for run in verify.runs:
        best = run is verify.best
        held = "diverged" if run.diverged else f"{run.held_out_loss:.4g}"
        style = "bold green" if best else ""
        table.add_row(_lr(run.lr), f"{run.factor:.2g}", held, f"{run.train_loss:.4g}", style=style)
    return table


def _scaling_table(scaling: BatchScalingResult) -> Table:
    table = Table(box=None)
    table.add_column("batch", justify="right")
    table.add_column("suggested lr", justify="right")
    table.add_column("confidence")
    for size, result in zip(scaling.batch_sizes, scaling.results, strict=True):
        table.add_row(str(size), _lr(result.suggested_lr), result.confidence)
    return table


def lr_finder_report(
    result: LRFinderResult,
    check: CheckResult,
    *,
    name: str,
    verify: VerifyResult | None = None,
    scaling: BatchScalingResult | None = None,
    written: WriteOutcome | None = None,
    plot: bool = True,
) -> RenderableType:
    """Everything ``lr-find`` prints: the verdict panel, the plot, the optional tables and the advice."""
    style = _STATUS_STYLE.get(check.status, "")
    title = Text.assemble(("lr-find ", "bold"), (name, "bold"), "  ", (check.status.upper(), f"bold {style}"))
    parts: list[RenderableType] = [
        Panel(_summary_table(result, check), title=title, title_align="left", border_style=style)
    ]
    if plot and result.sweeps and result.sweeps[0].smoothed.size >= 2:
        parts.append(lr_plot(result))
    if verify is not None:
        heading = f"--verify: {verify.steps} steps each, the recipe's schedule in miniature"
        parts.extend([Text(heading, style="bold"), _verify_table(verify), Text(verify.message)])
    if scaling is not None:
        heading = "--batch-sizes: suggested lr by global batch"
        parts.extend([Text(heading, style="bold"), _scaling_table(scaling), Text(scaling.message)])
    if check.advice:
        advice = Table.grid(padding=(0, 1))
        advice.add_column(style="dim", no_wrap=True)
        advice.add_column(overflow="fold")
        for line in check.advice:
            advice.add_row("-", line)
        parts.append(advice)
    if written is not None:
        action = "added" if written.inserted else f"replaced {_lr(written.old_lr)} with"
        parts.append(
            Text(f"wrote optimizer.lr: {action} {_lr(written.new_lr)} in {written.path} (line {written.line})", "green")
        )
    return Group(*parts)


def lr_finder_json(
    result: LRFinderResult,
    *,
    verify: VerifyResult | None = None,
    scaling: BatchScalingResult | None = None,
    written: WriteOutcome | None = None,
) -> dict[str, Any]:
    """The fields ``lr-find --json`` adds to the envelope (DESIGN 2.2), then a few more."""
    history = result.history
    extra: dict[str, Any] = {
        "suggested_lr": result.suggested_lr,
        "suggestion_kind": result.suggestion_kind,
        "suggestions": dict(result.suggestions),
        "schedule": result.schedule,
        "band": list(result.band) if result.band else None,
        "confidence": result.confidence,
        "rules": dict(result.rules),
        "batch_size": result.batch_size,
        "history": {"lr": history.lr.tolist(), "loss": history.loss.tolist()},
        "shape": result.shape.name,
        "messages": result.messages,
        "recipe_lr": result.recipe_lr,
        "settings": {
            "start_lr": result.settings.start_lr,
            "end_lr": result.settings.end_lr,
            "steps": result.settings.steps,
            "mode": result.settings.mode,
            "val_batches": result.settings.val_batches,
            "gradient_accumulation": result.accumulation,
            "device": result.device,
            "precision": result.precision,
        },
        "sweeps": [
            {
                "seed": sweep.history.seed,
                "steps": len(sweep.history.lr),
                "stop": sweep.history.stop,
                "shape": sweep.shape.name,
                "suggested_lr": sweep.suggestion,
                "rules": dict(sweep.rules),
            }
            for sweep in result.sweeps
        ],
        "state_restored": result.checksum.restored,
        "checksum": {"before": result.checksum.before, "after": result.checksum.after},
    }
    if verify is not None:
        extra["verify"] = {
            "steps": verify.steps,
            "split": verify.split,
            "best_lr": verify.best.lr if verify.best else None,
            "runs": [
                {"lr": run.lr, "factor": run.factor, "held_out_loss": run.held_out_loss, "diverged": run.diverged}
                for run in verify.runs
            ],
            "message": verify.message,
        }
    if scaling is not None:
        fit = scaling.fit
        extra["batch_scaling"] = {
            "batch_sizes": scaling.batch_sizes,
            "suggested_lrs": scaling.suggestions,
            "exponent": fit.exponent if fit else None,
            "exponent_standard_error": fit.standard_error if fit else None,
            "nearest_rule": fit.nearest_rule if fit else None,
            "target_batch_size": scaling.target_batch_size,
            "target_lr": scaling.target_lr,
            "message": scaling.message,
        }
    if written is not None:
        extra["written"] = {"path": str(written.path), "lr": written.new_lr, "line": written.line}
    return extra


def save_lr_plot(result: LRFinderResult, path: Path, *, title: str = "") -> None:
    """PNG of loss against LR: raw and smoothed curves of every sweep, the band, the rules and the suggestion."""
    from dlcheck.report.plotting import require_matplotlib

    pyplot = require_matplotlib("--plot")
    figure, axes = pyplot.subplots(figsize=(8, 4.5), dpi=120)
    try:
        for index, sweep in enumerate(result.sweeps):
            history = sweep.history
            axes.plot(history.lr, history.loss, color="0.75", linewidth=0.8, label="raw loss" if index == 0 else None)
            axes.plot(
                history.lr[: sweep.smoothed.size],
                sweep.smoothed,
                color="C0" if index == 0 else "C9",
                linewidth=2.0 if index == 0 else 1.0,
                label="smoothed (zero lag)" if index == 0 else None,
            )
        if result.band is not None:
            axes.axvspan(
                *result.band, color="C2", alpha=0.15, label=f"band {_lr(result.band[0])}-{_lr(result.band[1])}"
            )
        for index, (name, value) in enumerate(result.rules.items()):
            if value is not None:
                axes.axvline(
                    value,
                    color=f"C{index + 3}",
                    linestyle=":",
                    linewidth=1.0,
                    label=f"{_RULE_LABELS[name]} {_lr(value)}",
                )
        if result.suggested_lr is not None:
            axes.axvline(result.suggested_lr, color="C1", linewidth=2.0, label=f"suggested {_lr(result.suggested_lr)}")
        if result.settings.mode == "exp":
            axes.set_xscale("log")
        limits = _y_limits(result)
        if limits is not None:
            axes.set_ylim(*limits)
        axes.set_xlabel("learning rate")
        axes.set_ylabel(result.loss_source)
        axes.set_title(title or f"LR range test (batch {result.batch_size}, {result.confidence} confidence)")
        axes.legend(fontsize=8, loc="upper left")
        axes.grid(True, which="major", alpha=0.3)
        figure.tight_layout()
        figure.savefig(path)
    finally:
        pyplot.close(figure)


def write_lr_scalars(result: LRFinderResult, log_directory: Path) -> Path:
    """TensorBoard scalars of every sweep (raw, smoothed, lr) under ``log_directory``; returns the folder."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(log_directory))
    try:
        for index, sweep in enumerate(result.sweeps):
            prefix = "lr_find" if index == 0 else f"lr_find/sweep{index}"
            for step, (lr, loss) in enumerate(zip(sweep.history.lr, sweep.history.loss, strict=True)):
                writer.add_scalar(f"{prefix}/lr", float(lr), global_step=step)
                if math.isfinite(loss):
                    writer.add_scalar(f"{prefix}/loss", float(loss), global_step=step)
                if step < sweep.smoothed.size:
                    writer.add_scalar(f"{prefix}/smoothed", float(sweep.smoothed[step]), global_step=step)
        if result.suggested_lr is not None:
            writer.add_scalar("lr_find/suggested_lr", result.suggested_lr, global_step=0)
    finally:
        writer.close()
    return log_directory
