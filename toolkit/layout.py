"""Row heights from text, because Excel does not grow a row with wrapped text by itself.

The rule: a column `width` (Excel units, about one '0' of the 11-point default font) holds
`(width - 1) * 11 / font_pt` half-width characters of a `font_pt` font; a CJK or full-width
character counts as two. A paragraph takes ceil(its width / that) lines, a line takes
`font_pt * 1.3` points, and a row adds 4 points of padding. The tallest cell of a row sets it.
"""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path
from typing import Any

import xlsxwriter

LINE_FACTOR = 1.3
PADDING_PT = 4.0
MAX_ROW_PT = 409.0  # Excel's limit for a row height


def new_workbook(path: Path) -> xlsxwriter.Workbook:
    """An xlsxwriter workbook that writes text as text (never a formula, number or link), built in memory."""
    return xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                           "strings_to_urls": False, "in_memory": True})


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def line_count(text: str, width: float, font_pt: float) -> int:
    per_line = max((width - 1) * 11 / font_pt, 2)
    lines = 0
    for paragraph in text.split("\n") or [""]:
        lines += max(1, math.ceil(display_width(paragraph) / per_line))
    return lines


def row_height(cells: list[tuple[str, float]], font_pt: float, minimum_lines: int = 1) -> float:
    """Points for a row whose cells are (text, column width)."""
    lines = max([minimum_lines, *(line_count(t, w, font_pt) for t, w in cells if t)])
    return min(MAX_ROW_PT, round(lines * font_pt * LINE_FACTOR + PADDING_PT, 1))


def write_contact_row(sheet: Any, contact: tuple, row: int, last_col: int, fmt_label: Any, fmt_value: Any,
                      values: dict[str, str] | None = None) -> None:
    """Each contact label (联系人：) in one cell and its value in the cell right of it, merged over the rest
    of its span: the fill-in template and the summary share this row, so a summary reads back as a return."""
    col = 1
    for field_ in contact:
        if col + 1 > last_col:
            break
        sheet.write_string(row, col, field_.label, fmt_label)
        end = min(col + max(field_.width_columns - 1, 1), last_col)
        value = (values or {}).get(field_.key, "")
        if end > col + 1:
            sheet.merge_range(row, col + 1, row, end, "", fmt_value)
        if value:
            sheet.write_string(row, col + 1, value, fmt_value)
        else:
            sheet.write_blank(row, col + 1, None, fmt_value)
        col = end + 1
