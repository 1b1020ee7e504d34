"""Row heights from text, because Excel does not grow a row with wrapped text by itself.

The rule: a column `width` (Excel units, about one '0' of the 11-point default font) holds
`(width - 1) * 11 / font_pt` half-width characters of a `font_pt` font; a CJK or full-width
character counts as two. A paragraph takes ceil(its width / that) lines, a line takes
`font_pt * 1.3` points, and a row adds 4 points of padding. The tallest cell of a row sets it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xlsxwriter

LINE_FACTOR = 1.3
PADDING_PT = 4.0
MAX_ROW_PT = 409.0  # Excel's limit for a row height


def new_workbook(path: Path, *, in_memory: bool = True) -> xlsxwriter.Workbook:
    """An xlsxwriter workbook that writes text as text (never a formula, number or link).

    Small workbooks are built in memory (faster); a large one (the summary) through temporary files,
    so that its sheet's XML is never held whole in memory. xlsxwriter is imported here: collect,
    validate and status, which only read, start without it.
    """
    import xlsxwriter

    return xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                           "strings_to_urls": False, "in_memory": in_memory})


# Wide and full-width characters (Unicode East Asian Width W and F): CJK, kana, hangul, full-width forms.
# WIDE is the definition; display_width counts the same characters without matching each of them.
_WIDE_BMP = ("\u1100-\u115f\u231a\u231b\u2329\u232a\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf"
             "\u4e00-\u9fff\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19"
             "\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6")
WIDE = re.compile(f"[{_WIDE_BMP}\U0001f300-\U0001f64f\U00020000-\U0003fffd]")
# Neither ASCII nor wide BMP (which is three bytes in UTF-8): “ ” — … é 😀, a few in a text at most.
_OTHER = re.compile(f"[^\\x00-\\x7f{_WIDE_BMP}]")


def display_width(text: str) -> int:
    """Width in half-width units: a CJK or full-width character counts two.

    Counted from the UTF-8 length, because matching every CJK character of a long Chinese text is slow:
    ASCII takes one byte and a wide BMP character three, so (bytes - characters) / 2 counts the wide
    ones, once the few characters that are neither (“ ” — … é 😀) are taken out one by one.
    """
    if text.isascii():
        return len(text)
    extra = len(text.encode("utf-8", "surrogatepass")) - len(text)
    for char in _OTHER.findall(text):
        extra -= len(char.encode("utf-8", "surrogatepass")) - 1
        extra += 2 if WIDE.match(char) else 0
    return len(text) + extra // 2


def line_count(text: str, width: float, font_pt: float) -> int:
    per_line = max((width - 1) * 11 / font_pt, 2)
    if "\n" not in text:
        return max(1, math.ceil(display_width(text) / per_line))
    lines = 0
    for paragraph in text.split("\n"):
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
