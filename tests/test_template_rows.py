"""Fill-in rows of a template grow when a unit types a long answer: their height is stored (the prefilled text shows
at once, in LibreOffice too) but not marked custom, so Excel and WPS fit the row again; resizing stays allowed."""

from __future__ import annotations

import re
import zipfile

import openpyxl

from toolkit.distribute import FIRST_ITEM_ROW, HEADER_ROW
from toolkit.store.workspace import Workspace


def row_tags(path) -> dict[int, str]:
    with zipfile.ZipFile(path) as book:
        xml = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
    return {int(m[1]): m[0] for m in re.finditer(r'<row r="(\d+)"[^>]*>', xml)}


def test_item_rows_have_a_height_but_no_custom_mark(ws: Workspace) -> None:
    for template in ws.outbox.glob("*.xlsx"):
        rows = row_tags(template)
        items = [r for r in rows if r > FIRST_ITEM_ROW]  # 1-based: item rows start at FIRST_ITEM_ROW + 1
        items = [r for r in items if 'ht="' in rows[r] and r <= max(items)]
        assert items, template.name
        for r in range(FIRST_ITEM_ROW + 1, FIRST_ITEM_ROW + 1 + len(items)):
            assert 'ht="' in rows[r] and "customHeight" not in rows[r], (template.name, rows[r])
        assert 'customHeight="1"' in rows[HEADER_ROW + 1]  # the header keeps its height


def test_protected_sheet_lets_units_resize_rows(ws: Workspace) -> None:
    template = next(ws.outbox.glob("*市科技局*.xlsx"))
    sheet = openpyxl.load_workbook(template).worksheets[0]
    assert sheet.protection.sheet  # protected …
    assert not sheet.protection.formatRows and not sheet.protection.formatColumns  # … but rows may be resized
    heights = [sheet.row_dimensions[r].height for r in range(FIRST_ITEM_ROW + 1, sheet.max_row - 1)]
    assert all(h and h >= 3 * 11 * 1.3 for h in heights)  # room for three lines of answer at least
