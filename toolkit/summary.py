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
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell

from toolkit.excel.layout import (
    MAX_ROW_PT,
    balanced_label,
    new_workbook,
    write_contact_row,
    write_text_cell,
)
from toolkit.excel.layout import (
    row_height as layout_row_height,
)
from toolkit.excel.office import convert, font_substitutes
from toolkit.excel.targetlist import Item
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
    member: str = ""  # the member answering, when the item's lead is a collective unit: one row per member

    @property
    def lead(self) -> str:
        """Who answers for this row: the member, or the item's lead unit."""
        return self.member or self.item.lead


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


# An item's outcome in `tally` when it is not one of the status choices; _RECEIVED: answered, in a layout
# without a choice column.
_MISSING, _UNVERIFIED, _RECEIVED = 0, 1, 2


@dataclass
class Tally:
    """One line of the 统计 sheet: a lead unit's or a leader's items, by status."""

    name: str
    items: int = 0
    by_choice: dict[str, int] = field(default_factory=dict)  # 完成 / 未完成 (the status column's choices)
    missing: int = 0
    unverified: int = 0
    received: int = 0  # answered without errors, when the layout has no choice column
    done_choices: tuple[str, ...] = ()  # the choices that mean done, as the layout declares them (`done`)

    @property
    def done(self) -> int:
        return sum(self.by_choice.get(choice, 0) for choice in self.done_choices)

    def add(self, outcome: int | str) -> None:
        """One item missing, unverified, received, or of the choice `outcome`."""
        self.items += 1
        if outcome == _MISSING:
            self.missing += 1
        elif outcome == _UNVERIFIED:
            self.unverified += 1
        elif outcome == _RECEIVED:
            self.received += 1
        else:
            self.by_choice[outcome] += 1

    @property
    def rate(self) -> float | None:
        """The share of items done; None without items or without a declared `done`."""
        return self.done / self.items if self.items and self.done_choices else None


# --- what goes where ---------------------------------------------------------------------------------------

def status_column(spec: Spec) -> Column | None:
    """The column that says whether an item is done: the first filled choice column, else the one keyed status."""
    chosen = next((c for c in spec.filled if c.type == "choice" and c.choices), None)
    if chosen is None:
        chosen = next((c for c in spec.columns if c.key == "status"), None)
    return chosen


def cell_values(spec: Spec, row: SummaryRow) -> dict[str, str]:
    """Every column's text for an item: prefilled from the target list, filled from the return, markers."""
    if row.state not in STATES:
        raise SummaryError(f"第{row.item.seq}项的状态“{row.state}”不可用：可用的有 {'、'.join(STATES)}。")
    values = {col.key: column_text(col, row) for col in spec.columns}
    status = status_column(spec)
    if status is not None and row.state != "ok":
        values[status.key] = labels()[row.state]
    return values


def column_text(col: Column, row: SummaryRow) -> str:
    """One cell's text: the 序号, the units, the target list's text, or the unit's answer (none when missing)."""
    if col.role == "id":
        return row.item.seq
    if col.role == "units":
        return "\n".join(row.item.units_column if not row.member else (row.member, *row.item.units_column[1:]))
    if col.prefilled:
        return row.item.values.get(col.key, "")
    return "" if row.state == "missing" else row.filled.get(col.key, "")


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
        name = row.lead if group_by == "unit" else leader_of(leader, row.item)
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
            missing[row.lead] = missing.get(row.lead, 0) + 1
        elif row.state == "unverified":
            unverified[row.lead] = unverified.get(row.lead, 0) + 1
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

    Lines come in order of first appearance; the total counts each item once, whatever its leaders.
    """
    status = status_column(spec)
    choices = status.choices if status else ()
    done = status.done if status else ()
    leader = leader_column(spec)
    empty = labels()["group_empty"]
    lines: dict[str, Tally] = {}
    total = Tally(labels()["stats"]["total"], by_choice=dict.fromkeys(choices, 0), done_choices=done)
    for row in rows:
        outcome = outcome_of(row, status)
        total.add(outcome)
        for key in [row.lead] if by == "unit" else leaders_of(leader_of(leader, row.item), empty):
            if key not in lines:
                lines[key] = Tally(key, by_choice=dict.fromkeys(choices, 0), done_choices=done)
            lines[key].add(outcome)
    return list(lines.values()), total


def outcome_of(row: SummaryRow, status: Column | None) -> int | str:
    """How an item counts: missing when its unit has not returned, unverified when the return has errors or its
    status value is none of the choices (values are canonical after validation), else under its value."""
    if row.state == "missing":
        return _MISSING
    if row.state == "unverified":
        return _UNVERIFIED
    if status is None:
        return _RECEIVED
    value = row.filled.get(status.key, "").strip()
    return value if value in status.choices else _UNVERIFIED


def leaders_of(cell: str, empty: str) -> list[str]:
    """The leaders named in an item's leader cell, each once; `empty` when it names none."""
    names = [name.strip() for name in _LEADER_SEPARATORS.split(cell) if name.strip()]
    return list(dict.fromkeys(names or [empty]))


def row_height(cells: list[tuple[str, float]], font_pt: float, style: SummaryStyle, minimum_lines: int = 1) -> float:
    """Points for a row whose cells are (text, column width): layout's line rule, the style's line spacing."""
    return layout_row_height(cells, font_pt, minimum_lines, style.line_spacing)


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
                align = "center" if marked else col.align
                self.cells[(col.key, marked)] = workbook.add_format({
                    **body, "border": 1, "align": align, "bold": marked, **_padding(align),
                })
        self.text = workbook.add_format({**body, "border": 1, "align": "left", **_padding("left")})
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


def _padding(align: str) -> dict[str, int]:
    """One indent for text against a cell's left or right border, so that it does not touch the line."""
    return {"indent": 1} if align in ("left", "right") else {}


def write_summary(path: Path, spec: Spec, rows: list[SummaryRow], contacts: list[UnitContact], *,
                  coordinator: dict[str, str] | None = None, missing_line: str = "",
                  style: SummaryStyle | None = None, group_by: str | None = None) -> None:
    """Write the summary workbook to `path` (the caller makes it atomic). Rows are written in the given order."""
    style = style or SummaryStyle()
    blocks = groups(spec, rows, group_by)  # checks group_by before anything is written
    for row in rows:
        if row.state not in STATES:
            raise SummaryError(f"第{row.item.seq}项的状态“{row.state}”不可用：可用的有 {'、'.join(STATES)}。")
    workbook = new_workbook(path)
    workbook.set_properties({"title": spec.title})
    formats = _Formats(workbook, spec, style)
    names = labels()
    _write_main(workbook.add_worksheet(names["sheet"]), spec, blocks, formats, style, coordinator or {}, missing_line)
    _write_stats(workbook, workbook.add_worksheet(names["stats_sheet"]), spec, rows, formats, style)
    _write_contacts(workbook.add_worksheet(names["contacts_sheet"]), spec, rows, contacts, formats, style)
    workbook.close()


def _text(sheet: Any, r: int, c: int, text: str, fmt: Any) -> None:
    """Text as a string cell, never a formula or a number; an empty text as a blank cell keeping its format."""
    if text:
        write_text_cell(sheet, r, c, text, fmt)
    else:
        sheet.write_blank(r, c, None, fmt)


def _merged_line(sheet: Any, r: int, last_col: int, text: str, fmt: Any, height: float) -> None:
    sheet.merge_range(r, 0, r, last_col, "", fmt)
    write_text_cell(sheet, r, 0, text, fmt)
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


def _write_main(sheet: Any, spec: Spec, blocks: list[tuple[str | None, list[SummaryRow]]], formats: _Formats,
                style: SummaryStyle, coordinator: dict[str, str], missing_line: str) -> None:
    """The summary table: the lines above the header, the header, the item rows in their blocks, the footnote."""
    last_col = len(spec.columns) - 1
    total_width = sum(c.width for c in spec.columns)
    for c, col in enumerate(spec.columns):
        sheet.set_column(c, c, col.width)
    header_row = _write_top(sheet, spec, formats, style, coordinator, missing_line)
    r = first_item_row = header_row + 1
    for title, block in blocks:
        if title is not None:
            _merged_line(sheet, r, last_col, title, formats.group, row_height([(title, total_width)], style.body_pt, style))
            r += 1
        _write_items(sheet, r, spec, block, formats, style)
        r += len(block)
    if r > first_item_row:  # 序号 are text on purpose: no "number stored as text" triangles
        id_index = next(i for i, c in enumerate(spec.columns) if c.role == "id")
        sheet.ignore_errors({"number_stored_as_text": f"{xl_rowcol_to_cell(first_item_row, id_index)}:"
                                                      f"{xl_rowcol_to_cell(r - 1, id_index)}"})
    if spec.footnote:
        _merged_line(sheet, r, last_col, spec.footnote, formats.note,
                     row_height([(spec.footnote, total_width)], style.body_pt, style))
    sheet.freeze_panes(header_row + 1, 0)
    _page_setup(sheet, style, repeat_row=header_row, landscape=style.landscape, paper=style.paper)
    sheet.activate()


def _write_top(sheet: Any, spec: Spec, formats: _Formats, style: SummaryStyle, coordinator: dict[str, str],
               missing_line: str) -> int:
    """The title, the coordinator's contact and the missing line when there are any, the header; its row."""
    last_col = len(spec.columns) - 1
    total_width = sum(c.width for c in spec.columns)
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
    labels = [balanced_label(col.label, col.width, style.header_pt) for col in spec.columns]
    for c, label in enumerate(labels):
        write_text_cell(sheet, r, c, label, formats.header)
    sheet.set_row(r, row_height([(label, c.width) for label, c in zip(labels, spec.columns, strict=True)],
                                style.header_pt, style, minimum_lines=2))
    return r


def _write_items(sheet: Any, r: int, spec: Spec, block: list[SummaryRow], formats: _Formats,
                 style: SummaryStyle) -> None:
    """Item rows from sheet row `r` on, each as high as its texts need; a marked item's status cell stands out."""
    status = status_column(spec)
    shared = [c for c, col in enumerate(spec.columns) if col.prefilled and col.role != "units"]
    for run in _runs(block):
        heights = []
        for n, row in enumerate(run):
            values = cell_values(spec, row)
            own = [c for c in range(len(spec.columns)) if len(run) == 1 or c not in shared]
            for c in own if n else range(len(spec.columns)):
                col = spec.columns[c]
                marked = row.state != "ok" and status is not None and col.key == status.key
                _text(sheet, r + n, c, values[col.key], formats.cells[(col.key, marked)])
            heights.append(row_height([(values[spec.columns[c].key], spec.columns[c].width) for c in own],
                                      style.body_pt, style))
        if len(run) > 1:  # a collective lead's members: the item's prefilled cells merged over their rows
            values = cell_values(spec, run[0])
            for c in shared:
                key = spec.columns[c].key
                sheet.merge_range(r, c, r + len(run) - 1, c, "", formats.cells[(key, False)])
                _text(sheet, r, c, values[key], formats.cells[(key, False)])
            needed = row_height([(values[spec.columns[c].key], spec.columns[c].width) for c in shared],
                                style.body_pt, style)
            heights[-1] += max(0.0, needed - sum(heights))
        for n, height in enumerate(heights):
            sheet.set_row(r + n, min(height, MAX_ROW_PT))
        r += len(run)


def _runs(block: list[SummaryRow]) -> list[list[SummaryRow]]:
    """Rows in runs: the member rows of one item together, any other row alone."""
    runs: list[list[SummaryRow]] = []
    for row in block:
        if row.member and runs and runs[-1][0].member and runs[-1][0].item is row.item:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def _write_stats(workbook: Any, sheet: Any, spec: Spec, rows: list[SummaryRow], formats: _Formats,
                 style: SummaryStyle) -> None:
    """The 统计 sheet: items by status per lead unit, and per leader when the spec has leaders; a chart."""
    names = labels()["stats"]
    markers = labels()
    status = status_column(spec)
    choices = list(status.choices) if status else []
    done = list(status.done) if status else []
    # Without a choice column the items are counted as received (no 完成率 of empty words); without a declared
    # `done`, no 完成率 either.
    counted = choices or [names["received"]]
    headers = [names["items"], *counted, markers["missing"], markers["unverified"], *([names["rate"]] if done else [])]
    widths = [26, 10, *[10] * len(counted), 10, 10, *([12] if done else [])]
    for c, width in enumerate(widths):
        sheet.set_column(c, c, width)
    last_col = len(headers)
    total_width = sum(widths)
    title = render(names["title"], {"title": spec.title})
    _merged_line(sheet, 0, last_col, title, formats.stats_title,
                 max(row_height([(title, total_width)], formats.stats_title_pt, style), formats.stats_title_pt * 1.8))

    by_unit, unit_total = tally(spec, rows, "unit")
    table = (headers, widths, formats, style)
    r = _write_tally(sheet, 1, names["by_unit"], names["unit"], by_unit, unit_total, *table)
    leader = leader_column(spec)
    if leader is not None:
        by_leader, leader_total = tally(spec, rows, "leader")
        r = _write_tally(sheet, r + 1, render(names["by_leader"], {"label": leader.label}), leader.label,
                         by_leader, leader_total, *table)
    if done:
        note = render(names["note"], {"done": "”“".join(done)})
    else:
        note = render(names["note_no_done" if choices else "note_no_choice"], {"status": status.label if status else ""})
    _merged_line(sheet, r, last_col, note, formats.note, row_height([(note, total_width)], style.body_pt, style))

    if by_unit:  # the unit table's lines: from row 3 (under the title, its heading and header), the total left out
        _add_chart(workbook, sheet, names, markers, counted, 3, 2 + len(by_unit), last_col, style, by_unit)
    _page_setup(sheet, style, repeat_row=None, landscape=True, paper=style.aux_paper)


def _write_tally(sheet: Any, r: int, heading: str, first_label: str, lines: list[Tally], total: Tally,
                 headers: list[str], widths: list[int], formats: _Formats, style: SummaryStyle) -> int:
    """A heading, a header row and a line per tally from sheet row `r` on, the total last; the next free row."""
    write_text_cell(sheet, r, 0, heading, formats.heading)
    sheet.set_row(r, row_height([(heading, sum(widths))], style.header_pt, style))
    r += 1
    for c, text in enumerate([first_label, *headers]):
        write_text_cell(sheet, r, c, text, formats.header)
    sheet.set_row(r, row_height(list(zip([first_label, *headers], widths, strict=True)), style.header_pt, style))
    r += 1
    for line in [*lines, total]:
        _write_tally_line(sheet, r, line, line is total, formats)
        sheet.set_row(r, row_height([(line.name, widths[0])], style.body_pt, style))
        r += 1
    return r


def _write_tally_line(sheet: Any, r: int, line: Tally, is_total: bool, formats: _Formats) -> None:
    """A tally's name, its counts and its rate (blank without items); the total in bold."""
    numbers = [line.items, *(line.by_choice.values() if line.by_choice else [line.received]), line.missing,
               line.unverified]
    write_text_cell(sheet, r, 0, line.name, formats.total_text if is_total else formats.text)
    for c, n in enumerate(numbers, start=1):
        sheet.write_number(r, c, n, formats.total_number if is_total else formats.number)
    rate_fmt = formats.total_percent if is_total else formats.percent
    if not line.done_choices:
        return
    if line.rate is None:
        sheet.write_blank(r, len(numbers) + 1, None, rate_fmt)
    else:
        sheet.write_number(r, len(numbers) + 1, line.rate, rate_fmt)


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
        write_text_cell(sheet, 0, c, text, formats.header)
    sheet.set_row(0, row_height(list(zip(headers, widths, strict=True)), style.header_pt, style))
    lines = [[c.unit, *(c.values.get(f.key, "") for f in spec.contact), c.received, c.file] for c in contacts]
    returned = {c.unit for c in contacts}
    for row in rows:
        if row.state == "missing" and row.lead not in returned:
            returned.add(row.lead)
            lines.append([row.lead, *("" for _ in spec.contact), names["not_received"], ""])
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

def pdf_substitutes(style: SummaryStyle) -> dict[str, tuple[str, bool]]:
    """The style's official faces that are not installed → (the face that stands in for it, bold)."""
    return font_substitutes([style.title_font, style.header_font, style.body_font, style.footer_font])


def substitutes_line(substitutes: dict[str, tuple[str, bool]]) -> str:
    """E.g. 本机未安装 仿宋_GB2312、黑体，PDF 中以 Noto Serif CJK SC、Noto Sans CJK SC（粗体）代替…"""
    pairs = "，".join(f"{face} → {stand_in}{'（粗体）' if bold else ''}" for face, (stand_in, bold) in substitutes.items())
    return (f"本机未安装公文字体，PDF 中以相近的字体代替：{pairs}。安装原字体后重新运行 toolkit merge --pdf "
            "即用原字体。")


def export_pdf(xlsx_path: Path, out_dir: Path, *, all_sheets: bool = False,
               substitutes: dict[str, tuple[str, bool]] | None = None) -> Path:
    """The summary as PDF through LibreOffice headless (raises office.OfficeError when it is missing).

    By default only the first sheet (the summary table) is printed: LibreOffice prints every visible
    sheet, so a copy with the other sheets hidden is converted. `all_sheets` prints 统计 and 联系人 too.
    `substitutes` (see `pdf_substitutes`) stand in for official faces that are not installed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if all_sheets:
        return convert([xlsx_path], "pdf", out_dir, substitutes=substitutes, chinese_line_breaks=True)[0]
    with tempfile.TemporaryDirectory(prefix="toolkit-pdf-") as tmp:
        copy = Path(tmp) / xlsx_path.name
        _copy_with_first_sheet_only(xlsx_path, copy)
        produced = convert([copy], "pdf", Path(tmp) / "out", substitutes=substitutes, chinese_line_breaks=True)[0]
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
                data = _hide_sheets_after_first(data.decode("utf-8")).encode("utf-8")
            zout.writestr(info, data)


def _hide_sheets_after_first(workbook_xml: str) -> str:
    """workbook.xml with every <sheet> after the first hidden (one already hidden or very hidden kept so)."""
    head, first, *others = re.split(r"(?=<sheet )", workbook_xml)
    return head + first + "".join(tag if "state=" in tag.split(">", 1)[0] else
                                  tag.replace("<sheet ", '<sheet state="hidden" ', 1) for tag in others)
