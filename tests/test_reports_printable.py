"""Every workbook the toolkit writes for the coordinator prints: landscape A4 one page wide, header repeated, and
the validation report says in Chinese what each finding code means."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from toolkit.views.report import KIND_HEADING, finding_kinds


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import run_cli

    root = tmp_path_factory.mktemp("reports") / "demo"
    assert run_cli("demo", root).exit_code == 0
    return root


def assert_printable(sheet, title_rows: str, *, landscape: bool = True) -> None:
    assert sheet.page_setup.orientation == ("landscape" if landscape else "portrait")
    assert sheet.page_setup.paperSize in (9, "9")  # A4
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth in (1, None)
    assert sheet.page_setup.fitToHeight in (0, "0")
    assert sheet.print_title_rows.replace("$", "") == title_rows
    assert "&P" in (sheet.oddFooter.center.text or "")


def test_validation_report_prints_and_describes_each_code(demo: Path) -> None:
    sheet = openpyxl.load_workbook(demo / "reports" / "validation.xlsx").active
    assert_printable(sheet, "2:2")
    headings = [c.value for c in sheet[2]]
    assert headings == ["级别", "单位", "序号", "列", "工作表", "单元格", "说明", "文件", "代码", KIND_HEADING]
    assert sheet["A1"].value.endswith("完成情况校验结果")  # the title, merged across, not cut
    assert f"A1:{openpyxl.utils.get_column_letter(len(headings))}1" in {str(r) for r in sheet.merged_cells.ranges}
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=3)]
    assert rows and all(row[-1] for row in rows)  # every finding has its description
    warning = next(row for row in rows if row[8] == "reason-when-done")
    assert warning[-1] == "选择“完成”时填“无”。"  # a preset rule: its hint


def test_every_message_code_has_a_chinese_description() -> None:
    import tomllib

    from toolkit.model.resources import templates_dir

    codes = tomllib.loads((templates_dir() / "messages.toml").read_text(encoding="utf-8"))
    kinds = finding_kinds()
    assert set(codes) <= set(kinds), sorted(set(codes) - set(kinds))
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in kinds.values())


def test_target_list_prints(demo: Path) -> None:
    book = openpyxl.load_workbook(demo / "目标任务清单.xlsx")
    assert_printable(book.worksheets[0], "1:1")
    assert_printable(book.worksheets[1], "1:1", landscape=False)
