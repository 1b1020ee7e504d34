"""Returns written by other programs than Excel: a workbook calamine refuses but openpyxl opens, formulas without
a calculated value or showing an error value, and .xlsb returns."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from returns import UNIT, open_return

from toolkit.collect import collect
from toolkit.excel import biff, intake
from toolkit.excel.office import convert
from toolkit.store.ledger import Ledger
from toolkit.store.workspace import Workspace
from toolkit.validate import validate


def _patched(data: bytes, sheet_xml: str, edit) -> bytes:
    """The workbook with one sheet part's XML edited, every other part as it was."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == sheet_xml:
                content = edit(content.decode("utf-8")).encode("utf-8")
            target.writestr(info, content)
    return out.getvalue()


def _sheet_part(data: bytes) -> str:
    """The part of the workbook's first sheet (the fill-in table)."""
    return sorted(n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.startswith("xl/worksheets/sheet"))[0]


def _collect_and_validate(cli, ws: Workspace, path: Path) -> tuple[dict, list[dict]]:
    collected = cli("collect", path, "--json", "-w", ws.root)
    (record,) = json.loads(collected.output)
    validated = cli("validate", "--json", "-w", ws.root)
    return record, json.loads(validated.output)


def test_a_cell_carrying_extlst_is_read_by_the_fallback_reader(ws: Workspace, cli, tmp_path: Path) -> None:
    filled = open_return(ws, UNIT)
    cell = filled.cell("2", "具体工作进展")
    text = filled.sheet[cell].value
    data = filled.to_bytes()
    # Some writers put an extension list inside a cell: calamine refuses the whole file, openpyxl skips it.
    data = _patched(data, _sheet_part(data), lambda xml: re.sub(
        rf'(<c r="{cell}"[^>]*>.*?)(</c>)', r'\1<extLst><ext uri="{00000000-0000-0000-0000-000000000000}"/></extLst>\2',
        xml, count=1, flags=re.S))
    path = tmp_path / "发改委-WPS另存.xlsx"
    path.write_bytes(data)
    record, found = _collect_and_validate(cli, ws, path)
    assert record["verdict"] == "accepted" and record["unit"] == UNIT
    assert "已改用备用方式（openpyxl）读取" in record["reason"] and "v, f, or is" in record["reason"]
    assert found == []
    merged = cli("merge", "--allow-missing", "-w", ws.root)
    summary = Path(merged.output.split("汇总表：")[1].splitlines()[0].rsplit("（", 1)[0].strip())
    rows = {r[0]: r for r in openpyxl.load_workbook(summary).worksheets[0].iter_rows(values_only=True)}
    assert rows["2"][rows["序号"].index("具体工作进展")] == text


def test_a_formula_without_a_value_or_with_an_error_has_its_own_message(ws: Workspace, cli, tmp_path: Path) -> None:
    filled = open_return(ws, UNIT)
    progress, plan = filled.cell("1", "具体工作进展"), filled.cell("2", "下步工作打算")
    filled.sheet[progress] = "=CONCATENATE(B5,C5)"  # written by a program: no value calculated
    data = filled.to_bytes()
    # The other a VLOOKUP that found nothing: Excel keeps #N/A as its value.
    data = _patched(data, _sheet_part(data), lambda xml: re.sub(
        rf'<c r="{plan}"[^>]*>.*?</c>', f'<c r="{plan}" t="e"><f>VLOOKUP(A6,Sheet2!A:B,2,0)</f><v>#N/A</v></c>',
        xml, count=1, flags=re.S))
    path = tmp_path / "发改委.xlsx"
    path.write_bytes(data)
    record, found = _collect_and_validate(cli, ws, path)
    assert record["verdict"] == "accepted"
    by_cell = {f["cell"]: f for f in found}
    assert by_cell[progress]["code"] == "formula-no-value"
    assert by_cell[progress]["message"].startswith("公式没有计算结果：第1项的“具体工作进展”是公式 =CONCATENATE(B5,C5)，"
                                                   "文件中没有保存它的结果。")
    assert by_cell[plan]["code"] == "formula-no-value"
    assert "是公式 =VLOOKUP(A6,Sheet2!A:B,2,0)，显示为错误值 #N/A" in by_cell[plan]["message"]
    assert not any(f["code"] == "value-required" for f in found)


def test_an_xlsb_return_is_archived_as_xlsb(ws: Workspace, cli, tmp_path: Path) -> None:
    path = tmp_path / "发改委.xlsb"
    with zipfile.ZipFile(path, "w") as archive:  # the parts an .xlsb has; its binary sheets made up
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.bin", b"\x83\x01\x00")
    record, _ = _collect_and_validate(cli, ws, path)
    assert record["verdict"] == "refused" and "文件无法读取" in record["reason"]
    with Ledger(ws.state / "ledger.sqlite") as ledger:
        (receipt,) = ledger.all()
    assert (receipt.format, Path(receipt.archive).suffix) == ("xlsb", ".xlsb")
    assert (ws.root / receipt.archive).read_bytes() == path.read_bytes()


# --- a text a reader cut short (legacy .xls) ---------------------------------------------------------------

LONG_RICH = CellRichText([TextBlock(InlineFont(b=n % 2 == 0), f"{n + 1}.推进重点项目建设，完成投资{n + 3}亿元；")
                          for n in range(400)])  # about 9,000 characters, split over the file's CONTINUE records


@pytest.fixture
def rich_xls(ws: Workspace, tmp_path: Path) -> tuple[Path, str]:
    """A return with a long rich text in 具体工作进展 of item 1, saved as .xls by LibreOffice; and that cell."""
    filled = open_return(ws, UNIT)
    cell = filled.cell("1", "具体工作进展")
    filled.sheet[cell] = LONG_RICH
    source = filled.save(tmp_path / "src" / "发改委.xlsx")
    (xls,) = convert([source], "xls", tmp_path / "xls")
    return xls, cell


@pytest.mark.libreoffice
def test_the_recorded_length_of_every_text_is_read_from_the_xls(ws: Workspace, rich_xls) -> None:
    xls, cell = rich_xls
    recorded = biff.recorded_lengths(xls.read_bytes())
    row, col = int(cell[1:]) - 1, ord(cell[0]) - ord("A")
    assert recorded[ws.spec.sheet_name][(row, col)] == len(str(LONG_RICH)) > 8224  # longer than one BIFF record
    # calamine reads every text whole here: nothing is reported.
    assert intake.parse(xls.read_bytes(), ws.spec, "x.xls").cut_short == []


@pytest.mark.libreoffice
def test_a_text_read_shorter_than_recorded_is_reported_never_used_silently(ws: Workspace, rich_xls, monkeypatch,
                                                                          cli) -> None:
    xls, cell = rich_xls
    real = intake.read_grids

    def cut(data):  # a reader that stops a long rich text short, as some do on some writers' files
        grids = real(data)
        for grid in grids:
            for row in grid.rows:
                row[:] = [v[:4000] if isinstance(v, str) and len(v) > 8000 else v for v in row]
        return grids

    monkeypatch.setattr(intake, "read_grids", cut)
    (record,) = collect(ws, [xls])
    assert record.verdict == "accepted"
    found = [f for f in validate(ws).findings if f.code == "cell-cut-short"]
    assert [(f.item, f.column, f.cell, f.severity) for f in found] == [("1", "具体工作进展", cell, "error")]
    assert f"记为 {len(str(LONG_RICH))} 个字，只读出 4000 个字" in found[0].message
    assert "（第1项的“具体工作进展”）" in found[0].message and "另存为 .xlsx" in found[0].message
