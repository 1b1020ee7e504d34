"""Target lists as offices really keep them, built with openpyxl for the tests.

The layout: a title row (merged across the table) and a date line above a two-row header; 序号, 年度目标,
市政府\\n分管领导 and 责任单位 merged vertically over both header rows; a 季度目标 group label merged across
the quarter columns above 第1季度目标 … (one quarter alone: its column merged vertically); a footnote under
the items; optionally a 单位 sheet of aliases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

SHEET = "清单"
TITLE = "2022年全市经济社会发展主要目标任务清单"
HEADER_ROWS = (3, 4)
FIRST_ROW = 5


@dataclass
class Row:
    seq: object
    annual: str | None = "年度目标文字"
    targets: dict[int, str] = field(default_factory=dict)  # quarter -> text; missing quarters get a filler
    leader: str = "宋振波"
    units: str | None = "市科技局"


@dataclass
class Layout:
    """Where things are in the written list (1-based rows, column letters)."""

    columns: dict[str, str]  # "seq", "annual", "q1".., "leader", "units" -> letter
    first_row: int = FIRST_ROW

    def cell(self, key: str, index: int) -> str:
        """The A1 name of column `key` in the `index`-th item row (0-based)."""
        return f"{self.columns[key]}{self.first_row + index}"


def write_list(path: Path, rows: list[Row], *, quarters: tuple[int, ...] = (1, 2, 3, 4),
               units: list[tuple[str, str]] | None = None, footnote: bool = True) -> Layout:
    """Write a messy target list to `path`; `units` are (official name, aliases text) rows of a 单位 sheet."""
    keys = ["seq", "annual", *(f"q{n}" for n in quarters), "leader", "units"]
    columns = {key: get_column_letter(i) for i, key in enumerate(keys, start=1)}
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    last = get_column_letter(len(keys))
    sheet["A1"] = TITLE
    sheet.merge_cells(f"A1:{last}1")
    sheet["A2"] = "（市政府办公室  2022年2月印发）"
    top, bottom = HEADER_ROWS
    wrap = Alignment(wrap_text=True)
    for key, label in (("seq", "序号"), ("annual", "年度目标"), ("leader", "市政府\n分管领导"), ("units", "责任单位")):
        letter = columns[key]
        sheet[f"{letter}{top}"] = label
        sheet[f"{letter}{top}"].alignment = wrap
        sheet.merge_cells(f"{letter}{top}:{letter}{bottom}")
    if len(quarters) == 1:  # one period's column: merged vertically like the others
        letter = columns[f"q{quarters[0]}"]
        sheet[f"{letter}{top}"] = f"第{quarters[0]}季度目标"
        sheet.merge_cells(f"{letter}{top}:{letter}{bottom}")
    else:
        first_q, last_q = columns[f"q{quarters[0]}"], columns[f"q{quarters[-1]}"]
        sheet[f"{first_q}{top}"] = "季度目标"
        sheet.merge_cells(f"{first_q}{top}:{last_q}{top}")
        for n in quarters:
            sheet[f"{columns[f'q{n}']}{bottom}"] = f"第{n}季度目标"
    for i, row in enumerate(rows):
        r = FIRST_ROW + i
        values = {"seq": row.seq, "annual": row.annual, "leader": row.leader, "units": row.units}
        values |= {f"q{n}": row.targets.get(n, f"第{n}季度的目标") for n in quarters}
        for key, value in values.items():
            sheet[f"{columns[key]}{r}"] = value
    if footnote:
        sheet[f"A{FIRST_ROW + len(rows) + 1}"] = "注：责任单位排在第一位的为牵头单位，其他单位为协办单位"
    if units is not None:
        unit_sheet = workbook.create_sheet("单位")
        unit_sheet.append(["单位名称", "简称"])
        for official, aliases in units:
            unit_sheet.append([official, aliases])
    workbook.save(path)
    return Layout(columns)


def edit_q1_target(path: Path, seq: str, text: str) -> None:
    """The coordinator edits one item's 第1季度目标 in the target list at `path` (header in row 1), in Excel."""
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    header = {c.value: c.column for c in sheet[1]}
    (row,) = [r for r in range(2, sheet.max_row + 1) if str(sheet.cell(r, header["序号"]).value) == seq]
    sheet.cell(row, header["第1季度目标"]).value = text
    book.save(path)
