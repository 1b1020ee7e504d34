"""Row heights from text, because Excel does not grow a row with wrapped text by itself.

The rule: a column `width` (Excel units, about one '0' of the 11-point default font) holds
`(width - 1) * 11 / font_pt` half-width characters of a `font_pt` font; a CJK or full-width
character counts as two. A paragraph takes ceil(its width / that) lines, a line takes
`font_pt * 1.3` points, and a row adds 4 points of padding. The tallest cell of a row sets it.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import xlsxwriter

LINE_FACTOR = 1.3
PADDING_PT = 4.0
MAX_ROW_PT = 409.0  # Excel's limit for a row height


def new_workbook(target: Path | BinaryIO, *, in_memory: bool = True) -> xlsxwriter.Workbook:
    """An xlsxwriter workbook that writes text as text (never a formula, number or link).

    Small workbooks are built in memory (faster); a large one (the summary written cell by cell)
    through temporary files, so that its sheet's XML is never held whole in memory. `target` is a
    path or a binary file (the summary's workbook without its item rows, which sheetxml splices in).
    xlsxwriter is imported here: collect, validate and status, which only read, start without it.
    """
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(target) if isinstance(target, Path) else target,
                                   {"strings_to_numbers": False, "strings_to_formulas": False,
                                    "strings_to_urls": False, "in_memory": in_memory})
    workbook.worksheet_class = text_sheet()
    return workbook


# Wide and full-width characters (Unicode East Asian Width W and F): CJK, kana, hangul, full-width forms.
# WIDE is the definition; display_width counts the same characters without matching each of them.
WIDE_BMP = ("\u1100-\u115f\u231a\u231b\u2329\u232a\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf"
            "\u4e00-\u9fff\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19"
            "\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6")  # a character class's ranges, for other modules' classes too
WIDE = re.compile(f"[{WIDE_BMP}\U0001f300-\U0001f64f\U00020000-\U0003fffd]")
# Neither ASCII nor wide BMP (which is three bytes in UTF-8): “ ” — … é 😀, a few in a text at most.
_OTHER = re.compile(f"[^\\x00-\\x7f{WIDE_BMP}]")


def display_width(text: str) -> int:
    """Width in half-width units: a CJK or full-width character counts two.

    Counted from the UTF-8 length, because matching every CJK character of a long Chinese text is slow:
    ASCII takes one byte and a wide BMP character three, so (characters + bytes) / 2 is the width once
    the few characters that are neither (“ ” — … é 😀) are replaced by one of their width.
    """
    if text.isascii():
        return len(text)
    text = _ascii_or_wide_bmp(text)
    return (len(text) + len(text.encode())) // 2


def _ascii_or_wide_bmp(text: str) -> str:
    """The text with each character that is neither ASCII nor wide BMP replaced by one as wide ('a' or '一')."""
    if _OTHER.search(text) is None:
        return text
    return _OTHER.sub(lambda match: "一" if WIDE.match(match[0]) else "a", text)


def per_line(width: float, font_pt: float) -> float:
    """Half-width characters a line of a column `width` holds in a `font_pt` font."""
    return max((width - 1) * 11 / font_pt, 2)


def line_count(text: str, width: float, font_pt: float) -> int:
    """Lines of a text in a column: each paragraph (line break) takes ceil(its width / per_line), at least one."""
    text = _ascii_or_wide_bmp(text)
    return wide_line_count(text, text.encode(), per_line(width, font_pt))


def wide_line_count(text: str, utf8: bytes, fits: float) -> int:
    """line_count of a text of ASCII and wide BMP characters only, given its UTF-8 bytes and `per_line`.

    Such a text's width is (characters + bytes) / 2 (one byte a narrow character, three a wide one), so
    the bytes the sheet's XML needs anyway give it without scanning the text again (the summary's
    20,000 rows at province scale).
    """
    if "\n" not in text:
        return math.ceil((len(text) + len(utf8)) // 2 / fits) or 1
    return sum([math.ceil((chars + size) // 2 / fits) or 1
                for chars, size in zip(map(len, text.split("\n")), map(len, utf8.split(b"\n")), strict=True)])


def lines_points(lines: int, font_pt: float, line_spacing: float) -> float:
    """Points for a row of `lines` lines: `line_spacing` × the font size a line, the padding, at most Excel's limit."""
    return min(MAX_ROW_PT, round(lines * font_pt * line_spacing + PADDING_PT, 1))


def row_height(cells: list[tuple[str, float]], font_pt: float, minimum_lines: int = 1) -> float:
    """Points for a row whose cells are (text, column width)."""
    lines = max([minimum_lines, *(line_count(t, w, font_pt) for t, w in cells if t)])
    return lines_points(lines, font_pt, LINE_FACTOR)


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


# xlsxwriter's escaping of a string in the sheet XML (shared strings and inline strings alike).
_ESCAPE_LIKE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile("[\\x00-\\x08\\x0b-\\x1f]")
_NOT_IN_XML = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ufffe\\uffff]")
MAX_CELL_TEXT = 32767  # Excel's limit for a cell's text in UTF-16 units; xlsxwriter cuts a longer text there


def escaped_text(text: str) -> tuple[str, bool]:
    """xlsxwriter's escaping of a string and whether it keeps leading or trailing whitespace (xml:space).

    Controls become _xHHHH_ (and the underscore of a literal _xHHHH_ is escaped, so it reads back as
    written), then & < > as XML entities.
    """
    text = _ESCAPE_LIKE.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda match: f"_x{ord(match[0]):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    keep = text[:1].isspace() or text[-1:].isspace()
    return _entities(text), keep


def _entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@functools.cache
def text_sheet() -> type:
    """xlsxwriter's worksheet, writing a text that looks like its own rich-string XML (`<r>…</r>`) as text.

    xlsxwriter copies such a string into the workbook's XML as it is: a unit's contact or answer written
    `<r>…</r>` made a summary or a report no program could open. It is written as one plain run instead.
    """
    from xlsxwriter.worksheet import Worksheet

    class TextSheet(Worksheet):
        def _write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> int:
            if string.startswith("<r>") and string.endswith("</r>"):  # what xlsxwriter takes for its own XML
                string = _plain_run(string[:MAX_CELL_TEXT])
            return super()._write_string(row, col, string, cell_format)

    return TextSheet


def _plain_run(text: str) -> str:
    """A text as one rich-text run without properties (shown in the cell's own font), within Excel's limit.

    Readers do not undo _xHHHH_ escapes inside a run (calamine), so control characters, which XML cannot
    hold, are left out, and the rest is written as it is, only & < > escaped.
    """
    text = _NOT_IN_XML.sub("", text)
    while True:
        run = f'<r><t xml:space="preserve">{_entities(text)}</t></r>'
        if len(run) <= MAX_CELL_TEXT:
            return run
        text = text[:len(text) - (len(run) - MAX_CELL_TEXT)]
