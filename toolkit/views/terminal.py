"""Terminal output: rich tables on a terminal, plain lines elsewhere; never an encoding crash on a GBK console."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterator

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from toolkit.excel.layout import display_width
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

# Pieces a line may break between: a run of Latin letters, digits and path characters (a word, a file name,
# an option) or one other character; spaces apart. Closing punctuation sticks to the piece before it,
# opening punctuation to the piece after it (a line never begins with ，。）or ends with（“).
_PIECE = re.compile(r"\s+|[A-Za-z0-9_./\\:~@#%&+=|\-]+|.")
_CLOSING = set("，。、；：？！）》」』】〕〉”’…,.;:?!)]}%")
_OPENING = set("（《「『【〔〈“‘([{")
_PAUSE = set("，。、；：？！）》」』】〕〉”,;:")  # a line had better end after one of these than inside a word


def wrap_cjk(text: str, width: int) -> list[str]:
    """Lines of at most `width` terminal columns, broken after punctuation where that keeps a line at least half
    full (Chinese words stay whole), else between characters; never inside a Latin word or a file name
    (a longer one stays whole on its own line)."""
    pieces: list[str] = []
    for piece in _PIECE.findall(text):
        if pieces and not pieces[-1].isspace() and (piece[0] in _CLOSING or pieces[-1][-1] in _OPENING):
            pieces[-1] += piece
        else:
            pieces.append(piece)
    lines: list[str] = []
    line: list[str] = []
    for piece in pieces:
        if line and display_width("".join(line) + piece.rstrip()) > width:
            cut = next((i for i in range(len(line) - 1, 0, -1) if line[i][-1] in _PAUSE
                        and display_width("".join(line[:i + 1])) * 2 >= width), len(line) - 1)
            lines.append("".join(line[:cut + 1]).rstrip())
            line = [p for p in line[cut + 1:] if lines[-1] or not p.isspace()]
            if piece.isspace() and not line:
                continue
        line.append(piece)
    if "".join(line).strip():
        lines.append("".join(line).rstrip())
    return lines


def wrapped(text: str, width: int) -> str:
    """`text` as lines for a table cell `width` columns wide (its own line breaks kept)."""
    return "\n".join(line for paragraph in text.split("\n") for line in wrap_cjk(paragraph, width) or [""])


VERDICT_WORDS = {"accepted": "[green]已接收[/green]", "held": "[yellow]已存档未采用[/yellow]", "refused": "[red]拒收[/red]",
                 "skipped": "[yellow]跳过[/yellow]"}
STYLES = {"error": "red", "warning": "yellow"}
TERMINAL_HIDDEN = {"code", "file"}  # too long for a terminal; in --json and the Excel report


NARROW = 100  # below this many columns, findings and records are listed as lines instead of a table


def findings_table(findings: list[Finding], title: str = "", width: int = 80) -> RenderableType:
    """The findings as a table on a wide terminal, as two lines each (where, then what) on a narrow one: neither
    breaks a unit's name, a label or a word of the message in the middle."""
    columns = [(attr, label) for attr, label in FINDING_COLUMNS if attr not in TERMINAL_HIDDEN]
    rows = [[shown(f, attr) for attr, _ in columns] for f in findings]
    if width < NARROW:
        lines = [Text(title, style="bold")] if title else []
        for f, cells in zip(findings, rows, strict=True):
            where = "　".join(f"第{cell}项" if attr == "item" else cell
                             for cell, (attr, _) in zip(cells, columns, strict=True) if cell and attr != "message")
            lines.append(Text(where, style=STYLES.get(f.severity, "")))
            lines.append(Text("  " + wrapped(f.message, width - 2).replace("\n", "\n  ")))
        return Group(*lines)
    table = Table(title=title or None, show_lines=False, header_style="bold")
    fixed = 0
    for i, (attr, label) in enumerate(columns):
        if attr == "message":
            continue
        column_width = max(display_width(label), *(display_width(r[i]) for r in rows)) if rows else display_width(label)
        fixed += column_width + 3
    message_width = max(width - fixed - 4, 20)
    for attr, label in columns:
        table.add_column(label, no_wrap=attr != "message", overflow="fold")
    for f, cells in zip(findings, rows, strict=True):
        cells = [wrapped(cell, message_width) if attr == "message" else cell
                 for cell, (attr, _) in zip(cells, columns, strict=True)]
        table.add_row(*cells, style=STYLES.get(f.severity))
    return table


def print_findings(findings: list[Finding], title: str = "") -> None:
    out = console()
    out.print(findings_table(findings, title, out.width))


def files_table(rows: list[tuple[str, str, str, str]], width: int = 80) -> RenderableType:
    """Collected files as (file, unit, verdict in rich markup, reason): a table on a wide terminal, else lines
    (unit and verdict, then the file name, then the reason), so that no file name is broken in the middle."""
    longest = max((cell_len(file) + cell_len(unit) for file, unit, _, _ in rows), default=0)
    if width >= NARROW and longest + 30 <= width:
        table = Table(header_style="bold")
        for label in ("文件", "单位", "结果"):
            table.add_column(label, no_wrap=True)
        table.add_column("说明")
        reason_width = max(width - longest - 20, 20)
        for file, unit, verdict, reason in rows:
            table.add_row(file, unit, verdict, wrapped(reason, reason_width))
        return table
    lines: list[RenderableType] = []
    for file, unit, verdict, reason in rows:
        lines.append(Text.from_markup(f"{unit or '（未识别单位）'}　{verdict}"))
        lines += [Text(f"  {line}") for text in (file, reason) if text for line in wrap_cjk(text, width - 2)]
    return Group(*lines)


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
