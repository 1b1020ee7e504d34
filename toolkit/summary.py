"""The official summary workbook (汇总表): the seed's table with every unit's rows, a 统计 sheet, a 联系人 sheet.

This module knows nothing of how returns are collected: the caller gives one `SummaryRow` per item
in 序号 order (prefilled texts from the target list, filled texts from the unit's current return,
and whether the unit returned at all) and one `UnitContact` per return.

Sheet 1 (labels.toml [summary].sheet), top to bottom:
    title (spec.title, merged across)            方正小标宋简体 二号 (22 pt), centred
    coordinator's line (merged across)           body font, left
    missing line, when given (merged across)     body font, bold: how many units are missing / unverified
    header row (spec labels, spec order)         黑体 12 pt bold, repeated on every printed page, panes frozen below
    item rows (or subtitle rows + item rows)     仿宋_GB2312 12 pt, thin borders, wrapped
    footnote (spec.footnote, merged across)

xlsxwriter writes all of it but the item rows' cells, which toolkit.excel.sheetxml renders and deflates in
worker processes and splices into the sheet (at province scale, 20,000 rows, cell by cell through
xlsxwriter took most of a merge); `write_summary(cell_by_cell=True)` writes them through xlsxwriter too.

Row heights: Excel does not grow a row with wrapped text by itself (and LibreOffice keeps a stored
height), so every row gets an explicit height. The rule (`row_height` below, built on
`toolkit.excel.layout.line_count`): a column `width` holds `(width - 1) * 11 / pt` half-width characters per
line, a CJK or full-width character counting two; each paragraph (line break) takes ceil(its width /
that) lines; the cell with the most lines sets the row: lines × pt × style.line_spacing (1.5) + 4 points,
capped at Excel's 409 points. layout.row_height uses 1.3 × pt a line, which fits Excel's 仿宋/宋体 but
clips in LibreOffice, whose CJK fallback fonts (Noto Sans CJK) need about 1.49 × pt a line: measured
against LibreOffice's own optimal row heights on the bundled example, 1.5 leaves no row short. A merged
row (title, lines, subtitles, footnote) is measured against the sum of its columns' widths.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell

from toolkit.excel import sheetxml
from toolkit.excel.layout import line_count, lines_points, new_workbook, write_contact_row
from toolkit.excel.office import convert
from toolkit.excel.targetlist import Item
from toolkit.model.parallel import AUTO
from toolkit.model.resources import labels as resource_labels
from toolkit.model.spec import Column, Spec, render

STATES = ("ok", "missing", "unverified")
GROUPS = ("leader", "unit")
PAPERS = {"A3": 8, "A4": 9, "A5": 11, "B4": 12, "B5": 13}
CM_PER_INCH = 2.54
# Leader names are split on these only: never on spaces (two-character names are padded: 沈　昱).
_LEADER_SEPARATORS = re.compile(r"[、，,；;\n]+")


def labels() -> dict[str, Any]:
    return resource_labels("summary")


class SummaryError(ValueError):
    """Unusable input to the summary (a style key, a row state); the message says what is allowed."""


@dataclass(frozen=True)
class SummaryRow:
    item: Item  # from the target list: prefilled columns come from here
    filled: dict[str, str]  # column key -> text the unit returned (spec.filled columns); empty when none
    state: str = "ok"  # "ok" | "missing" (未报送) | "unverified" (its return has errors: 待核实)


@dataclass(frozen=True)
class UnitContact:
    unit: str
    values: dict[str, str]  # spec.contact field key -> text
    received: str  # when the return was received, e.g. "2022-04-12 09:30"
    file: str  # the returned file's name


@dataclass(frozen=True)
class SummaryStyle:
    """Fonts, paper and margins of the summary; defaults per GB/T 9704 practice (BRIEF §5)."""

    title_font: str = "方正小标宋简体"
    title_pt: float = 22.0  # 二号
    header_font: str = "黑体"
    header_pt: float = 12.0  # 小四
    header_bold: bool = True
    header_fill: str = ""  # e.g. "#D9D9D9"; empty = no shading, as printed documents have
    body_font: str = "仿宋_GB2312"
    body_pt: float = 12.0  # 小四
    footer_font: str = "宋体"
    footer_pt: float = 14.0  # 四号
    page_number: str = "— &P —"  # Excel header/footer codes: &P page, &N pages
    paper: str = "A3"
    landscape: bool = True
    aux_paper: str = "A4"  # the 统计 (landscape) and 联系人 (portrait) sheets
    fit_width: int = 1  # pages wide (0: print at 100 %)
    margin_left_cm: float = 1.8
    margin_right_cm: float = 1.8
    margin_top_cm: float = 2.0
    margin_bottom_cm: float = 2.2
    footer_cm: float = 1.0  # from the paper's bottom edge to the page number
    line_spacing: float = 1.5  # a line's height / font size: LibreOffice's CJK fonts need 1.5 (layout's 1.3 clips there)

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None) -> SummaryStyle:
        """A style from the workspace config's [summary] table; unknown keys and wrong types are refused."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in (data or {}).items():
            if key not in fields:
                raise SummaryError(f"配置 [summary] 中没有“{key}”这一项：可用的有 {'、'.join(fields)}。")
            default = fields[key].default
            if isinstance(default, bool):
                ok = isinstance(value, bool)
                want = "true 或 false"
            elif isinstance(default, int | float):
                ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
                want = "不小于 0 的数字"
            else:
                ok = isinstance(value, str)
                want = "文字（加引号）"
            if not ok:
                raise SummaryError(f"配置 [summary] 的 {key} = {value!r} 不可用：应为{want}。")
            if isinstance(default, int) and not isinstance(default, bool):
                if value != int(value):
                    raise SummaryError(f"配置 [summary] 的 {key} = {value!r} 不可用：应为整数。")
                value = int(value)
            values[key] = value
        for key in ("paper", "aux_paper"):
            if key in values and values[key].upper() not in PAPERS:
                raise SummaryError(f"配置 [summary] 的 {key} = “{values[key]}” 不可用：可用的有 {'、'.join(PAPERS)}。")
        for key in ("title_pt", "header_pt", "body_pt", "footer_pt"):
            if key in values and not 6 <= values[key] <= 72:
                raise SummaryError(f"配置 [summary] 的 {key} = {values[key]} 不可用：字号应在 6 到 72 磅之间。")
        if "line_spacing" in values and not 1 <= values["line_spacing"] <= 3:
            raise SummaryError(f"配置 [summary] 的 line_spacing = {values['line_spacing']} 不可用：行距应在 1 到 3 倍之间。")
        return cls(**values)

    def footer(self) -> str:
        """The footer codes: the page number centred in the footer font (&"宋体,常规"&14— &P —)."""
        size = f"{self.footer_pt:g}"
        return f'&C&"{self.footer_font},常规"&{size}{self.page_number}'


_MISSING, _UNVERIFIED = 0, 1  # an item's outcome in `tally` when it is not one of the status choices


@dataclass
class Tally:
    """One line of the 统计 sheet: a lead unit's or a leader's items, by status."""

    name: str
    items: int = 0
    by_choice: dict[str, int] = field(default_factory=dict)  # 完成 / 未完成 (the status column's choices)
    missing: int = 0
    unverified: int = 0

    @property
    def done(self) -> int:
        return next(iter(self.by_choice.values()), 0)

    def add(self, outcome: int | str, count: int) -> None:
        """`count` items missing, unverified, or of the choice `outcome`."""
        self.items += count
        if outcome == _MISSING:
            self.missing += count
        elif outcome == _UNVERIFIED:
            self.unverified += count
        else:
            self.by_choice[outcome] += count

    @property
    def rate(self) -> float | None:
        return self.done / self.items if self.items else None


# --- what goes where ---------------------------------------------------------------------------------------

def status_column(spec: Spec) -> Column | None:
    """The column that says whether an item is done: the first filled choice column, else the one keyed status."""
    chosen = next((c for c in spec.filled if c.type == "choice" and c.choices), None)
    if chosen is None:
        chosen = next((c for c in spec.columns if c.key == "status"), None)
    return chosen


def cell_values(spec: Spec, rows: Iterable[SummaryRow]) -> list[dict[str, str]]:
    """Every column's text for each item: prefilled from the target list, filled from the return, markers."""
    status = status_column(spec)
    names = labels()
    # Where each column's text comes from, worked out once for all rows (20,000 at province scale).
    sources = [(col.key, col.role if col.role in ("id", "units") else "target" if col.prefilled else "return")
               for col in spec.columns]
    out = []
    for row in rows:
        if row.state not in STATES:
            raise SummaryError(f"第{row.item.seq}项的状态“{row.state}”不可用：可用的有 {'、'.join(STATES)}。")
        item, filled = row.item, {} if row.state == "missing" else row.filled
        values: dict[str, str] = {}
        for key, source in sources:
            if source == "id":
                values[key] = item.seq
            elif source == "units":
                values[key] = "\n".join(item.units_column)
            elif source == "target":
                values[key] = item.values.get(key, "")
            else:
                values[key] = filled.get(key, "")
        if status is not None and row.state != "ok":
            values[status.key] = names[row.state]
        out.append(values)
    return out


def leader_column(spec: Spec) -> Column | None:
    return next((c for c in spec.columns if c.role == "leader"), None)


def leader_of(leader: Column | None, item: Item) -> str:
    return item.values.get(leader.key, "").strip() if leader else ""


def groups(spec: Spec, rows: list[SummaryRow], group_by: str | None) -> list[tuple[str | None, list[SummaryRow]]]:
    """Rows in blocks: one block without a title, or one per leader / lead unit in order of first appearance."""
    if group_by is None:
        return [(None, list(rows))]
    if group_by not in GROUPS:
        raise SummaryError(f"分组方式“{group_by}”不可用：可用的有 leader（按分管领导）、unit（按牵头单位）。")
    leader = leader_column(spec)
    blocks: dict[str, list[SummaryRow]] = {}
    for row in rows:
        name = row.item.lead if group_by == "unit" else leader_of(leader, row.item)
        blocks.setdefault(name, []).append(row)
    names = labels()
    if group_by == "unit":
        label = names["group_unit_label"]
    else:
        if leader is None:
            raise SummaryError("本预设没有“分管领导”列（role = leader），不能按分管领导分组：请用 unit。")
        label = leader.label
    return [(render(names["group_title"], {"label": label, "value": name or names["group_empty"],
                                           "count": len(block)}), block)
            for name, block in blocks.items()]


def missing_line(spec: Spec, rows: Iterable[SummaryRow]) -> str:
    """The line under the title when items are marked (“N个单位未报送（…）…”); empty when none is."""
    missing: dict[str, int] = {}
    unverified: dict[str, int] = {}
    for row in rows:
        if row.state == "missing":
            missing[row.item.lead] = missing.get(row.item.lead, 0) + 1
        elif row.state == "unverified":
            unverified[row.item.lead] = unverified.get(row.item.lead, 0) + 1
    if not missing and not unverified:
        return ""
    status = status_column(spec)
    names = labels()
    return render(names["missing_line"], {
        "missing": list(missing), "missing_items": sum(missing.values()),
        "unverified": list(unverified), "unverified_items": sum(unverified.values()),
        "status": status.label if status else "", "missing_marker": names["missing"],
        "unverified_marker": names["unverified"],
    })


def tally(spec: Spec, rows: Iterable[SummaryRow], by: str) -> tuple[list[Tally], Tally]:
    """Counts per lead unit (by="unit") or per leader (by="leader", each of an item's leaders), and the total.

    An item of an unreturned unit counts as missing, of a return with errors as unverified; otherwise
    under its status value (values are canonical after validation; any other value counts as unverified).
    """
    status = status_column(spec)
    choices = status.choices if status else ()
    leader = leader_column(spec)
    names = labels()
    # Rows counted by (key, outcome) first, then added up: 20,000 rows at province scale.
    per_key: Counter[tuple[str, int | str]] = Counter()
    per_item: Counter[int | str] = Counter()  # the total: each item once, whatever its leaders
    leaders: dict[str, list[str]] = {}  # an item's leader cell -> its leaders, split once
    for row in rows:
        value = row.filled.get(status.key, "").strip() if status else ""
        outcome: int | str = _MISSING if row.state == "missing" else \
            _UNVERIFIED if row.state == "unverified" or value not in choices else value
        per_item[outcome] += 1
        if by == "unit":
            per_key[(row.item.lead, outcome)] += 1
            continue
        cell = leader_of(leader, row.item)
        if cell not in leaders:
            split = [n.strip() for n in _LEADER_SEPARATORS.split(cell) if n.strip()]
            leaders[cell] = list(dict.fromkeys(split or [names["group_empty"]]))  # an item counts once a leader
        for key in leaders[cell]:
            per_key[(key, outcome)] += 1
    lines: dict[str, Tally] = {}  # in order of first appearance, as the rows come
    for (key, outcome), count in per_key.items():
        if key not in lines:
            lines[key] = Tally(key, by_choice=dict.fromkeys(choices, 0))
        lines[key].add(outcome, count)
    total = Tally(names["stats"]["total"], by_choice=dict.fromkeys(choices, 0))
    for outcome, count in per_item.items():
        total.add(outcome, count)
    return list(lines.values()), total


def row_height(cells: list[tuple[str, float]], font_pt: float, style: SummaryStyle, minimum_lines: int = 1) -> float:
    """Points for a row whose cells are (text, column width): layout's line rule, the style's line spacing."""
    return lines_height(max([minimum_lines, *(line_count(t, w, font_pt) for t, w in cells if t)]), font_pt, style)


def lines_height(lines: int, font_pt: float, style: SummaryStyle) -> float:
    """Points for `lines` lines: the style's line spacing and the padding, at most Excel's limit."""
    return lines_points(lines, font_pt, style.line_spacing)


# --- writing ---------------------------------------------------------------------------------------------------

class _Formats:
    """The workbook's cell formats, made once from the style."""

    def __init__(self, workbook: Any, spec: Spec, style: SummaryStyle) -> None:
        body = {"font_name": style.body_font, "font_size": style.body_pt, "text_wrap": True, "valign": "vcenter"}
        self.title = workbook.add_format({"font_name": style.title_font, "font_size": style.title_pt,
                                          "align": "center", "valign": "vcenter", "text_wrap": True})
        # The 统计 sheet's title is narrower than the summary's: at most 小二 (18 pt).
        self.stats_title_pt = min(style.title_pt, 18)
        self.stats_title = workbook.add_format({"font_name": style.title_font, "font_size": self.stats_title_pt,
                                                "align": "center", "valign": "vcenter", "text_wrap": True})
        self.line = workbook.add_format({**body, "align": "left"})
        self.line_bold = workbook.add_format({**body, "align": "left", "bold": True})
        self.contact_label = workbook.add_format({**body, "align": "right"})
        header = {"font_name": style.header_font, "font_size": style.header_pt, "bold": style.header_bold,
                  "align": "center", "valign": "vcenter", "text_wrap": True, "border": 1}
        if style.header_fill:
            header["bg_color"] = style.header_fill
        self.header = workbook.add_format(header)
        self.group = workbook.add_format({**body, "bold": True, "align": "left", "border": 1})
        self.note = workbook.add_format({**body, "align": "left", "valign": "top"})
        self.cells: dict[tuple[str, bool], Any] = {}
        for col in spec.columns:
            for marked in (False, True):
                self.cells[(col.key, marked)] = workbook.add_format({
                    **body, "border": 1, "align": "center" if marked else col.align, "bold": marked,
                })
        self.text = workbook.add_format({**body, "border": 1, "align": "left"})
        self.text_center = workbook.add_format({**body, "border": 1, "align": "center"})
        self.number = workbook.add_format({**body, "border": 1, "align": "center", "num_format": "0"})
        self.percent = workbook.add_format({**body, "border": 1, "align": "center", "num_format": "0.0%"})
        self.total_text = workbook.add_format({**body, "border": 1, "align": "center", "bold": True})
        self.total_number = workbook.add_format({**body, "border": 1, "align": "center", "bold": True,
                                                 "num_format": "0"})
        self.total_percent = workbook.add_format({**body, "border": 1, "align": "center", "bold": True,
                                                  "num_format": "0.0%"})
        self.heading = workbook.add_format({"font_name": style.header_font, "font_size": style.header_pt,
                                            "align": "left", "valign": "vcenter"})


def write_summary(path: Path, spec: Spec, rows: list[SummaryRow], contacts: list[UnitContact], *,
                  coordinator: dict[str, str] | None = None, missing_line: str = "",
                  style: SummaryStyle | None = None, group_by: str | None = None,
                  jobs: int = AUTO, cell_by_cell: bool = False) -> None:
    """Write the summary workbook to `path` (the caller makes it atomic). Rows are written in the given order.

    xlsxwriter writes everything but the item rows, which sheetxml renders and deflates (in `jobs`
    processes; AUTO: as many as pay for themselves): at province scale, xlsxwriter cell by cell took
    most of a merge. `cell_by_cell` writes the item rows through xlsxwriter too: the same document, the
    reference the fast way is tested against, and the way taken when xlsxwriter lacks what sheetxml uses.
    """
    style = style or SummaryStyle()
    blocks = groups(spec, rows, group_by)  # checks group_by before anything is written
    by_row = {id(row): v for row, v in zip(rows, cell_values(spec, rows), strict=True)}  # checks every state
    cell_by_cell = cell_by_cell or not sheetxml.supported()
    book = io.BytesIO()  # without the item rows, the workbook is small
    workbook = new_workbook(path, in_memory=False) if cell_by_cell else new_workbook(book)
    workbook.set_properties({"title": spec.title})
    formats = _Formats(workbook, spec, style)
    names = labels()
    items = _write_main(workbook.add_worksheet(names["sheet"]), spec, blocks, by_row, formats, style,
                        coordinator=coordinator or {}, missing_line=missing_line, cell_by_cell=cell_by_cell)
    # The workers render the item rows while xlsxwriter writes the rest.
    with contextlib.nullcontext() if items is None else sheetxml.deflated_rows(items, jobs) as parts:
        _write_stats(workbook, workbook.add_worksheet(names["stats_sheet"]), spec, rows, formats, style)
        _write_contacts(workbook.add_worksheet(names["contacts_sheet"]), spec, rows, contacts, formats, style)
        workbook.close()
        if items is not None:
            sheetxml.write_xlsx(path, book.getvalue(), items, parts)


def _text(sheet: Any, r: int, c: int, text: str, fmt: Any) -> None:
    """Text as a string cell, never a formula or a number; an empty text as a blank cell keeping its format."""
    if text:
        sheet.write_string(r, c, text, fmt)
    else:
        sheet.write_blank(r, c, None, fmt)


def _merged_line(sheet: Any, r: int, last_col: int, text: str, fmt: Any, height: float) -> None:
    sheet.merge_range(r, 0, r, last_col, "", fmt)
    sheet.write_string(r, 0, text, fmt)
    sheet.set_row(r, height)


def _page_setup(sheet: Any, style: SummaryStyle, *, repeat_row: int | None, landscape: bool, paper: str) -> None:
    if landscape:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.set_paper(PAPERS[paper.upper()])
    if repeat_row is not None:
        sheet.repeat_rows(repeat_row)
    if style.fit_width:
        sheet.fit_to_pages(style.fit_width, 0)
    sheet.set_margins(left=style.margin_left_cm / CM_PER_INCH, right=style.margin_right_cm / CM_PER_INCH,
                      top=style.margin_top_cm / CM_PER_INCH, bottom=style.margin_bottom_cm / CM_PER_INCH)
    sheet.set_footer(style.footer(), {"margin": style.footer_cm / CM_PER_INCH})
    sheet.center_horizontally()


def _write_main(sheet: Any, spec: Spec, blocks: list[tuple[str | None, list[SummaryRow]]],
                by_row: dict[int, dict[str, str]], formats: _Formats, style: SummaryStyle, *,
                coordinator: dict[str, str], missing_line: str, cell_by_cell: bool) -> sheetxml.ItemRows | None:
    """The summary table; its item rows through xlsxwriter (`cell_by_cell`) or returned for sheetxml."""
    columns = list(spec.columns)
    last_col = len(columns) - 1
    total_width = sum(c.width for c in columns)
    for c, col in enumerate(columns):
        sheet.set_column(c, c, col.width)
    status = status_column(spec)
    id_index = next(i for i, c in enumerate(columns) if c.role == "id")

    r = 0
    # The title: at least 1.8 lines of its size high, so it stands apart as in a printed document.
    title_height = max(row_height([(spec.title, total_width)], style.title_pt, style), style.title_pt * 1.8)
    _merged_line(sheet, r, last_col, spec.title, formats.title, title_height)
    r += 1
    if any(v.strip() for v in coordinator.values()):  # the coordinator's contact, laid out as in the template
        write_contact_row(sheet, spec.contact, r, last_col, formats.contact_label, formats.line, coordinator)
        sheet.set_row(r, row_height([], style.body_pt, style))
        r += 1
    if missing_line.strip():
        _merged_line(sheet, r, last_col, missing_line, formats.line_bold,
                     row_height([(missing_line, total_width)], style.body_pt, style))
        r += 1
    header_row = r
    for c, col in enumerate(columns):
        sheet.write_string(header_row, c, col.label, formats.header)
    sheet.set_row(header_row, row_height([(c.label, c.width) for c in columns], style.header_pt, style, minimum_lines=2))
    r += 1

    first_item_row = r
    # Each column's formats: as written, and when the status column of a missing / unverified row is marked.
    plain = [formats.cells[(col.key, False)] for col in columns]
    marked = [formats.cells[(col.key, status is not None and col.key == status.key)] for col in columns]
    runs: list[tuple[int, list[SummaryRow]]] = []  # item rows between subtitle rows: (first sheet row, rows)
    for title, block in blocks:
        if title is not None:
            _merged_line(sheet, r, last_col, title, formats.group, row_height([(title, total_width)], style.body_pt, style))
            r += 1
        if cell_by_cell:
            _write_items(sheet, r, block, by_row, columns, plain, marked, style)
        runs.append((r, block))
        r += len(block)
    last_item_row = r - 1
    if last_item_row >= first_item_row:  # 序号 are text on purpose: no "number stored as text" triangles
        sheet.ignore_errors({"number_stored_as_text": f"{xl_rowcol_to_cell(first_item_row, id_index)}:"
                                                      f"{xl_rowcol_to_cell(last_item_row, id_index)}"})
    if spec.footnote:
        _merged_line(sheet, r, last_col, spec.footnote, formats.note,
                     row_height([(spec.footnote, total_width)], style.body_pt, style))

    sheet.freeze_panes(header_row + 1, 0)
    _page_setup(sheet, style, repeat_row=header_row, landscape=style.landscape, paper=style.paper)
    sheet.activate()

    return None if cell_by_cell else _item_rows(runs, by_row, columns, plain, marked, style)


def _item_rows(runs: list[tuple[int, list[SummaryRow]]], by_row: dict[int, dict[str, str]], columns: list[Column],
               plain: list[Any], marked: list[Any], style: SummaryStyle) -> sheetxml.ItemRows:
    """The item rows for sheetxml; only the formats in use are registered in the workbook, as xlsxwriter does."""
    ordered = [row for _, block in runs for row in block]
    is_marked = [row.state != "ok" for row in ordered]
    spans, start = [], 0
    for first, block in runs:
        spans.append((first, start, start + len(block)))
        start += len(block)
    return sheetxml.ItemRows(
        keys=tuple(col.key for col in columns), widths=tuple(col.width for col in columns),
        styles=(tuple(sheetxml.style_index(f) for f in plain) if not all(is_marked) else (),
                tuple(sheetxml.style_index(f) for f in marked) if any(is_marked) else ()),
        font_pt=style.body_pt, line_spacing=style.line_spacing,
        values=[by_row[id(row)] for row in ordered], marked=is_marked, runs=tuple(spans))


def _write_items(sheet: Any, r: int, block: list[SummaryRow], by_row: dict[int, dict[str, str]],
                 columns: list[Column], plain: list[Any], marked: list[Any], style: SummaryStyle) -> None:
    """Item rows from sheet row `r` on, cell by cell through xlsxwriter, each row as high as its texts need."""
    cells = [(c, col.key, col.width) for c, col in enumerate(columns)]
    for row in block:
        values = by_row[id(row)]
        formats = plain if row.state == "ok" else marked
        lines = 1  # row_height's rule, measured while the cells are written
        for c, key, width in cells:
            text = values[key]
            _text(sheet, r, c, text, formats[c])
            if text:
                lines = max(lines, line_count(text, width, style.body_pt))
        sheet.set_row(r, lines_height(lines, style.body_pt, style))
        r += 1


def _write_stats(workbook: Any, sheet: Any, spec: Spec, rows: list[SummaryRow], formats: _Formats,
                 style: SummaryStyle) -> None:
    names = labels()["stats"]
    markers = labels()
    status = status_column(spec)
    choices = list(status.choices) if status else []
    headers = [names["items"], *choices, markers["missing"], markers["unverified"], names["rate"]]
    widths = [26, 10, *[10] * len(choices), 10, 10, 12]
    for c, width in enumerate(widths):
        sheet.set_column(c, c, width)
    last_col = len(headers)
    total_width = sum(widths)
    r = 0
    title = render(names["title"], {"title": spec.title})
    _merged_line(sheet, r, last_col, title, formats.stats_title,
                 max(row_height([(title, total_width)], formats.stats_title_pt, style), formats.stats_title_pt * 1.8))
    r += 1

    def table(r: int, heading: str, first_label: str, lines: list[Tally], total: Tally) -> tuple[int, int, int]:
        sheet.write_string(r, 0, heading, formats.heading)
        sheet.set_row(r, row_height([(heading, total_width)], style.header_pt, style))
        r += 1
        for c, text in enumerate([first_label, *headers]):
            sheet.write_string(r, c, text, formats.header)
        sheet.set_row(r, row_height([(t, w) for t, w in zip([first_label, *headers], widths, strict=True)],
                                    style.header_pt, style))
        r += 1
        first = r
        for line in [*lines, total]:
            is_total = line is total
            numbers = [line.items, *(line.by_choice.get(c, 0) for c in choices), line.missing, line.unverified]
            sheet.write_string(r, 0, line.name, formats.total_text if is_total else formats.text)
            for c, n in enumerate(numbers, start=1):
                sheet.write_number(r, c, n, formats.total_number if is_total else formats.number)
            rate_fmt = formats.total_percent if is_total else formats.percent
            if line.rate is None:
                sheet.write_blank(r, last_col, None, rate_fmt)
            else:
                sheet.write_number(r, last_col, line.rate, rate_fmt)
            sheet.set_row(r, row_height([(line.name, widths[0])], style.body_pt, style))
            r += 1
        return r, first, r - 2  # next free row, first and last line (without the total)

    by_unit, unit_total = tally(spec, rows, "unit")
    r, unit_first, unit_last = table(r, names["by_unit"], names["unit"], by_unit, unit_total)
    leader = leader_column(spec)
    if leader is not None:
        by_leader, leader_total = tally(spec, rows, "leader")
        r, _, _ = table(r + 1, render(names["by_leader"], {"label": leader.label}), leader.label,
                        by_leader, leader_total)
    note = render(names["note"], {"done": choices[0] if choices else ""})
    _merged_line(sheet, r, last_col, note, formats.note, row_height([(note, total_width)], style.body_pt, style))

    if by_unit:
        _add_chart(workbook, sheet, names, markers, choices, unit_first, unit_last, last_col, style, by_unit)
    _page_setup(sheet, style, repeat_row=None, landscape=True, paper=style.aux_paper)


def _add_chart(workbook: Any, sheet: Any, names: dict[str, Any], markers: dict[str, Any], choices: list[str],
               first: int, last: int, last_col: int, style: SummaryStyle, lines: list[Tally]) -> None:
    """A stacked bar per lead unit: its items by status, first unit at the top."""
    chart = workbook.add_chart({"type": "bar", "subtype": "stacked"})
    colours = ["#5B9BD5", "#ED7D31", "#A5A5A5", "#FFC000", "#70AD47", "#7F6084"]
    series = [(choices[i], 2 + i) for i in range(len(choices))]
    extra = 2 + len(choices)
    if any(t.missing for t in lines):
        series.append((markers["missing"], extra))
    if any(t.unverified for t in lines):
        series.append((markers["unverified"], extra + 1))
    sheet_name = sheet.get_name()
    font = {"name": style.body_font, "size": 10}
    for n, (name, col) in enumerate(series):
        chart.add_series({
            "name": name,
            "categories": [sheet_name, first, 0, last, 0],
            "values": [sheet_name, first, col, last, col],
            "fill": {"color": colours[n % len(colours)]},
            "gap": 60,
        })
    chart.set_title({"name": names["chart_title"], "name_font": {"name": style.header_font, "size": 14,
                                                                   "bold": False}})
    # In a bar chart x is the horizontal value axis and y the vertical category axis.
    value_axis: dict[str, Any] = {"name": names["chart_axis"], "num_font": font, "name_font": {**font, "bold": False},
                                  "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}, "min": 0}
    if max(t.items for t in lines) <= 10:
        value_axis["major_unit"] = 1
    chart.set_x_axis(value_axis)
    # Categories top-down in table order; the value axis then crosses at the last category, i.e. at the bottom.
    chart.set_y_axis({"reverse": True, "crossing": "max", "num_font": font})
    chart.set_legend({"position": "bottom", "font": font})
    chart.set_size({"width": 640, "height": max(320, 26 * len(lines) + 140)})
    sheet.insert_chart(1, last_col + 2, chart, {"x_offset": 10, "y_offset": 0})


def _write_contacts(sheet: Any, spec: Spec, rows: list[SummaryRow], contacts: list[UnitContact],
                    formats: _Formats, style: SummaryStyle) -> None:
    """Each unit's contact from its return, when it came and from which file; units without a return last."""
    names = labels()["contacts"]
    headers = [names["unit"], *(_strip_colon(f.label) for f in spec.contact), names["received"], names["file"]]
    widths = [26, *[16] * len(spec.contact), 20, 56]
    for c, (text, width) in enumerate(zip(headers, widths, strict=True)):
        sheet.set_column(c, c, width)
        sheet.write_string(0, c, text, formats.header)
    sheet.set_row(0, row_height(list(zip(headers, widths, strict=True)), style.header_pt, style))
    lines = [[c.unit, *(c.values.get(f.key, "") for f in spec.contact), c.received, c.file] for c in contacts]
    returned = {c.unit for c in contacts}
    for row in rows:
        if row.state == "missing" and row.item.lead not in returned:
            returned.add(row.item.lead)
            lines.append([row.item.lead, *("" for _ in spec.contact), names["not_received"], ""])
    for r, line in enumerate(lines, start=1):
        for c, text in enumerate(line):
            _text(sheet, r, c, text, formats.text_center if 0 < c < len(line) - 1 else formats.text)
        sheet.set_row(r, row_height(list(zip(line, widths, strict=True)), style.body_pt, style))
    if lines:  # telephone numbers are text on purpose
        sheet.ignore_errors({"number_stored_as_text": f"A2:{xl_rowcol_to_cell(len(lines), len(headers) - 1)}"})
    sheet.freeze_panes(1, 0)
    _page_setup(sheet, style, repeat_row=0, landscape=False, paper=style.aux_paper)


def _strip_colon(label: str) -> str:
    return label.strip().rstrip("：:").strip()


# --- PDF -------------------------------------------------------------------------------------------------------

def export_pdf(xlsx_path: Path, out_dir: Path, *, all_sheets: bool = False) -> Path:
    """The summary as PDF through LibreOffice headless (raises office.OfficeError when it is missing).

    By default only the first sheet (the summary table) is printed: LibreOffice prints every visible
    sheet, so a copy with the other sheets hidden is converted. `all_sheets` prints 统计 and 联系人 too.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if all_sheets:
        return convert([xlsx_path], "pdf", out_dir)[0]
    with tempfile.TemporaryDirectory(prefix="toolkit-pdf-") as tmp:
        copy = Path(tmp) / xlsx_path.name
        _copy_with_first_sheet_only(xlsx_path, copy)
        produced = convert([copy], "pdf", Path(tmp) / "out")[0]
        target = out_dir / f"{xlsx_path.stem}.pdf"
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        shutil.move(str(produced), target)
    return target


def _copy_with_first_sheet_only(source: Path, target: Path) -> None:
    """A byte-for-byte copy of the workbook but for xl/workbook.xml, where sheets after the first are hidden."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/workbook.xml":
                text = data.decode("utf-8")
                count = 0

                def hide(match: re.Match[str]) -> str:
                    nonlocal count
                    count += 1
                    tag = match.group(0)
                    if count == 1 or "state=" in tag:
                        return tag
                    return tag.replace("<sheet ", '<sheet state="hidden" ', 1)

                data = re.sub(r"<sheet [^>]*>", hide, text).encode("utf-8")
            zout.writestr(info, data)
