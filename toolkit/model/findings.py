"""Findings are data: a stable code, a severity, a location and a Chinese message from a template.

The terminal table, the JSON, the Excel report and a unit's feedback workbook are views of a list
of `Finding`s; nothing else carries a problem to the user.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from typing import Any

from toolkit.model.render import render
from toolkit.model.resources import templates_dir

ERROR = "error"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    unit: str = ""
    item: str = ""
    column: str = ""
    cell: str = ""
    sheet: str = ""
    file: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    with (templates_dir() / "messages.toml").open("rb") as handle:
        return tomllib.load(handle)


def make(code: str, *, severity: str | None = None, message: str | None = None,
         unit: str = "", item: str = "", column: str = "", cell: str = "", sheet: str = "", file: str = "",
         **context: Any) -> Finding:
    """A finding with its message rendered from the catalogue, or `message` as it is (a spec rule's, rendered
    already: it may quote a unit's answer, which must never be read as a template). A name the message
    uses and not given renders as nothing."""
    entry = catalogue().get(code, {})
    if message is None:
        message = render(entry.get("message", code), {"unit": unit, "item": item, "column": column, "cell": cell,
                                                      "sheet": sheet, "file": file, **context}, strict=False)
    return Finding(code=code, severity=severity or entry.get("severity", ERROR), message=message, unit=unit,
                   item=str(item), column=column, cell=cell, sheet=sheet, file=file)


FIELDS = tuple(Finding.__dataclass_fields__)


def cell_name(row: int, col: int) -> str:
    """A1-style name of a 1-based (row, column)."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row}"
