"""Reading workbooks as grids of values (python-calamine: xlsx, xlsm, xls, ods) and finding header rows.

A target list and a returned workbook are both read here, so both cope with the same mess: title
rows above the header, a header spread over two merged rows, columns inserted or moved.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import python_calamine

from toolkit.model.text import match_key


@dataclass
class Grid:
    """One sheet's values, row 0 / column 0 being A1, with its merged ranges (0-based, inclusive)."""

    name: str
    visibility: str  # visible / hidden / veryhidden
    rows: list[list[Any]]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.height = len(self.rows)
        self.width = max((len(r) for r in self.rows), default=0)

    def value(self, row: int, col: int) -> Any:
        if 0 <= row < len(self.rows) and 0 <= col < len(self.rows[row]):
            value = self.rows[row][col]
            return None if value == "" else value
        return None

    def merged_origin(self, row: int, col: int) -> tuple[int, int]:
        """The top-left cell of the merged range holding (row, col), or the cell itself."""
        for top, left, bottom, right in self.merged:
            if top <= row <= bottom and left <= col <= right:
                return top, left
        return row, col


def read_grids(source: Path | bytes) -> list[Grid]:
    """Every sheet of a workbook, its format told by its bytes, not its name.

    Raises python_calamine's errors; the caller words them for the user.
    """
    data = source if isinstance(source, bytes) else source.read_bytes()
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    grids = []
    try:
        for meta in workbook.sheets_metadata:
            sheet = workbook.get_sheet_by_name(meta.name)
            rows = sheet.to_python(skip_empty_area=False)
            try:
                merged = [(s[0], s[1], e[0], e[1]) for s, e in (sheet.merged_cell_ranges or [])]
            except Exception:  # older formats may not report merges
                merged = []
            grids.append(Grid(meta.name, str(meta.visible).rsplit(".", 1)[-1].lower(), rows, merged))
    finally:
        workbook.close()
    return grids


def read_grids_openpyxl(data: bytes) -> list[Grid]:
    """Every sheet of an .xlsx/.xlsm read by openpyxl: the fallback for workbooks calamine refuses.

    openpyxl is about fifteen times slower, and reads what some writers put where calamine expects none
    (an <extLst> inside a cell). Values as calamine gives them: "" for an empty cell, a formula's cached value.
    """
    import openpyxl  # imported when needed: collect's workers start without it

    with warnings.catch_warnings():  # "Unknown extension is not supported": what calamine choked on, dropped
        warnings.simplefilter("ignore")
        workbook = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    grids = []
    for sheet in workbook.worksheets:
        rows = [["" if value is None else value for value in row] for row in sheet.iter_rows(values_only=True)]
        merged = [(r.min_row - 1, r.min_col - 1, r.max_row - 1, r.max_col - 1) for r in sheet.merged_cells.ranges]
        grids.append(Grid(sheet.title, sheet.sheet_state.lower(), rows, merged))
    return grids


def formula_cells(data: bytes, sheet: str, cells: set[str]) -> dict[str, tuple[str, str]]:
    """Of the `cells` (A1 names) of an .xlsx sheet, those holding a formula or an error value: {cell: (formula,
    the error it shows or "")}. A formula Excel never calculated (written by a program) has no value to read."""
    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        formulas = openpyxl.load_workbook(io.BytesIO(data))[sheet]
        values = openpyxl.load_workbook(io.BytesIO(data), data_only=True)[sheet]
    found = {}
    for ref in cells:
        written, shown = formulas[ref].value, values[ref].value
        formula = written if isinstance(written, str) and written.startswith("=") else ""
        error = shown if isinstance(shown, str) and shown in EXCEL_ERRORS else ""
        if formula or error:
            found[ref] = (formula, error)
    return found


EXCEL_ERRORS = frozenset({"#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#GETTING_DATA"})

Matcher = Callable[[str], bool]


@dataclass
class Header:
    """Where a table's header is: its last row (0-based) and the column of each spec key."""

    first_row: int
    last_row: int
    columns: dict[str, int]
    labels: dict[int, str]  # every non-empty header text by column, as written

    def found_labels(self) -> str:
        return "、".join(label.replace("\n", "") for _, label in sorted(self.labels.items()))


MAX_LABEL = 60  # a header label is short: longer cell texts are never compared


def find_header(grid: Grid, matchers: dict[str, Matcher], must_have: str, max_rows: int = 30) -> Header | None:
    """The header row (or pair of rows) that names the most spec columns, holding `must_have`.

    A two-row header (a group label merged over several columns above their own labels) is read
    as the two texts joined; either text alone also matches. On a tie one row wins over two, an
    upper row over a lower one.
    """
    last = min(max_rows + 1, grid.height)
    rows: list[HeaderRow] = []  # read as the search goes down: the header is usually near the top
    best: Header | None = None
    for row in range(min(max_rows, grid.height)):
        while len(rows) < min(row + 2, last):
            rows.append(HeaderRow.read(grid, len(rows)))
        for depth in (1, 2):
            if row + depth > len(rows):
                continue
            header = _evaluate(rows[row:row + depth], row, matchers, must_have)
            if header is not None and (best is None or _score(header) > _score(best)):
                best = header
                if _score(best) == (len(matchers), -1):
                    return best  # one row naming every column: nothing below can do better
    return best


@dataclass
class HeaderRow:
    """A row's texts as a header shows them (a merged cell's text in every cell it spans) and their match keys."""

    texts: list[str]
    keys: list[str]  # "" for an empty or too long text

    @classmethod
    def read(cls, grid: Grid, row: int) -> HeaderRow:
        texts = []
        for col in range(grid.width):
            value = grid.value(*grid.merged_origin(row, col))
            texts.append("" if value is None else str(value).strip())
        return cls(texts, [match_key(text) if len(text) <= MAX_LABEL else "" for text in texts])


def _evaluate(rows: list[HeaderRow], first_row: int, matchers: dict[str, Matcher], must_have: str) -> Header | None:
    """The header that one row or two make, if it names `must_have`.

    Columns are given to the spec's keys in order, each to the leftmost free column naming it.
    """
    if len(rows) == 1 and not any(map(matchers[must_have], filter(None, rows[0].keys))):
        return None  # most rows are items: no need to look further
    labels: dict[int, str] = {}
    candidates: dict[int, set[str]] = {}
    for col in range(len(rows[0].texts)):
        parts = list(dict.fromkeys(row.texts[col] for row in rows if row.texts[col]))
        if not parts:
            continue
        labels[col] = "".join(parts)
        found = {row.keys[col] for row in rows}
        if len(parts) == 2 and len(labels[col]) <= MAX_LABEL:
            found.add(match_key(labels[col]))
        candidates[col] = found - {""}
    columns: dict[str, int] = {}
    free = sorted(candidates)  # columns not yet taken, left to right
    for key, matches in matchers.items():
        for col in free:
            if any(map(matches, candidates[col])):
                columns[key] = col
                free.remove(col)
                break
    if must_have not in columns:
        return None
    return Header(first_row, first_row + len(rows) - 1, columns, labels)


def _score(header: Header) -> tuple[int, int]:
    """More columns named first, then fewer rows."""
    return len(header.columns), header.first_row - header.last_row - 1
