"""Terminal output: rich tables on a terminal, plain lines elsewhere; never an encoding crash on a GBK console."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from .findings import Finding


def _safe_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure:
            reconfigure(errors="replace")


_safe_streams()
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

SEVERITY_WORDS = {"error": "[red]错误[/red]", "warning": "[yellow]警告[/yellow]"}


def findings_table(findings: list[Finding], title: str = "") -> Table:
    table = Table(title=title or None, show_lines=False, header_style="bold")
    for label in ("级别", "单位", "序号", "列", "单元格", "说明", "文件"):
        table.add_column(label, overflow="fold")
    for f in findings:
        location = f"{f.sheet}!{f.cell}" if f.sheet and f.cell else f.cell
        table.add_row(SEVERITY_WORDS.get(f.severity, f.severity), f.unit, f.item, f.column, location, f.message,
                      f.file.rsplit("/", 1)[-1])
    return table


def print_findings(findings: list[Finding], title: str = "") -> None:
    console.print(findings_table(findings, title))
