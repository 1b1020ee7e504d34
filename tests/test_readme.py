"""The README's complete config example is a working layout, not prose that can rot."""

from __future__ import annotations

import re
from pathlib import Path

from toolkit.collect import collect
from toolkit.distribute import distribute
from toolkit.excel.fill import fill_template
from toolkit.excel.targetlist import write_target_list
from toolkit.store.workspace import init_workspace, open_workspace
from toolkit.validate import validate

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_config() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### 自定义版式"):]
    return re.search(r"```toml\n(.*?)```", section, re.S).group(1)


def test_the_readme_layout_runs_a_cycle_and_its_rule_fires(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws")
    (tmp_path / "ws" / "toolkit.toml").write_text(readme_config(), encoding="utf-8")
    ws = open_workspace(tmp_path / "ws")
    assert [c.label for c in ws.spec.columns] == ["序号", "项目名称及年度目标", "第3季度目标", "推进状态",
                                                  "完成投资（万元）", "工作进展", "分管领导", "责任单位"]
    items = [{"seq": 1, "project": "新建改扩建中小学10所", "targets": {"Q3": "完成主体工程"}, "leader": "宋振波",
              "units": ["市教育局", "市财政局"]},
             {"seq": 2, "project": "改造老旧小区20个", "targets": {"Q3": "开工15个"}, "leader": "沈　昱",
              "units": ["市住房城乡建设局"]}]
    write_target_list(ws.targets_path, ws.spec, [ws.period], items, [])
    result = distribute(ws)
    assert not result.problems and [i.unit for i in result.issues] == ["市教育局", "市住房城乡建设局"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    answers = {"市教育局": {"1": {"status": "完成", "invested": "1200", "progress": "主体工程完工。" * 50}},
               "市住房城乡建设局": {"2": {"status": "推进中", "invested": "-5", "progress": "已开工16个。"}}}
    for issue in result.issues:
        fill_template(ws.outbox / issue.file_name, inbox / issue.file_name, ws.spec, answers[issue.unit],
                      {"contact_person": "张三", "contact_phone": "1234567"})
    assert all(r.verdict == "accepted" for r in collect(ws, [inbox]))
    found = {(f.unit, f.code, f.item) for f in validate(ws).findings}
    assert found == {("市教育局", "choice-synonym", "1"), ("市教育局", "progress-too-long", "1"),
                     ("市住房城乡建设局", "number-range", "2")}
