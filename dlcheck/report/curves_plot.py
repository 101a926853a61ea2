"""The PNG of ``dlcheck diagnose --plot``: per run, losses and accuracies with the findings marked."""

from __future__ import annotations

__all__ = ["plot_diagnosis"]

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dlcheck.report.curves import KIND_CODES

if TYPE_CHECKING:
    from dlcheck.curves.diagnosis import Diagnosis


def _positive(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size) and float(finite.min()) > 0


def plot_diagnosis(diagnosis: Diagnosis, path: Path) -> None:
    """A PNG: per run, the losses (log scale) and accuracies, findings shaded from their step, best step dashed."""
    from dlcheck.report.plotting import require_matplotlib

    pyplot = require_matplotlib("--plot")
    runs = diagnosis.runs[:8]
    figure, axes = pyplot.subplots(len(runs), 2, figsize=(11, 3.0 * len(runs)), squeeze=False)
    colors = {"fail": "tab:red", "warn": "tab:orange", "info": "tab:blue"}
    for row, result in enumerate(runs):
        for column, metric in enumerate(("loss", "accuracy")):
            axis = axes[row, column]
            drawn = False
            for split, style in (("train", "-"), ("val", "o-")):
                series = result.mapping.get(f"{split}_{metric}")  # type: ignore[arg-type]
                if series is None:
                    continue
                values = np.where(np.isfinite(series.values), series.values, np.nan)
                axis.plot(series.steps, values, style, markersize=2.5, linewidth=0.8, label=f"{split}: {series.name}")
                drawn = True
            if not drawn:
                axis.set_axis_off()
                continue
            losses = [item for item in (result.mapping.get("train_loss"), result.mapping.get("val_loss")) if item]
            if metric == "loss" and all(_positive(item.values) for item in losses):
                axis.set_yscale("log")
            for finding in result.findings:
                if finding.step is None:
                    continue
                color = colors[finding.severity]
                end = finding.end_step if finding.end_step is not None else finding.step
                if end > finding.step:
                    axis.axvspan(finding.step, end, color=color, alpha=0.07)
                axis.axvline(finding.step, color=color, linewidth=0.8, alpha=0.8)
                axis.annotate(
                    KIND_CODES[finding.kind],
                    (finding.step, 0.97),
                    xycoords=("data", "axes fraction"),
                    color=color,
                    fontsize=8,
                    ha="left",
                    va="top",
                )
            if result.best_step is not None:
                axis.axvline(result.best_step, color="tab:green", linestyle="--", linewidth=0.9, label="best step")
            axis.set_title(f"{result.run.name}: {metric}", fontsize=9)
            axis.legend(fontsize=7, loc="best")
            axis.tick_params(labelsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
