"""Collective units leading an item (各区、县（市）人民政府, 各乡镇（街道）, 各成员单位): the 单位 sheet lists a
group's members, each member gets the item in its own workbook, and the summary shows each member's answer under
the item, one line per member in the 单位 sheet's order. Without members, a clear error with the cell."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from targetlists import Row, write_list

from toolkit.demo import fill_template
from toolkit.store.manifest import read_manifest
from toolkit.store.workspace import open_workspace

GROUP = "各区、县（市）人民政府"


def _list_with_members(path: Path, members: list[str] | None) -> None:
    write_list(path, [
        Row(1, annual="城镇新增就业2万人", units="市人力资源社会保障局"),
        Row(2, annual="改造农村公路300公里", targets={1: "完成招标"}, units=f"{GROUP}\n市交通运输局"),
        Row(3, annual="建设养老服务中心10处", units="市民政局"),
    ], quarters=(1,))
    book = openpyxl.load_workbook(path)
    sheet = book.create_sheet("单位")
    sheet.append(["单位名称", "简称", "成员单位"])
    sheet.append(["张店区人民政府", "张店区政府", ""])
    if members is not None:
        sheet.append([GROUP, "各区县政府", "、".join(members)])
    book.save(path)


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    from conftest import run_cli

    home = tmp_path_factory.mktemp("collective")
    source = home / "清单.xlsx"
    # The 单位 sheet lists the members in another order than they come to mind: that order is the summary's.
    _list_with_members(source, ["淄川区人民政府", "张店区政府", "博山区人民政府"])
    assert run_cli("init", home / "ws", "--targets", source, "--year", "2022").exit_code == 0
    ws_path = home / "ws"
    units = run_cli("units", "-w", ws_path)
    distributed = run_cli("distribute", "-w", ws_path)
    assert distributed.exit_code == 0, distributed.output
    ws = open_workspace(ws_path)
    answers = {
        "淄川区人民政府": ("完成", "已完成农村公路招标，里程86公里。"),
        "张店区人民政府": ("未完成", "招标文件审核中。"),
        "市人力资源社会保障局": ("完成", "城镇新增就业5200人。"),
        "市民政局": ("完成", "已开工养老服务中心3处。"),
    }  # 博山区人民政府 has not returned
    issued = read_manifest(ws)["units"]
    for unit, (state, text) in answers.items():
        seq = issued[unit]["items"][0]
        item = {"status": state, "progress": text, "plan": "继续推进。", "reason": "无" if state == "完成" else "招标延期"}
        fill_template(ws.outbox / issued[unit]["file"], ws_path / "inbox" / issued[unit]["file"], ws.spec, {seq: item},
                      {"contact_person": "王刚", "contact_phone": "3179657"})
    assert run_cli("collect", ws_path / "inbox", "-w", ws_path).exit_code == 0
    merged = run_cli("merge", "--allow-missing", "-w", ws_path)
    return ws, units, issued, merged


def test_each_member_gets_the_item_in_a_workbook_of_its_own(cycle):
    ws, units, issued, _ = cycle
    assert {unit: entry["items"] for unit, entry in issued.items()} == {
        "市人力资源社会保障局": ["1"], "淄川区人民政府": ["2"], "张店区人民政府": ["2"], "博山区人民政府": ["2"],
        "市民政局": ["3"]}
    assert "集体单位，成员：淄川区人民政府、张店区人民政府、博山区人民政府" in units.output
    assert "distribute 将为 5 个单位各生成一份填报表" in units.output
    sheet = openpyxl.load_workbook(ws.outbox / issued["博山区人民政府"]["file"]).worksheets[0]
    assert f"{GROUP}\n市交通运输局" in [c.value for row in sheet.iter_rows() for c in row]


def test_the_summary_shows_each_members_answer_under_the_item_in_the_unit_sheets_order(cycle):
    _, _, _, merged = cycle
    assert merged.exit_code == 3, merged.output
    assert "未报送（1）：博山区人民政府" in merged.output
    path = Path(merged.output.split("汇总表：")[1].splitlines()[0].rsplit("（", 1)[0].strip())
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(rows) if r[0] == "序号")
    labels = rows[header]
    col = {label: labels.index(label) for label in labels}
    items = rows[header + 1:header + 6]
    assert [(r[0], r[col["责任单位"]], r[col["是否完成"]]) for r in items] == [
        ("1", "市人力资源社会保障局", "完成"),
        ("2", "淄川区人民政府\n市交通运输局", "完成"),
        (None, "张店区人民政府\n市交通运输局", "未完成"),
        (None, "博山区人民政府\n市交通运输局", "未报送"),
        ("3", "市民政局", "完成"),
    ]
    assert items[1][col["具体工作进展"]] == "已完成农村公路招标，里程86公里。"
    first = header + 3  # 1-based row of the item's first member
    merged_ranges = {str(r) for r in sheet.merged_cells.ranges}
    assert f"A{first}:A{first + 2}" in merged_ranges  # 序号 and the prefilled texts span the members' rows
    assert "1个单位未报送（博山区人民政府），其1项事项“是否完成”栏标为“未报送”" in str(rows[1:header])
    stats = [list(r) for r in book["统计"].iter_rows(values_only=True)]
    lines = {r[0]: tuple(r[1:3]) for r in stats if r[0]}
    assert lines["淄川区人民政府"] == (1, 1) and lines["张店区人民政府"] == (1, 0) and lines["博山区人民政府"][0] == 1


def test_without_members_a_collective_lead_is_an_error_with_its_cell(cli, tmp_path):
    source = tmp_path / "清单.xlsx"
    _list_with_members(source, None)
    assert cli("init", tmp_path / "ws", "--targets", source, "--year", "2022").exit_code == 0
    result = cli("distribute", "-w", tmp_path / "ws")
    assert result.exit_code == 1
    text = "".join(result.output.split())
    assert f"第2项的牵头单位“{GROUP}”是集体单位" in text and "E6" in text
    assert "“单位”工作表的“成员单位”栏列出其成员" in text
