"""Terminal output: rich tables on a terminal, plain lines elsewhere; never an encoding crash on a GBK console."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from toolkit.model.findings import Finding
from toolkit.model.parallel import no_progress
from toolkit.views.report import FINDING_COLUMNS, shown


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) whose stream replaces what it cannot encode (a GBK console) instead of failing."""
    reconfigure = getattr(sys.stderr if stderr else sys.stdout, "reconfigure", None)
    if reconfigure:
        reconfigure(errors="replace")
    return Console(stderr=stderr, highlight=False, soft_wrap=True)

VERDICT_WORDS = {"accepted": "[green]已接收[/green]", "refused": "[red]拒收[/red]", "skipped": "[yellow]跳过[/yellow]"}
STYLES = {"error": "red", "warning": "yellow"}
TERMINAL_HIDDEN = {"code", "file"}  # too long for a terminal; in --json and the Excel report


def findings_table(findings: list[Finding], title: str = "") -> Table:
    columns = [(attr, label) for attr, label in FINDING_COLUMNS if attr not in TERMINAL_HIDDEN]
    table = Table(title=title or None, show_lines=False, header_style="bold")
    for _, label in columns:
        table.add_column(label, overflow="fold")
    for f in findings:
        cells = [shown(f, attr) for attr, _ in columns]
        table.add_row(*cells, style=STYLES.get(f.severity))
    return table


def print_findings(findings: list[Finding], title: str = "") -> None:
    console().print(findings_table(findings, title))


PROGRESS_MIN = 20  # fewer files than this finish before a bar is worth drawing


@contextlib.contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[[], None]]:
    """A progress bar on a terminal for `total` steps (None: not known yet); yields what advances it.

    Quiet (no bar, no output) when the output is not a terminal or there are few steps.
    """
    out = console()
    if not out.is_terminal or (total is not None and total < PROGRESS_MIN):
        yield no_progress
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=out, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
