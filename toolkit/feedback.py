"""`toolkit feedback`: send a faulty return back to its unit (退回修改), marked up in its own workbook.

For each unit, its current return (the archived bytes, never a file the unit may have changed since)
is loaded with openpyxl, so the stamp sheet, sheet protection, dropdowns, hidden state and print setup
stay as they were, and:
- each cell a finding points at is filled (errors red, warnings pale yellow: labels.toml [feedback])
  and gets a comment holding the finding's message (several findings on one cell: one per line);
- a sheet 问题清单 lists every finding, those without a cell (e.g. a missing item) too;
- marks of an earlier round (a return that is itself a feedback workbook) are cleared first.

Nothing added is read back on intake: the list's headings and texts never equal a spec column label
(intake picks the sheet whose header names the most spec columns), and fills and comments are not
read at all, so a unit that fixes the marked cells and sends the file back passes.

.xls and .ods returns are converted to .xlsx with LibreOffice first; without LibreOffice the unit
gets a workbook holding only the list, and the notice asks it to fix its original file.
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import openpyxl
from openpyxl.cell.cell import MergedCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_from_string
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from toolkit.excel import intake
from toolkit.excel.layout import line_count, row_height
from toolkit.excel.office import OfficeError, convert, soffice_path
from toolkit.model.checks import CheckedReturn
from toolkit.model.findings import Finding
from toolkit.model.periods import chinese_date
from toolkit.model.resources import labels as resource_labels
from toolkit.model.resources import templates_dir
from toolkit.model.spec import Spec, render
from toolkit.model.text import match_key
from toolkit.store.checked import checked_returns
from toolkit.store.files import atomic_path, write_text
from toolkit.store.ledger import Ledger, Receipt
from toolkit.store.manifest import read_manifest, resolve_units
from toolkit.store.workspace import Workspace, safe_file_name
from toolkit.views.report import FINDING_COLUMNS, SEVERITY_WORDS

WRITTEN = "written"  # the unit's own workbook, marked up
LIST_ONLY = "list-only"  # only the list: the return could not be converted to .xlsx
NO_ERRORS = "no-errors"  # named, but its current return has no error
NOT_RETURNED = "not-returned"  # named, but nothing accepted from it yet

EDITABLE = ("xlsx", "xlsm")  # what openpyxl edits; .xls and .ods go through LibreOffice
LIST_FONT_PT = 11


def labels() -> dict[str, Any]:
    return resource_labels("feedback")


@dataclass
class UnitFeedback:
    """What `feedback` did for one unit."""

    unit: str
    state: str
    errors: int = 0
    warnings: int = 0
    workbook: Path | None = None
    notice: Path | None = None
    marked: list[str] = field(default_factory=list)  # cells marked, as sheet!A1
    listed_only: int = 0  # findings without a cell: in the list only
    note: str = ""  # why only the list was written


@dataclass(frozen=True)
class Style:
    """The marks of one workspace: fills by severity and the comments' author."""

    error_fill: str
    warning_fill: str
    author: str

    def fill(self, is_error: bool) -> PatternFill:
        colour = self.error_fill if is_error else self.warning_fill
        return PatternFill(fill_type="solid", fgColor=colour, bgColor=colour)

    def has_mark_fill(self, cell: Any) -> bool:
        """A cell filled exactly as an earlier round marked it."""
        fill = cell.fill
        colour = fill.fgColor.rgb if fill is not None and fill.fill_type == "solid" else ""
        return isinstance(colour, str) and colour[-6:].upper() in (self.error_fill, self.warning_fill)


def style_for(ws: Workspace) -> Style:
    names = labels()
    author = render(names["comment_author"], ws.context).strip() or "审核意见"
    return Style(str(names["error_fill"]).lstrip("#").upper(), str(names["warning_fill"]).lstrip("#").upper(),
                 author)


def make_feedback(ws: Workspace, units: list[str] | None = None, *, deadline: dt.date | None = None,
                  today: dt.date | None = None) -> list[UnitFeedback]:
    """Feedback for the named units, or for every unit whose current return has errors."""
    today = today or dt.date.today()
    if deadline is None:
        days = int(ws.config.get("feedback.days_to_fix", labels()["days_to_fix"]))
        deadline = today + dt.timedelta(days=days)
    checked = checked_returns(ws)
    with Ledger(ws.state / "ledger.sqlite") as ledger:
        current = ledger.current_returns()
    issued = list(read_manifest(ws).get("units", {}))
    known = issued + [u for u in current if u not in issued]
    chosen = resolve_units(units, known) if units else [u for u, r in checked.returns.items() if r.errors]
    results: list[UnitFeedback] = []
    todo: list[tuple[UnitFeedback, CheckedReturn, Receipt]] = []
    for unit in chosen:
        ret = checked.returns.get(unit)
        if ret is None or unit not in current:
            results.append(UnitFeedback(unit, NOT_RETURNED))
        elif not ret.errors:
            results.append(UnitFeedback(unit, NO_ERRORS, ret.errors, ret.warnings))
        else:
            outcome = UnitFeedback(unit, WRITTEN, ret.errors, ret.warnings)
            results.append(outcome)
            todo.append((outcome, ret, current[unit]))
    if not todo:
        return results
    style = style_for(ws)
    folder = ws.root / labels()["folder"]
    with tempfile.TemporaryDirectory(prefix="toolkit-feedback-") as scratch:
        editable = _editable_copies(ws, [receipt for _, _, receipt in todo], Path(scratch))
        for outcome, ret, receipt in todo:
            source = editable.get(receipt.sha256)
            if isinstance(source, str):
                outcome.state, outcome.note, source = LIST_ONLY, source, None
            _write_unit(ws, outcome, ret, receipt, source, folder, style, deadline, today)
    return results


def _editable_copies(ws: Workspace, receipts: list[Receipt], scratch: Path) -> dict[str, Path | str]:
    """Each return as a file openpyxl can edit (by sha256), or why it cannot be had."""
    out: dict[str, Path | str] = {}
    to_convert: list[Path] = []
    for receipt in receipts:
        archived = ws.root / receipt.archive
        if receipt.format in EDITABLE:
            out[receipt.sha256] = archived
        elif receipt.format in ("xls", "ods"):
            copied = scratch / "in" / f"{receipt.sha256}.{receipt.format}"
            copied.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(archived, copied)
            to_convert.append(copied)
        else:
            out[receipt.sha256] = f"回报格式（{receipt.format}）无法编辑"
    if not to_convert:
        return out
    if soffice_path() is None:
        for path in to_convert:
            out[path.stem] = "没有安装 LibreOffice，无法把 .xls/.ods 回报转换为 .xlsx 后标注"
        return out
    converted = scratch / "out"
    failure = ""
    try:
        convert(to_convert, "xlsx", converted)
    except OfficeError as exc:  # some may have been converted before the one that failed
        failure = str(exc)
    for path in to_convert:
        produced = converted / f"{path.stem}.xlsx"
        out[path.stem] = produced if produced.is_file() else (failure or "LibreOffice 转换失败")
    return out


def _write_unit(ws: Workspace, outcome: UnitFeedback, ret: CheckedReturn, receipt: Receipt, source: Path | None,
                folder: Path, style: Style, deadline: dt.date, today: dt.date) -> None:
    names = labels()
    context = {**ws.context, "unit": outcome.unit}
    outcome.workbook = folder / safe_file_name(render(names["workbook"], context))
    outcome.notice = folder / safe_file_name(render(names["notice"], context))
    data = (ws.root / receipt.archive).read_bytes()
    parsed = intake.parse(data, ws.spec, receipt.source)
    table_sheet = parsed.table.sheet if parsed.table else next((f.sheet for f in ret.findings if f.sheet),
                                                                ws.spec.sheet_name)
    workbook = None
    if source is not None:
        try:
            workbook = openpyxl.load_workbook(source, rich_text=True)
        except Exception as exc:  # a return calamine read but openpyxl cannot: still send the list
            outcome.state, outcome.note = LIST_ONLY, f"openpyxl 无法打开此回报（{type(exc).__name__}: {exc}）"
    if workbook is not None:
        item_rows = [row.row for row in parsed.table.rows] if parsed.table else []
        clear_marks(workbook, style, table_sheet, item_rows)
        outcome.marked = mark_cells(workbook, ret.findings, style)
        if table_sheet in workbook.sheetnames:
            fit_rows(workbook[table_sheet], item_rows)
    else:
        workbook = openpyxl.Workbook()
        workbook.remove(workbook.active)
    outcome.listed_only = sum(not _has_cell(f, workbook) for f in ret.findings)
    intro = names["intro"] if outcome.state == WRITTEN else names["intro_list_only"]
    add_findings_sheet(workbook, ws.spec, ret.findings, title=render(names["title"], context),
                       intro=render(intro, {**context, "errors": ret.errors, "warnings": ret.warnings,
                                            "table_sheet": table_sheet}),
                       table_sheet=table_sheet if outcome.state == WRITTEN else None, style=style)
    with atomic_path(outcome.workbook) as tmp:
        workbook.save(tmp)
    write_text(outcome.notice, render_notice(ws, outcome, ret, receipt, deadline, today), bom=True)


def _target(workbook: Workbook, finding: Finding) -> tuple[Worksheet, str] | None:
    """The sheet and top-left cell (of a merged range) a finding points at, if the workbook has it."""
    if not finding.cell or finding.sheet not in workbook.sheetnames:
        return None
    sheet = workbook[finding.sheet]
    try:
        column, row = coordinate_from_string(finding.cell)
    except ValueError:
        return None
    coordinate = f"{column}{row}"
    if isinstance(sheet[coordinate], MergedCell):
        for merged in sheet.merged_cells.ranges:
            if coordinate in merged:
                coordinate = merged.start_cell.coordinate
                break
    return sheet, coordinate


def _has_cell(finding: Finding, workbook: Workbook) -> bool:
    return _target(workbook, finding) is not None


def mark_cells(workbook: Workbook, items: list[Finding], style: Style) -> list[str]:
    """Fill and comment every cell a finding points at; returns the cells marked (sheet!A1)."""
    by_cell: dict[tuple[str, str], list[Finding]] = {}
    for finding in items:
        target = _target(workbook, finding)
        if target is not None:
            by_cell.setdefault((target[0].title, target[1]), []).append(finding)
    for (sheet_name, coordinate), here in by_cell.items():
        cell = workbook[sheet_name][coordinate]
        cell.fill = style.fill(any(f.is_error for f in here))
        text = "\n".join(dict.fromkeys(f.message for f in here))
        earlier = cell.comment.text if cell.comment is not None and cell.comment.author != style.author else ""
        if earlier:
            text = f"{text}\n——原批注：{earlier}"
        width_pt = 260
        lines = line_count(text, width_pt / 5.5, 9)
        cell.comment = Comment(text, style.author, height=min(lines * 13 + 16, 400), width=width_pt)
    return [f"{sheet}!{coordinate}" for sheet, coordinate in by_cell]


def fit_rows(sheet: Worksheet, rows: list[int], font_pt: float = 11) -> None:
    """Item rows made tall enough for what the unit typed (never lower): a row keeps the template's height when
    a unit's program does not fit it, and a long answer would be cut off on screen and on paper."""
    default_width = sheet.sheet_format.defaultColWidth or 8.43
    for r in rows:
        cells = [(str(c.value), sheet.column_dimensions[c.column_letter].width or default_width)
                 for c in sheet[r] if not isinstance(c, MergedCell) and c.value not in (None, "")]
        needed = row_height(cells, font_pt)
        if needed > (sheet.row_dimensions[r].height or 0):
            sheet.row_dimensions[r].height = needed


def clear_marks(workbook: Workbook, style: Style, table_sheet: str, item_rows: list[int]) -> None:
    """Remove an earlier round's marks: its list sheet, its comments, and on the table its fills.

    A marked fill gets the fill of an unmarked cell of its column back (the template fills a column alike).
    """
    for sheet in list(workbook.worksheets):
        if sheet.title == labels()["sheet"] and sheet.title != table_sheet:
            workbook.remove(sheet)
    for sheet in workbook.worksheets:
        # Only the cells that exist (iter_rows would create every cell of a sheet formatted to row 1048576).
        cells = [c for c in sheet._cells.values() if not isinstance(c, MergedCell)]
        ours = [c for c in cells if c.comment is not None and (c.comment.author or "") == style.author]
        for cell in ours:
            cell.comment = None
        if sheet.title != table_sheet:
            continue
        marked = {c.coordinate: c for c in cells if style.has_mark_fill(c)}
        for cell in marked.values():
            rows = item_rows if cell.row in item_rows else []
            cell.fill = _column_fill(sheet, cell.column, rows, set(marked))


def _column_fill(sheet: Worksheet, column: int, rows: list[int], marked: set[str]) -> PatternFill:
    """The fill of an unmarked cell of the same column among the given rows, else none."""
    for row in rows:
        other = sheet.cell(row, column)
        if other.coordinate not in marked:
            return copy.copy(other.fill)
    return PatternFill(fill_type=None)


def list_columns() -> list[tuple[str, str]]:
    names = labels()
    headings = names.get("headings", {})
    return [(attr, headings.get(attr, label)) for attr, label in FINDING_COLUMNS if attr not in names["omit"]]


def _harmless(text: str, header_keys: set[str]) -> str:
    """A text intake could read as a header label of the spec's table, quoted so it cannot."""
    return f"“{text}”" if match_key(text) in header_keys else text


def add_findings_sheet(workbook: Workbook, spec: Spec, items: list[Finding], *, title: str, intro: str,
                       table_sheet: str | None, style: Style) -> Worksheet:
    """The 问题清单 sheet: a title, what to do, one row per finding (cells linked to the table)."""
    names = labels()
    header_keys = {k for c in spec.columns for k in c.header_keys()}
    columns = list_columns()
    widths = {"severity": 14, "item": 9, "column": 16, "sheet": 12, "cell": 10, "message": 70}
    sheet = workbook.create_sheet(names["sheet"])
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    wrap = Alignment(wrap_text=True, vertical="top")
    centred = Alignment(wrap_text=True, vertical="top", horizontal="center")
    last = get_column_letter(len(columns))
    total_width = sum(widths.get(a, 12) for a, _ in columns)

    sheet["A1"] = _harmless(title, header_keys)
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center", vertical="center")
    sheet.merge_cells(f"A1:{last}1")
    sheet.row_dimensions[1].height = 28
    sheet["A2"] = _harmless(intro, header_keys)
    sheet["A2"].alignment = Alignment(wrap_text=True, vertical="center")
    sheet.merge_cells(f"A2:{last}2")
    sheet.row_dimensions[2].height = row_height([(intro, total_width)], LIST_FONT_PT)
    for c, (attr, heading) in enumerate(columns, start=1):
        cell = sheet.cell(3, c, _harmless(heading, header_keys))
        cell.font = Font(bold=True)
        cell.fill = PatternFill(fill_type="solid", fgColor="D9D9D9")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = border
        sheet.column_dimensions[get_column_letter(c)].width = widths.get(attr, 12)
    severity_words = {**SEVERITY_WORDS, **names.get("severity", {})}
    for r, finding in enumerate(items, start=4):
        target = _target(workbook, finding) if table_sheet is not None else None
        texts = []
        for c, (attr, _) in enumerate(columns, start=1):
            value = str(getattr(finding, attr))
            if attr == "severity":
                value = severity_words.get(value, value)
            elif attr == "column" and value:
                value = f"“{value}”"
            elif attr == "cell" and not value:
                value = names["no_cell"]
            value = _harmless(value, header_keys)
            cell = sheet.cell(r, c, value)
            cell.alignment = wrap if attr in ("message", "column") else centred
            cell.border = border
            if attr == "severity":
                cell.fill = style.fill(finding.is_error)
            if attr == "cell" and target is not None:
                location = f"'{target[0].title.replace(chr(39), chr(39) * 2)}'!{target[1]}"
                cell.hyperlink = Hyperlink(ref=cell.coordinate, location=location, display=value)
                cell.font = Font(color="0563C1", underline="single")
            texts.append((value, widths.get(attr, 12)))
        sheet.row_dimensions[r].height = row_height(texts, LIST_FONT_PT)
    sheet.freeze_panes = "A4"
    sheet.print_title_rows = "3:3"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.sheet_properties.tabColor = style.error_fill
    _select_only(workbook, table_sheet)
    return sheet


def _select_only(workbook: Workbook, name: str | None) -> None:
    """Open on the table (or the list): one selected tab, or Excel groups the sheets and edits them all."""
    chosen = workbook[name] if name in workbook.sheetnames else workbook[labels()["sheet"]]
    for sheet in workbook.worksheets:
        sheet.sheet_view.tabSelected = sheet is chosen
    workbook.active = workbook.worksheets.index(chosen)


def render_notice(ws: Workspace, outcome: UnitFeedback, ret: CheckedReturn, receipt: Receipt, deadline: dt.date,
                  today: dt.date) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()), autoescape=False,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    try:
        received = chinese_date(dt.datetime.fromisoformat(receipt.received_at).date())
    except ValueError:
        received = receipt.received_at
    return env.get_template("feedback.txt.j2").render(
        **ws.context, unit=outcome.unit, title=ws.spec.title, file_name=receipt.file_name,
        received_words=received, errors=ret.errors, warnings=ret.warnings, findings=ret.findings,
        marked_copy=outcome.state == WRITTEN, listed_only=outcome.listed_only,
        workbook=outcome.workbook.name if outcome.workbook else "", sheet=labels()["sheet"],
        deadline_words=chinese_date(deadline), contact_line=ws.coordinator_line(), date=chinese_date(today),
    )
