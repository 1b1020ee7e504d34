"""A distributed template opened and re-saved by the real LibreOffice (xlsx, xls, ods) keeps what a unit relies on.

Three soffice calls in all: template → ods, template → xls, then [template, the .ods, the .xls] → xlsx so that
openpyxl can read what each format kept. calamine reads the xlsx, the .xls and the .ods directly.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from toolkit.distribute import distribute
from toolkit.excel.office import convert
from toolkit.excel.sheets import read_grids
from toolkit.model import stamp
from toolkit.store.workspace import Workspace, init_workspace

pytestmark = pytest.mark.libreoffice

FORMATS = ["xlsx", "xls", "ods"]
UNIT = "市科技局"
SEED_ITEMS = ["43", "45", "46", "48", "49", "50", "52", "53", "54"]
HEADER_ROW, FIRST_ITEM_ROW = 3, 4
PREFILLED = ["序号", "年度目标", "第1季度目标", "市政府分管领导", "责任单位"]
FILL_IN = ["是否完成", "具体工作进展", "未完成原因", "下步工作打算"]


@dataclass
class RoundTrip:
    ws: Workspace
    original: Path
    saved: dict[str, Path]  # format -> the file LibreOffice saved in that format
    as_xlsx: dict[str, Path]  # format -> that file converted once more to xlsx, for openpyxl


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory) -> RoundTrip:
    root = tmp_path_factory.mktemp("libreoffice")
    ws = init_workspace(root / "ws", example=True)
    result = distribute(ws)
    (issue,) = [i for i in result.issues if i.unit == UNIT]
    original = ws.outbox / issue.file_name
    (ods,) = convert([original], "ods", root / "ods")
    (xls,) = convert([original], "xls", root / "xls")
    # Distinct names, so the three outputs of the last call do not overwrite each other.
    sources = root / "sources"
    sources.mkdir()
    renamed = {fmt: sources / f"{fmt}-{original.stem}.{fmt}" for fmt in FORMATS}
    shutil.copy(original, renamed["xlsx"])
    shutil.copy(ods, renamed["ods"])
    shutil.copy(xls, renamed["xls"])
    outputs = convert([renamed[fmt] for fmt in FORMATS], "xlsx", root / "xlsx")
    xlsx_saved = outputs[0]
    return RoundTrip(ws, original, {"xlsx": xlsx_saved, "xls": xls, "ods": ods}, dict(zip(FORMATS, outputs, strict=True)))


def fill_sheet(path: Path):
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.worksheets[0]
    columns = {c.value.replace("\n", ""): c.column for c in sheet[HEADER_ROW] if c.value}
    return workbook, sheet, columns


def test_original_is_the_science_bureaus_template(round_trip):
    _, sheet, columns = fill_sheet(round_trip.original)
    assert [sheet.cell(r, columns["序号"]).value for r in range(FIRST_ITEM_ROW, FIRST_ITEM_ROW + 9)] == SEED_ITEMS


@pytest.mark.parametrize("fmt", FORMATS)
def test_status_dropdown_survives_on_every_item_row(round_trip, fmt):
    _, sheet, columns = fill_sheet(round_trip.as_xlsx[fmt])
    col = get_column_letter(columns["是否完成"])
    for r in range(FIRST_ITEM_ROW, FIRST_ITEM_ROW + len(SEED_ITEMS)):
        lists = [dv for dv in sheet.data_validations.dataValidation if f"{col}{r}" in dv.sqref and dv.type == "list"]
        assert len(lists) == 1, f"{fmt}: no dropdown on {col}{r}"
        assert lists[0].formula1.strip('"').split(",") == ["完成", "未完成"]
        assert lists[0].showInputMessage and lists[0].prompt


@pytest.mark.parametrize("fmt", FORMATS)
def test_protection_and_locks_survive(round_trip, fmt):
    _, sheet, columns = fill_sheet(round_trip.as_xlsx[fmt])
    assert sheet.protection.sheet is True
    assert [c.value.replace("\n", "") for c in sheet[HEADER_ROW] if c.value][:len(columns)] == list(columns)
    for r in range(FIRST_ITEM_ROW, FIRST_ITEM_ROW + len(SEED_ITEMS)):
        for label in PREFILLED:
            assert sheet.cell(r, columns[label]).protection.locked is True, (fmt, r, label)
        for label in FILL_IN:
            assert sheet.cell(r, columns[label]).protection.locked is False, (fmt, r, label)


@pytest.mark.parametrize("fmt", FORMATS)
def test_stamp_readable_by_calamine_and_verifies(round_trip, fmt):
    grids = {g.name: g for g in read_grids(round_trip.saved[fmt])}
    assert grids[stamp.SHEET].visibility in ("hidden", "veryhidden")
    values = stamp.parse(grids[stamp.SHEET].rows)
    assert values is not None, fmt
    assert values["unit"] == UNIT
    assert values["items"].split(",") == SEED_ITEMS
    assert stamp.verify(round_trip.ws.secret(), values)
    assert not stamp.verify(round_trip.ws.secret(), {**values, "unit": "市财政局"})


@pytest.mark.parametrize("fmt", FORMATS)
def test_prefilled_text_and_line_breaks_survive(round_trip, fmt):
    original = {g.name: g for g in read_grids(round_trip.original)}
    saved = {g.name: g for g in read_grids(round_trip.saved[fmt])}
    sheet = round_trip.ws.spec.sheet_name
    assert saved[sheet].visibility == "visible"
    for r in range(FIRST_ITEM_ROW - 1, FIRST_ITEM_ROW - 1 + len(SEED_ITEMS)):
        assert saved[sheet].rows[r][:9] == original[sheet].rows[r][:9], (fmt, r + 1)
    responsible = saved[sheet].rows[FIRST_ITEM_ROW][8]  # item 45: four units, one per line
    assert responsible.split("\n") == ["市科技局", "市发展改革委", "市工业和信息化局", "市人力资源社会保障局"]
