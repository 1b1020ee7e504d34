"""Beyond one level and one period: last period's answers carried forward, co-organisers' contributions,
and a lower level's summary returned upward as a unit's return (issue 7 §3–§5)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl

from toolkit.collect import collect
from toolkit.distribute import distribute
from toolkit.excel.fill import fill_template
from toolkit.merge import COMPLETE, merge
from toolkit.model.spec import CONTRIBUTION
from toolkit.store.manifest import read_manifest
from toolkit.store.workspace import Workspace, init_workspace, load_example_answers, open_workspace
from toolkit.validate import validate

ANSWERS = load_example_answers("gov-work-report")["units"]
CONTACT = {"contact_person": "张三", "contact_phone": "1234567"}


def fill_all(ws: Workspace, inbox: Path, answers: dict[str, dict] | None = None) -> None:
    """Every issued workbook filled: leads with the example's answers, co-organisers with one line per item."""
    inbox.mkdir(exist_ok=True)
    for recipient, entry in read_manifest(ws).get("units", {}).items():
        if entry["role"] == "co":
            spec = ws.spec_for("co")
            typed = {seq: {CONTRIBUTION: f"{entry['unit']}完成了第{seq}项的配合工作。"} for seq in entry["items"]}
            contact = CONTACT
        else:
            spec = ws.spec
            typed = (answers or ANSWERS)[recipient]["items"]
            contact = (answers or ANSWERS)[recipient]["contact"]
        fill_template(ws.outbox / entry["file"], inbox / entry["file"], spec, typed, contact)


def summary_rows(path: Path) -> dict[str, dict[str, object]]:
    sheet = openpyxl.load_workbook(path).worksheets[0]
    header = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "序号")
    labels = [c.value for c in sheet[header]]
    return {str(row[0]): dict(zip(labels, row, strict=False))
            for row in sheet.iter_rows(min_row=header + 1, values_only=True) if str(row[0] or "").isdigit()}


def cycle(ws: Workspace, inbox: Path) -> Path:
    fill_all(ws, inbox)
    assert all(r.verdict == "accepted" for r in collect(ws, [inbox]))
    result = merge(ws)
    assert result.outcome == COMPLETE, (result.missing, result.with_errors)
    return result.path


def test_carry_forward_shows_last_periods_answers_locked_and_the_cycle_passes(tmp_path: Path) -> None:
    q1 = init_workspace(tmp_path / "q1", example=True)
    distribute(q1)
    cycle(q1, tmp_path / "in1")
    q2 = init_workspace(tmp_path / "q2", example=True, period_code="Q2")
    distribute(q2, previous=tmp_path / "q1")
    q2 = open_workspace(tmp_path / "q2")
    labels = [c.label for c in q2.spec.columns]
    assert labels[:6] == ["序号", "年度目标", "第2季度目标", "上期具体工作进展", "上期下步工作打算", "是否完成"]
    template = next(q2.outbox.glob("*市科技局.xlsx"))
    sheet = openpyxl.load_workbook(template).worksheets[0]
    row = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "45")
    assert sheet.cell(row, 4).value == ANSWERS["市科技局"]["items"]["45"]["progress"]
    assert sheet.cell(row, 5).value == ANSWERS["市科技局"]["items"]["45"]["plan"]
    assert sheet.cell(row, 4).protection.locked and not sheet.cell(row, 6).protection.locked
    summary = cycle(q2, tmp_path / "in2")
    assert [f.code for f in validate(q2).findings] == ["reason-when-done"]  # the seed's item 54, nothing else
    rows = summary_rows(summary)
    assert "上期具体工作进展" not in next(iter(rows.values()))  # the summary keeps the seed's columns
    assert len(rows) == 37


def test_co_organisers_get_their_items_and_their_lines_follow_the_leads_text(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws", example=True)
    config = ws.config.path.read_text(encoding="utf-8").replace("[campaign]\n", "[campaign]\nco_organisers = true\n")
    ws.config.path.write_text(config, encoding="utf-8")
    ws = open_workspace(tmp_path / "ws")
    result = distribute(ws)
    co = {i.official: i for i in result.issues if i.role == "co"}
    assert {"市教育局", "市财政局", "市委组织部"} <= set(co)
    targets, _ = ws.load_targets()
    assert [i.seq for i in co["市教育局"].items] == [i.seq for i in targets.items if "市教育局" in i.co_units]
    assert [i.seq for i in co["市教育局"].items][:2] == ["52", "53"]
    assert not any(name.startswith("各") for name in co)  # collective units get no workbook
    co_sheet = openpyxl.load_workbook(ws.outbox / co["市教育局"].file_name).worksheets[0]
    header = [c.value for c in co_sheet[3]]
    assert header[-1] == "配合工作情况" and "是否完成" not in header
    summary = cycle(ws, tmp_path / "in")
    progress = summary_rows(summary)["53"]["具体工作进展"]
    assert progress.startswith(ANSWERS["市科技局"]["items"]["53"]["progress"])
    assert progress.splitlines()[-3:] == ["（市教育局：市教育局完成了第53项的配合工作。）",
                                          "（市财政局：市财政局完成了第53项的配合工作。）",
                                          "（淄川区政府：淄川区政府完成了第53项的配合工作。）"]


def bureau_with_returns(tmp_path: Path) -> tuple[Workspace, Workspace]:
    """(the city, a bureau that received the city's template and collected its own divisions' returns)."""
    city = init_workspace(tmp_path / "city", example=True)
    distribute(city)
    received = next(city.outbox.glob("*市科技局.xlsx"))
    bureau = init_workspace(tmp_path / "bureau", upstream=received)
    assert bureau.period.code == "Q1" and bureau.context["year"] == 2022
    _, problems = bureau.load_targets()  # the bureau assigns its own divisions first
    assert [(p.code, p.item) for p in problems] == [("targets-no-unit", seq) for seq in
                                                    ["43", "45", "46", "48", "49", "50", "52", "53", "54"]]
    book = openpyxl.load_workbook(bureau.targets_path)
    sheet = book.worksheets[0]
    units_col = [c.value for c in sheet[1]].index("责任单位") + 1
    for r in range(2, sheet.max_row + 1):
        sheet.cell(r, units_col).value = "高新技术科" if r % 2 else "成果转化科、高新技术科"
    book.save(bureau.targets_path)
    config = bureau.config.path.read_text(encoding="utf-8")
    config = config.replace('contact_person = ""', 'contact_person = "王刚"').replace(
        'contact_phone = ""', 'contact_phone = "3179657"')
    bureau.config.path.write_text(config, encoding="utf-8")
    bureau = open_workspace(tmp_path / "bureau")
    issued = distribute(bureau)
    assert sorted(i.unit for i in issued.issues) == ["成果转化科", "高新技术科"]
    seed = ANSWERS["市科技局"]["items"]
    answers = {i.unit: {"items": {item.seq: seed[item.seq] for item in i.items}, "contact": CONTACT}
               for i in issued.issues}
    fill_all(bureau, tmp_path / "bureau-in", answers)
    assert all(r.verdict == "accepted" for r in collect(bureau, [tmp_path / "bureau-in"]))
    return city, bureau


def test_a_lower_levels_summary_is_returned_as_that_units_return(tmp_path: Path) -> None:
    city, bureau = bureau_with_returns(tmp_path)
    seed = ANSWERS["市科技局"]["items"]
    result = merge(bureau)
    assert result.upstream is not None and result.upstream.is_file()
    (tmp_path / "city-in").mkdir()
    (tmp_path / "city-in" / result.upstream.name).write_bytes(result.upstream.read_bytes())
    [record] = collect(city, [tmp_path / "city-in"])
    assert (record.verdict, record.unit, record.identified_by) == ("accepted", "市科技局", "stamp")
    checked = validate(city).returns["市科技局"]
    assert [(f.code, f.item) for f in checked.findings] == [("reason-when-done", "54")]
    assert checked.contact == {"contact_person": "王刚", "contact_phone": "3179657"}
    assert checked.answers["45"]["progress"] == seed["45"]["progress"]


def test_merge_o_never_overwrites_a_foreign_file_where_the_return_upward_goes(tmp_path: Path, cli) -> None:
    _, bureau = bureau_with_returns(tmp_path)
    out = tmp_path / "上报"
    out.mkdir()
    received = json.loads((bureau.state / "upstream.json").read_text(encoding="utf-8"))["file_name"]
    foreign = out / f"{Path(received).stem}（汇总上报）.xlsx"
    foreign.write_bytes(b"the coordinator's own file")

    refused = cli("merge", "-o", out / "汇总表.xlsx", "-w", bureau.root)
    assert refused.exit_code != 0 and "已存在，且不是 toolkit 写出的文件：不会覆盖" in refused.output
    assert foreign.name in refused.output and "Traceback" not in refused.output
    assert foreign.read_bytes() == b"the coordinator's own file" and not (out / "汇总表.xlsx").exists()

    forced = cli("merge", "-o", out / "汇总表.xlsx", "--force", "-w", bureau.root)
    assert forced.exit_code == 0 and (out / "汇总表.xlsx").is_file()
    assert foreign.read_bytes()[:2] == b"PK"  # now the filled template from above
    again = cli("merge", "-o", out / "汇总表.xlsx", "-w", bureau.root)  # the toolkit's own files: no --force needed
    assert again.exit_code == 0
