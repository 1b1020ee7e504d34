"""Views of a findings list: JSON records and the Excel report (the terminal table is in terminal.py)."""

from __future__ import annotations

from pathlib import Path

from toolkit.excel.layout import new_workbook, write_text_cell
from toolkit.model.findings import Finding
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


def write_findings_xlsx(path: Path, items: list[Finding], title: str) -> None:
    """One row per finding, autofilter on, errors first within each unit as listed."""
    with atomic_path(path) as tmp:
        workbook = new_workbook(tmp)
        sheet = workbook.add_worksheet("校验结果")
        head = workbook.add_format({"bold": True, "border": 1, "bg_color": "#D9D9D9", "text_wrap": True,
                                    "valign": "vcenter", "align": "center"})
        body = workbook.add_format({"border": 1, "text_wrap": True, "valign": "top"})
        error = workbook.add_format({"border": 1, "valign": "top", "font_color": "#C00000", "bold": True})
        widths = {"message": 60, "file": 30, "unit": 18, "code": 18, "column": 14}
        sheet.merge_range(0, 0, 0, len(FINDING_COLUMNS) - 1, title,
                          workbook.add_format({"bold": True, "font_size": 14, "align": "center"}))
        for c, (attr, label) in enumerate(FINDING_COLUMNS):
            sheet.set_column(c, c, widths.get(attr, 9))
            sheet.write_string(1, c, label, head)
        for r, finding in enumerate(items, start=2):
            for c, (attr, _) in enumerate(FINDING_COLUMNS):
                if attr == "severity":
                    sheet.write_string(r, c, shown(finding, attr), error if finding.is_error else body)
                else:
                    write_text_cell(sheet, r, c, shown(finding, attr), body)
        sheet.autofilter(1, 0, max(len(items) + 1, 2), len(FINDING_COLUMNS) - 1)
        sheet.freeze_panes(2, 0)
        workbook.close()
