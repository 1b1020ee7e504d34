"""The target-list reader on lists as offices keep them, and its problems stopping `toolkit distribute`."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest
from targetlists import SHEET, Row, write_list

from toolkit.excel.targetlist import read_target_list
from toolkit.model.periods import parse_period
from toolkit.model.spec import load_spec
from toolkit.store.workspace import init_workspace

UNITS = [
    ("市科技局", ""),
    ("市发展改革委", "市发改委"),
    ("市人力资源社会保障局", "市人社局、人社局"),
    ("市教育局", ""),
    ("市财政局", ""),
    ("市政府办公室（市政府外事办公室）", "市政府办"),
    ("各区人民政府〈含开发区、高新区〉", ""),
]


def read(path: Path, period: str = "Q1"):
    p = parse_period(period)
    spec = load_spec("gov-work-report", {"year": 2022, "period": p})
    return read_target_list(path, spec, p)


def read_ok(path: Path, period: str = "Q1"):
    targets, problems = read(path, period)
    assert problems == []
    return targets


def units_of(tmp_path: Path, text: str, with_unit_sheet: bool = True) -> tuple[str, ...]:
    """The units the reader finds in one 责任单位 cell."""
    path = tmp_path / "list.xlsx"
    write_list(path, [Row(1, units=text)], units=UNITS if with_unit_sheet else None)
    (item,) = read_ok(path).items
    return item.units


# --- the layout: title rows, merged header cells, the chosen period's column ---

def test_header_found_under_title_rows_with_merged_group_labels(tmp_path):
    path = tmp_path / "list.xlsx"
    write_list(path, [
        Row(1, annual="年度目标一", targets={1: "一季度目标一", 2: "二季度目标一"}, leader="毕荣海", units="市发展改革委"),
        Row(2, annual="年度目标二", targets={1: "一季度目标二", 2: "二季度目标二"}, leader="宋振波", units="市科技局"),
    ], units=UNITS)
    targets = read_ok(path)
    assert [i.seq for i in targets.items] == ["1", "2"]
    first = targets.items[0]
    assert first.values["annual"] == "年度目标一"
    assert first.values["period_target"] == "一季度目标一"  # under the merged 季度目标 label, not 第2季度目标
    assert first.values["leader"] == "毕荣海"  # 市政府\n分管领导, merged over both header rows
    assert first.row == 5
    assert targets.items[1].values["period_target"] == "一季度目标二"


@pytest.mark.parametrize("period", ["Q2", "Q3", "Q4"])
def test_the_chosen_period_picks_its_own_target_column(tmp_path, period):
    n = int(period[1])
    path = tmp_path / "list.xlsx"
    write_list(path, [Row(7, targets={q: f"第{q}季度：推进到{q * 25}%" for q in range(1, 5)})], units=UNITS)
    (item,) = read_ok(path, period).items
    assert item.values["period_target"] == f"第{n}季度：推进到{n * 25}%"


def test_footnote_under_the_items_is_not_an_item(tmp_path):
    path = tmp_path / "list.xlsx"
    write_list(path, [Row(1), Row(2)], units=UNITS, footnote=True)
    assert [i.seq for i in read_ok(path).items] == ["1", "2"]


def test_multi_paragraph_text_kept_one_break_between_paragraphs(tmp_path):
    path = tmp_path / "list.xlsx"
    write_list(path, [Row(1, annual="1.实施技改项目1000个以上；\n\n2.推动500家企业实施数字化改造。\n")], units=UNITS)
    (item,) = read_ok(path).items
    assert item.values["annual"] == "1.实施技改项目1000个以上；\n2.推动500家企业实施数字化改造。"


# --- 序号 ---

def test_seq_written_as_float_or_full_width_digits(tmp_path):
    path = tmp_path / "list.xlsx"
    write_list(path, [Row(43.0), Row("４４"), Row(" 45 "), Row(9)], units=UNITS)
    targets = read_ok(path)
    assert [i.seq for i in targets.items] == ["9", "43", "44", "45"]  # 序号 order, numeric
    assert targets.item("44") is not None


# --- 责任单位: separators, brackets, broken names, aliases, the lead ---

@pytest.mark.parametrize("text", [
    "市科技局、市教育局、市财政局",
    "市科技局，市教育局，市财政局",
    "市科技局,市教育局,市财政局",
    "市科技局；市教育局;市财政局",
    "市科技局\n市教育局\n市财政局",
    "市科技局   市教育局  市财政局",
    "市科技局　市教育局　　市财政局",  # full-width spaces
    "　市科技局、 市教育局 ，\n市财政局　",  # mixed, with blanks around the names
], ids=["dunhao", "fullwidth-comma", "comma", "semicolons", "newlines", "spaces", "fullwidth-spaces", "mixed"])
def test_units_split_on_every_separator(tmp_path, text):
    assert units_of(tmp_path, text) == ("市科技局", "市教育局", "市财政局")


@pytest.mark.parametrize("with_unit_sheet", [True, False], ids=["unit-sheet", "no-unit-sheet"])
def test_unit_name_broken_over_two_lines_is_rejoined(tmp_path, with_unit_sheet):
    # As in the seed: the page layout broke 市人力资源社会保障局 over two lines with a blank line between.
    units = units_of(tmp_path, "市科技局\n市委组织部\n市人力资源社会\n\n保障局", with_unit_sheet)
    assert units == ("市科技局", "市委组织部", "市人力资源社会保障局")


@pytest.mark.parametrize("with_unit_sheet", [True, False], ids=["unit-sheet", "no-unit-sheet"])
def test_separators_inside_brackets_do_not_split(tmp_path, with_unit_sheet):
    units = units_of(tmp_path, "市财政局、各区人民政府〈含开发区、高新区〉；市教育局（负责，牵头）", with_unit_sheet)
    assert units == ("市财政局", "各区人民政府〈含开发区、高新区〉", "市教育局（负责，牵头）")


def test_a_collective_lead_unit_is_a_problem_with_its_cell(tmp_path):
    path = tmp_path / "list.xlsx"
    layout = write_list(path, [Row(1, units="各区县政府、市财政局")])
    _, problems = read(path)
    assert [(p.code, p.item, p.cell) for p in problems] == [("targets-collective-lead", "1", layout.cell("units", 0))]


def test_collective_and_unusual_unit_names_are_not_joined_to_the_next(tmp_path):
    units = units_of(tmp_path, "淄博海关、市商务局；各街道，区直各部门、市财政局", with_unit_sheet=False)
    assert units == ("淄博海关", "市商务局", "各街道", "区直各部门", "市财政局")


def test_aliases_from_the_unit_sheet_resolve_to_the_official_name(tmp_path):
    path = tmp_path / "list.xlsx"
    write_list(path, [
        Row(1, units="市人社局、市发改委"),
        Row(2, units="市科技局、人社局"),
        Row(3, units="市政府办公室(市政府外事办公室)"),  # half-width brackets match the official full-width ones
        Row(4, units="市政府办"),
    ], units=UNITS)
    targets = read_ok(path)
    assert targets.item("1").units == ("市人力资源社会保障局", "市发展改革委")
    assert targets.item("2").units == ("市科技局", "市人力资源社会保障局")
    assert targets.item("3").units == ("市政府办公室（市政府外事办公室）",)
    assert targets.item("4").units == ("市政府办公室（市政府外事办公室）",)
    assert targets.resolve_unit("市人社局") == "市人力资源社会保障局"


def test_first_unit_is_the_lead(tmp_path):
    path = tmp_path / "list.xlsx"
    write_list(path, [
        Row(1, units="市发改委、市科技局、市财政局"),
        Row(2, units="市科技局、市发展改革委"),
        Row(3, units="市人社局"),
        Row(4, units="市发展改革委"),
    ], units=UNITS)
    targets = read_ok(path)
    assert targets.item("1").lead == "市发展改革委"
    assert targets.item("1").co_units == ("市科技局", "市财政局")
    assert targets.leads() == ["市发展改革委", "市科技局", "市人力资源社会保障局"]
    assert [i.seq for i in targets.by_lead()["市发展改革委"]] == ["1", "4"]  # alias and full name: one unit


def test_leader_name_padded_with_full_width_space_is_kept(tmp_path):
    path = tmp_path / "list.xlsx"
    write_list(path, [Row(25, leader="沈　昱", units="市住房城乡建设局、市财政局")], units=UNITS)
    (item,) = read_ok(path).items
    assert item.values["leader"] == "沈　昱"
    assert item.units == ("市住房城乡建设局", "市财政局")


def test_unit_names_shown_as_written_without_a_unit_sheet(tmp_path):
    path = tmp_path / "list.xlsx"
    write_list(path, [Row(1, units="市科技局、市大数据局"), Row(2, units="市大数据局")], units=None)
    targets = read_ok(path)
    assert targets.item("1").units == ("市科技局", "市大数据局")
    assert targets.leads() == ["市科技局", "市大数据局"]


def test_a_messy_list_distributes_to_the_official_lead_units(tmp_path, cli):
    ws = init_workspace(tmp_path / "ws", example=True)
    write_list(ws.targets_path, [
        Row(43.0, annual="年度目标甲", leader="沈　昱", units="市人社局、市科技局\n市人力资源社会\n\n保障局"),
        Row("４４", units="市发改委，市人社局"),
        Row(45, units="市人力资源社会保障局"),
    ], units=UNITS)

    result = cli("distribute", "-w", ws.root)

    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in ws.outbox.glob("*.xlsx"))
    assert len(files) == 2
    assert any("市人力资源社会保障局" in f for f in files) and any("市发展改革委" in f for f in files)
    (hr,) = [f for f in files if "市人力资源社会保障局" in f]
    sheet = openpyxl.load_workbook(ws.outbox / hr).worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=4, max_row=5)]
    assert [r[0] for r in rows] == ["43", "45"]
    assert rows[0][1] == "年度目标甲"
    assert rows[0][7] == "沈　昱"
    assert rows[0][8] == "市人力资源社会保障局\n市科技局"


# --- problems: each with its code and cell ---

PROBLEMS = {
    # name: (rows, unit sheet, period, code, cell of the finding)
    "duplicate-seq": ([Row(43), Row(44), Row(43.0)], UNITS, "Q1", "targets-seq-duplicate", "A7"),
    "empty-annual": ([Row(43), Row(44, annual=None)], UNITS, "Q1", "targets-value-missing", "B6"),
    "blank-annual": ([Row(43, annual="　 \n")], UNITS, "Q1", "targets-value-missing", "B5"),
    "no-unit": ([Row(43), Row(44, units=None)], UNITS, "Q1", "targets-no-unit", "H6"),
    "separators-only": ([Row(43, units="、 ；")], UNITS, "Q1", "targets-no-unit", "H5"),
    "ambiguous-unit": ([Row(43), Row(44, units="市科技局、市发改委")],
                       [*UNITS, ("市发展和改革委员会", "市发改委")], "Q1", "targets-unit-ambiguous", "H6"),
}


def write_problem(path: Path, name: str) -> tuple[str, str, str]:
    """Write the list of problem `name`; returns (period, code, cell)."""
    if name == "no-period-column":
        write_list(path, [Row(43), Row(44)], quarters=(1,), units=UNITS)
        return "Q2", "targets-no-period-column", "A3"
    rows, units, period, code, cell = PROBLEMS[name]
    write_list(path, rows, units=units)
    return period, code, cell


ALL_PROBLEMS = [*PROBLEMS, "no-period-column"]


@pytest.mark.parametrize("name", ALL_PROBLEMS)
def test_problem_reported_with_code_and_cell(tmp_path, name):
    path = tmp_path / "list.xlsx"
    period, code, cell = write_problem(path, name)
    _, problems = read(path, period)
    assert [(p.code, p.cell, p.sheet) for p in problems] == [(code, cell, SHEET)]
    assert problems[0].is_error
    assert problems[0].message


def test_no_period_column_names_the_missing_label_and_the_period(tmp_path):
    path = tmp_path / "list.xlsx"
    write_list(path, [Row(43)], quarters=(1,), units=UNITS)
    (problem,) = read(path, "Q2")[1]
    assert "第2季度目标" in problem.message
    assert "第1季度目标" in problem.message  # what the header does have


def test_ambiguous_unit_names_both_candidates(tmp_path):
    path = tmp_path / "list.xlsx"
    write_problem(path, "ambiguous-unit")
    (problem,) = read(path)[1]
    assert "市发改委" in problem.message
    assert "市发展改革委" in problem.message and "市发展和改革委员会" in problem.message


def test_duplicate_seq_names_the_first_occurrence(tmp_path):
    path = tmp_path / "list.xlsx"
    write_problem(path, "duplicate-seq")
    (problem,) = read(path)[1]
    assert problem.item == "43"
    assert "A5" in problem.message


def test_every_problem_in_a_list_is_reported_at_once(tmp_path):
    path = tmp_path / "list.xlsx"
    write_list(path, [Row(1), Row(1), Row(2, annual=None), Row(3, units=None)], units=UNITS)
    problems = read(path)[1]
    assert sorted((p.code, p.cell) for p in problems) == [
        ("targets-no-unit", "H8"), ("targets-seq-duplicate", "A6"), ("targets-value-missing", "B7")]


@pytest.mark.parametrize("name", ALL_PROBLEMS)
def test_distribute_writes_nothing_when_the_list_has_a_problem(tmp_path, cli, name):
    list_path = tmp_path / "problem.xlsx"
    period, _, cell = write_problem(list_path, name)
    ws = init_workspace(tmp_path / "ws", example=True, period_code=period)
    ws.targets_path.write_bytes(list_path.read_bytes())

    result = cli("distribute", "-w", ws.root)

    assert result.exit_code == 1, result.output
    assert re.search(rf"(?<![A-Z]){cell}(?!\d)", result.output), result.output
    assert "未生成任何填报表" in result.output
    assert list(ws.outbox.iterdir()) == []


def test_a_broken_list_leaves_earlier_templates_untouched(example_ws, cli):
    assert cli("distribute", "-w", example_ws.root).exit_code == 0
    before = {p.name: p.read_bytes() for p in example_ws.outbox.iterdir()}
    write_problem(example_ws.targets_path, "no-unit")

    result = cli("distribute", "-w", example_ws.root)

    assert result.exit_code == 1
    assert {p.name: p.read_bytes() for p in example_ws.outbox.iterdir()} == before


def test_a_workbook_listing_no_sheet_is_unreadable_not_a_traceback(tmp_path, cli):
    """What a damaged list can look like to the reader (found by byte-level fuzzing): a workbook without sheets."""
    import io
    import zipfile

    ws = init_workspace(tmp_path / "ws", example=True)
    source = zipfile.ZipFile(io.BytesIO(ws.targets_path.read_bytes()))
    with zipfile.ZipFile(ws.targets_path, "w", zipfile.ZIP_DEFLATED) as damaged:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/workbook.xml":
                data = re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data, flags=re.S)
            damaged.writestr(info, data)
    result = cli("distribute", "-w", ws.root)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "目标任务清单无法读取：工作簿中没有可读的工作表" in result.output
    assert not list(ws.outbox.glob("*.xlsx"))
