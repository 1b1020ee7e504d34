"""Layouts unlike the seed, set up by configuration only, each through the whole cycle with its summary read back.

- 重点工作 (a layout file given to `init --preset` by a relative path): an internal note column kept in the target
  list only, no 责任单位 column in the summary, a period column labelled 一季度目标, and the done choice declared
  (`done = ["已完成"]`) though it is the last of the choices.
- 民生项目 (no choice column, no contact row): the 统计 sheet counts items received, not a 完成率; the notice asks
  for no contact and still gives the coordinator's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from toolkit.demo import fill_template
from toolkit.excel.targetlist import read_target_list
from toolkit.model.periods import parse_period
from toolkit.model.resources import preset_names
from toolkit.model.spec import SpecError, load_spec
from toolkit.store.workspace import init_workspace, open_workspace

KEY_WORK = """\
[preset]
name = "key-work"
version = "1"
description = "季度重点工作推进情况"

[layout]
sheet = "{{ period.short }}"
title = "{{ year }}年{{ period.long }}重点工作推进情况"
contact = [{ key = "contact_person", label = "联系人：", required = true, width_columns = 2 }]

[[columns]]
key = "seq"
label = "序号"
source = "target"
role = "id"
width = 6

[[columns]]
key = "task"
label = "工作任务"
source = "target"
role = "annual"
required = true
width = 30

[[columns]]
key = "quarter"
label = "{{ period.short }}目标"
source = "target"
role = "period_target"
width = 24

[[columns]]
key = "note"
label = "内部备注"
source = "target"
template = false
summary = false
width = 20

[[columns]]
key = "units"
label = "责任单位"
source = "target"
role = "units"
required = true
summary = false
width = 16

[[columns]]
key = "state"
label = "推进情况"
source = "unit"
type = "choice"
required = true
choices = ["未启动", "推进中", "已完成"]
done = ["已完成"]
width = 10

[[columns]]
key = "progress"
label = "工作进展"
source = "unit"
required = true
width = 40
"""

NO_CHOICE = """\
[preset]
name = "minsheng"
description = "民生项目进展（无选项列、无联系人行）"

[layout]
title = "{{ year }}年{{ period.long }}民生项目进展情况"

[[columns]]
key = "seq"
label = "序号"
source = "target"
role = "id"

[[columns]]
key = "project"
label = "项目名称"
source = "target"
role = "annual"

[[columns]]
key = "target"
label = "{{ period.target_label }}"
source = "target"
role = "period_target"

[[columns]]
key = "units"
label = "承办单位"
source = "target"
role = "units"

[[columns]]
key = "progress"
label = "进展情况"
source = "unit"
required = true
width = 40
"""


def _header(path: Path) -> list[str]:
    sheet = openpyxl.load_workbook(path).worksheets[0]
    return [c.value for c in sheet[1] if c.value]


def _fill_list(path: Path, rows: list[dict[str, str]]) -> None:
    """The coordinator types the items into the empty list init wrote, under its own headers."""
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    header = {c.value: c.column for c in sheet[1] if c.value}
    for r, row in enumerate(rows, start=2):
        for label, value in row.items():
            sheet.cell(r, header[label]).value = value
    book.save(path)


def _summary_rows(path: Path, sheet: str | int = 0) -> list[list[object]]:
    book = openpyxl.load_workbook(path)
    ws = book.worksheets[sheet] if isinstance(sheet, int) else book[sheet]
    return [list(row) for row in ws.iter_rows(values_only=True)]


def _cycle(cli, ws: Path, answers: dict[str, dict[str, dict[str, str]]], contact: dict[str, str]) -> None:
    """distribute, the units fill (those in `answers`), collect, validate."""
    result = cli("distribute", "-w", ws)
    assert result.exit_code == 0, result.output
    workspace = open_workspace(ws)
    from toolkit.store.manifest import read_manifest

    for unit, entry in read_manifest(workspace)["units"].items():
        if unit in answers:
            fill_template(workspace.outbox / entry["file"], ws / "inbox" / entry["file"], workspace.spec,
                          answers[unit], contact)
    result = cli("collect", ws / "inbox", "--as-of", "2023-04-10T10:00", "-w", ws)
    assert result.exit_code == 0, result.output
    assert cli("validate", "-w", ws).exit_code == 0


# --- 重点工作: columns in the list only, a summary without 责任单位, the declared done ---------------------------

@pytest.fixture(scope="module")
def key_work(tmp_path_factory):
    from conftest import run_cli

    home = tmp_path_factory.mktemp("keywork")
    (home / "版式").mkdir()
    (home / "版式" / "重点工作.toml").write_text(KEY_WORK, encoding="utf-8")
    result = run_cli("init", "ws", "--preset", "版式/重点工作.toml", "--year", "2023", "--period", "Q1", cwd=home)
    assert result.exit_code == 0, result.output
    ws = home / "ws"
    header = _header(ws / "目标任务清单.xlsx")
    _fill_list(ws / "目标任务清单.xlsx", [
        {"序号": 1, "工作任务": "建成5G基站1000个", "一季度目标": "建成300个", "内部备注": "省考指标，勿外传",
         "责任单位": "市工业和信息化局\n市通信发展办"},
        {"序号": 2, "工作任务": "新增城市绿地50公顷", "一季度目标": "完成规划设计", "内部备注": "",
         "责任单位": "市城市管理局"},
        {"序号": 3, "工作任务": "改造老旧小区80个", "一季度目标": "开工20个", "内部备注": "与住建部门核对口径",
         "责任单位": "市住房城乡建设局、市城市管理局"},
    ])
    answers = {
        "市工业和信息化局": {"1": {"state": "已完成", "progress": "已建成5G基站326个。"}},
        "市城市管理局": {"2": {"state": "推进中", "progress": "规划设计已完成初稿。"}},
        "市住房城乡建设局": {"3": {"state": "已完成", "progress": "已开工22个。"}},
    }
    _cycle(run_cli, ws, answers, {"contact_person": "赵敏"})
    # Run from inside the workspace, as the README says: the layout file is found there.
    merged = run_cli("merge", cwd=ws)
    return ws, header, merged


def test_init_keeps_the_layout_file_and_writes_the_lists_own_headers(key_work):
    ws, header, _ = key_work
    assert header == ["序号", "工作任务", "一季度目标", "二季度目标", "三季度目标", "四季度目标", "内部备注", "责任单位"]
    assert 'preset = "重点工作.toml"' in (ws / "toolkit.toml").read_text(encoding="utf-8")
    assert (ws / "重点工作.toml").read_text(encoding="utf-8") == KEY_WORK


def test_the_template_leaves_out_the_internal_note(key_work):
    ws, _, _ = key_work
    workspace = open_workspace(ws)
    template = next((ws / "outbox").glob("*市工业和信息化局.xlsx"))
    sheet = openpyxl.load_workbook(template)["一季度"]
    labels = [c.value for row in sheet.iter_rows(max_row=4) for c in row if c.value]
    assert "内部备注" not in labels and "省考指标，勿外传" not in str(labels)
    assert [c.label for c in workspace.spec.columns] == ["序号", "工作任务", "一季度目标", "责任单位", "推进情况",
                                                         "工作进展"]


def test_the_summary_has_neither_the_note_nor_the_units_and_counts_the_declared_done(key_work):
    _, _, merged = key_work
    assert merged.exit_code == 0, merged.output
    path = Path(merged.output.split("汇总表：")[1].splitlines()[0].rsplit("（", 1)[0].strip())
    rows = _summary_rows(path)
    header = next(i for i, row in enumerate(rows) if row[0] == "序号")
    assert rows[header] == ["序号", "工作任务", "一季度目标", "推进情况", "工作进展"]
    assert [row[:4] for row in rows[header + 1:header + 4]] == [
        ["1", "建成5G基站1000个", "建成300个", "已完成"], ["2", "新增城市绿地50公顷", "完成规划设计", "推进中"],
        ["3", "改造老旧小区80个", "开工20个", "已完成"]]
    stats = _summary_rows(path, "统计")
    table = next(i for i, row in enumerate(stats) if row[0] == "牵头单位")
    assert stats[table][:7] == ["牵头单位", "事项数", "未启动", "推进中", "已完成", "未报送", "待核实"]
    assert stats[table][7] == "完成率"
    total = next(row for row in stats if row[0] == "合计")
    assert total[1:8] == [3, 0, 1, 2, 0, 0, pytest.approx(2 / 3)]  # 已完成 counts, though it is the last choice
    assert any("完成率 = “已完成”事项数" in str(row[0]) for row in stats)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('done = ["已完成"]', 'done = ["完成"]', "done 中的“完成”不是本列的选项，可用：未启动、推进中、已完成"),
    ('key = "progress"\nlabel = "工作进展"\n', 'key = "progress"\nlabel = "工作进展"\ntemplate = false\n',
     "单位填写的列和序号列须在填报表中"),
    ('role = "id"\n', 'role = "id"\nsummary = false\n', "序号列须在汇总表中"),
])
def test_placement_and_done_mistakes_are_named(tmp_path, old, new, message):
    path = tmp_path / "bad.toml"
    assert KEY_WORK.count(old) == 1
    path.write_text(KEY_WORK.replace(old, new), encoding="utf-8")
    with pytest.raises(SpecError, match=message):
        load_spec(str(path), {"year": 2023, "period": parse_period("Q1")})


# --- 民生项目: no choice column, no contact row -----------------------------------------------------------

@pytest.fixture(scope="module")
def no_choice(tmp_path_factory):
    from conftest import run_cli

    home = tmp_path_factory.mktemp("nochoice")
    (home / "民生项目.toml").write_text(NO_CHOICE, encoding="utf-8")
    assert run_cli("init", "ws", "--preset", "民生项目.toml", "--year", "2023", cwd=home).exit_code == 0
    ws = home / "ws"
    config = (ws / "toolkit.toml").read_text(encoding="utf-8")
    config = config.replace('contact_person = ""', 'contact_person = "李明"').replace(
        'contact_phone = ""', 'contact_phone = "3186001"')
    (ws / "toolkit.toml").write_text(config, encoding="utf-8")
    _fill_list(ws / "目标任务清单.xlsx", [
        {"序号": 1, "项目名称": "新建城市书房10处", "第1季度目标": "选址5处", "承办单位": "市文化和旅游局"},
        {"序号": 2, "项目名称": "改造农贸市场8处", "第1季度目标": "开工4处", "承办单位": "市商务局"},
        {"序号": 3, "项目名称": "新增停车泊位5000个", "第1季度目标": "新增1000个", "承办单位": "市城市管理局"},
    ])
    answers = {"市文化和旅游局": {"1": {"progress": "已选址6处。"}}, "市商务局": {"2": {"progress": "已开工3处。"}}}
    _cycle(run_cli, ws, answers, {})
    status = run_cli("status", "--as-of", "2023-04-12", "-w", ws)
    merged = run_cli("merge", "--allow-missing", "-w", ws)
    return ws, status, merged


def test_the_notice_asks_for_no_contact_and_gives_the_coordinators(no_choice):
    ws, _, _ = no_choice
    notice = next((ws / "outbox").glob("*市商务局-填报通知.txt")).read_text(encoding="utf-8-sig")
    assert "请填写表格上方" not in notice and "上方的。" not in notice
    assert "联系人：李明　　联系电话：3186001" in notice  # two full-width spaces apart
    assert "  2. “进展情况”：必填。\n  3. 可用 Excel、WPS 或 LibreOffice 填写" in notice  # no gap in the numbers


def test_the_stats_count_items_received_not_a_rate_of_empty_words(no_choice):
    _, status, merged = no_choice
    assert merged.exit_code == 3, merged.output  # 市城市管理局 has not returned
    assert "完成率" not in status.output and "共 3 个单位：已通过 2，需修改 0，已报送 0，未报送 1" in status.output
    path = Path(merged.output.split("汇总表：")[1].splitlines()[0].rsplit("（", 1)[0].strip())
    rows = _summary_rows(path)
    assert "1个单位未报送（市城市管理局），其1项事项暂无内容。" in [row[0] for row in rows]
    header = next(i for i, row in enumerate(rows) if row[0] == "序号")
    assert [label.replace("\n", "") for label in rows[header]] == ["序号", "项目名称", "第1季度目标", "承办单位", "进展情况"]
    assert [row[4] for row in rows[header + 1:header + 4]] == ["已选址6处。", "已开工3处。", None]
    stats = _summary_rows(path, "统计")
    table = next(i for i, row in enumerate(stats) if row[0] == "牵头单位")
    assert [c for c in stats[table] if c] == ["牵头单位", "事项数", "已报送", "未报送", "待核实"]
    total = next(row for row in stats if row[0] == "合计")
    assert [c for c in total if c is not None] == ["合计", 3, 2, 1, 0]
    assert not any("完成率 =" in str(row[0]) for row in stats)
    assert any("本版式没有选项列，不计算完成率" in str(row[0]) for row in stats)


# --- every layout writes an empty list with its own headers -------------------------------------------------

@pytest.mark.parametrize("preset", preset_names())
def test_init_writes_an_empty_list_the_layout_reads(tmp_path, preset):
    ws = init_workspace(tmp_path / "ws", preset=preset, year=2023, period_code="Q2")
    targets, problems = read_target_list(ws.targets_path, ws.layout, ws.period)
    # its header and columns read; the one thing said is that no item is filled in yet
    assert [p.code for p in problems] == ["targets-empty"] and targets.items == []
    assert ws.layout.by_role("period_target").label in _header(ws.targets_path)


def test_a_relative_layout_file_that_is_missing_is_named(cli, tmp_path):
    result = cli("init", "ws", "--preset", "没有这个.toml", cwd=tmp_path)
    assert result.exit_code == 2 and "找不到版式文件 没有这个.toml" in result.output
    shutil.rmtree(tmp_path / "ws", ignore_errors=True)
