"""Views of a findings list: JSON records and the Excel report (the terminal table is in terminal.py)."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from toolkit.excel.layout import new_workbook, printable, row_height, write_text_cell
from toolkit.model.findings import Finding
from toolkit.model.resources import templates_dir
from toolkit.store.files import atomic_path

# (attribute, Chinese heading): the columns every view of findings shows, in this order.
FINDING_COLUMNS = [("severity", "级别"), ("unit", "单位"), ("item", "序号"), ("column", "列"), ("sheet", "工作表"),
                   ("cell", "单元格"), ("message", "说明"), ("file", "文件"), ("code", "代码")]
SEVERITY_WORDS = {"error": "错误", "warning": "警告"}


def shown(finding: Finding, attr: str) -> str:
    """A finding's value in one of the columns, as a person reads it (the severity in words)."""
    value = getattr(finding, attr)
    return SEVERITY_WORDS.get(value, value) if attr == "severity" else str(value)


def findings_json(items: list[Finding]) -> list[dict[str, str]]:
    """The same columns, keyed by their English names, values as they are (severity as its code)."""
    return [{attr: getattr(f, attr) for attr, _ in FINDING_COLUMNS} for f in items]


KIND_HEADING = "问题类型"
REPORT_WIDTHS = {"severity": 7, "unit": 18, "item": 7, "column": 14, "sheet": 10, "cell": 8, "message": 56,
                 "file": 28, "code": 18}
KIND_WIDTH = 22
REPORT_PT = 11.0


@functools.cache
def finding_kinds() -> dict[str, str]:
    """Finding code → a short Chinese description of that kind of problem (templates/finding-kinds.toml)."""
    with (templates_dir() / "finding-kinds.toml").open("rb") as handle:
        return tomllib.load(handle)


def write_findings_xlsx(path: Path, items: list[Finding], title: str, rule_hints: dict[str, str] | None = None) -> None:
    """One row per finding, autofilter on, errors first within each unit as listed; next to each code a Chinese
    description of it (a preset rule's code: the rule's hint). Printable: A4 landscape, one page wide, the
    header repeated on every page, page numbers."""
    kinds = {**finding_kinds(), **(rule_hints or {})}
    columns = [*FINDING_COLUMNS, ("kind", KIND_HEADING)]
    widths = [REPORT_WIDTHS.get(attr, KIND_WIDTH) for attr, _ in columns]
    with atomic_path(path) as tmp:
        workbook = new_workbook(tmp)
        sheet = workbook.add_worksheet("校验结果")
        head = workbook.add_format({"bold": True, "border": 1, "bg_color": "#D9D9D9", "text_wrap": True,
                                    "valign": "vcenter", "align": "center", "font_size": REPORT_PT})
        body = workbook.add_format({"border": 1, "text_wrap": True, "valign": "top", "font_size": REPORT_PT})
        error = workbook.add_format({"border": 1, "valign": "top", "font_color": "#C00000", "bold": True,
                                     "font_size": REPORT_PT})
        title_format = workbook.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter",
                                            "text_wrap": True})
        for c, width in enumerate(widths):
            sheet.set_column(c, c, width)
        sheet.merge_range(0, 0, 0, len(columns) - 1, "", title_format)
        write_text_cell(sheet, 0, 0, title, title_format)
        sheet.set_row(0, max(row_height([(title, sum(widths))], 14), 30))
        for c, (_, label) in enumerate(columns):
            sheet.write_string(1, c, label, head)
        for r, finding in enumerate(items, start=2):
            texts = [kinds.get(finding.code, "") if attr == "kind" else shown(finding, attr) for attr, _ in columns]
            for c, (attr, _) in enumerate(columns):
                if attr == "severity":
                    sheet.write_string(r, c, texts[c], error if finding.is_error else body)
                else:
                    write_text_cell(sheet, r, c, texts[c], body)
            sheet.set_row(r, row_height(list(zip(texts, widths, strict=True)), REPORT_PT))
        sheet.autofilter(1, 0, max(len(items) + 1, 2), len(columns) - 1)
        sheet.freeze_panes(2, 0)
        printable(sheet, 1)
        workbook.close()
