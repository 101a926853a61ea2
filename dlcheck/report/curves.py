"""Rendering of ``dlcheck diagnose``: the series mapping, sparklines with findings marked, the findings,
a comparison of runs; the JSON report (DESIGN 2.2) and the checks for JUnit. The PNG plot is in
:mod:`dlcheck.report.curves_plot`.
"""

from __future__ import annotations

__all__ = [
    "KIND_CODES",
    "diagnosis_checks",
    "diagnosis_json",
    "render_diagnosis",
    "sparkline",
]

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from dlcheck.checks.result import CheckResult
from dlcheck.curves.findings import Finding, format_step
from dlcheck.curves.series import ROLES, role_label

if TYPE_CHECKING:
    from dlcheck.curves.diagnosis import Diagnosis, RunDiagnosis

# One letter per kind, shown under the sparklines where a finding starts.
KIND_CODES = {
    "spike": "S",
    "divergence": "D",
    "nan": "N",
    "plateau": "P",
    "random_performance": "R",
    "no_trend": "T",
    "slow_convergence": "C",
    "oscillation": "O",
    "overfitting": "F",
    "underfitting": "U",
    "generalization_gap": "G",
    "loss_accuracy_mismatch": "M",
    "periodicity": "E",
    "suspicious_success": "Z",
}
_STYLE = {"fail": "bold red", "warn": "yellow", "info": "cyan", "pass": "green", "inconclusive": "magenta"}
_BARS = "▁▂▃▄▅▆▇█"
_SPARK_WIDTH = 48


def sparkline(
    steps: np.ndarray,
    values: np.ndarray,
    width: int = _SPARK_WIDTH,
    *,
    log: bool = False,
    span: tuple[float, float] | None = None,
) -> str:
    """A one-line chart over ``span`` (default: the series' own steps) in ``width`` equal step bins.

    Each bin shows the median of its points; a bin with only non-finite points shows ``×``; bins between
    two logged points repeat the last level (a sparse validation curve reads as a line), bins outside the
    series' steps stay blank.

    >>> sparkline(np.arange(8.0), np.array([8.0, 7, 6, 5, 4, 3, 2, 1]), width=8)
    '█▇▆▅▄▃▂▁'
    >>> sparkline(np.array([0.0, 4.0]), np.array([0.5, 0.9]), width=8, span=(0.0, 8.0))
    '▁▁▁▁█   '
    """
    if steps.size == 0:
        return " " * width
    finite = np.isfinite(values) & ((values > 0) if log else True)
    shown = np.where(finite, np.log(np.where(finite, values, 1.0)) if log else values, np.nan)
    first, last = span if span is not None else (float(steps[0]), float(steps[-1]))
    edges = np.linspace(first, last, width + 1)
    bins = np.clip(np.searchsorted(edges, steps, side="right") - 1, 0, width - 1)
    levels = np.full(width, np.nan)
    bad = np.zeros(width, dtype=bool)
    for index in np.unique(bins):
        inside = shown[bins == index]
        kept = inside[np.isfinite(inside)]
        if kept.size:
            levels[index] = float(np.median(kept))
        else:
            bad[index] = True
    known = levels[np.isfinite(levels)]
    low, high = (float(known.min()), float(known.max())) if known.size else (0.0, 1.0)
    # A flat curve must look flat, not like its noise stretched over eight levels: at least +-10% of the
    # level on a log scale, +-0.05 otherwise (accuracies).
    least = 2 * math.log(1.1) if log else 0.1
    if high - low < least:
        middle = (high + low) / 2
        low, high = middle - least / 2, middle + least / 2
    scale = high - low or 1.0
    characters = []
    current: float | None = None
    last_bin = int(bins.max())
    for index in range(width):
        if index < int(bins.min()) or index > last_bin:
            characters.append(" ")
            continue
        if bad[index]:
            characters.append("×")
            continue
        if not math.isnan(levels[index]):
            current = float(levels[index])
        if current is None:
            characters.append(" ")
        else:
            characters.append(_BARS[min(len(_BARS) - 1, int((current - low) / scale * len(_BARS)))])
    return "".join(characters)


def _markers(findings: list[Finding], first: float, last: float, width: int) -> Text:
    line = [" "] * width
    styles = [""] * width
    for finding in sorted(findings, key=lambda item: {"info": 0, "warn": 1, "fail": 2}[item.severity]):
        step = finding.step if finding.step is not None else finding.end_step
        if step is None:
            continue
        position = 0 if last <= first else int((step - first) / (last - first) * width)  # the sparkline's bin
        position = min(max(position, 0), width - 1)
        line[position] = KIND_CODES[finding.kind]
        styles[position] = _STYLE[finding.severity]
    text = Text()
    for character, style in zip(line, styles, strict=True):
        text.append(character, style=style)
    return text


def _positive(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size) and float(finite.min()) > 0


def _number(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.4g}"


def _facts(result: RunDiagnosis) -> str:
    parts = []
    if result.chance is not None:
        parts.append(result.chance.describe())
    if result.val_size is not None:
        parts.append(f"validation set {result.val_size:,} ({result.val_size_source})")
    facts = result.run.facts
    if facts.steps_per_epoch is not None:
        parts.append(f"{facts.steps_per_epoch:.4g} steps per epoch ({facts.steps_per_epoch_source})")
    return " · ".join(parts) if parts else "number of classes unknown: give --num-classes to judge chance level"


def _mapping_table(result: RunDiagnosis) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("series", overflow="fold", max_width=28)
    table.add_column("points", justify="right")
    table.add_column("steps", justify="right", no_wrap=True)
    table.add_column("used as", overflow="fold")
    for row in result.mapping.rows:
        steps = f"{format_step(row.first_step)}-{format_step(row.last_step)}" if row.points else "-"
        if row.units != "step":
            steps += f" ({row.units})"
        used = Text(role_label(row.role), style="bold") if row.role else Text(row.note, style="dim")
        if row.role and row.note != "by name":
            used.append(f" ({row.note})", style="dim")
        table.add_row(row.name, f"{row.points:,}", steps, used)
    return table


def _curves(result: RunDiagnosis) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    mapped = [series for series in result.mapping.roles.values() if series.points]
    span = (
        (min(float(item.steps[0]) for item in mapped), max(float(item.steps[-1]) for item in mapped))
        if mapped
        else (0.0, 1.0)
    )
    by_series: dict[str, list[Finding]] = {}
    for finding in result.findings:
        for name in finding.series.split(" + "):
            by_series.setdefault(name, []).append(finding)
    for role in ROLES:
        series = result.mapping.get(role)
        if series is None or series.points == 0:
            continue
        line = sparkline(series.steps, series.values, log=role.endswith("loss") and _positive(series.values), span=span)
        finite = series.values[np.isfinite(series.values)]
        first = _number(float(finite[0])) if finite.size else "-"
        last = _number(float(finite[-1])) if finite.size else "-"
        table.add_row(Text(role_label(role), style="bold"), first, line, last)
        marks = _markers(by_series.get(series.name, []), span[0], span[1], len(line))
        if marks.plain.strip():
            table.add_row("", "", marks, "")
    return table


def _findings(findings: list[Finding]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for finding in findings:
        where = ""
        if finding.step is not None and finding.end_step not in (None, finding.step):
            where = f" · steps {format_step(finding.step)}-{format_step(finding.end_step)}"
        elif finding.step is not None:
            where = f" · step {format_step(finding.step)}"
        elif finding.end_step is not None:
            where = f" · at {format_step(finding.end_step)}"
        head = Text.assemble(
            (f"{finding.kind} ", "bold"), (f"[{KIND_CODES[finding.kind]}]", "dim"), f" {finding.series}{where}"
        )
        body = Text(finding.message)
        advice = Text("\n".join(f"→ {line}" for line in finding.advice[:2]), style="dim") if finding.advice else None
        parts: list[RenderableType] = [head, body]
        if advice is not None:
            parts.append(advice)
        table.add_row(Text(finding.severity.upper(), style=_STYLE[finding.severity]), Group(*parts))
    return table


def _verdict(result: RunDiagnosis) -> Text:
    text = Text.assemble(("verdict ", "bold"), (result.status, _STYLE[result.status]))
    if result.status == "inconclusive":
        text.append(" · nothing could be judged", style="dim")
        return text
    stop = result.early_stop
    if stop is not None:
        text.append(f" · best step {format_step(stop.kept_step)}")
        if stop.stop_step is not None:
            text.append(
                f" (early stopping on {stop.monitor}, patience {stop.patience}, would stop at "
                f"{format_step(stop.stop_step)} and keep it)",
                style="dim",
            )
        else:
            text.append(f" ({stop.monitor} at its best)", style="dim")
    return text


def _comparison(diagnosis: Diagnosis) -> Table:
    table = Table(title="runs compared", box=None, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("run", overflow="fold", max_width=30)
    table.add_column("final train", justify="right")
    table.add_column("final val", justify="right")
    table.add_column("best val (step)", justify="right")
    table.add_column("verdict")
    best = diagnosis.best_run
    for result in diagnosis.runs:
        summary = result.summary
        best_text = _number(summary.get("best_val_loss"))
        if summary.get("best_val_loss_step") is not None:
            best_text += f" ({format_step(summary['best_val_loss_step'])})"
        name = Text(result.run.name, style="bold" if result is best else "")
        table.add_row(
            name,
            _number(summary.get("final_train_loss")),
            _number(summary.get("final_val_loss")),
            best_text,
            Text(result.status, style=_STYLE[result.status]),
        )
    return table


def render_diagnosis(diagnosis: Diagnosis, console: Console) -> None:
    """Print every run: header, facts, mapping, sparklines with marks, findings, verdict; then a comparison."""
    for index, result in enumerate(diagnosis.runs):
        if index:
            console.print()
        run = result.run
        console.print(Text.assemble(("dlcheck diagnose ", "bold"), (run.name, "bold cyan"), f" ({run.format})"))
        console.print(_facts(result), style="dim")
        for note in run.facts.notes:
            console.print(f"note: {note}", style="dim")
        console.print(_mapping_table(result))
        console.print(_curves(result))
        primary = result.primary
        if primary is not None:
            console.print(
                Text.assemble(
                    ("primary ", "bold"), (f"{primary.kind}", _STYLE[primary.severity]), f": {primary.message}"
                )
            )
        for name, why in result.not_judged:
            console.print(f"not judged: {name} ({why})", style="dim")
        if result.findings:
            console.print(_findings(result.findings))
        elif result.status == "inconclusive":
            reason = (
                "no loss or accuracy series recognised" if not result.mapping.roles else "every series is too short"
            )
            console.print(f"nothing judged: {reason}", style=_STYLE["inconclusive"])
        else:
            mapped = ", ".join(role_label(role) for role in result.mapping.roles)
            console.print(f"no problem found in {mapped or 'the series'}", style="green")
        console.print(_verdict(result))
    if len(diagnosis.runs) > 1:
        console.print()
        console.print(_comparison(diagnosis))
    for note in diagnosis.notes:
        console.print(f"note: {note}", style="dim")


def diagnosis_checks(diagnosis: Diagnosis) -> list[CheckResult]:
    """One ``curves`` check per run; its status is the worst finding's severity (info passes)."""
    checks = []
    for result in diagnosis.runs:
        serious = [finding for finding in result.findings if finding.severity != "info"]
        if serious:
            summary = "; ".join(f"{finding.kind} ({finding.severity})" for finding in serious[:4])
            summary = f"{result.run.name}: {summary}" + (f" and {len(serious) - 4} more" if len(serious) > 4 else "")
        else:
            summary = f"{result.run.name}: no problem found in {len(result.mapping.roles)} mapped series"
        advice: list[str] = []
        for finding in serious:
            if finding.advice and finding.advice[0] not in advice:
                advice.append(finding.advice[0])
        metrics: dict[str, Any] = {
            "run": result.run.name,
            "format": result.run.format,
            "best_step": _integral(result.best_step),
            "classes": result.chance.classes if result.chance else None,
            "findings": len(result.findings),
            **{
                key: _integral(value) if key.endswith("step") else value
                for key, value in result.summary.items()
                if value is not None
            },
        }
        status = result.status if result.status in ("pass", "warn", "fail") else "skip"
        if result.status == "inconclusive":
            summary = f"{result.run.name}: nothing could be judged"
        checks.append(CheckResult("curves", status, summary, metrics, advice[:5], seconds=result.seconds))  # type: ignore[arg-type]
    return checks


def _integral(value: float | None) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    return int(value) if float(value).is_integer() else value


_RANK_OF = {"info": 0, "warn": 1, "fail": 2}


def diagnosis_json(diagnosis: Diagnosis) -> dict[str, Any]:
    """The extra keys of the JSON report: ``primary`` (the worst run's main diagnosis, or null), ``findings``
    (DESIGN 2.2, ranked: each run's primary first), ``best_step``, ``notes`` and ``runs``."""
    findings = []
    for result in diagnosis.runs:
        for finding in result.findings:
            findings.append({**finding.to_json(), "run": result.run.name})
    runs = []
    for result in diagnosis.runs:
        stop = result.early_stop
        primary = result.primary
        runs.append(
            {
                "name": result.run.name,
                "path": str(result.run.path),
                "format": result.run.format,
                "status": result.status,
                "primary": None if primary is None else {**primary.to_json(), "run": result.run.name},
                "not_judged": [{"series": name, "reason": why} for name, why in result.not_judged],
                "notes": list(result.run.facts.notes),
                "best_step": _integral(result.best_step),
                "early_stopping": None
                if stop is None
                else {
                    "monitor": stop.monitor,
                    "patience": stop.patience,
                    "stop_step": _integral(stop.stop_step),
                    "kept_step": _integral(stop.kept_step),
                    "kept_value": stop.kept_value,
                    "best_step": _integral(stop.best_step),
                },
                "classes": result.chance.classes if result.chance else None,
                "classes_source": result.chance.source if result.chance else None,
                "val_size": result.val_size,
                "mapping": [
                    {
                        "series": row.name,
                        "role": row.role,
                        "points": row.points,
                        "first_step": _integral(row.first_step),
                        "last_step": _integral(row.last_step),
                        "units": row.units,
                        "note": row.note,
                    }
                    for row in result.mapping.rows
                ],
                "summary": {
                    key: _integral(value) if key.endswith("step") else value for key, value in result.summary.items()
                },
            }
        )
    best = diagnosis.best_run
    worst = None
    for result in diagnosis.runs:
        if result.primary is not None and (
            worst is None or _RANK_OF[result.primary.severity] > _RANK_OF[worst[1].severity]
        ):
            worst = (result.run.name, result.primary)
    return {
        "primary": None if worst is None else {**worst[1].to_json(), "run": worst[0]},
        "findings": findings,
        "best_step": _integral(diagnosis.best_step),
        "best_run": best.run.name if best is not None else None,
        "notes": list(diagnosis.notes),
        "runs": runs,
    }
