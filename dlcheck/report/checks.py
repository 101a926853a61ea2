"""Rich rendering of the checklist: a live progress line while checks run, then a table and a verdict.

The table has one row per check: a status mark (✓ pass, ! warn, ✗ fail or error, – skip), the check's
stable name, and its summary (which carries the key numbers); under a failing or warning row come the
advice lines, most likely fix first. The verdict line says what the exit code will be.
"""

from __future__ import annotations

__all__ = ["MARKS", "CheckProgress", "checklist_report", "checks_report", "checks_table", "verdict_line"]

from collections.abc import Sequence
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.status import Status
from rich.table import Table
from rich.text import Text

from dlcheck.checklist import ChecklistReport
from dlcheck.verdict import CheckResult, overall_status

MARKS: dict[str, tuple[str, str]] = {
    "pass": ("✓", "green"),
    "warn": ("!", "yellow"),
    "fail": ("✗", "red"),
    "error": ("✗", "red"),
    "skip": ("–", "dim"),
}


def checks_table(checks: Sequence[CheckResult]) -> Table:
    """One row per check: mark, name, summary and, for warnings and failures, the advice."""
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1), expand=False)
    table.add_column("mark", no_wrap=True, width=1)
    table.add_column("check", no_wrap=True, style="bold")
    table.add_column("result", overflow="fold", ratio=1)
    for check in checks:
        mark, style = MARKS[check.status]
        body = Text(check.summary, style="dim" if check.status == "skip" else "")
        if check.status in ("warn", "fail", "error"):
            for line in check.advice:
                body.append("\n→ ", style=style)
                body.append(line, style="italic")
        table.add_row(Text(mark, style=f"bold {style}"), Text(check.name), body)
    return table


def _count_words(checks: Sequence[CheckResult]) -> str:
    counts = {status: sum(check.status == status for check in checks) for status in MARKS}
    words = []
    for status, singular, plural in (
        ("fail", "failed", "failed"),
        ("error", "error", "errors"),
        ("warn", "warning", "warnings"),
        ("pass", "passed", "passed"),
        ("skip", "skipped", "skipped"),
    ):
        if counts[status]:
            words.append(f"{counts[status]} {singular if counts[status] == 1 else plural}")
    return ", ".join(words) or "no checks"


def verdict_line(checks: Sequence[CheckResult], *, seconds: float | None = None, strict: bool = False) -> Text:
    """``PASS``/``WARN``/``FAIL`` with the counts, the time and the exit code (0 pass or warn, 1 fail).

    Examples
    --------
    >>> str(verdict_line([CheckResult("initial_loss", "warn", "High.")], seconds=1.25))
    'WARN  1 warning in 1.2 s (exit 0; 1 with --strict)'
    """
    status = overall_status(check.status for check in checks)
    style = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red"}[status]
    timing = f" in {seconds:.1f} s" if seconds is not None else ""
    if status == "fail":
        exit_words = "exit 1"
    elif status == "warn":
        exit_words = "exit 1 with --strict" if strict else "exit 0; 1 with --strict"
    else:
        exit_words = "exit 0"
    return Text.assemble((status.upper(), style), f"  {_count_words(checks)}{timing} ({exit_words})")


def checks_report(
    command: str,
    checks: Sequence[CheckResult],
    *,
    recipe: str | None = None,
    facts: Sequence[str] = (),
    warnings: Sequence[str] = (),
    seconds: float | None = None,
    strict: bool = False,
) -> RenderableType:
    """The header, the table of checks and the verdict."""
    header = Text.assemble(("dlcheck ", "bold"), (command, "bold"))
    if recipe:
        header.append(f"  {recipe}", style="cyan")
    if facts:
        header.append("  (" + ", ".join(facts) + ")", style="dim")
    parts: list[RenderableType] = [header]
    for warning in warnings:
        parts.append(Text.assemble(("note: ", "yellow"), warning))
    parts += [Text(""), checks_table(checks), Text(""), verdict_line(checks, seconds=seconds, strict=strict)]
    return Group(*parts)


def checklist_report(report: ChecklistReport, command: str = "babysit", *, strict: bool = False) -> RenderableType:
    """What ``dlcheck babysit`` (``init-loss``, ``overfit``) prints for a :class:`ChecklistReport`."""
    return checks_report(
        command,
        report.checks,
        recipe=report.recipe,
        facts=[f"seed {report.seed}", report.device],
        warnings=report.warnings,
        seconds=report.seconds,
        strict=strict,
    )


class CheckProgress:
    """A spinner naming the check being run, on stderr; nothing when ``quiet`` or not a terminal.

    Use as a context manager and pass :meth:`on_check_start` / :meth:`on_check_end` to ``babysit``.
    """

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.enabled = not quiet and self.console.is_terminal
        self._status: Status | None = None

    def __enter__(self) -> CheckProgress:
        if self.enabled:
            self._status = self.console.status("preparing the recipe's data and model…", spinner="dots")
            self._status.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def on_check_start(self, name: str, index: int, total: int) -> None:
        if self._status is not None:
            self._status.update(f"running [bold]{name}[/bold] ({index + 1}/{total})…")

    def on_check_end(self, result: CheckResult) -> None:
        if self._status is not None:
            mark, style = MARKS[result.status]
            self.console.print(
                Text.assemble((mark, f"bold {style}"), f" {result.name}", (f"  {result.seconds:.1f} s", "dim"))
            )
