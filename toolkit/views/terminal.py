"""Terminal output: rich tables on a terminal, plain lines elsewhere; never an encoding crash on a GBK console."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from toolkit.model.findings import Finding
from toolkit.views.report import FINDING_COLUMNS, SEVERITY_WORDS


def _safe_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure:
            reconfigure(errors="replace")


_safe_streams()
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

VERDICT_WORDS = {"accepted": "[green]已接收[/green]", "refused": "[red]拒收[/red]", "skipped": "[yellow]跳过[/yellow]"}
STYLES = {"error": "red", "warning": "yellow"}
TERMINAL_HIDDEN = {"code", "file"}  # too long for a terminal; in --json and the Excel report


def findings_table(findings: list[Finding], title: str = "") -> Table:
    columns = [(attr, label) for attr, label in FINDING_COLUMNS if attr not in TERMINAL_HIDDEN]
    table = Table(title=title or None, show_lines=False, header_style="bold")
    for _, label in columns:
        table.add_column(label, overflow="fold")
    for f in findings:
        cells = [SEVERITY_WORDS.get(f.severity, f.severity) if attr == "severity" else str(getattr(f, attr))
                 for attr, _ in columns]
        table.add_row(*cells, style=STYLES.get(f.severity))
    return table


def print_findings(findings: list[Finding], title: str = "") -> None:
    console.print(findings_table(findings, title))


PROGRESS_MIN = 20  # fewer files than this finish before a bar is worth drawing


def no_progress() -> None:
    """The `tick` of a step run without a progress bar (the library's default)."""


@contextlib.contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[[], None]]:
    """A progress bar on a terminal for `total` steps (None: not known yet); yields what advances it.

    Quiet (no bar, no output) when the output is not a terminal or there are few steps.
    """
    if not console.is_terminal or (total is not None and total < PROGRESS_MIN):
        yield no_progress
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
