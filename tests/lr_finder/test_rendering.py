"""What lr-find prints, rendered at 80 columns and read back as text."""

from __future__ import annotations

import io
import math

import numpy as np
from rich.console import Console

from dlcheck.lr_finder import find_lr
from dlcheck.lr_finder.check import result_to_check
from dlcheck.report.lr_finder import lr_finder_report, lr_plot
from dlcheck.report.terminal_plot import LinePlot, PlotBand, PlotMarker, PlotSeries


def _render(renderable: object, width: int = 80) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_line_plot_fits_the_width_and_marks_band_and_marker() -> None:
    lrs = np.logspace(-6, 0, 80)
    loss = 2.0 - 1.5 / (1 + np.exp(-3 * (np.log10(lrs) + 3)))
    plot = LinePlot(
        [PlotSeries(lrs.tolist(), loss.tolist(), "loss")],
        bands=[PlotBand(1e-4, 1e-2, "band")],
        markers=[PlotMarker(1e-3, "pick")],
        x_log=True,
        height=8,
        x_label="lr",
    )
    text = _render(plot)
    lines = text.splitlines()
    assert len(lines) == 8 + 3  # rows, axis, tick labels, legend
    assert all(len(line) <= 80 for line in lines)
    assert any("\u2800" < character <= "\u28ff" for character in text)  # braille dots
    axis = lines[8]
    assert "═" in axis and "▲" in axis
    assert axis.index("═") < axis.index("▲") < axis.rindex("═")  # the marker inside the band
    for label in ("1e-6", "1e-3", "1e0"):
        assert label in lines[9]
    assert "▲ pick" in lines[10] and "═ band" in lines[10]
    assert "2" in lines[0][:9] and "0.5" in lines[7][:9]  # y labels at top and bottom


def test_line_plot_clips_curves_that_leave_the_y_range() -> None:
    plot = LinePlot([PlotSeries([0, 1, 2, 3], [0.0, 1.0, 100.0, math.nan], "")], height=4, y_limits=(0.0, 2.0))
    lines = _render(plot, width=40).splitlines()
    assert len(lines) == 4 + 2  # no legend without labels
    assert lines[0].startswith("       2┤")


def test_the_report_reads_well_at_80_columns(blobs_parts) -> None:  # type: ignore[no-untyped-def]
    result = find_lr(blobs_parts, steps=60, repeats=2)
    check = result_to_check(result)
    text = _render(lr_finder_report(result, check, name="blobs-bn"))
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert lines[0].startswith("╭─ lr-find blobs-bn  " + check.status.upper())
    for label in ("suggested lr", "band", "confidence", "rules", "curve", "sweeps", "recipe lr", "model state"):
        assert any(line.startswith(f"│ {label}") for line in lines), label
    assert "restored and verified" in text
    assert f"at batch {result.batch_size}, cpu, fp32" in text
    assert "▲ suggested" in text  # the plot follows the panel
    plot_lines = _render(lr_plot(result)).splitlines()
    assert len(plot_lines) >= 14 and all(len(line) <= 80 for line in plot_lines)
