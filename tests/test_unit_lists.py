"""Units one per line, as real target lists write them, without a 单位 sheet: the lead, the co-units, and every
name joined across a line break shown to the coordinator (`toolkit units`, `distribute`, `init --targets`).

A line break in a 责任单位 cell usually separates two units; only sometimes is it one long name broken by a narrow
column (市人力资源社会 / 保障局). Names end in many ways (…联, …协, …镇, …乡, …大学, …单位) and some are
abbreviations (市交投): the reader joins two lines only when neither is a name known whole, the first does not end
as a unit's name does and the second does not start as one does.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from targetlists import Row, write_list

from toolkit.excel.targetlist import read_target_list
from toolkit.model.periods import parse_period
from toolkit.model.spec import load_spec

# (责任单位 cell as written, the units read: lead first), 42 cells of the kinds real lists hold.
CELLS = [
    # (cell, expected units) — lead first
    ("市发展改革委", ["市发展改革委"]),
    ("市科技局、市财政局", ["市科技局", "市财政局"]),
    ("市工业和信息化局\n市发展改革委\n市财政局", ["市工业和信息化局", "市发展改革委", "市财政局"]),
    ("市人力资源社会\n保障局", ["市人力资源社会保障局"]),
    ("市科技局\n市委组织部\n市人力资源社会\n\n保障局", ["市科技局", "市委组织部", "市人力资源社会保障局"]),
    ("市住房和城乡建\n设局\n市自然资源和规划局", ["市住房和城乡建设局", "市自然资源和规划局"]),
    ("市总工会\n市妇联\n团市委", ["市总工会", "市妇联", "团市委"]),
    ("市科协\n市科技局", ["市科协", "市科技局"]),
    ("市残联\n市民政局\n市卫生健康委", ["市残联", "市民政局", "市卫生健康委"]),
    ("市交投\n市城投\n市财政局", ["市交投", "市城投", "市财政局"]),
    ("市交通运输局\n市交投", ["市交通运输局", "市交投"]),
    ("市文旅集团\n市文化和旅游局", ["市文旅集团", "市文化和旅游局"]),
    ("山东理工大学\n市教育局", ["山东理工大学", "市教育局"]),
    ("淄博职业学院\n市教育局\n市人力资源社会保障局", ["淄博职业学院", "市教育局", "市人力资源社会保障局"]),
    ("博山区池上镇\n博山区农业农村局", ["博山区池上镇", "博山区农业农村局"]),
    ("沂源县中庄乡\n沂源县人民政府", ["沂源县中庄乡", "沂源县人民政府"]),
    ("市国资委\n各有关单位", ["市国资委", "各有关单位"]),
    ("市委宣传部\n市委网信办\n市公安局", ["市委宣传部", "市委网信办", "市公安局"]),
    ("国网淄博供电\n公司\n市发展改革委", ["国网淄博供电公司", "市发展改革委"]),
    ("国网淄博供电公司\n市发展改革委", ["国网淄博供电公司", "市发展改革委"]),
    ("淄博海关\n市商务局", ["淄博海关", "市商务局"]),
    ("人民银行淄博市中心支行\n市地方金融监管局", ["人民银行淄博市中心支行", "市地方金融监管局"]),
    ("市政府办公室（市政府外事办公室）\n市商务局", ["市政府办公室（市政府外事办公室）", "市商务局"]),
    ("市生态环境局、各区县政府（含高新区、经开区、文昌湖区）", ["市生态环境局", "各区县政府（含高新区、经开区、文昌湖区）"]),
    ("市农业农村局；市水利局；市财政局", ["市农业农村局", "市水利局", "市财政局"]),
    ("市应急局   市消防救援支队", ["市应急局", "市消防救援支队"]),
    ("市市场监管局\n\n市卫生健康委", ["市市场监管局", "市卫生健康委"]),
    ("市大数据局\n市行政审批服务局", ["市大数据局", "市行政审批服务局"]),
    ("市行政审批服务\n局", ["市行政审批服务局"]),
    ("市机关事务服务中心\n市财政局", ["市机关事务服务中心", "市财政局"]),
    ("市城市管理局\n张店区人民政府\n高新区管委会", ["市城市管理局", "张店区人民政府", "高新区管委会"]),
    ("市公安局交警支队\n市交通运输局", ["市公安局交警支队", "市交通运输局"]),
    ("市医保局\n市卫生健康委\n市财政局\n市税务局", ["市医保局", "市卫生健康委", "市财政局", "市税务局"]),
    ("市退役军人事务局，市人力资源社会保障局", ["市退役军人事务局", "市人力资源社会保障局"]),
    ("市供销社\n市农业农村局", ["市供销社", "市农业农村局"]),
    ("市投资促进局\n市工业和信息化局、市商务局", ["市投资促进局", "市工业和信息化局", "市商务局"]),
    ("市融媒体中心\n市委宣传部", ["市融媒体中心", "市委宣传部"]),
    ("市教育局\n各区县教育行政部门", ["市教育局", "各区县教育行政部门"]),
    ("市司法局\n市中级人民法院\n市人民检察院", ["市司法局", "市中级人民法院", "市人民检察院"]),
    ("市农业农村局\n各乡镇（街道）", ["市农业农村局", "各乡镇（街道）"]),
    ("市民政局\n各乡镇\n（街道）", ["市民政局", "各乡镇（街道）"]),
    ("齐鲁石化公司\n市生态环境局", ["齐鲁石化公司", "市生态环境局"]),
    ("市民政局\n各区、县（市）人民政府", ["市民政局", "各区、县（市）人民政府"]),
    ("市财政局、各成员单位", ["市财政局", "各成员单位"]),
]
# The cells whose name was joined across a line break: what the coordinator is asked to confirm.
# 市人力资源社会保障局 is joined too (the seed's 市人力资源社会 / 保障局), but is no guess: cell 34 writes it whole.
JOINED = {"市住房和城乡建设局", "国网淄博供电公司", "市行政审批服务局", "各乡镇（街道）"}


def read(path: Path):
    period = parse_period("Q1")
    return read_target_list(path, load_spec("gov-work-report", {"year": 2022, "period": period}), period)


@pytest.fixture(scope="module")
def real_list(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("units") / "清单.xlsx"
    write_list(path, [Row(n, units=cell) for n, (cell, _) in enumerate(CELLS, start=1)])
    return path


def test_at_least_thirty_real_looking_cells():
    assert len(CELLS) >= 30
    assert len({units[0][-1] for _, units in CELLS}) >= 10  # names ending in many ways


def test_every_cell_gives_its_lead_and_co_units(real_list):
    targets, problems = read(real_list)
    assert problems == []
    got = {item.seq: list(item.units) for item in targets.items}
    wrong = [(cell, got[str(n)], units) for n, (cell, units) in enumerate(CELLS, start=1) if got[str(n)] != units]
    assert wrong == []
    for n, (_, units) in enumerate(CELLS, start=1):
        item = targets.item(str(n))
        assert (item.lead, list(item.co_units)) == (units[0], units[1:])


def test_names_joined_across_a_line_break_are_marked(real_list):
    targets, _ = read(real_list)
    joined = {name for item in targets.items for name in item.joined}
    assert joined == JOINED
    broken = targets.item("6")
    assert broken.joined == ("市住房和城乡建设局",) and broken.units_cell == "H10"  # 责任单位 of the 6th item row
    assert targets.item("4").units == ("市人力资源社会保障局",) and targets.item("4").joined == ()


def test_a_name_written_whole_elsewhere_in_the_list_is_not_joined(tmp_path):
    # 市交投 / 高新区管委会 alone would read as one name (投 ends no unit, 高 starts none); written whole elsewhere,
    # 高新区管委会 is known and the two lines stay two units.
    path = tmp_path / "清单.xlsx"
    write_list(path, [Row(1, units="市交投\n高新区管委会")])
    (alone,) = read(path)[0].items
    assert alone.units == ("市交投高新区管委会",) and alone.joined == ("市交投高新区管委会",)
    write_list(path, [Row(1, units="市交投\n高新区管委会"), Row(2, units="高新区管委会、市财政局")])
    targets, _ = read(path)
    assert targets.item("1").units == ("市交投", "高新区管委会") and targets.item("1").joined == ()


def test_the_unit_sheet_decides_and_its_names_are_no_guess(tmp_path):
    path = tmp_path / "清单.xlsx"
    write_list(path, [Row(1, units="市交投\n高新区管委会"), Row(2, units="市人力资源社会\n保障局")],
               units=[("市交投", ""), ("高新区管委会", ""), ("市人力资源社会保障局", "市人社局")])
    targets, problems = read(path)
    assert problems == []
    assert targets.item("1").units == ("市交投", "高新区管委会")
    assert targets.item("2").units == ("市人力资源社会保障局",) and targets.item("2").joined == ()


def _workspace_with(cli, tmp_path: Path, rows: list[Row]) -> Path:
    source = tmp_path / "我们的清单.xlsx"
    write_list(source, rows, quarters=(1,))
    result = cli("init", tmp_path / "ws", "--targets", source, "--year", "2022", "--period", "Q1")
    assert result.exit_code == 0, result.output
    return tmp_path / "ws"


def test_units_lists_every_unit_with_its_items_and_marks_the_joined(cli, tmp_path):
    ws = _workspace_with(cli, tmp_path, [Row(1, units="市科技局\n市人力资源社会\n保障局"),
                                         Row(2, units="市交投\n市科技局"), Row(3, units="市妇联、市科协")])
    (ws / "我们的清单.xlsx").write_bytes((tmp_path / "我们的清单.xlsx").read_bytes())  # before init's 单位 sheet
    result = cli("units", "-w", ws)
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:5]]
             for line in result.output.splitlines() if line.count("│") >= 5}
    assert lines["市科技局"] == ["1", "2", ""]
    assert lines["市人力资源社会保障局"][:2] == ["", "1"] and "由换行前后两段合成（E5），请核对" in lines["市人力资源社会保障局"][2]
    assert lines["市交投"] == ["2", "", ""] and lines["市科协"] == ["", "3", ""]
    assert "共 5 个单位，3 项事项；distribute 将为 3 个单位各生成一份填报表。" in result.output
    assert "市人力资源社会保障局（第1项 E5）" in result.output
    assert not (ws / ".toolkit" / "manifest.json").exists()  # a dry run writes nothing


def test_init_targets_prefills_the_unit_sheet_and_distribute_shows_the_guesses(cli, tmp_path):
    ws = _workspace_with(cli, tmp_path, [Row(1, units="市科技局\n市人力资源社会\n保障局"), Row(2, units="市交投\n市科技局")])
    sheet = openpyxl.load_workbook(ws / "我们的清单.xlsx")["单位"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["单位名称", "简称（别名，以顿号分隔）", "成员单位（集体单位的成员，以顿号分隔）"]
    assert [r[0] for r in rows[1:]] == ["市科技局", "市人力资源社会保障局", "市交投"]
    assert rows[2][3].startswith("由E5单元格中换行前后两段合成（第1项）")
    # Registered, the name is no longer a guess: distribute says nothing of it.
    result = cli("distribute", "-w", ws)
    assert result.exit_code == 0, result.output
    assert "请核对" not in result.output


def test_distribute_shows_the_joined_names(cli, tmp_path):
    source = tmp_path / "清单.xlsx"
    write_list(source, [Row(1, units="市科技局\n市人力资源社会\n保障局"), Row(2, units="市住房和城乡建\n设局")],
               quarters=(1,))
    assert cli("init", tmp_path / "ws", "--year", "2022").exit_code == 0
    (tmp_path / "ws" / "目标任务清单.xlsx").write_bytes(source.read_bytes())
    result = cli("distribute", "-w", tmp_path / "ws")
    assert result.exit_code == 0, result.output
    assert "以下 2 个单位名称是把责任单位栏中换行前后两段合在一起得到的，请核对：" in result.output
    assert "市人力资源社会保障局（第1项 E5）" in result.output and "市住房和城乡建设局（第2项 E6）" in result.output
