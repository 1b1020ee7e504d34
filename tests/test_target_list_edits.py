"""A target list edited between commands: merge (as a draft, the units having answered the issued text) and
distribute use its new text (it is read again each time)."""

from __future__ import annotations

import openpyxl
from targetlists import edit_q1_target

from toolkit.collect import collect
from toolkit.distribute import distribute
from toolkit.excel.fill import fill_template
from toolkit.merge import merge
from toolkit.store.workspace import load_example_answers

ANSWERS = load_example_answers("gov-work-report")["units"]


def test_an_edited_target_list_gives_its_new_text_to_merge_and_distribute(example_ws, tmp_path):
    result = distribute(example_ws)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for issue in result.issues:
        unit = ANSWERS[issue.unit]
        fill_template(example_ws.outbox / issue.file_name, inbox / issue.file_name, example_ws.spec,
                      unit["items"], unit["contact"])
    collect(example_ws, [inbox])
    assert merge(example_ws).path is not None  # the list is kept after distribute's and merge's reads

    edit_q1_target(example_ws.targets_path, "45", "省实验室完成理事会组建，编辑于合并之后。")
    assert merge(example_ws).path is None  # not a complete summary: 市科技局 answered the text it was sent
    summary = merge(example_ws, allow_missing=True).path

    sheet = openpyxl.load_workbook(summary).worksheets[0]
    header = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "序号")
    column = [c.value for c in sheet[header]].index("第1季度目标") + 1
    (row,) = [r for r in range(header + 1, sheet.max_row + 1) if sheet.cell(r, 1).value == "45"]
    assert sheet.cell(row, column).value == "省实验室完成理事会组建，编辑于合并之后。"

    edit_q1_target(example_ws.targets_path, "45", "再次编辑后分发。")
    distribute(example_ws)
    template = openpyxl.load_workbook(next(example_ws.outbox.glob("*市科技局*.xlsx"))).worksheets[0]
    assert "再次编辑后分发。" in [c.value for row in template.iter_rows() for c in row]
