"""`toolkit distribute` on the bundled example, checked cell by cell by reading the workbooks back with openpyxl."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from targetlists import edit_q1_target

from toolkit.distribute import DistributeResult, distribute
from toolkit.model import stamp
from toolkit.store.workspace import Workspace, init_workspace

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gov-work-report" / "targets.toml"
HEADER = ["序号", "年度目标", "第1季度目标", "是否完成", "具体工作进展", "未完成原因", "下步工作打算", "市政府分管领导",
          "责任单位"]
PREFILLED = ["序号", "年度目标", "第1季度目标", "市政府分管领导", "责任单位"]
FILL_IN = ["是否完成", "具体工作进展", "未完成原因", "下步工作打算"]
TITLE_ROW, CONTACT_ROW, HEADER_ROW, FIRST_ITEM_ROW = 1, 2, 3, 4
FOOTNOTE = "注：责任单位排在第一位的为牵头单位，其他单位为协办单位"
SEED_ITEMS = ["43", "45", "46", "48", "49", "50", "52", "53", "54"]  # 市科技局's nine, as in the seed


# --- what the example's targets.toml says each lead unit must receive (read independently of toolkit) ---

def tidy(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def expected_issues() -> dict[str, list[dict[str, str]]]:
    """Lead unit -> its items' prefilled cells (by header label), in 序号 order, aliases resolved."""
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    official = {u["name"]: u["name"] for u in data["units"]}
    official |= {alias: u["name"] for u in data["units"] for alias in u.get("aliases", [])}
    out: dict[str, list[dict[str, str]]] = {}
    for item in sorted(data["items"], key=lambda i: int(i["seq"])):
        units = [official.get(u, u) for u in item["units"]]
        out.setdefault(units[0], []).append({
            "序号": str(item["seq"]), "年度目标": tidy(item["annual"]), "第1季度目标": tidy(item["targets"]["Q1"]),
            "市政府分管领导": item["leader"], "责任单位": "\n".join(units),
        })
    return out


EXPECTED = expected_issues()


# --- reading a template back ---

@dataclass
class Template:
    path: Path
    workbook: openpyxl.Workbook

    @property
    def sheet(self) -> Worksheet:
        return self.workbook.worksheets[0]

    @property
    def columns(self) -> dict[str, int]:
        return {c.value.replace("\n", ""): c.column for c in self.sheet[HEADER_ROW] if c.value}

    def letter(self, label: str) -> str:
        return get_column_letter(self.columns[label])

    @property
    def item_rows(self) -> list[int]:
        rows = []
        r = FIRST_ITEM_ROW
        while self.sheet.cell(r, 1).value not in (None, ""):
            rows.append(r)
            r += 1
        return rows

    def value(self, row: int, label: str) -> str | None:
        return self.sheet.cell(row, self.columns[label]).value

    def stamp_values(self) -> dict[str, str] | None:
        rows = [list(r) for r in self.workbook[stamp.SHEET].iter_rows(values_only=True)]
        return stamp.parse(rows)


def unit_of(path: Path) -> str:
    """The lead unit whose name the file name carries."""
    (unit,) = [u for u in EXPECTED if u in path.stem]
    return unit


def load_templates(ws: Workspace) -> dict[str, Template]:
    return {unit_of(p): Template(p, openpyxl.load_workbook(p)) for p in sorted(ws.outbox.glob("*.xlsx"))}


@pytest.fixture(scope="module")
def distributed(tmp_path_factory) -> tuple[Workspace, DistributeResult]:
    """The example distributed once; read-only for the tests that use it."""
    ws = init_workspace(tmp_path_factory.mktemp("distribute") / "ws", example=True)
    return ws, distribute(ws)


@pytest.fixture(scope="module")
def templates(distributed) -> dict[str, Template]:
    return load_templates(distributed[0])


def test_one_workbook_per_lead_unit_named_after_it(distributed, templates):
    ws, result = distributed
    assert result.problems == []
    assert len(EXPECTED) == 11
    files = sorted(ws.outbox.glob("*.xlsx"))
    assert len(files) == 11
    assert set(templates) == set(EXPECTED)
    assert sorted(result.new) == sorted(EXPECTED)
    assert result.changed == [] and result.removed == []


def test_the_science_bureau_gets_the_seeds_nine_items(templates):
    t = templates["市科技局"]
    assert [t.value(r, "序号") for r in t.item_rows] == SEED_ITEMS


def test_title_names_the_year_and_period(templates):
    for t in templates.values():
        title = t.sheet.cell(TITLE_ROW, 1).value
        assert "2022年第一季度" in title
        assert f"A{TITLE_ROW}:{get_column_letter(len(HEADER))}{TITLE_ROW}" in {str(m) for m in t.sheet.merged_cells}


def test_contact_row_labels_each_followed_by_an_unlocked_fill_in_cell(templates):
    for t in templates.values():
        cells = {c.value: c for c in t.sheet[CONTACT_ROW] if c.value}
        assert set(cells) == {"联系人：", "联系方式："}
        for label in ("联系人：", "联系方式："):
            field = t.sheet.cell(CONTACT_ROW, cells[label].column + 1)
            assert field.value is None
            assert field.protection.locked is False, f"{t.path.name} {field.coordinate}"
            assert cells[label].protection.locked is True


def test_header_in_the_seeds_order(templates):
    for t in templates.values():
        # a label longer than its column is broken into balanced lines (市政府分/管领导), never a lone character
        assert [c.value.replace("\n", "") for c in t.sheet[HEADER_ROW]] == HEADER


def test_items_in_seq_order_with_the_target_lists_text(templates):
    for unit, t in templates.items():
        got = [{label: t.value(r, label) for label in PREFILLED} for r in t.item_rows]
        assert got == EXPECTED[unit], unit
        assert [int(x["序号"]) for x in got] == sorted(int(x["序号"]) for x in got)


def test_responsible_units_one_per_line_lead_first_aliases_resolved(templates):
    t = templates["市教育局"]
    (row,) = [r for r in t.item_rows if t.value(r, "序号") == "51"]  # written 市人社局 in the list
    assert t.value(row, "责任单位") == "市教育局\n市发展改革委\n市人力资源社会保障局"
    t = templates["市科技局"]
    (row,) = [r for r in t.item_rows if t.value(r, "序号") == "45"]
    assert t.value(row, "责任单位").split("\n") == ["市科技局", "市发展改革委", "市工业和信息化局", "市人力资源社会保障局"]


def test_prefilled_cells_locked_fill_in_cells_unlocked_sheet_protected(templates):
    for t in templates.values():
        assert t.sheet.protection.sheet is True
        for r in t.item_rows:
            for label in PREFILLED:
                assert t.sheet.cell(r, t.columns[label]).protection.locked is True, (t.path.name, r, label)
            for label in FILL_IN:
                cell = t.sheet.cell(r, t.columns[label])
                assert cell.protection.locked is False, (t.path.name, cell.coordinate)
                assert cell.value is None
        for c in t.sheet[HEADER_ROW]:
            assert c.protection.locked is True


def validations_covering(t: Template, coordinate: str):
    return [dv for dv in t.sheet.data_validations.dataValidation if coordinate in dv.sqref]


def test_status_dropdown_on_every_item_row(templates):
    for t in templates.values():
        col = t.letter("是否完成")
        for r in t.item_rows:
            (dv,) = validations_covering(t, f"{col}{r}")
            assert dv.type == "list"
            assert dv.formula1 == '"完成,未完成"'
            assert dv.showDropDown in (None, False)  # openpyxl's inverted flag: False shows the arrow
            assert dv.showErrorMessage and dv.errorStyle in (None, "stop")
            assert dv.showInputMessage and dv.prompt
        assert validations_covering(t, f"{col}{HEADER_ROW}") == []
        assert validations_covering(t, f"{col}{t.item_rows[-1] + 1}") == []


def test_input_messages_on_the_other_fill_in_columns(distributed, templates):
    spec = distributed[0].spec
    reason_hints = [r.hint for r in spec.rules if r.then_column == "reason" and r.hint]
    assert reason_hints
    for t in templates.values():
        for label in FILL_IN:
            for r in t.item_rows:
                prompts = [dv.prompt for dv in validations_covering(t, f"{t.letter(label)}{r}") if dv.showInputMessage]
                assert len(prompts) == 1 and prompts[0], (t.path.name, label, r)
        reason_prompt = validations_covering(t, f"{t.letter('未完成原因')}{FIRST_ITEM_ROW}")[0].prompt
        for hint in reason_hints:
            assert hint in reason_prompt


def test_conditional_format_marks_a_missing_reason(templates):
    for t in templates.values():
        status, reason = t.letter("是否完成"), t.letter("未完成原因")
        first, last = t.item_rows[0], t.item_rows[-1]
        (cf,) = list(t.sheet.conditional_formatting)
        assert all(f"{reason}{r}" in cf.sqref for r in t.item_rows)
        assert f"{reason}{last + 1}" not in cf.sqref and f"{status}{first}" not in cf.sqref
        (rule,) = cf.rules
        (formula,) = rule.formula
        assert f'TRIM(${status}{first})="未完成"' in formula  # relative row: each row tests its own status
        assert f"LEN(TRIM(${reason}{first}))=0" in formula
        assert rule.dxf.fill is not None


def test_footnote_under_the_items(templates):
    for t in templates.values():
        below = [c.value for row in t.sheet.iter_rows(min_row=t.item_rows[-1] + 1) for c in row if c.value]
        assert below == [FOOTNOTE]


def test_print_setup_landscape_header_repeated_fit_to_width(templates):
    for t in templates.values():
        s = t.sheet
        assert s.page_setup.orientation == "landscape"
        assert s.print_title_rows == f"${HEADER_ROW}:${HEADER_ROW}"
        assert s.sheet_properties.pageSetUpPr.fitToPage is True
        assert s.page_setup.fitToWidth in (None, 1)  # None: the default, one page wide
        assert s.page_setup.fitToHeight == 0  # as many pages down as needed


def test_longer_prefilled_text_gives_a_taller_row(templates):
    t = templates["市科技局"]
    heights = {t.value(r, "序号"): t.sheet.row_dimensions[r].height for r in t.item_rows}
    assert all(h for h in heights.values())
    # 48: one short sentence in each cell; 45 and 54: several lines of target text.
    assert heights["48"] < heights["45"]
    assert heights["48"] < heights["54"]


def test_hidden_stamp_verifies_with_the_workspace_secret(distributed, templates):
    ws = distributed[0]
    for unit, t in templates.items():
        assert t.workbook[stamp.SHEET].sheet_state in ("hidden", "veryHidden")
        assert t.workbook.sheetnames[0] != stamp.SHEET
        values = t.stamp_values()
        assert values is not None
        assert values["unit"] == unit
        assert values["campaign"] == ws.campaign_id
        assert values["period"] == "Q1"
        assert values["items"].split(",") == [x["序号"] for x in EXPECTED[unit]]
        assert stamp.verify(ws.secret(), values)


@pytest.mark.parametrize("field, forged", [("unit", "市财政局"), ("items", "43,45"), ("period", "Q2"),
                                           ("fingerprint", "0" * 16), ("token", "0" * 32)])
def test_a_forged_stamp_does_not_verify(distributed, templates, field, forged):
    values = templates["市科技局"].stamp_values()
    assert stamp.verify(distributed[0].secret(), values)
    assert not stamp.verify(distributed[0].secret(), {**values, field: forged})


def test_a_stamp_does_not_verify_with_another_workspaces_secret(tmp_path, templates):
    other = init_workspace(tmp_path / "other", example=True)
    assert not stamp.verify(other.secret(), templates["市科技局"].stamp_values())


def test_notice_per_unit_names_unit_items_and_deadline(distributed):
    ws, result = distributed
    deadline = ws.config.need("campaign.deadline")
    notices = sorted(ws.outbox.glob("*-填报通知.txt"))
    assert len(notices) == len(EXPECTED)
    for unit, items in EXPECTED.items():
        (notice,) = [n for n in notices if unit in n.name]
        text = notice.read_text(encoding="utf-8-sig")
        assert text.startswith(unit)
        listed = re.findall(r"\d+", text.split("序号", 1)[1].split("）", 1)[0])
        assert listed == [x["序号"] for x in items]
        year, month, day = (int(x) for x in deadline.split("-"))
        assert deadline in text or f"{year}年{month}月{day}日" in text
        (issue,) = [i for i in result.issues if i.unit == unit]
        assert issue.file_name in text  # the workbook it refers to


def test_manifest_lists_what_was_issued(distributed):
    ws, _ = distributed
    manifest = json.loads((ws.state / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["campaign"] == ws.campaign_id
    assert set(manifest["units"]) == set(EXPECTED)
    for unit, entry in manifest["units"].items():
        assert (ws.outbox / entry["file"]).is_file()
        assert entry["items"] == [x["序号"] for x in EXPECTED[unit]]


# --- re-running ---

def test_rerun_gives_identical_templates_and_reports_none_changed(example_ws, cli):
    first = distribute(example_ws)
    before = {p.name: p.read_bytes() for p in example_ws.outbox.glob("*.xlsx")}

    again = distribute(example_ws)

    assert {p.name: p.read_bytes() for p in example_ws.outbox.glob("*.xlsx")} == before
    assert again.changed == [] and again.new == [] and again.removed == []
    assert sorted(again.unchanged) == sorted(EXPECTED)
    assert [i.stamp for i in again.issues] == [i.stamp for i in first.issues]
    result = cli("distribute", "-w", example_ws.root)
    assert result.exit_code == 0
    assert "清单有变" not in result.output


def test_editing_one_target_reports_exactly_that_unit_changed(example_ws, cli):
    distribute(example_ws)
    before = {p.name: p.read_bytes() for p in example_ws.outbox.glob("*.xlsx")}
    edit_q1_target(example_ws.targets_path, "45", "省实验室完成理事会组建。")

    result = cli("distribute", "-w", example_ws.root)

    assert result.exit_code == 0, result.output
    assert re.search(r"清单有变.*：市科技局\s*$", result.output, re.M), result.output
    after = {p.name: p.read_bytes() for p in example_ws.outbox.glob("*.xlsx")}
    assert [n for n in before if before[n] != after[n]] == [f for f in before if "市科技局" in f]
    t = load_templates(example_ws)["市科技局"]
    (r45,) = [r for r in t.item_rows if t.value(r, "序号") == "45"]
    assert t.value(r45, "第1季度目标") == "省实验室完成理事会组建。"
    assert stamp.verify(example_ws.secret(), t.stamp_values())


def test_changed_result_names_the_unit(example_ws):
    distribute(example_ws)
    edit_q1_target(example_ws.targets_path, "65", "城镇新增就业1.5万人以上。")

    result = distribute(example_ws)

    assert result.changed == ["市人力资源社会保障局"]
    assert sorted(result.unchanged) == sorted(set(EXPECTED) - {"市人力资源社会保障局"})


# --- init ---

def test_init_refuses_an_existing_workspace(example_ws, cli):
    (example_ws.root / "目标任务清单.xlsx").write_bytes(b"edited by the coordinator")
    before = {p: p.read_bytes() for p in example_ws.root.rglob("*") if p.is_file()}

    result = cli("init", example_ws.root, "--example")

    assert result.exit_code == 2
    assert "不会覆盖" in result.output
    assert {p: p.read_bytes() for p in example_ws.root.rglob("*") if p.is_file()} == before


def test_init_example_through_the_command(tmp_path, cli):
    result = cli("init", tmp_path / "ws", "--example")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ws" / "toolkit.toml").is_file()
    assert cli("distribute", cwd=tmp_path / "ws").exit_code == 0  # run inside the workspace, no -w
    assert len(list((tmp_path / "ws" / "outbox").glob("*.xlsx"))) == len(EXPECTED)


def test_a_new_list_not_filled_in_yet_is_said_not_distributed_or_merged(tmp_path: Path, cli) -> None:
    """`toolkit init` without --example writes an empty list: distribute and merge say so instead of issuing or
    summarising nothing."""
    assert cli("init", tmp_path / "ws").exit_code == 0
    result = cli("distribute", "-w", tmp_path / "ws")
    assert result.exit_code == 1 and "还没有事项" in result.output and "未生成任何填报表" in result.output
    assert not list((tmp_path / "ws" / "outbox").glob("*.xlsx"))
    merged = cli("merge", "-w", tmp_path / "ws")
    assert merged.exit_code == 2 and "有错误，无法汇总" in merged.output
    assert not list((tmp_path / "ws" / "reports").glob("*.xlsx"))
