"""The summary's item rows written as XML by sheetxml (in worker processes) give the document xlsxwriter gives.

Every comparison is against the same summary written cell by cell through xlsxwriter (`cell_by_cell=True`),
read back as users see it: openpyxl (values, fonts, alignment, borders, heights, merges, print setup),
calamine, and LibreOffice.
"""

from __future__ import annotations

import io
import math
import random
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from toolkit.excel import sheetxml
from toolkit.excel.layout import WIDE_BMP, line_count, per_line, wide_line_count
from toolkit.excel.office import convert
from toolkit.store.files import OutputError
from toolkit.store.workspace import init_workspace, load_example_answers
from toolkit.summary import SummaryRow, SummaryStyle, UnitContact, export_pdf, missing_line, write_summary

COORDINATOR = {"contact_person": "李明", "contact_phone": "3186001"}
LONG = "\n".join(f"{n}.“放管服”改革——持续推进“一网通办”，" + "甲乙丙丁" * n for n in range(1, 40))
AWKWARD = [
    "\x01控制\x07字符\x1f",
    "回车\r换行\r\n",
    "_x0041_ 字面的转义 _X00ff_",
    "非字符\ufffe\uffff",
    "  前后有空格  ",
    "\u3000全角空格开头",
    "\x1c开头的控制字符",
    "\t制表符开头",
    "末尾换行\n",
    "\n",
    "<b>&amp; \"引号\" 'single' & < > </b>",
    "😀🎉 emoji 与扩展B区 𠀀𪚥",
    "=SUM(A1:A3)",
    "<r>看似 xlsxwriter 的富文本 & </r>",
    "Café naïve — “弯引号” … ×÷",
    LONG,
    "乙" * 40000,  # beyond Excel's 32,767: cut as xlsxwriter cuts
    "a" * 32766 + "😀😀",  # the cut falls beside a character beyond the BMP
    "",
]


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    ws = init_workspace(tmp_path_factory.mktemp("ws") / "ws", example=True)
    targets, _ = ws.load_targets()
    return ws.spec, targets.items, load_example_answers("gov-work-report")["units"]


def awkward_rows(spec, items, answers) -> list[SummaryRow]:
    """The example with awkward texts in prefilled and filled cells, one unit missing and one unverified."""
    filled_keys = [c.key for c in spec.filled]
    rows = []
    for n, item in enumerate(items):
        unit = answers[item.lead]
        filled = {k: str(v) for k, v in unit["items"].get(item.seq, {}).items()}
        values = dict(item.values)
        if n % 2:
            values["annual"] = AWKWARD[n % len(AWKWARD)]
        filled[filled_keys[n % len(filled_keys)]] = AWKWARD[(n * 7) % len(AWKWARD)]
        state = "missing" if item.lead == "市商务局" else "unverified" if item.lead == "市生态环境局" else "ok"
        rows.append(SummaryRow(replace(item, values=values), {} if state == "missing" else filled, state))
    return rows


def example_rows(items, answers) -> list[SummaryRow]:
    return [SummaryRow(i, {k: str(v) for k, v in answers[i.lead]["items"].get(i.seq, {}).items()}) for i in items]


def write(path: Path, spec, rows, answers, **options) -> Path:
    contacts = [UnitContact(name, dict(unit["contact"]), "2022-04-12 09:30", f"{name}（已填）.xlsx")
                for name, unit in answers.items() if name != "市商务局"]
    write_summary(path, spec, rows, contacts, coordinator=COORDINATOR, missing_line=missing_line(spec, rows),
                  **options)
    return path


def seen(path: Path) -> dict:
    """What a user sees of the workbook, sheet by sheet, as openpyxl reads it."""
    wb = openpyxl.load_workbook(path)
    out: dict = {"sheets": wb.sheetnames, "active": wb.active.title}
    for sheet in wb.worksheets:
        cells = {}
        for row in sheet.iter_rows():
            for c in row:
                if c.value is None and not c.has_style:
                    continue
                cells[c.coordinate] = (
                    _unescaped(c.value), c.data_type, c.number_format, c.font.name, c.font.sz, c.font.b,
                    c.alignment.horizontal, c.alignment.vertical, c.alignment.wrap_text,
                    c.border.left.style, c.border.right.style, c.border.top.style, c.border.bottom.style,
                    c.fill.fill_type, c.fill.fgColor.rgb)
        setup = sheet.page_setup
        out[sheet.title] = {
            "cells": cells,
            "heights": {r: (d.height, d.customHeight) for r, d in sheet.row_dimensions.items()},
            "widths": {k: d.width for k, d in sheet.column_dimensions.items()},
            "merged": sorted(str(r) for r in sheet.merged_cells.ranges),
            "dimensions": sheet.dimensions, "freeze": sheet.freeze_panes, "titles": sheet.print_title_rows,
            "setup": (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight,
                      sheet.sheet_properties.pageSetUpPr and sheet.sheet_properties.pageSetUpPr.fitToPage),
            "margins": (sheet.page_margins.left, sheet.page_margins.right, sheet.page_margins.top,
                        sheet.page_margins.bottom, sheet.page_margins.footer),
            "footer": sheet.oddFooter.center.text, "centred": sheet.print_options.horizontalCentered,
        }
    return out


def _unescaped(value):
    """openpyxl un-escapes a literal _xHHHH_ (written _x005F_xHHHH_) in shared strings only, by a plain
    replace; Excel, calamine and LibreOffice read inline strings the same way as shared ones."""
    return value.replace("x005F_", "") if isinstance(value, str) else value


def calamine_values(path: Path) -> dict[str, list[list]]:
    book = CalamineWorkbook.from_path(str(path))
    return {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def outside_sheet_data(xml: bytes) -> bytes:
    return re.sub(rb"<sheetData>.*</sheetData>", b"", xml, flags=re.S)


def stored(path: Path) -> dict[str, tuple[int, bytes]]:
    """Each member's CRC and compressed bytes as stored; docProps/core.xml (its creation time) left out."""
    data = path.read_bytes()
    out = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename == "docProps/core.xml":
                continue
            name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
            start = info.header_offset + 30 + name_length + extra_length
            out[info.filename] = (info.CRC, data[start:start + info.compress_size])
    return out


def test_the_fast_way_is_available_and_taken(example, tmp_path):
    """Fails when xlsxwriter no longer offers what sheetxml uses, rather than quietly writing the slow way."""
    spec, items, answers = example
    assert sheetxml.supported()
    fast = members(write(tmp_path / "fast.xlsx", spec, awkward_rows(spec, items, answers), answers))
    plain = members(write(tmp_path / "plain.xlsx", spec, awkward_rows(spec, items, answers), answers,
                          cell_by_cell=True))
    assert fast["xl/worksheets/sheet1.xml"].count(b't="inlineStr"') > len(items)
    assert b'inlineStr' not in plain["xl/worksheets/sheet1.xml"]


def test_without_xlsxwriter_support_the_cells_go_through_xlsxwriter(example, tmp_path, monkeypatch):
    spec, items, answers = example
    monkeypatch.setattr(sheetxml, "supported", lambda: False)
    rows = awkward_rows(spec, items, answers)
    path = write(tmp_path / "fallback.xlsx", spec, rows, answers)
    assert b"inlineStr" not in members(path)["xl/worksheets/sheet1.xml"]
    assert seen(path) == seen(write(tmp_path / "plain.xlsx", spec, rows, answers, cell_by_cell=True))


@pytest.mark.parametrize("group_by", [None, "leader", "unit"])
def test_awkward_summary_is_cell_by_cell_the_same(example, tmp_path, group_by):
    spec, items, answers = example
    rows = awkward_rows(spec, items, answers)
    fast = write(tmp_path / "fast.xlsx", spec, rows, answers, group_by=group_by)
    plain = write(tmp_path / "plain.xlsx", spec, rows, answers, group_by=group_by, cell_by_cell=True)

    assert zipfile.ZipFile(fast).testzip() is None
    assert seen(fast) == seen(plain)
    assert calamine_values(fast) == calamine_values(plain)
    fast_members, plain_members = members(fast), members(plain)
    assert list(fast_members) == list(plain_members)
    sheet = "xl/worksheets/sheet1.xml"
    assert outside_sheet_data(fast_members[sheet]) == outside_sheet_data(plain_members[sheet])
    for name in ("xl/workbook.xml", "xl/charts/chart1.xml", "[Content_Types].xml", "docProps/app.xml"):
        assert fast_members[name] == plain_members[name], name
    grid = calamine_values(fast)["汇总表"]
    assert "乙" * 32767 in [v for row in grid for v in row]  # cut at Excel's limit, as xlsxwriter cuts it


def test_the_bundled_example_is_the_same(example, tmp_path):
    spec, items, answers = example
    rows = example_rows(items, answers)
    fast = write(tmp_path / "fast.xlsx", spec, rows, answers)
    plain = write(tmp_path / "plain.xlsx", spec, rows, answers, cell_by_cell=True)
    assert seen(fast) == seen(plain)
    assert calamine_values(fast) == calamine_values(plain)


def test_without_footnote_the_dimension_reaches_the_last_item(example, tmp_path):
    spec, items, answers = example
    spec = replace(spec, footnote="")
    rows = awkward_rows(spec, items, answers)
    fast = seen(write(tmp_path / "fast.xlsx", spec, rows, answers))
    assert fast == seen(write(tmp_path / "plain.xlsx", spec, rows, answers, cell_by_cell=True))
    assert fast["汇总表"]["dimensions"].endswith(str(4 + len(items)))  # title, contact, missing line, header


@pytest.mark.parametrize("case", ["default-height rows", "tall lines, shaded header", "every unit missing",
                                  "no items"])
def test_other_styles_and_edges_are_the_same(example, tmp_path, case):
    spec, items, answers = example
    rows = awkward_rows(spec, items, answers)
    style = SummaryStyle()
    if case == "default-height rows":  # 11 pt, single spacing: one line is 15 points, the default height
        style = SummaryStyle(body_pt=11, line_spacing=1.0)
        rows += [SummaryRow(replace(i, values={k: "短" for k in i.values}, units=(i.lead,)), {"status": "完成"})
                 for i in items[:3]]
    elif case == "tall lines, shaded header":
        style = SummaryStyle(body_pt=14.5, line_spacing=2.0, header_fill="#D9D9D9", paper="A4", landscape=False)
    elif case == "every unit missing":  # no row uses the unmarked formats
        rows = [SummaryRow(row.item, {}, "missing") for row in rows]
    else:
        rows = []
    fast = write(tmp_path / "fast.xlsx", spec, rows, answers, style=style, group_by="unit")
    plain = write(tmp_path / "plain.xlsx", spec, rows, answers, style=style, group_by="unit", cell_by_cell=True)
    assert seen(fast) == seen(plain)
    assert calamine_values(fast) == calamine_values(plain)
    if case == "default-height rows":
        # an item row without a height of its own, as xlsxwriter writes one
        assert re.search(rb'<row r="\d+" spans="1:9"><c r="A\d+" s="\d+" t="inlineStr">',
                         members(fast)["xl/worksheets/sheet1.xml"])


def test_workers_write_the_same_bytes(example, tmp_path, monkeypatch):
    spec, items, answers = example
    monkeypatch.setattr(sheetxml, "ROWS_PER_PART", 5)  # several parts, cut across the group subtitles too
    rows = awkward_rows(spec, items, answers)
    for group_by in (None, "unit"):
        one = write(tmp_path / "one.xlsx", spec, rows, answers, group_by=group_by, jobs=1)
        two = write(tmp_path / "two.xlsx", spec, rows, answers, group_by=group_by, jobs=2)
        assert stored(one) == stored(two)
        assert zipfile.ZipFile(two).testzip() is None


SPAWNED = """
import multiprocessing, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_summary_fast import awkward_rows, write
from toolkit.excel import sheetxml
from toolkit.store.workspace import init_workspace, load_example_answers

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)
    sheetxml.ROWS_PER_PART = 5
    ws = init_workspace(Path({root!r}) / "ws", example=True)
    answers = load_example_answers("gov-work-report")["units"]
    rows = awkward_rows(ws.spec, ws.load_targets()[0].items, answers)
    write(Path({root!r}) / "spawned.xlsx", ws.spec, rows, answers, group_by="leader", jobs=2)
"""


def test_spawned_workers_write_the_same_bytes(example, tmp_path, monkeypatch):
    """Windows starts workers with spawn: what they are given must pickle, what they run must be importable."""
    spec, items, answers = example
    script = SPAWNED.format(tests=str(Path(__file__).parent), root=str(tmp_path))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300, cwd=tmp_path)
    monkeypatch.setattr(sheetxml, "ROWS_PER_PART", 5)
    one = write(tmp_path / "one.xlsx", spec, awkward_rows(spec, items, answers), answers, group_by="leader", jobs=1)
    assert stored(tmp_path / "spawned.xlsx") == stored(one)


@pytest.mark.libreoffice
def test_libreoffice_reads_the_same_values_and_prints_it(example, tmp_path):
    spec, items, answers = example
    rows = awkward_rows(spec, items, answers)
    fast = write(tmp_path / "fast.xlsx", spec, rows, answers, group_by="leader")
    plain = write(tmp_path / "plain.xlsx", spec, rows, answers, group_by="leader", cell_by_cell=True)
    bundled = write(tmp_path / "bundled.xlsx", spec, example_rows(items, answers), answers)
    fast_ods, plain_ods, bundled_ods = convert([fast, plain, bundled], "ods", tmp_path / "ods")
    # LibreOffice drops controls, tabs and carriage returns, from shared and inline strings alike.
    assert calamine_values(fast_ods) == calamine_values(plain_ods)
    assert calamine_values(bundled_ods)["汇总表"] == calamine_values(bundled)["汇总表"]
    pdf = export_pdf(fast, tmp_path / "pdf")
    assert pdf.read_bytes().startswith(b"%PDF")


def random_texts(count: int) -> list[str]:
    """Texts of everything xlsxwriter escapes or keeps: &<>, controls, _xHHHH_, outer spaces, CJK, emoji."""
    rng = random.Random(11)
    pieces = [*"&<>_\"'\t\n\r \u3000\u00a0\x00\x01\x0b\x1c\x1f\ufffe\uffff“”—甲乙😀𠀀aZ09",
              "_x0041_", "_X00fF_", "_x12G4_", "&amp;", "<b>", "甲乙丙丁戊"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12))) for _ in range(count)]


def test_texts_are_escaped_as_xlsxwriter_escapes_its_strings():
    """Each rendered cell's <is> holds what xlsxwriter's <si> holds for the same text."""
    from xlsxwriter.sharedstrings import SharedStrings

    texts = [t for t in random_texts(3000) if not (t.startswith("<r>") and t.endswith("</r>"))]
    items = sheetxml.ItemRows(keys=("text",), widths=(20,), styles=((1,), (2,)), font_pt=12, line_spacing=1.5,
                              values=[{"text": t} for t in texts], marked=[False] * len(texts),
                              runs=((0, 0, len(texts)),))
    rendered = re.findall(rb'<c r="A\d+" s="1"(?:/>| t="inlineStr"><is>(.*?)</is></c>)',
                          sheetxml.render(items, 0, 0, len(texts)), flags=re.S)
    assert len(rendered) == len(texts)
    for text, ours in zip(texts, rendered, strict=True):
        writer = SharedStrings()
        out = io.StringIO()
        writer._set_filehandle(out)
        writer._write_si(text)
        expected = b"" if not text else re.fullmatch("<si>(.*)</si>", out.getvalue(), flags=re.S)[1].encode()
        assert ours == expected, repr(text)


def test_crc32_combine_is_zlibs():
    rng = random.Random(3)
    data = rng.randbytes(100_000)
    for _ in range(50):
        cut = rng.randrange(0, len(data) + 1)
        a, b = data[:cut], data[cut:]
        assert sheetxml.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(data)


def test_a_zip_beyond_4_gb_is_refused_clearly(tmp_path):
    member = sheetxml.Deflated(b"", 0, sheetxml.ZIP_LIMIT)
    with pytest.raises(OutputError, match="4 GB"):
        sheetxml._write_zip(tmp_path / "big.xlsx", [(zipfile.ZipInfo("xl/worksheets/sheet1.xml"), member)])


def test_whitespace_test_is_xlsxwriters():
    """xlsxwriter keeps leading/trailing whitespace by the regex \\s; sheetxml asks str.isspace."""
    space = re.compile(r"\s")
    assert all(bool(space.match(chr(c))) == chr(c).isspace() for c in range(sys.maxunicode + 1))


def plain_texts(count: int) -> list[str]:
    """Texts of ASCII and wide BMP characters only (the ones sheetxml measures from their bytes)."""
    rng = random.Random(5)
    ranges = [tuple(ord(c) for c in pair.split("-")) if "-" in pair else (ord(pair), ord(pair))
              for pair in re.findall(r".-.|.", WIDE_BMP)]
    texts = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randrange(0, 120)):
            pick = rng.random()
            if pick < 0.1:
                chars.append("\n")
            elif pick < 0.4:
                chars.append(chr(rng.randrange(0x20, 0x7F)))
            else:
                low, high = rng.choice(ranges)
                chars.append(chr(rng.randint(low, high)))
        texts.append("".join(chars))
    return texts


def test_width_from_bytes_is_the_line_rule():
    for text in plain_texts(3000):
        for width, pt in ((6, 12), (18, 12), (44, 12), (30, 14)):
            fits = per_line(width, pt)
            assert wide_line_count(text, text.encode(), fits) == line_count(text, width, pt), (text, width)
    assert math.isclose(per_line(44, 12), 43 * 11 / 12)


def test_text_looking_like_rich_text_xml_is_written_as_text(example, tmp_path):
    """xlsxwriter copies a string `<r>…</r>` into the XML as it is: a unit's contact so written broke the file."""
    spec, items, answers = example
    contact = "<r>张三 & 李四\x07 _x0041_</r>"
    rows = example_rows(items, answers)
    contacts = [UnitContact(items[0].lead, {"contact_person": contact, "contact_phone": "<r></r>"},
                            "2022-04-12 09:30", "a.xlsx")]
    path = tmp_path / "summary.xlsx"
    write_summary(path, spec, rows, contacts, coordinator={"contact_person": "<r>李明</r>"})
    values = calamine_values(path)
    every = [v for grid in values.values() for row in grid for v in row]
    shown = "<r>张三 & 李四 _x0041_</r>"  # a control character, which XML cannot hold, left out
    assert shown in every and "<r></r>" in every and "<r>李明</r>" in every
    assert [c.value for row in openpyxl.load_workbook(path).worksheets[2].iter_rows() for c in row
            if c.value and "张三" in str(c.value)] == [shown]
