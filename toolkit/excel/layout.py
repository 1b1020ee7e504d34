"""Row heights from text, because Excel does not grow a row with wrapped text by itself; text cells.

The rule: a column `width` (Excel units, about one '0' of the 11-point default font) holds
`(width - 1) * 11 / font_pt` half-width characters of a `font_pt` font; a wide or full-width
character (CJK, kana, hangul, full-width forms) counts as two. A paragraph takes ceil(its width / that)
lines, a line takes `font_pt * 1.3` points, and a row adds 4 points of padding. The tallest cell of a
row sets it.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xlsxwriter

LINE_FACTOR = 1.3
PADDING_PT = 4.0
MAX_ROW_PT = 409.0  # Excel's limit for a row height
MAX_CELL_TEXT = 32767  # Excel's limit for a cell's text, in UTF-16 units
# What xlsxwriter writes as an _xHHHH_ escape (control characters but tab and line feed, two non-characters):
# readers undo it in a plain string, but inside rich text xlsxwriter escapes it twice.
_ESCAPED = re.compile("[\\x00-\\x08\\x0b-\\x1f\\ufffe\\uffff]")


def new_workbook(path: Path | io.BytesIO) -> xlsxwriter.Workbook:
    """An xlsxwriter workbook that writes text as text (never a formula, number or link), assembled in memory
    (xlsxwriter's default writes each part to a temporary file first: twice the time of a template).

    xlsxwriter is imported here: collect, validate and status, which only read, start without it.
    """
    import xlsxwriter

    target = path if isinstance(path, io.BytesIO) else str(path)
    return xlsxwriter.Workbook(target, {"strings_to_numbers": False, "strings_to_formulas": False,
                                        "strings_to_urls": False, "in_memory": True})


def write_text_cell(sheet: Any, row: int, col: int, text: str, cell_format: Any) -> None:
    """A user's text as a string cell, exactly as typed.

    xlsxwriter takes a string that starts with `<r>` and ends with `</r>` for rich-text XML of its own
    and copies it into the file as it is, which made a file no program opens. Such a text is written as
    rich text of plain fragments in the cell's font instead, which xlsxwriter escapes. Control characters
    are left out there and each `_` that begins a literal `_xHHHH_` ends a fragment: inside rich text
    xlsxwriter escapes those twice.
    """
    if not (text.startswith("<r>") and text.endswith("</r>")):
        sheet.write_string(row, col, text, cell_format)
        return
    text = _ESCAPED.sub("", text)
    if len(text.encode("utf-16-le")) > 2 * MAX_CELL_TEXT:  # cut as xlsxwriter cuts a plain string
        text = text.encode("utf-16-le")[:2 * MAX_CELL_TEXT].decode("utf-16-le", "ignore")
    fragments = re.split("(?<=_)(?=x[0-9a-fA-F]{4}_)", text[1:])
    runs = [part for fragment in fragments for part in (cell_format, fragment)]
    sheet.write_rich_string(row, col, cell_format, text[0], *runs, cell_format)


# Wide and full-width characters (Unicode East Asian Width W and F): CJK, kana, hangul, full-width forms, emoji.
_WIDE_RANGES = ("\u1100-\u115f\u231a\u231b\u2329\u232a\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff"
                "\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60"
                "\uffe0-\uffe6\U0001f300-\U0001f64f\U00020000-\U0003fffd")
_NOT_WIDE = re.compile(f"[^{_WIDE_RANGES}]+")


def display_width(text: str) -> int:
    """Width in half-width units: a wide or full-width character counts two."""
    return len(text) + len(_NOT_WIDE.sub("", text))  # the text's length, plus its wide characters again


def _per_line(width: float, font_pt: float) -> float:
    """Half-width characters a line of a column holds."""
    return max((width - 1) * 11 / font_pt, 2)


def line_count(text: str, width: float, font_pt: float) -> int:
    """Lines of a text in a column: each paragraph (line break) takes ceil(its width / a line's), at least one."""
    per_line = _per_line(width, font_pt)
    # A paragraph of at most half a line's characters fits on one line whatever they are: no need to measure it.
    return sum(1 if 2 * len(paragraph) <= per_line else math.ceil(display_width(paragraph) / per_line) or 1
               for paragraph in text.split("\n"))


def most_lines(cells: Iterable[tuple[str, float]], font_pt: float, minimum_lines: int = 1) -> int:
    """The most lines any cell (text, column width) of a row takes, at least `minimum_lines`. A cell whose every
    character counted wide would still take no more than the most found so far is not measured."""
    most = minimum_lines
    for text, width in cells:
        if text and text.count("\n") + 1 + 2 * len(text) / _per_line(width, font_pt) > most:
            most = max(most, line_count(text, width, font_pt))
    return most


# Characters a line may not begin with (Chinese line-breaking rules: 避头), nor end with (避尾).
NOT_AT_LINE_START = set("，。、；：？！）》」』】〕〉”’…—%,.;:?!)]}")
NOT_AT_LINE_END = set("（《「『【〔〈“‘([{")


def balanced_label(label: str, width: float, font_pt: float) -> str:
    """A header label that needs several lines in its column, broken into lines of about equal width with explicit
    line breaks: a program wrapping it by itself leaves a lone last character (市政府分管领/导). Breaks never come
    before closing or after opening punctuation. A label that fits, or has its own breaks, is kept as it is."""
    lines = line_count(label, width, font_pt)
    if lines <= 1 or "\n" in label:
        return label
    per_line = display_width(label) / lines
    out = [""]
    for char in label:
        if (display_width(out[-1]) >= per_line and char not in NOT_AT_LINE_START
                and out[-1][-1] not in NOT_AT_LINE_END):
            out.append("")
        out[-1] += char
    return "\n".join(out)


def lines_points(lines: int, font_pt: float, line_spacing: float) -> float:
    """Points for a row of `lines` lines: `line_spacing` × the font size a line, the padding, at most Excel's limit."""
    return min(MAX_ROW_PT, round(lines * font_pt * line_spacing + PADDING_PT, 1))


def row_height(cells: list[tuple[str, float]], font_pt: float, minimum_lines: int = 1,
               line_spacing: float = LINE_FACTOR) -> float:
    """Points for a row whose cells are (text, column width)."""
    return lines_points(most_lines(cells, font_pt, minimum_lines), font_pt, line_spacing)


def write_contact_row(sheet: Any, contact: tuple, row: int, last_col: int, fmt_label: Any, fmt_value: Any,
                      values: dict[str, str] | None = None) -> None:
    """Each contact label (联系人：) in one cell and its value in the cell right of it, merged over the rest
    of its span: the fill-in template and the summary share this row, so a summary reads back as a return."""
    col = 1
    for field_ in contact:
        if col + 1 > last_col:
            break
        write_text_cell(sheet, row, col, field_.label, fmt_label)
        end = min(col + max(field_.width_columns - 1, 1), last_col)
        value = (values or {}).get(field_.key, "")
        if end > col + 1:
            sheet.merge_range(row, col + 1, row, end, "", fmt_value)
        if value:
            write_text_cell(sheet, row, col + 1, value, fmt_value)
        else:
            sheet.write_blank(row, col + 1, None, fmt_value)
        col = end + 1


def printable(sheet: Any, repeat_row: int, *, landscape: bool = True) -> None:
    """A4, one page wide, the header row `repeat_row` on every printed page, page numbers at the foot."""
    if landscape:
        sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(repeat_row)
    sheet.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.7)
    sheet.set_footer("&C第 &P 页，共 &N 页")
    sheet.center_horizontally()


_CUSTOM_HEIGHT = re.compile(r'(<row r="(\d+)"[^>]*?) customHeight="1"')


def rows_grown(xlsx: bytes, rows: range, part: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The workbook with the rows `rows` (0-based) of its first sheet keeping their height but losing the "custom
    height" mark that xlsxwriter puts on every height it writes: Excel and WPS then fit such a row again as a unit
    types a long answer, where a custom height stays as it is and cuts the answer off. The height still shows the
    prefilled text at once in LibreOffice, which does not fit rows when it opens a file."""
    def unmark(match: re.Match[str]) -> str:
        return match[1] if int(match[2]) - 1 in rows else match[0]

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == part:
                data = _CUSTOM_HEIGHT.sub(unmark, data.decode("utf-8")).encode("utf-8")
            zout.writestr(info, data)
    return out.getvalue()
