"""Reading workbooks as grids of values (python-calamine: xlsx, xlsm, xls, ods) and finding header rows.

A target list and a returned workbook are both read here, so both cope with the same mess: title
rows above the header, a header spread over two merged rows, columns inserted or moved.
"""

from __future__ import annotations

import io
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


Matcher = Callable[[str], bool]
# A row's header texts -> the columns and labels it gave as a header row, or None: see find_header's `seen`.
HeaderRows = dict[tuple[str, ...], tuple[dict[str, int], dict[int, str]] | None]


@dataclass
class Header:
    """Where a table's header is: its last row (0-based) and the column of each spec key."""

    first_row: int
    last_row: int
    columns: dict[str, int]
    labels: dict[int, str]  # every non-empty header text by column, as written

    def found_labels(self) -> str:
        return "、".join(label.replace("\n", "") for _, label in sorted(self.labels.items()))


def _header_text(grid: Grid, row: int, col: int) -> str:
    top, left = grid.merged_origin(row, col)
    value = grid.value(top, left)
    return "" if value is None else str(value).strip()


MAX_LABEL = 60  # a header label is short: longer cell texts are never compared


def find_header(grid: Grid, matchers: dict[str, Matcher], must_have: str, max_rows: int = 30,
                seen: HeaderRows | None = None) -> Header | None:
    """The header row (or pair of rows) that names the most spec columns, holding `must_have`.

    A two-row header (a group label merged over several columns above their own labels) is read
    as the two texts joined; either text alone also matches.
    `seen`: what rows of these very texts gave before, with the same matchers (a collect reads a
    thousand returns of one template: the title and header rows recur).
    """
    rows = min(max_rows + 1, grid.height)
    texts: dict[int, list[str]] = {}  # row -> its header texts, read only when the search gets there
    keys: dict[int, list[str]] = {}

    def read(r: int, *, with_keys: bool = True) -> None:
        if r not in texts:
            texts[r] = [_header_text(grid, r, c) for c in range(grid.width)]
        if with_keys and r not in keys:
            keys[r] = [match_key(t) if len(t) <= MAX_LABEL else "" for t in texts[r]]

    def evaluate_row(row: int) -> Header | None:
        """evaluate(row, 1), or what these texts gave before."""
        if seen is None:
            return evaluate(row, 1)
        read(row, with_keys=False)
        key = tuple(texts[row])
        if key not in seen:
            if len(seen) >= 1024:
                seen.clear()
            header = evaluate(row, 1)
            seen[key] = None if header is None else (header.columns, header.labels)
        found = seen[key]
        return None if found is None else Header(row, row, dict(found[0]), dict(found[1]))

    def evaluate(row: int, depth: int) -> Header | None:
        for r in range(row, row + depth):
            read(r)
        if depth == 1 and not any(map(matchers[must_have], filter(None, keys[row]))):
            return None  # the check below, sooner: most rows are items
        labels: dict[int, str] = {}
        candidates: dict[int, set[str]] = {}
        for col in range(grid.width):
            parts = list(dict.fromkeys(texts[r][col] for r in range(row, row + depth) if texts[r][col]))
            if not parts:
                continue
            labels[col] = "".join(parts)
            found = {keys[r][col] for r in range(row, row + depth)}
            if depth == 2 and len(parts) == 2 and len(labels[col]) <= MAX_LABEL:
                found.add(match_key(labels[col]))
            candidates[col] = {k for k in found if k}
        if not any(any(map(matchers[must_have], found)) for found in candidates.values()):
            return None  # no header here: most rows are items
        columns: dict[str, int] = {}
        free = sorted(candidates)  # columns not yet taken, left to right
        for key, matches in matchers.items():
            for col in free:
                if any(map(matches, candidates[col])):
                    columns[key] = col
                    free.remove(col)
                    break
        return Header(row, row + depth - 1, columns, labels) if must_have in columns else None

    # The usual case first: one row naming every column. No pair of rows above it can score as well.
    for row in range(min(max_rows, grid.height)):
        header = evaluate_row(row)
        if header is not None and len(header.columns) == len(matchers):
            return header
    best: tuple[int, int, Header] | None = None
    for row in range(min(max_rows, grid.height)):
        for depth in (1, 2):
            if row + depth > rows:
                continue
            header = evaluate(row, depth)
            if header is not None and (best is None or (len(header.columns), -depth) > best[:2]):
                best = (len(header.columns), -depth, header)
    return best[2] if best else None
