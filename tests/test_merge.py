"""`toolkit merge` through the command: it never silently misses a unit (issue 4 §3)."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from toolkit.collect import collect
from toolkit.distribute import distribute
from toolkit.excel.fill import fill_template
from toolkit.store.workspace import init_workspace, load_example_answers

ANSWERS = load_example_answers("gov-work-report")["units"]


def test_a_missing_unit_stops_merge_until_allowed_then_its_items_are_marked(tmp_path: Path, cli) -> None:
    ws = init_workspace(tmp_path / "ws", example=True)
    result = distribute(ws)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for issue in result.issues:
        if issue.unit != "市商务局":  # 市商务局 has not sent its return
            unit = ANSWERS[issue.unit]
            fill_template(ws.outbox / issue.file_name, inbox / issue.file_name, ws.spec, unit["items"], unit["contact"])
    collect(ws, [inbox])
    out = tmp_path / "汇总表.xlsx"

    refused = cli("merge", "-o", str(out), "-w", str(ws.root))
    assert refused.exit_code == 1 and not out.exists()
    assert "市商务局" in refused.output and "--allow-missing" in refused.output

    partial = cli("merge", "-o", str(out), "--allow-missing", "-w", str(ws.root))
    draft = tmp_path / "汇总表（草稿）.xlsx"  # named and titled a draft, never taken for the final summary
    assert partial.exit_code == 3 and draft.is_file() and not out.exists(), partial.output
    sheet = openpyxl.load_workbook(draft).worksheets[0]
    texts = [str(c.value) for row in sheet.iter_rows(max_row=4) for c in row if c.value]
    assert texts[0].endswith("（草稿）")
    assert any("1个单位未报送（市商务局）" in t for t in texts)
    header = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "序号")
    status = [c.value for c in sheet[header]].index("是否完成") + 1
    marks = {sheet.cell(r, 1).value: sheet.cell(r, status).value for r in range(header + 1, sheet.max_row + 1)}
    assert [marks[seq] for seq in ("12", "13", "14")] == ["未报送"] * 3
    assert marks["43"] == "完成"
