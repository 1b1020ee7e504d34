"""Terminal output: rich tables on a terminal, plain lines elsewhere; never an encoding crash on a GBK console."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from .findings import Finding
from .report import FINDING_COLUMNS, SEVERITY_WORDS


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
