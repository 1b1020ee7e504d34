"""A layout defined only in the workspace's toolkit.toml, without writing Python, and the config's errors.

The layout (民生实事: projects, a year-to-date period named 前三季度, a number column) has a rule no bundled
preset uses: `when.in` + `then.max_chars`. It goes through distribute → fill → collect → validate → merge.
A config error names the key, the file and the line, and says what is allowed.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import openpyxl
import pytest
from conftest import run_cli

from toolkit.collect import collect
from toolkit.demo import fill_template
from toolkit.distribute import distribute
from toolkit.merge import COMPLETE, merge
from toolkit.model import resources
from toolkit.model.spec import SpecError
from toolkit.store.workspace import init_workspace, open_workspace
from toolkit.validate import validate

CONFIG = """\
# 工作区配置：版式写在本文件中（[layout]、[[columns]]、[[rules]]），有 [[columns]] 时 campaign.preset 不起作用。
[campaign]
id = "{campaign_id}"
name = "2023年民生实事项目"
year = 2023
period = "前三季度"
preset = "no-such-preset"
deadline = "2023-10-15"

[coordinator]
office = "市政府办公室"
contact_person = "韩梅"
contact_phone = "0533-2150001"

[files]
targets = "民生实事清单.xlsx"
template = "{{{{ year }}}}年{{{{ period.long }}}}民生实事办理情况-{{{{ unit }}}}.xlsx"
summary = "{{{{ year }}}}年{{{{ period.long }}}}民生实事办理情况汇总表.xlsx"

[layout]
sheet = "{{{{ period.short }}}}"
title = "{{{{ year }}}}年{{{{ period.long }}}}民生实事项目办理情况"
footnote = "注：承办单位排在第一位的为主办单位，其他单位为协办单位"
contact = [
  {{ key = "contact_person", label = "联系人：", required = true, width_columns = 2 }},
  {{ key = "contact_phone", label = "电话：", required = true, width_columns = 2 }},
]

[[columns]]
key = "seq"
label = "序号"
source = "target"
role = "id"
width = 6

[[columns]]
key = "project"
label = "实事项目"
aliases = ["项目名称"]
source = "target"
role = "annual"
required = true
width = 30

[[columns]]
key = "target"
label = "{{{{ period.target_label }}}}"
source = "target"
role = "period_target"
required = true
width = 24

[[columns]]
key = "leader"
label = "责任领导"
source = "target"
role = "leader"
width = 10

[[columns]]
key = "units"
label = "承办单位"
source = "target"
role = "units"
required = true
width = 16

[[columns]]
key = "state"
label = "办理状态"
source = "unit"
type = "choice"
required = true
choices = ["已办结", "办理中", "未启动"]
synonyms = {{ "办结" = "已办结", "正在办理" = "办理中" }}
width = 10

[[columns]]
key = "invest"
label = "完成投资（万元）"
source = "unit"
type = "number"
min = 0
width = 12

[[columns]]
key = "brief"
label = "办理情况"
source = "unit"
type = "text"
required = true
width = 40

[[rules]]
code = "brief-too-long"
severity = "warning"
when = {{ column = "state", in = ["已办结", "办理中"] }}
then = {{ column = "brief", max_chars = 60 }}
message = "第{{{{ item }}}}项的办理情况共{{{{ value | length }}}}字，超过60字：请精简为60字以内，便于领导阅批。"
"""

ITEMS = [  # 序号, 实事项目, 上半年目标, 前三季度目标, 责任领导, 承办单位
    ("1", "新建城市书房10处", "选址5处", "建成6处", "沈　昱", "市文化和旅游局、市财政局"),
    ("2", "改造农贸市场8处", "开工4处", "完工5处", "王　刚", "市商务局"),
    ("3", "新增公共停车泊位5000个", "新增2000个", "新增3500个", "王　刚", "市城市管理局、市公安局"),
    ("5", "为65岁以上老年人免费体检", "体检8万人", "体检12万人", "沈　昱、王　刚", "市卫生健康委"),
]
LONG = ("书房选址、设计和施工招标均已完成，已建成城市书房7处，其中3处由社会力量参与共建，"
        "配备图书1.2万册，开放以来接待读者2.6万人次，群众反映良好，剩余3处正在进行内部装修。")
ANSWERS = {
    "市文化和旅游局": {"1": {"state": "已办结", "invest": 860, "brief": LONG}},  # 已办结 and too long: the finding
    "市商务局": {"2": {"state": "未启动", "invest": 0, "brief": LONG}},  # as long, but 未启动 is not `in` the rule
    "市城市管理局": {"3": {"state": "办理中", "invest": 1250.5, "brief": "新增公共停车泊位3620个。"}},
    "市卫生健康委": {"5": {"state": "办结", "invest": 1500, "brief": "完成老年人免费体检12.4万人。"}},
}
CONTACT = {"contact_person": "林晓", "contact_phone": "0533-2150100"}


def _write_target_list(path: Path) -> None:
    """The coordinator's own list: its period column says 前三季度, next to one for 上半年 that must not be used."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "民生实事"
    sheet.append(["序号", "项目名称", "上半年目标", "前三季度目标", "责任领导", "承办单位"])
    for row in ITEMS:
        sheet.append(list(row))
    workbook.save(path)


def _config_workspace(root: Path, text: str | None = None):
    """A workspace whose toolkit.toml holds the layout (init only provides the folders and the secret)."""
    made = init_workspace(root, year=2023, period_code="YTD9")
    made.targets_path.unlink()
    config = text if text is not None else CONFIG.format(campaign_id=made.campaign_id)
    (root / "toolkit.toml").write_text(config, encoding="utf-8")
    _write_target_list(root / "民生实事清单.xlsx")
    return open_workspace(root)


def test_config_template_is_valid_toml():
    data = tomllib.loads(CONFIG.format(campaign_id="x"))
    assert len(data["columns"]) == 8 and data["rules"][0]["when"]["in"] == ["已办结", "办理中"]


def test_no_preset_uses_the_rule_of_this_layout():
    for name in resources.preset_names():
        with resources.preset_path(name).open("rb") as handle:
            rules = tomllib.load(handle).get("rules", [])
        assert not any("in" in r["when"] and "max_chars" in r["then"] for r in rules), name


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    root = tmp_path_factory.mktemp("config") / "ws"
    ws = _config_workspace(root)
    distributed = distribute(ws)
    assert not distributed.problems, [p.message for p in distributed.problems]
    inbox = root / "inbox"
    for issue in distributed.issues:
        fill_template(ws.outbox / issue.file_name, inbox / issue.file_name, ws.spec, ANSWERS[issue.unit], CONTACT)
    records = collect(ws, [inbox], dt.datetime(2023, 10, 12, 10, 0))
    assert {r.verdict for r in records} == {"accepted"}, records
    return ws, distributed, validate(ws), merge(ws)


def test_layout_comes_from_the_config_and_the_preset_is_ignored(cycle):
    ws, _, _, _ = cycle
    spec = ws.spec
    assert ws.config.get("campaign.preset") == "no-such-preset"
    assert spec.name == "custom"
    assert [c.label for c in spec.columns] == ["序号", "实事项目", "1-9月目标", "责任领导", "承办单位", "办理状态",
                                               "完成投资（万元）", "办理情况"]
    assert spec.title == "2023年1-9月民生实事项目办理情况"
    assert spec.sheet_name == "1-9月"
    assert [(c.key, c.type) for c in spec.filled] == [("state", "choice"), ("invest", "number"), ("brief", "text")]
    assert spec.column("state").canonical_choice("办结") == "已办结"


def test_period_column_chosen_by_the_period_words(cycle):
    ws, _, _, _ = cycle
    targets, problems = ws.load_targets()
    assert not problems
    assert [i.seq for i in targets.items] == ["1", "2", "3", "5"]
    assert targets.item("1").values["target"] == "建成6处"  # 前三季度目标, not 上半年目标
    assert targets.item("5").values["leader"] == "沈　昱、王　刚"
    assert targets.item("3").units == ("市城市管理局", "市公安局")


def test_templates_follow_the_config_layout(cycle):
    ws, distributed, _, _ = cycle
    assert [i.unit for i in distributed.issues] == ["市文化和旅游局", "市商务局", "市城市管理局", "市卫生健康委"]
    issue = distributed.issues[0]
    assert issue.file_name == "2023年1-9月民生实事办理情况-市文化和旅游局.xlsx"
    sheet = openpyxl.load_workbook(ws.outbox / issue.file_name)["1-9月"]
    # a label longer than its column comes in balanced lines (完成投资/（万元）): compared without its breaks
    cells = [c.value.replace("\n", "") for row in sheet.iter_rows(max_row=4) for c in row if isinstance(c.value, str)]
    assert "2023年1-9月民生实事项目办理情况" in cells
    labels = [c for c in cells if c in {col.label for col in ws.spec.columns}]
    assert labels == ["序号", "实事项目", "1-9月目标", "责任领导", "承办单位", "办理状态", "完成投资（万元）", "办理情况"]


def test_the_config_rule_finds_the_long_text_only_when_it_applies(cycle):
    _, _, checked, _ = cycle
    found = [(f.code, f.severity, f.unit, f.item, f.column) for f in checked.findings]
    assert found == [("brief-too-long", "warning", "市文化和旅游局", "1", "办理情况"),
                     ("choice-synonym", "warning", "市卫生健康委", "5", "办理状态")]  # 办结, typed for 已办结
    findings = [f for f in checked.findings if f.code == "brief-too-long"]
    assert f"共{len(LONG)}字，超过60字" in findings[0].message
    assert findings[0].cell.startswith("H")
    # 市商务局 wrote as much, but its item is 未启动, which the rule's `in` leaves out.
    assert checked.returns["市商务局"].findings == []
    # The synonym is taken, and the number is kept as typed.
    assert checked.returns["市卫生健康委"].answers["5"]["state"] == "已办结"
    assert checked.returns["市城市管理局"].answers["3"]["invest"] == "1250.5"


def test_merge_writes_the_config_layouts_summary(cycle):
    ws, _, _, merged = cycle
    assert merged.outcome == COMPLETE, (merged.missing, merged.with_errors)
    sheet = openpyxl.load_workbook(merged.path).worksheets[0]
    rows = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "2023年1-9月民生实事项目办理情况"
    header = next(i for i, row in enumerate(rows) if row[0] == "序号")
    assert [str(v).replace("\n", "") for v in rows[header]] == [c.label for c in ws.spec.columns]
    items = [row for row in rows[header + 1:] if row[0] and str(row[0]).isdigit()]
    assert [row[0] for row in items] == ["1", "2", "3", "5"]
    assert [row[5] for row in items] == ["已办结", "未启动", "办理中", "已办结"]
    assert items[0][7] == LONG
    assert items[3][3] == "沈　昱、王　刚"


# --- config errors: the key, the file, the line, and what is allowed ---------------------------------------

def _line_of(text: str, needle: str) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(lines) == 1, (needle, lines)
    return lines[0]


def _broken(tmp_path: Path, old: str, new: str, bad_line: str) -> tuple[Path, int]:
    """A config workspace whose toolkit.toml has `old` (unique) replaced by `new`: its path and `bad_line`'s line."""
    text = CONFIG.format(campaign_id="2023YTD9-test")
    assert text.count(old) == 1, old
    text = text.replace(old, new)
    root = tmp_path / "ws"
    _config_workspace(root, text)
    return root / "toolkit.toml", _line_of(text, bad_line)


@pytest.mark.parametrize(("old", "new", "bad_line", "key", "allowed"), [
    # an unknown key (a typo of label)
    ('label = "办理情况"', 'lable = "办理情况"', "lable =", "lable", "label"),
    # wrong types: a word where a number belongs, text where true/false belongs, text where a list belongs
    ("min = 0", 'min = "零"', 'min = "零"', "min", "数字"),
    ('required = true\nwidth = 40', 'required = "是"\nwidth = 40', 'required = "是"', "required", "true 或 false"),
    ('choices = ["已办结", "办理中", "未启动"]', 'choices = "已办结"', "choices =", "choices", "列表"),
    ('then = { column = "brief", max_chars = 60 }', 'then = { column = "brief", max_chars = "六十" }', "max_chars",
     "max_chars", "整数"),
    # a value outside the allowed ones
    ('type = "number"', 'type = "money"', 'type = "money"', "type", "text、choice、number、percent、date"),
    # rules on a column the layout does not have
    ('then = { column = "brief", max_chars = 60 }', 'then = { column = "brief_text", max_chars = 60 }', "brief_text",
     "brief_text", "seq、project、target、leader、units、state、invest、brief"),
    ('when = { column = "state", in = ["已办结", "办理中"] }', 'when = { column = "status", in = ["已办结", "办理中"] }',
     '"status"', "status", "state"),
])
def test_config_error_names_key_file_line_and_what_is_allowed(tmp_path, old, new, bad_line, key, allowed):
    config, line = _broken(tmp_path, old, new, bad_line)
    with pytest.raises(SpecError) as raised:
        open_workspace(config.parent).spec  # noqa: B018
    message = str(raised.value)
    assert str(config) in message
    assert f"第{line}行" in message, message
    assert key in message and allowed in message, message


def test_config_error_through_the_command(tmp_path):
    config, line = _broken(tmp_path, 'type = "number"', 'type = "money"', 'type = "money"')
    result = run_cli("distribute", "-w", config.parent)
    assert result.exit_code == 2
    output = "".join(result.output.split())  # the terminal may wrap the message
    assert "Traceback" not in output
    assert "toolkit.toml" in output and f"第{line}行" in output and "money" in output
