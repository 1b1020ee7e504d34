"""`toolkit feedback`: a faulty return goes back to its unit marked up in its own workbook, and comes back fixed.

The workbooks are read back with openpyxl; cells and colours are checked against what the template's
layout and labels.toml say, not against what toolkit/feedback.py computes.
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
import tomllib
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from toolkit import feedback as fb
from toolkit.collect import collect
from toolkit.demo import fill_template
from toolkit.distribute import UnitIssue, distribute
from toolkit.excel.intake import find_table
from toolkit.excel.office import convert
from toolkit.excel.sheets import read_grids
from toolkit.model import stamp
from toolkit.model.findings import Finding
from toolkit.store.ledger import ACCEPTED
from toolkit.store.workspace import Workspace, init_workspace, load_example_answers, open_workspace
from toolkit.validate import validate

LABELS = tomllib.loads((Path(__file__).resolve().parents[1] / "templates" / "labels.toml").read_text("utf-8"))
NAMES = LABELS["feedback"]
RED, YELLOW = NAMES["error_fill"], NAMES["warning_fill"]
AUTHOR = "市政府办公室督查室审核意见"  # comment_author with the example's office
LIST_SHEET = NAMES["sheet"]

UNIT = "市科技局"  # items 43 45 46 48 49 50 52 53 54 → rows 4…12 of its template
# Columns of the template: D 是否完成, E 具体工作进展, F 未完成原因.
THREE_ERRORS = {
    "43": {"status": "序时推进"},  # a progress phrase, not 完成/未完成
    "45": {"status": "未完成", "reason": ""},  # 未完成 without a reason
    "46": {"progress": ""},  # required progress left empty
}
THREE_CELLS = {"D4", "F5", "E6"}
FIXES = {
    "43": {"status": "完成"},
    "45": {"reason": "受疫情影响，省实验室建设方案评审延期至4月。"},
    "46": {"progress": "两个省重点研发计划项目已获立项，财政资金已拨付。"},
}
RECEIVED = dt.datetime(2022, 4, 12, 9, 30)
RESENT = dt.datetime(2022, 4, 15, 16, 0)
TODAY = dt.date(2022, 4, 13)


# --- building the loop ---

def distributed(root: Path) -> tuple[Workspace, UnitIssue]:
    ws = init_workspace(root / "ws", example=True)
    issue = next(i for i in distribute(ws).issues if i.unit == UNIT)
    return ws, issue


def unit_answers(changes: dict[str, dict[str, str]]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The example's answers of 市科技局, its real mistake on item 54 corrected, with `changes` typed over them."""
    example = copy.deepcopy(load_example_answers("gov-work-report")["units"][UNIT])
    items = example["items"]
    items["54"]["reason"] = "无"  # the seed's 完成 + 是 (a warning): corrected so only the three errors remain
    for seq, values in changes.items():
        items[seq].update(values)
    return items, example["contact"]


def fill_return(ws: Workspace, issue: UnitIssue, out: Path, changes: dict[str, dict[str, str]]) -> Path:
    items, contact = unit_answers(changes)
    out.parent.mkdir(parents=True, exist_ok=True)
    fill_template(ws.outbox / issue.file_name, out, ws.spec, items, contact)
    return out


def fix_feedback(ws: Workspace, workbook: Path, out: Path, fixes: dict[str, dict[str, str]]) -> Path:
    """The unit simulator types into the feedback workbook only the cells it was asked to fix."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fill_template(workbook, out, ws.spec, fixes, {})
    return out


def collect_one(ws: Workspace, path: Path, when: dt.datetime) -> None:
    records = collect(ws, [path], as_of=when)
    assert [(r.unit, r.verdict) for r in records] == [(UNIT, ACCEPTED)], records


# --- reading a feedback workbook back ---

def fill_of(cell) -> str:
    fill = cell.fill
    return fill.fgColor.rgb[-6:].upper() if fill is not None and fill.fill_type == "solid" else ""


def marks(sheet: Worksheet) -> dict[str, str]:
    """Cells filled with a feedback colour: A1 → RGB."""
    return {c.coordinate: fill_of(c) for row in sheet.iter_rows() for c in row if fill_of(c) in (RED, YELLOW)}


def comments(sheet: Worksheet) -> dict[str, tuple[str, str]]:
    return {c.coordinate: (c.comment.text, c.comment.author) for row in sheet.iter_rows() for c in row if c.comment}


def listed(workbook: openpyxl.Workbook) -> list[dict[str, str]]:
    """The 问题清单 rows as {heading: text}, found by its heading row (not by position)."""
    sheet = workbook[LIST_SHEET]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    head_at = next(i for i, r in enumerate(rows) if NAMES["headings"]["message"] in r)
    heads = rows[head_at]
    return [{h: ("" if v is None else str(v)) for h, v in zip(heads, r, strict=True) if h}
            for r in rows[head_at + 1:] if any(v not in (None, "") for v in r)]


def dropdowns(sheet: Worksheet) -> list[tuple[str, str]]:
    return [(str(dv.sqref), dv.formula1) for dv in sheet.data_validations.dataValidation if dv.type == "list"]


# --- the whole loop ---

def test_three_errors_marked_in_own_workbook_then_fixed_there_and_passed(tmp_path: Path) -> None:
    ws, issue = distributed(tmp_path)
    returned = fill_return(ws, issue, tmp_path / "mail" / "科技局一季度.xlsx", THREE_ERRORS)
    collect_one(ws, returned, RECEIVED)

    checked = validate(ws).returns[UNIT]
    assert checked.errors == 3 and checked.warnings == 0, checked.findings
    assert {f.cell for f in checked.findings} == THREE_CELLS

    results = fb.make_feedback(ws, today=TODAY)
    assert [(r.unit, r.state, r.errors) for r in results] == [(UNIT, fb.WRITTEN, 3)]
    out = results[0]
    assert out.workbook == ws.root / "feedback" / f"{UNIT}-退回修改.xlsx"
    assert out.notice == ws.root / "feedback" / f"{UNIT}-退回修改说明.txt"

    original = openpyxl.load_workbook(returned)
    book = openpyxl.load_workbook(out.workbook)
    table = book[ws.spec.sheet_name]
    # exactly the three cells: red, each commented with its finding's message by the coordinator
    assert marks(table) == dict.fromkeys(THREE_CELLS, RED)
    assert comments(table) == {f.cell: (f.message, AUTHOR) for f in checked.findings}
    # every finding listed
    rows = listed(book)
    assert len(rows) == 3
    assert [r[NAMES["headings"]["cell"]] for r in rows] == [f.cell for f in checked.findings]
    assert [r[NAMES["headings"]["message"]] for r in rows] == [f.message for f in checked.findings]
    assert [r[NAMES["headings"]["item"]] for r in rows] == ["43", "45", "46"]
    # the unit's own workbook otherwise untouched: values, other fills, stamp, protection, dropdowns
    assert book.sheetnames == [*original.sheetnames, LIST_SHEET]
    before = original[ws.spec.sheet_name]
    for row in before.iter_rows():
        for cell in row:
            after = table[cell.coordinate]
            assert after.value == cell.value, cell.coordinate
            if cell.coordinate not in THREE_CELLS:
                assert fill_of(after) == fill_of(cell), cell.coordinate
            assert after.protection.locked == cell.protection.locked, cell.coordinate
    assert book[stamp.SHEET].sheet_state == "veryHidden"
    assert [[c.value for c in r] for r in book[stamp.SHEET].iter_rows()] == \
        [[c.value for c in r] for r in original[stamp.SHEET].iter_rows()]
    assert table.protection.sheet and book[stamp.SHEET].protection.sheet
    assert not table["D4"].protection.locked and not table["E6"].protection.locked  # the unit can type there
    assert dropdowns(table) == [("D4:D12", '"完成,未完成"')]  # inline list: survives openpyxl
    assert book.active.title == ws.spec.sheet_name
    assert [s.title for s in book.worksheets if s.sheet_view.tabSelected] == [ws.spec.sheet_name]

    notice = out.notice.read_bytes()
    assert notice.startswith(b"\xef\xbb\xbf")
    text = notice.decode("utf-8-sig")
    assert text.startswith(f"{UNIT}：")
    assert "3处错误" in text and out.workbook.name in text and "2022年4月16日" in text  # today + 3 days
    assert "2022年4月12日" in text and "科技局一季度.xlsx" in text  # which return is sent back
    assert all(f.message in text for f in checked.findings)

    # the unit fixes exactly those cells in the feedback workbook and sends it back
    fixed = fix_feedback(ws, out.workbook, tmp_path / "mail2" / "科技局（改）.xlsx", FIXES)
    collect_one(ws, fixed, RESENT)
    again = validate(ws).returns[UNIT]
    assert again.findings == []  # passes: the red fills, comments and 问题清单 need not be removed
    assert again.answers["43"]["status"] == "完成"
    assert fb.make_feedback(ws, today=TODAY) == []


def test_list_sheet_is_never_read_as_the_table(tmp_path: Path) -> None:
    ws, _ = distributed(tmp_path)
    spec = ws.spec
    style = fb.Style(RED, YELLOW, AUTHOR)
    # findings whose texts are the spec's own labels, 序号 included
    tricky = [Finding("item-foreign", "error", "序号", unit=UNIT, item="99", column="序号", cell="A13",
                      sheet="第1季度")]
    tricky += [Finding("value-required", "error", c.label, unit=UNIT, item=c.label, column=c.label, cell="B4",
                       sheet=c.label) for c in spec.columns]
    book = openpyxl.Workbook()
    book.remove(book.active)
    fb.add_findings_sheet(book, spec, tricky, title="序号", intro="是否完成", table_sheet=None, style=style)
    path = tmp_path / "list.xlsx"
    book.save(path)
    assert find_table(read_grids(path), spec) is None


def test_feedback_workbook_is_read_at_its_table_and_links_to_cells(tmp_path: Path) -> None:
    ws, issue = distributed(tmp_path)
    collect_one(ws, fill_return(ws, issue, tmp_path / "mail" / "r.xlsx", THREE_ERRORS), RECEIVED)
    (out,) = fb.make_feedback(ws, today=TODAY)
    table = find_table(read_grids(out.workbook), ws.spec)
    assert table is not None and table.sheet == ws.spec.sheet_name
    links = [c.hyperlink.location for row in openpyxl.load_workbook(out.workbook)[LIST_SHEET].iter_rows()
             for c in row if c.hyperlink]
    assert links == [f"'{ws.spec.sheet_name}'!{cell}" for cell in ("D4", "F5", "E6")]


def test_warning_lighter_and_item_without_cell_listed_only(tmp_path: Path) -> None:
    ws, issue = distributed(tmp_path)
    items, contact = unit_answers({"43": {"status": "序时推进"}, "54": {"reason": "是"}})
    template = openpyxl.load_workbook(ws.outbox / issue.file_name)
    draft = tmp_path / "draft.xlsx"
    template.save(draft)
    returned = tmp_path / "mail" / "r.xlsx"
    returned.parent.mkdir()
    fill_template(draft, returned, ws.spec, items, contact)
    book = openpyxl.load_workbook(returned)
    book[ws.spec.sheet_name].delete_rows(9)  # item 50 (row 9) deleted by the unit
    book.save(returned)
    collect_one(ws, returned, RECEIVED)
    checked = validate(ws).returns[UNIT]
    assert sorted((f.code, f.cell) for f in checked.findings) == [
        ("choice-ambiguous", "D4"), ("item-missing", ""), ("reason-when-done", "F11")]

    (out,) = fb.make_feedback(ws, today=TODAY)
    assert (out.errors, out.warnings, out.listed_only) == (2, 1, 1)
    marked = openpyxl.load_workbook(out.workbook)
    assert marks(marked[ws.spec.sheet_name]) == {"D4": RED, "F11": YELLOW}
    rows = listed(marked)
    assert len(rows) == 3
    missing = next(r for r in rows if r[NAMES["headings"]["item"]] == "50")
    assert missing[NAMES["headings"]["cell"]] == NAMES["no_cell"]
    assert "1处没有对应的单元格" in out.notice.read_text("utf-8-sig")


def test_only_units_with_errors_unless_named(tmp_path: Path) -> None:
    ws, issue = distributed(tmp_path)
    collect_one(ws, fill_return(ws, issue, tmp_path / "mail" / "r.xlsx", {"54": {"reason": "是"}}), RECEIVED)
    assert validate(ws).returns[UNIT].warnings == 1
    assert fb.make_feedback(ws, today=TODAY) == []  # a warning alone is not sent back
    named = fb.make_feedback(ws, ["科技局", "市商务局"], today=TODAY)
    assert [(r.unit, r.state, r.workbook) for r in named] == [(UNIT, fb.NO_ERRORS, None),
                                                              ("市商务局", fb.NOT_RETURNED, None)]
    assert not (ws.root / "feedback").exists()


def test_second_round_clears_the_first_rounds_marks(tmp_path: Path) -> None:
    ws, issue = distributed(tmp_path)
    collect_one(ws, fill_return(ws, issue, tmp_path / "mail" / "r.xlsx", THREE_ERRORS), RECEIVED)
    (first,) = fb.make_feedback(ws, today=TODAY)
    fixed = fix_feedback(ws, first.workbook, tmp_path / "mail2" / "r2.xlsx", {"43": FIXES["43"], "46": FIXES["46"]})
    collect_one(ws, fixed, RESENT)
    assert [f.cell for f in validate(ws).returns[UNIT].findings] == ["F5"]

    (second,) = fb.make_feedback(ws, today=TODAY)
    book = openpyxl.load_workbook(second.workbook)
    table = book[ws.spec.sheet_name]
    assert marks(table) == {"F5": RED}
    assert list(comments(table)) == ["F5"]
    assert fill_of(table["D4"]) == fill_of(table["D5"]) == ""  # the column's own (no) fill back
    assert book.sheetnames == [ws.spec.sheet_name, stamp.SHEET, LIST_SHEET]
    assert len(listed(book)) == 1


def test_cli(tmp_path: Path, cli) -> None:
    ws, issue = distributed(tmp_path)
    collect_one(ws, fill_return(ws, issue, tmp_path / "mail" / "r.xlsx", THREE_ERRORS), RECEIVED)
    result = cli("feedback", "-w", ws.root, "--deadline", "2022-04-20")
    assert result.exit_code == 0, result.output
    assert f"{UNIT}（错误 3）" in result.output
    notice = (ws.root / "feedback" / f"{UNIT}-退回修改说明.txt").read_text("utf-8-sig")
    assert "请于2022年4月20日前发回" in notice
    named = cli("feedback", "市商务局", "-w", ws.root)
    assert named.exit_code == 0 and "市商务局：尚未报送" in named.output
    unknown = cli("feedback", "市外星局", "-w", ws.root)
    assert unknown.exit_code == 2 and "市外星局" in unknown.output


# --- returns LibreOffice saved as .ods / .xls ---

@pytest.fixture(scope="module")
def office_returns(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """A distributed workspace (nothing collected) and the three-error return saved by LibreOffice as .ods/.xls."""
    root = tmp_path_factory.mktemp("office")
    ws, issue = distributed(root)
    filled = fill_return(ws, issue, root / "filled" / "科技局.xlsx", THREE_ERRORS)
    return ws.root, {fmt: convert([filled], fmt, root / fmt)[0] for fmt in ("ods", "xls")}


def copy_workspace(source: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(source, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", ["ods", "xls"])
def test_libreoffice_return_gets_its_feedback_workbook(fmt: str, office_returns, tmp_path: Path) -> None:
    source, files = office_returns
    ws = copy_workspace(source, tmp_path)
    collect_one(ws, files[fmt], RECEIVED)
    checked = validate(ws).returns[UNIT]
    assert {f.cell for f in checked.findings} == THREE_CELLS and checked.errors == 3

    (out,) = fb.make_feedback(ws, today=TODAY)
    assert out.state == fb.WRITTEN and out.workbook.suffix == ".xlsx"
    book = openpyxl.load_workbook(out.workbook)
    table = book[ws.spec.sheet_name]
    assert marks(table) == dict.fromkeys(THREE_CELLS, RED)
    assert comments(table) == {f.cell: (f.message, AUTHOR) for f in checked.findings}
    assert len(listed(book)) == 3
    assert book[stamp.SHEET].sheet_state in ("hidden", "veryHidden")  # LibreOffice turns veryHidden into hidden
    assert table.protection.sheet
    assert ("D4:D12", '"完成,未完成"') in dropdowns(table)

    fixed = fix_feedback(ws, out.workbook, tmp_path / "mail2" / "科技局（改）.xlsx", FIXES)
    collect_one(ws, fixed, RESENT)
    assert validate(ws).returns[UNIT].errors == 0


@pytest.mark.libreoffice
def test_without_libreoffice_only_the_list(office_returns, tmp_path: Path, monkeypatch) -> None:
    source, files = office_returns
    ws = copy_workspace(source, tmp_path)
    collect_one(ws, files["ods"], RECEIVED)
    monkeypatch.setattr(fb, "soffice_path", lambda: None)
    (out,) = fb.make_feedback(ws, today=TODAY)
    assert out.state == fb.LIST_ONLY and "LibreOffice" in out.note
    book = openpyxl.load_workbook(out.workbook)
    assert book.sheetnames == [LIST_SHEET]
    assert len(listed(book)) == 3
    notice = out.notice.read_text("utf-8-sig")
    assert "原表格“科技局.ods”中逐项修改" in notice
