"""Typing answers into a distributed template with openpyxl, as a unit would in Excel.

The demo uses it for the units, and a lower-level workspace (a district, a bureau's divisions)
uses it to write its merged answers into the template it received from above.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl

from toolkit.excel.targetlist import normalise_seq
from toolkit.model.spec import Spec
from toolkit.model.text import match_key


def fill_template(template: Path, out: Path, spec: Spec, answers: dict[str, dict[str, str]],
                  contact: dict[str, str]) -> None:
    """Type answers ({序号: {column key: text}}) and the contact into a copy, as a unit would in Excel."""
    workbook = openpyxl.load_workbook(template)
    sheet = workbook[spec.sheet_name] if spec.sheet_name in workbook.sheetnames else workbook.active
    labels = {match_key(c.label): c.key for c in spec.columns}
    header_row, columns = 0, {}
    for row in sheet.iter_rows(max_row=20):
        found = {labels[match_key(c.value)]: c.column for c in row if match_key(c.value) in labels}
        if spec.by_role("id").key in found:
            header_row, columns = row[0].row, found
            break
    id_col = columns[spec.by_role("id").key]
    for r in range(header_row + 1, sheet.max_row + 1):
        seq = normalise_seq(sheet.cell(r, id_col).value)
        for key, value in answers.get(seq, {}).items():
            if key in columns:
                sheet.cell(r, columns[key]).value = value
    contact_labels = {match_key(f.label): f.key for f in spec.contact}
    for row in sheet.iter_rows(max_row=header_row):
        for c in row:
            key = contact_labels.get(match_key(c.value))
            if key and key in contact:
                sheet.cell(c.row, c.column + 1).value = contact[key]
    workbook.save(out)
