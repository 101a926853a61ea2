"""A line plot drawn with Braille characters, as a rich renderable: curves in a terminal, no extra dependency.

Each character cell holds a 2 x 4 grid of dots (Unicode Braille patterns, U+2800-U+28FF), so an 80-column
terminal gives about 140 x 48 dots. Several series, a linear or log10 x axis, shaded x bands (also drawn as
``═`` on the axis, so they survive without colour) and labelled vertical markers (``┊`` and ``▲``). Reused by
``lr-find`` (loss against LR) and meant for ``diagnose`` (metrics against step).

Examples
--------
>>> import io
>>> console = Console(width=40, file=io.StringIO(), color_system=None)
>>> console.print(LinePlot([PlotSeries([1, 2, 3, 4], [4, 1, 2, 3], "loss")], height=4, x_label="step"))
>>> len(console.file.getvalue().splitlines())  # 4 rows, the axis, its ticks, the legend
7
"""

from __future__ import annotations

__all__ = ["LinePlot", "PlotBand", "PlotMarker", "PlotSeries"]

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

_BRAILLE_BASE = 0x2800
# Dot bit for (column 0-1, row 0-3) of a cell (Unicode Braille numbering).
_DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_Y_LABEL_WIDTH = 8


@dataclass(frozen=True)
class PlotSeries:
    """One curve: ``x`` and ``y`` of equal length; non-finite points break the line."""

    x: Sequence[float]
    y: Sequence[float]
    label: str
    style: str = "cyan"


@dataclass(frozen=True)
class PlotBand:
    """A shaded interval of x."""

    low: float
    high: float
    label: str
    style: str = "green"
    shade: str = "on #12301a"


@dataclass(frozen=True)
class PlotMarker:
    """A labelled vertical line at ``x``."""

    x: float
    label: str
    style: str = "bold yellow"


def _format_tick(value: float, log: bool) -> str:
    if log:
        exponent = round(math.log10(value))
        return f"1e{exponent}" if abs(value - 10.0**exponent) < 1e-9 * value else f"{value:.0e}"
    return f"{value:.3g}"


def _linear_ticks(low: float, high: float, count: int = 5) -> list[float]:
    span = high - low
    if span <= 0:
        return [low]
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((factor * magnitude for factor in (1, 2, 2.5, 5, 10) if factor * magnitude >= raw), default=raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + 1e-12 * span:
        ticks.append(round(value, 12))
        value += step
    return ticks


@dataclass
class LinePlot:
    """Several series on shared axes, rendered to fit the console width (or ``width``).

    Parameters
    ----------
    series : sequence of PlotSeries
        Drawn in order; where two share a cell, the later one's colour shows.
    bands, markers : sequences
        Shaded x intervals and labelled vertical lines.
    x_log : bool
        log10 x axis (positive x only; other points are dropped).
    height : int
        Rows of the plotting area.
    width : int, optional
        Total width in columns (default: the console's).
    y_limits : tuple of float, optional
        Visible y range; curves leaving it are clipped at its edge. Default: the data's range.
    x_label, y_label, title : str
    """

    series: Sequence[PlotSeries]
    bands: Sequence[PlotBand] = field(default_factory=tuple)
    markers: Sequence[PlotMarker] = field(default_factory=tuple)
    x_log: bool = False
    height: int = 12
    width: int | None = None
    y_limits: tuple[float, float] | None = None
    x_label: str = ""
    y_label: str = ""
    title: str = ""

    # ------------------------------------------------------------------------------------ coordinates
    def _x(self, value: float) -> float:
        return math.log10(value) if self.x_log else value

    def _points(self, series: PlotSeries) -> list[tuple[float, float] | None]:
        points: list[tuple[float, float] | None] = []
        for x, y in zip(series.x, series.y, strict=True):
            usable = math.isfinite(x) and math.isfinite(y) and (x > 0 or not self.x_log)
            points.append((self._x(float(x)), float(y)) if usable else None)
        return points

    def _ranges(self) -> tuple[float, float, float, float]:
        xs = [point[0] for series in self.series for point in self._points(series) if point is not None]
        ys = [point[1] for series in self.series for point in self._points(series) if point is not None]
        if not xs:
            return 0.0, 1.0, 0.0, 1.0
        x_low, x_high = min(xs), max(xs)
        y_low, y_high = self.y_limits if self.y_limits is not None else (min(ys), max(ys))
        if x_high == x_low:
            x_low, x_high = x_low - 0.5, x_high + 0.5
        if y_high == y_low:
            y_low, y_high = y_low - 0.5, y_high + 0.5
        return x_low, x_high, y_low, y_high

    # ---------------------------------------------------------------------------------------- drawing
    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        total = min(self.width or options.max_width, options.max_width)
        columns = max(10, total - _Y_LABEL_WIDTH - 1)
        rows = max(2, self.height)
        x_low, x_high, y_low, y_high = self._ranges()
        dots_x, dots_y = 2 * columns, 4 * rows

        def column_of(x: float) -> int:
            return min(columns - 1, max(0, int((x - x_low) / (x_high - x_low) * (columns - 1) + 0.5)))

        cells = [[0] * columns for _ in range(rows)]
        colours: list[list[str | None]] = [[None] * columns for _ in range(rows)]
        for series in self.series:
            points = self._points(series)
            pixels = [
                None
                if point is None
                else (
                    (point[0] - x_low) / (x_high - x_low) * (dots_x - 1),
                    (y_high - point[1]) / (y_high - y_low) * (dots_y - 1),
                )
                for point in points
            ]
            for start, end in itertools.pairwise(pixels):
                if start is None or end is None:
                    continue
                for px, py in _clipped_segment(start, end, dots_y - 1):
                    row, column = py // 4, px // 2
                    cells[row][column] |= _DOT_BITS[px % 2][py % 4]
                    colours[row][column] = series.style
            if len(pixels) == 1 and pixels[0] is not None and 0 <= pixels[0][1] <= dots_y - 1:
                px, py = round(pixels[0][0]), round(pixels[0][1])
                cells[py // 4][px // 2] |= _DOT_BITS[px % 2][py % 4]
                colours[py // 4][px // 2] = series.style

        shaded: dict[int, str] = {}
        for band in self.bands:
            if self.x_log and (band.low <= 0 or band.high <= 0):
                continue
            first, last = column_of(self._x(band.low)), column_of(self._x(band.high))
            for column in range(first, last + 1):
                shaded[column] = band.shade
        marked: dict[int, str] = {}
        for marker in self.markers:
            if self.x_log and marker.x <= 0:
                continue
            marked[column_of(self._x(marker.x))] = marker.style

        if self.title:
            yield Text(self.title, style="bold")
        labels = {0: y_high, rows // 2: (y_high + y_low) / 2, rows - 1: y_low}
        for row in range(rows):
            line = Text()
            label = f"{labels[row]:.3g}" if row in labels else ""
            line.append(label.rjust(_Y_LABEL_WIDTH)[-_Y_LABEL_WIDTH:], style="dim")
            line.append("┤" if row in labels else "│", style="dim")
            for column in range(columns):
                background = shaded.get(column, "")
                if cells[row][column]:
                    style = f"{colours[row][column] or ''} {background}".strip()
                    line.append(chr(_BRAILLE_BASE + cells[row][column]), style=style)
                elif column in marked:
                    line.append("┊", style=f"{marked[column]} {background}".strip())
                else:
                    line.append(" ", style=background)
            yield line
        yield self._axis(columns, shaded, marked)
        yield self._tick_labels(columns, x_low, x_high, column_of)
        yield from self._legend(_Y_LABEL_WIDTH + 1 + columns)

    def _axis(self, columns: int, shaded: dict[int, str], marked: dict[int, str]) -> Text:
        axis = Text(" " * _Y_LABEL_WIDTH + "└", style="dim")
        band_style = self.bands[0].style if self.bands else "dim"
        for column in range(columns):
            if column in marked:
                axis.append("▲", style=marked[column])
            elif column in shaded:
                axis.append("═", style=band_style)
            else:
                axis.append("─", style="dim")
        return axis

    def _tick_labels(self, columns: int, x_low: float, x_high: float, column_of: Callable[[float], int]) -> Text:
        if self.x_log:
            ticks = [10.0**power for power in range(math.ceil(x_low - 1e-9), math.floor(x_high + 1e-9) + 1)]
            while len(ticks) > max(2, columns // 7):  # keep every other decade until the labels fit
                ticks = ticks[::2]
        else:
            ticks = _linear_ticks(x_low, x_high)
        line = [" "] * (columns + _Y_LABEL_WIDTH + 1)
        taken_until = -1
        for tick in ticks:
            text = _format_tick(tick, self.x_log)
            centre = _Y_LABEL_WIDTH + 1 + column_of(self._x(tick))
            start = min(max(centre - len(text) // 2, taken_until + 2), len(line) - len(text))
            if start <= taken_until:
                continue
            line[start : start + len(text)] = list(text)
            taken_until = start + len(text) - 1
        rendered = Text("".join(line).rstrip(), style="dim")
        if self.x_label:
            rendered.append(f"  {self.x_label}" if len(rendered) + len(self.x_label) + 2 <= len(line) else "")
        return rendered

    def _legend(self, width: int) -> list[Text]:
        """Legend entries, wrapped onto as many lines as ``width`` needs."""
        parts: list[tuple[str, str]] = [("⣀ " + series.label, series.style) for series in self.series if series.label]
        parts += [("═ " + band.label, band.style) for band in self.bands if band.label]
        parts += [("▲ " + marker.label, marker.style) for marker in self.markers if marker.label]
        if self.y_label:
            parts.append((f"y: {self.y_label}", "dim"))
        lines: list[Text] = []
        line = Text(" " * (_Y_LABEL_WIDTH + 1))
        empty = True
        for text, style in parts:
            gap = "" if empty else "   "
            if not empty and len(line) + len(gap) + len(text) > width:
                lines.append(line)
                line, empty, gap = Text(" " * (_Y_LABEL_WIDTH + 1)), True, ""
            line.append(gap + text, style=style)
            empty = False
        if not empty:
            lines.append(line)
        return lines


def _clipped_segment(start: tuple[float, float], end: tuple[float, float], y_max: float) -> list[tuple[int, int]]:
    """Dots of the segment from ``start`` to ``end`` (dot coordinates), clipped to ``0 <= y <= y_max``."""
    (x0, y0), (x1, y1) = start, end
    t0, t1 = 0.0, 1.0
    dy = y1 - y0
    if dy == 0:
        if not 0 <= y0 <= y_max:
            return []
    else:
        for bound in (0.0, y_max):
            t = (bound - y0) / dy
            if dy > 0:
                t0, t1 = (max(t0, t), t1) if bound == 0.0 else (t0, min(t1, t))
            else:
                t0, t1 = (t0, min(t1, t)) if bound == 0.0 else (max(t0, t), t1)
    if t0 > t1:
        return []
    ax, ay = x0 + t0 * (x1 - x0), y0 + t0 * dy
    bx, by = x0 + t1 * (x1 - x0), y0 + t1 * dy
    steps = max(1, math.ceil(max(abs(bx - ax), abs(by - ay))))
    dots = []
    for index in range(steps + 1):
        fraction = index / steps
        dots.append((round(ax + fraction * (bx - ax)), min(round(y_max), max(0, round(ay + fraction * (by - ay))))))
    return dots
