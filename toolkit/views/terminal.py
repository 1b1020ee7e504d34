"""Terminal output: rich tables on a terminal, plain lines elsewhere; never an encoding crash on a GBK console."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from toolkit.excel.targetlist import UnitEntry
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


def _seqs(seqs: list[str]) -> str:
    return "、".join(seqs)


def units_table(entries: list[UnitEntry]) -> Table:
    """Every unit the target list names: the items it answers for and assists, and how its name was read."""
    table = Table(header_style="bold")
    for label in ("单位", "牵头事项", "协办事项", "说明"):
        table.add_column(label, overflow="fold")
    for e in entries:
        notes = []
        if e.joined:
            cells = "、".join(dict.fromkeys(cell for _, cell in e.joined))
            notes.append(f"[yellow]由换行前后两段合成（{cells}），请核对[/yellow]")
        if e.members:
            notes.append(f"集体单位，成员：{'、'.join(e.members)}")
        if e.via:
            notes.append(f"{e.via}的成员")
        table.add_row(e.name, _seqs(e.lead), _seqs(e.co), "；".join(notes))
    return table


def print_joined(entries: list[UnitEntry]) -> None:
    """The names made of two lines of a units cell: guesses the coordinator confirms or corrects."""
    joined = [e for e in entries if e.joined]
    if not joined:
        return
    out = console()
    out.print(f"[yellow]以下 {len(joined)} 个单位名称是把责任单位栏中换行前后两段合在一起得到的，请核对：[/yellow]")
    for e in joined:
        where = "、".join(f"第{seq}项 {cell}" for seq, cell in e.joined)
        out.print(f"  {e.name}（{where}）")
    out.print("  如实为两个单位，或想确认名称，请在目标任务清单的“单位”工作表中逐行登记单位全称"
              "（toolkit units 列出清单中的全部单位）。")
