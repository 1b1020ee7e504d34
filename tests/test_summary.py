"""The official summary workbook, read back cell by cell with openpyxl."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from toolkit import summary as summary_mod
from toolkit.excel.layout import line_count
from toolkit.excel.targetlist import Item
from toolkit.store.workspace import init_workspace, load_example_answers
from toolkit.summary import (
    SummaryError,
    SummaryRow,
    SummaryStyle,
    UnitContact,
    export_pdf,
    missing_line,
    tally,
    write_summary,
)

COORDINATOR = {"contact_person": "李明", "contact_phone": "3186001"}
LABELS = summary_mod.labels()
LABEL_FONT = SummaryStyle().body_font


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The bundled example: its spec, its items in 序号 order and every lead unit's answers."""
    ws = init_workspace(tmp_path_factory.mktemp("ws") / "ws", example=True)
    targets, problems = ws.load_targets()
    assert not [p for p in problems if p.is_error]
    answers = load_example_answers("gov-work-report")["units"]
    return ws.spec, targets.items, answers


def build_rows(items, answers, *, missing=(), unverified=()):
    rows = []
    for item in items:
        unit = answers.get(item.lead)
        if unit is None or item.lead in missing:
            rows.append(SummaryRow(item, {}, "missing"))
            continue
        filled = {k: str(v) for k, v in unit["items"].get(item.seq, {}).items()}
        rows.append(SummaryRow(item, filled, "unverified" if item.lead in unverified else "ok"))
    return rows


def build_contacts(answers, *, missing=()):
    return [UnitContact(name, dict(unit["contact"]), "2022-04-12 09:30", f"{name}（已填）.xlsx")
            for name, unit in answers.items() if name not in missing]


def write(tmp_path, spec, rows, contacts=(), name="summary.xlsx", **options):
    path = tmp_path / name
    options.setdefault("coordinator", COORDINATOR)
    write_summary(path, spec, rows, list(contacts), **options)
    return path


def header_row_of(sheet):
    for row in sheet.iter_rows(min_row=1, max_row=10):
        if row[0].value == "序号":
            return row[0].row
    raise AssertionError("no header row")


def item_rows(sheet, header_row):
    """{序号: row} below the header (subtitle and footnote rows have no number in column A)."""
    out = {}
    for r in range(header_row + 1, sheet.max_row + 1):
        value = sheet.cell(r, 1).value
        if isinstance(value, str) and value.isdigit():
            out[value] = r
    return out


@pytest.fixture(scope="module")
def full(example, tmp_path_factory):
    """The summary of the whole example, every unit returned; and one with a missing and an unverified unit."""
    spec, items, answers = example
    tmp = tmp_path_factory.mktemp("summary")
    rows = build_rows(items, answers)
    path = write(tmp, spec, rows, build_contacts(answers))
    return spec, items, answers, rows, openpyxl.load_workbook(path), path


# --- sheet 1: values ----------------------------------------------------------------------------------------

def test_title_contact_line_header_and_footnote(full):
    spec, _, _, _, wb, _ = full
    sheet = wb.worksheets[0]
    assert sheet.title == LABELS["sheet"] == "汇总表"
    assert sheet["A1"].value == spec.title == "2022年第一季度全市经济社会发展主要目标任务（政府工作报告部分）完成情况"
    last = openpyxl.utils.get_column_letter(len(spec.columns))
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert f"A1:{last}1" in merged
    assert [sheet["B2"].value, sheet["C2"].value, sheet["E2"].value, sheet["F2"].value] == \
        ["联系人：", "李明", "联系方式：", "3186001"]
    header = header_row_of(sheet)
    assert header == 3  # no missing line when every unit returned
    assert [sheet.cell(header, c + 1).value for c in range(len(spec.columns))] == \
        [c.label if c.key != "leader" else "市政府分\n管领导" for c in spec.columns]  # balanced, no lone 导
    assert [c.label for c in spec.columns] == ["序号", "年度目标", "第1季度目标", "是否完成", "具体工作进展", "未完成原因",
                                               "下步工作打算", "市政府分管领导", "责任单位"]
    last_row = sheet.max_row
    assert sheet.cell(last_row, 1).value == spec.footnote == "注：责任单位排在第一位的为牵头单位，其他单位为协办单位"
    assert f"A{last_row}:{last}{last_row}" in merged


def test_every_item_in_given_order_with_every_column(full):
    spec, items, answers, _, wb, _ = full
    sheet = wb.worksheets[0]
    rows = item_rows(sheet, header_row_of(sheet))
    assert list(rows) == [i.seq for i in items]
    assert list(rows.values()) == list(range(4, 4 + len(items)))  # no gaps
    index = {c.key: n + 1 for n, c in enumerate(spec.columns)}
    for seq in ("43", "45", "53", "54", "1"):
        item = next(i for i in items if i.seq == seq)
        r = rows[seq]
        filled = answers[item.lead]["items"][seq]
        assert sheet.cell(r, index["seq"]).value == seq
        for key in ("annual", "period_target", "leader"):
            assert sheet.cell(r, index[key]).value == item.values[key]
        assert sheet.cell(r, index["units"]).value == "\n".join(item.units)
        for key in ("status", "progress", "reason", "plan"):
            assert sheet.cell(r, index[key]).value == filled.get(key, "").strip("\n") or None


def test_seed_rows_as_the_seed_shows_them(full):
    spec, _, _, _, wb, _ = full
    sheet = wb.worksheets[0]
    rows = item_rows(sheet, header_row_of(sheet))
    index = {c.key: n + 1 for n, c in enumerate(spec.columns)}
    assert [s for s in rows if s in {"43", "45", "46", "48", "49", "50", "52", "53", "54"}] == \
        ["43", "45", "46", "48", "49", "50", "52", "53", "54"]
    assert sheet.cell(rows["53"], index["status"]).value == "未完成"
    assert sheet.cell(rows["54"], index["reason"]).value == "是"  # the seed's own mistake, shown as written
    progress = sheet.cell(rows["45"], index["progress"]).value
    assert progress.startswith("1.修订了") and "\n2.推进公共应用研发中心建设" in progress
    units = sheet.cell(rows["53"], index["units"]).value.split("\n")
    assert units[0] == "市科技局" and len(units) > 1  # the lead first, one unit per line


def test_seq_and_phone_cells_are_text_without_warning_triangles(full):
    *_, path = full
    with zipfile.ZipFile(path) as z:
        sheet1 = z.read("xl/worksheets/sheet1.xml").decode()
        sheet3 = z.read("xl/worksheets/sheet3.xml").decode()
    assert 'numberStoredAsText="1"' in sheet1 and 'numberStoredAsText="1"' in sheet3


# --- sheet 1: formatting ------------------------------------------------------------------------------------

def test_fonts_of_title_header_body(full):
    spec, *_, wb, _ = full
    sheet = wb.worksheets[0]
    header = header_row_of(sheet)
    title = sheet["A1"].font
    assert (title.name, title.sz, bool(title.b)) == ("方正小标宋简体", 22, False)
    assert sheet["A1"].alignment.horizontal == "center"
    for c in range(1, len(spec.columns) + 1):
        font = sheet.cell(header, c).font
        assert (font.name, font.sz, font.b) == ("黑体", 12, True)
        body = sheet.cell(header + 1, c).font
        assert (body.name, body.sz, bool(body.b)) == ("仿宋_GB2312", 12, False)
    assert sheet.cell(2, 2).font.name == "仿宋_GB2312"


def test_thin_borders_wrap_and_alignment(full):
    spec, *_, wb, _ = full
    sheet = wb.worksheets[0]
    header = header_row_of(sheet)
    rows = item_rows(sheet, header)
    for r in (header, *list(rows.values())[:3], max(rows.values())):
        for c, col in enumerate(spec.columns, start=1):
            cell = sheet.cell(r, c)
            border = cell.border
            assert {border.left.style, border.right.style, border.top.style, border.bottom.style} == {"thin"}, \
                (r, c)
            assert cell.alignment.wrap_text
            if r != header:
                assert (cell.alignment.horizontal or "general") == col.align
    assert sheet.cell(sheet.max_row, 1).border.left.style is None  # the footnote has no frame


def test_column_widths_from_spec(full):
    spec, *_, wb, _ = full
    sheet = wb.worksheets[0]
    for n, col in enumerate(spec.columns, start=1):
        width = sheet.column_dimensions[openpyxl.utils.get_column_letter(n)].width
        assert abs(width - col.width) < 1, (col.key, width)


def test_print_settings_and_frozen_panes(full):
    *_, wb, _ = full
    sheet = wb.worksheets[0]
    header = header_row_of(sheet)
    setup = sheet.page_setup
    assert setup.orientation == "landscape"
    assert setup.paperSize == 8  # A3
    assert sheet.print_title_rows == f"${header}:${header}"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert setup.fitToWidth in (None, 1)  # 1 is the default, so it may be left out
    assert setup.fitToHeight == 0
    footer = sheet.oddFooter.center
    assert footer.text == "— &P —"
    assert footer.font == "宋体,常规" and footer.size == 14
    assert sheet.print_options.horizontalCentered
    assert 0.5 < sheet.page_margins.left < 1 and 0.5 < sheet.page_margins.top < 1.2
    assert sheet.freeze_panes == f"A{header + 1}"
    assert wb.active.title == LABELS["sheet"]


def test_row_heights_are_set_for_every_row(full):
    *_, wb, _ = full
    sheet = wb.worksheets[0]
    header = header_row_of(sheet)
    for r in range(1, sheet.max_row + 1):
        assert sheet.row_dimensions[r].height, r
    title = sheet.row_dimensions[1].height
    assert title >= 22 * 1.5  # the title stands apart
    assert sheet.row_dimensions[header].height >= 2 * 12 * 1.3  # 市政府分管领导 takes two lines


def test_formula_like_text_stays_a_string(example, tmp_path):
    spec, items, _ = example
    texts = {"progress": "=HYPERLINK(\"http://x\",\"点我\")", "reason": "+86 3179657", "plan": "-1.推进；",
             "status": "@完成"}
    row = SummaryRow(items[0], texts, "ok")
    wb = openpyxl.load_workbook(write(tmp_path, spec, [row]))
    sheet = wb.worksheets[0]
    r = header_row_of(sheet) + 1
    index = {c.key: n + 1 for n, c in enumerate(spec.columns)}
    for key, text in texts.items():
        cell = sheet.cell(r, index[key])
        assert cell.data_type == "s" and cell.value == text, key
    with zipfile.ZipFile(tmp_path / "summary.xlsx") as z:
        assert "<f>" not in z.read("xl/worksheets/sheet1.xml").decode()


def test_long_text_gets_a_taller_row(example, tmp_path):
    spec, items, _ = example
    short = SummaryRow(replace(items[0], seq="1"), {"status": "完成", "progress": "甲" * 20}, "ok")
    long = SummaryRow(replace(items[0], seq="2"), {"status": "完成", "progress": "甲" * 300}, "ok")
    sheet = openpyxl.load_workbook(write(tmp_path, spec, [short, long])).worksheets[0]
    rows = item_rows(sheet, header_row_of(sheet))
    assert sheet.row_dimensions[rows["2"]].height > sheet.row_dimensions[rows["1"]].height * 3


def test_row_height_rule():
    style = SummaryStyle()
    one = summary_mod.row_height([("甲" * 10, 44)], 12, style)
    # width 44 holds (44 - 1) * 11 / 12 = 39.4 half-width units = 19 CJK characters a line
    assert one == round(12 * style.line_spacing + 4, 1)
    assert summary_mod.row_height([("甲" * 40, 44)], 12, style) == round(3 * 12 * style.line_spacing + 4, 1)
    assert summary_mod.row_height([("甲\n乙\n丙", 44), ("甲", 6)], 12, style) == round(3 * 12 * style.line_spacing + 4, 1)
    assert summary_mod.row_height([("甲" * 5000, 10)], 12, style) == 409  # Excel's limit



def test_line_count_counts_wide_characters_two_and_each_paragraph():
    # width 18 at 12 pt holds (18 - 1) * 11 / 12 = 15.6 half-width units a line
    assert line_count("a" * 15, 18, 12) == 1 and line_count("a" * 16, 18, 12) == 2
    assert line_count("甲" * 7 + "a", 18, 12) == 1 and line_count("甲" * 8, 18, 12) == 2
    assert line_count("ＡＢＣＤＥＦＧＨ", 18, 12) == 2  # full-width forms count two
    assert line_count("“放管服”——……", 18, 12) == 1  # curly quotes, dashes and ellipses are narrow
    assert line_count("一\n\n二", 18, 12) == 3  # an empty paragraph is a line too
    assert line_count("", 18, 12) == 1


def test_many_rows_each_get_their_height(example, tmp_path):
    """Every item row as high as its tallest cell needs (xlsxwriter stores heights in whole pixels)."""
    spec, items, _ = example
    texts = ["短", "甲" * 200, "一\n二\n三\n四", ""]
    item = replace(items[0], values={k: "短" for k in items[0].values})
    rows = [SummaryRow(replace(item, seq=str(n)), {"status": "完成", "progress": texts[n % 4]}, "ok")
            for n in range(1, 401)]
    sheet = openpyxl.load_workbook(write(tmp_path, spec, rows)).worksheets[0]
    positions = item_rows(sheet, header_row_of(sheet))
    assert list(positions) == [str(n) for n in range(1, 401)]
    for row in rows:
        values = summary_mod.cell_values(spec, row)
        expected = summary_mod.row_height([(values[c.key], c.width) for c in spec.columns], 12, SummaryStyle())
        assert abs(sheet.row_dimensions[positions[row.item.seq]].height - expected) < 0.75, row.item.seq
    assert len({sheet.row_dimensions[r].height for r in positions.values()}) == 3  # the empty one as the short one


AWKWARD = [
    "\x01控制\x07字符\x1f", "_x0041_ 字面的转义 _X00ff_", "  前后有空格  ", "\t制表符开头", "末尾换行\n",
    "<b>&amp; \"引号\" 'single' & < > </b>", "😀🎉 emoji 与扩展B区 𠀀𪚥", "=SUM(A1:A3)",
    "Café naïve — “弯引号” … ×÷",
]


def test_awkward_texts_read_back_as_written(example, tmp_path):
    """Controls, literal _xHHHH_, markup, outer spaces, emoji: read back as written; a text beyond Excel's limit
    is cut there."""
    spec, items, _ = example
    texts = [*AWKWARD, "乙" * 40000]
    rows = [SummaryRow(replace(items[0], seq=str(n)), {"status": "完成", "progress": text}, "ok")
            for n, text in enumerate(texts, start=1)]
    path = write(tmp_path, spec, rows)
    assert zipfile.ZipFile(path).testzip() is None
    sheet = openpyxl.load_workbook(path).worksheets[0]
    column = next(n for n, c in enumerate(spec.columns, start=1) if c.key == "progress")
    positions = item_rows(sheet, header_row_of(sheet))
    shown = [sheet.cell(r, column).value for r in positions.values()]
    # openpyxl alone leaves control characters as their _xHHHH_ escapes
    assert shown == ["_x0001_控制_x0007_字符_x001F_", *AWKWARD[1:], "乙" * 32767]
    grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    assert [grid[r - 1][column - 1] for r in positions.values()] == [*AWKWARD, "乙" * 32767]


def test_text_looking_like_rich_text_xml_is_written_as_text(example, tmp_path):
    """xlsxwriter takes a string `<r>…</r>` for its own rich-text XML: a unit's contact so written broke the file."""
    spec, items, answers = example
    contact = "<r>张三 & 李四\x07 _x0041_</r>"
    answer = "<r>_x0041_</r>"
    rows = build_rows(items, answers)
    rows[0] = SummaryRow(rows[0].item, {**rows[0].filled, "progress": answer}, "ok")
    contacts = [UnitContact(items[0].lead, {"contact_person": contact, "contact_phone": "<r></r>"},
                            "2022-04-12 09:30", "a.xlsx")]
    path = write(tmp_path, spec, rows, contacts, coordinator={"contact_person": "<r>李明</r>"})
    shown = "<r>张三 & 李四 _x0041_</r>"  # a control character, which XML cannot hold, left out
    book = CalamineWorkbook.from_path(str(path))
    every = [v for name in book.sheet_names for row in book.get_sheet_by_name(name).to_python() for v in row]
    assert {shown, "<r></r>", "<r>李明</r>", answer} <= set(every)
    wb = openpyxl.load_workbook(path)
    every = [c.value for sheet in wb.worksheets for row in sheet.iter_rows() for c in row]
    assert {shown, "<r></r>", "<r>李明</r>", answer} <= set(every)
    contact_cell = next(c for row in wb.worksheets[2].iter_rows() for c in row if c.value == shown)
    assert contact_cell.font.name == LABEL_FONT  # shown in the cell's own font


# --- markers, missing line, groups ----------------------------------------------------------------------------

def test_missing_and_unverified_rows_are_marked(example, tmp_path):
    spec, items, answers = example
    rows = build_rows(items, answers, missing={"市商务局"}, unverified={"市生态环境局"})
    line = missing_line(spec, rows)
    assert line.startswith("1个单位未报送（市商务局），其3项事项“是否完成”栏标为“未报送”")
    assert "1个单位报送内容待核实（市生态环境局），其3项事项“是否完成”栏标为“待核实”" in line
    wb = openpyxl.load_workbook(write(tmp_path, spec, rows, build_contacts(answers, missing={"市商务局"}),
                                      missing_line=line))
    sheet = wb.worksheets[0]
    assert sheet["A3"].value == line and sheet["A3"].font.b
    header = header_row_of(sheet)
    assert header == 4
    index = {c.key: n + 1 for n, c in enumerate(spec.columns)}
    positions = item_rows(sheet, header)
    for row in rows:
        r = positions[row.item.seq]
        status = sheet.cell(r, index["status"]).value
        if row.item.lead == "市商务局":
            assert status == LABELS["missing"] == "未报送"
            assert sheet.cell(r, index["progress"]).value is None
            assert sheet.cell(r, index["progress"]).border.left.style == "thin"  # empty cells keep their frame
            assert sheet.cell(r, index["annual"]).value == row.item.values["annual"]  # prefilled still shown
        elif row.item.lead == "市生态环境局":
            assert status == LABELS["unverified"] == "待核实"
            assert sheet.cell(r, index["progress"]).value == row.filled["progress"].strip("\n")
        else:
            assert status in ("完成", "未完成")


def test_no_missing_line_when_none_is_missing(full):
    spec, *_, rows, _, _ = full
    assert missing_line(spec, rows) == ""


def test_unknown_state_is_refused(example, tmp_path):
    spec, items, _ = example
    with pytest.raises(SummaryError, match="late"):
        write(tmp_path, spec, [SummaryRow(items[0], {}, "late")])
    assert not (tmp_path / "summary.xlsx").exists()


def test_group_by_leader_adds_subtitle_rows(example, tmp_path):
    spec, items, answers = example
    rows = build_rows(items, answers)
    sheet = openpyxl.load_workbook(write(tmp_path, spec, rows, group_by="leader")).worksheets[0]
    header = header_row_of(sheet)
    leaders = list(dict.fromkeys(i.values["leader"] for i in items))
    seen: list[tuple[str, list[str]]] = []
    merged = {str(r) for r in sheet.merged_cells.ranges}
    last = openpyxl.utils.get_column_letter(len(spec.columns))
    for r in range(header + 1, sheet.max_row):
        value = sheet.cell(r, 1).value
        if value.isdigit():
            seen[-1][1].append(value)
        else:
            assert value.startswith("市政府分管领导：") and sheet.cell(r, 1).font.b
            assert f"A{r}:{last}{r}" in merged
            seen.append((value, []))
    assert [t for t, _ in seen] == [
        f"市政府分管领导：{name}（{sum(i.values['leader'] == name for i in items)}项）" for name in leaders]
    for title, seqs in seen:
        name = title.split("：", 1)[1].rsplit("（", 1)[0]
        assert seqs == [i.seq for i in items if i.values["leader"] == name]  # 序号 order inside the group
    assert sum(len(s) for _, s in seen) == len(items)


def test_group_by_unit(example, tmp_path):
    spec, items, answers = example
    sheet = openpyxl.load_workbook(write(tmp_path, spec, build_rows(items, answers), group_by="unit")).worksheets[0]
    titles = [sheet.cell(r, 1).value for r in range(header_row_of(sheet) + 1, sheet.max_row)
              if not sheet.cell(r, 1).value.isdigit()]
    leads = list(dict.fromkeys(i.lead for i in items))
    assert titles == [f"牵头单位：{u}（{sum(i.lead == u for i in items)}项）" for u in leads]


def test_group_by_unknown_is_refused(example, tmp_path):
    spec, items, answers = example
    with pytest.raises(SummaryError, match="leader"):
        write(tmp_path, spec, build_rows(items, answers), group_by="month")


# --- 统计 --------------------------------------------------------------------------------------------------------

def _small(spec):
    def item(seq, units, leader):
        return Item(seq=seq, values={"seq": seq, "annual": "目标", "period_target": "季度目标", "leader": leader},
                    units=units)
    return [
        SummaryRow(item("1", ("甲局", "乙局"), "张三"), {"status": "完成"}, "ok"),
        SummaryRow(item("2", ("甲局",), "张三"), {"status": "未完成", "reason": "原因"}, "ok"),
        SummaryRow(item("3", ("乙局",), "李　四"), {"status": "完成"}, "ok"),
        SummaryRow(item("4", ("乙局",), "张三、李　四"), {"status": "完成"}, "ok"),
        SummaryRow(item("5", ("丙局",), "李　四"), {}, "missing"),
        SummaryRow(item("6", ("丁局",), "王五"), {"status": "完成"}, "unverified"),
    ]


def test_tally(example):
    spec = example[0]
    lines, total = tally(spec, _small(spec), "unit")
    assert [(t.name, t.items, t.by_choice["完成"], t.by_choice["未完成"], t.missing, t.unverified) for t in lines] == [
        ("甲局", 2, 1, 1, 0, 0), ("乙局", 2, 2, 0, 0, 0), ("丙局", 1, 0, 0, 1, 0), ("丁局", 1, 0, 0, 0, 1)]
    assert (total.items, total.done, total.missing, total.unverified) == (6, 3, 1, 1)
    assert total.rate == 0.5
    leaders, total = tally(spec, _small(spec), "leader")
    # item 4 counts for both its leaders; names padded with a full-width space are not split
    assert [(t.name, t.items, t.done) for t in leaders] == [("张三", 3, 2), ("李　四", 3, 2), ("王五", 1, 0)]
    assert total.items == 6


def test_stats_sheet(example, tmp_path):
    spec = example[0]
    path = write(tmp_path, spec, _small(spec))
    wb = openpyxl.load_workbook(path)
    sheet = wb[LABELS["stats_sheet"]]
    assert wb.sheetnames == ["汇总表", "统计", "联系人"]
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0][0] == spec.title + "统计"
    assert cells[1][0] == "一、按牵头单位统计"
    assert cells[2] == ["牵头单位", "事项数", "完成", "未完成", "未报送", "待核实", "完成率"]
    assert cells[3][:7] == ["甲局", 2, 1, 1, 0, 0, 0.5]
    assert cells[4][:7] == ["乙局", 2, 2, 0, 0, 0, 1]
    assert cells[5][:7] == ["丙局", 1, 0, 0, 1, 0, 0]
    assert cells[6][:7] == ["丁局", 1, 0, 0, 0, 1, 0]
    assert cells[7][:7] == ["合计", 6, 3, 1, 1, 1, 0.5]
    assert sheet["G4"].number_format == "0.0%" and sheet["A8"].font.b
    start = next(n for n, row in enumerate(cells) if row[0] == "二、按市政府分管领导统计")
    assert cells[start + 1][0] == "市政府分管领导"
    assert [row[:3] for row in cells[start + 2:start + 6]] == [
        ["张三", 3, 2], ["李　四", 3, 2], ["王五", 1, 0], ["合计", 6, 3]]
    assert cells[start + 6][0].startswith("注：完成率")
    assert sheet._charts, "no chart"
    with zipfile.ZipFile(path) as z:
        chart = z.read("xl/charts/chart1.xml").decode()
    assert '<c:barDir val="bar"/>' in chart and '<c:grouping val="stacked"/>' in chart
    assert "统计!$A$4:$A$7" in chart and "统计!$C$4:$C$7" in chart  # categories: the lead units; values: 完成
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9


# --- 联系人 ------------------------------------------------------------------------------------------------------

def test_contacts_sheet(example, tmp_path):
    spec, items, answers = example
    rows = build_rows(items, answers, missing={"市商务局"})
    contacts = build_contacts(answers, missing={"市商务局"})
    wb = openpyxl.load_workbook(write(tmp_path, spec, rows, contacts))
    sheet = wb[LABELS["contacts_sheet"]]
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == ["单位", "联系人", "联系方式", "报送时间", "回报文件"]
    assert cells[1] == ["市科技局", "王刚", "3179657", "2022-04-12 09:30", "市科技局（已填）.xlsx"]
    assert sheet["C2"].data_type == "s"
    assert [row[0] for row in cells[1:-1]] == [c.unit for c in contacts]
    assert cells[-1] == ["市商务局", None, None, "未报送", None]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.b and sheet.page_setup.paperSize == 9


# --- helpers and style ----------------------------------------------------------------------------------------

def test_empty_coordinator_line_is_left_out(example, tmp_path):
    spec, items, answers = example
    sheet = openpyxl.load_workbook(write(tmp_path, spec, build_rows(items[:2], answers),
                                         coordinator={})).worksheets[0]
    assert header_row_of(sheet) == 2


def test_style_from_config_overrides(example, tmp_path):
    style = SummaryStyle.from_config({"paper": "A4", "body_pt": 10.5, "header_fill": "#D9D9D9",
                                      "title_font": "方正小标宋_GBK", "fit_width": 1})
    assert (style.paper, style.body_pt, style.title_font, style.title_pt) == ("A4", 10.5, "方正小标宋_GBK", 22)
    spec, items, answers = example
    sheet = openpyxl.load_workbook(write(tmp_path, spec, build_rows(items[:3], answers), style=style)).worksheets[0]
    header = header_row_of(sheet)
    assert sheet.page_setup.paperSize == 9
    assert sheet["A1"].font.name == "方正小标宋_GBK"
    assert sheet.cell(header + 1, 2).font.sz == 10.5
    assert sheet.cell(header, 1).fill.fgColor.rgb.endswith("D9D9D9")
    assert SummaryStyle.from_config(None) == SummaryStyle() == SummaryStyle.from_config({})


@pytest.mark.parametrize(("data", "words"), [
    ({"titel_font": "黑体"}, ["titel_font", "title_font", "body_pt"]),
    ({"body_pt": "十二"}, ["body_pt", "数字"]),
    ({"landscape": "yes"}, ["landscape", "true"]),
    ({"paper": "A0"}, ["paper", "A3", "A4"]),
    ({"title_pt": 200}, ["title_pt", "72"]),
    ({"fit_width": 1.5}, ["fit_width", "整数"]),
    ({"line_spacing": 0.5}, ["line_spacing", "1 到 3"]),
])
def test_style_from_config_refuses(data, words):
    with pytest.raises(SummaryError) as caught:
        SummaryStyle.from_config(data)
    for word in words:
        assert word in str(caught.value)


def test_footer_codes():
    assert SummaryStyle().footer() == '&C&"宋体,常规"&14— &P —'
    assert SummaryStyle(footer_pt=10.5).footer() == '&C&"宋体,常规"&10.5— &P —'


# --- PDF through LibreOffice ------------------------------------------------------------------------------------

def test_export_pdf_without_libreoffice(full, monkeypatch, tmp_path):
    from toolkit.excel import office

    monkeypatch.setattr(office, "soffice_path", lambda: None)
    with pytest.raises(office.OfficeError, match="LibreOffice"):
        export_pdf(full[-1], tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.pdf"))


def test_first_sheet_only_copy(full, tmp_path):
    *_, path = full
    copy = tmp_path / "copy.xlsx"
    summary_mod._copy_with_first_sheet_only(path, copy)
    wb = openpyxl.load_workbook(copy)
    assert [s.sheet_state for s in wb.worksheets] == ["visible", "hidden", "hidden"]
    assert wb.worksheets[0]["A1"].value == full[0].title


@pytest.mark.libreoffice
def test_export_pdf(full, tmp_path):
    if shutil.which("soffice") is None and shutil.which("libreoffice") is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is required in CI")
        pytest.skip("LibreOffice (soffice) is not installed")
    *_, path = full
    pdf = export_pdf(path, tmp_path / "pdf")
    assert pdf == tmp_path / "pdf" / "summary.pdf"
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "30", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                       check=True, timeout=120)
        assert list(tmp_path.glob("page*.png"))
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert re.search(r"—\s*1\s*—", text) and "未完成原因" in text  # pdftotext may drop the spaces
        assert "回报文件" not in text  # the 联系人 sheet is not printed
