"""Returns as units make them: a distributed template filled in with openpyxl, and the ways units tamper with it.

Everything is found by its label, as a person would find it (the header row holds 序号 and 是否完成; an item's
row holds its 序号; a contact value goes right of its label), never through toolkit's own reading code, so a
mistake in toolkit's intake cannot hide itself here. `Return` wraps one open workbook; its editing methods do
what Excel does to the sheet (merged ranges follow inserted and deleted rows and columns).
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import tomllib
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.worksheet import Worksheet

from toolkit.distribute import distribute
from toolkit.model.resources import examples_dir
from toolkit.store.workspace import Workspace, init_workspace, open_workspace

ANSWERS = examples_dir() / "gov-work-report" / "answers.toml"  # what the example's units answer

UNIT = "市发展改革委"  # leads items 1, 2 and 4; its example answers are correct
UNIT_ITEMS = ("1", "2", "4")
SEED_UNIT = "市科技局"  # the seed's nine items; item 54 says 完成 with 未完成原因 是
OTHER_UNIT_ITEM = "6"  # an item led by 市工业和信息化局

# Fill-in column labels by the answer keys of answers.toml (and of toolkit.demo.fill_template).
KEYS = {"status": "是否完成", "progress": "具体工作进展", "reason": "未完成原因", "plan": "下步工作打算"}
CONTACT = {"contact_person": "联系人", "contact_phone": "联系方式"}
STAMP_SHEET = "填报标识"

_BLANKS = re.compile(r"[\s\u3000\u00a0\u200b]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def key(value: object) -> str:
    """A cell's text without any kind of space, for finding labels."""
    return _BLANKS.sub("", "" if value is None else str(value))


def tidy(text: str) -> str:
    """What a checked answer keeps of typed text: its non-empty lines, trimmed."""
    return "\n".join(line.strip() for line in str(text).splitlines() if line.strip())


# --- workspaces ---

def distributed_workspace(root: Path, **options: Any) -> Workspace:
    """`toolkit init --example` + `toolkit distribute` in `root`."""
    ws = init_workspace(root, example=True, **options)
    result = distribute(ws)
    assert not [p for p in result.problems if p.is_error], result.problems
    return ws


def copy_workspace(ws: Workspace, root: Path) -> Workspace:
    """The same campaign (same secret, same templates) in another folder: for independent collects."""
    shutil.copytree(ws.root, root)
    return open_workspace(root)


def manifest(ws: Workspace) -> dict[str, Any]:
    return json.loads((ws.state / "manifest.json").read_text(encoding="utf-8"))


def template_path(ws: Workspace, unit: str) -> Path:
    return ws.outbox / manifest(ws)["units"][unit]["file"]


def example_answers(unit: str) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(answers by 序号 and key, contact by key) of a unit in the bundled example, as fresh copies."""
    data = tomllib.loads(ANSWERS.read_text(encoding="utf-8"))["units"][unit]
    return copy.deepcopy(data["items"]), dict(data["contact"])


# --- one return ---

class Return:
    """A unit's return being made: the template opened, its table found by labels, protection off."""

    def __init__(self, template: Path) -> None:
        self.workbook = openpyxl.load_workbook(template)
        self.sheet: Worksheet = next(s for s in self.workbook.worksheets if s.sheet_state == "visible")
        self.sheet.protection.sheet = False
        self._raw: dict[str, str] = {}  # placeholder -> text with control characters, written on save

    # where things are
    @property
    def header_row(self) -> int:
        """The row of the fill-in labels (a label merged down from the row above counts as in it)."""
        for row in self.sheet.iter_rows(min_row=1, max_row=30):
            if "是否完成" in {key(c.value) for c in row}:
                return row[0].row
        raise LookupError("no header row")

    def col(self, label: str) -> int:
        for r in (self.header_row, self.header_row - 1):
            for c in self.sheet[r]:
                if key(c.value) == key(label):
                    return c.column
        raise LookupError(label)

    def item_rows(self) -> dict[str, int]:
        """{序号 as plain digits: row} below the header (the first row of each)."""
        id_col = self.col("序号")
        rows: dict[str, int] = {}
        for r in range(self.header_row + 1, self.sheet.max_row + 1):
            seq = unicodedata.normalize("NFKC", key(self.sheet.cell(r, id_col).value))
            if seq.isdigit():
                rows.setdefault(str(int(seq)), r)
        return rows

    def row(self, seq: str) -> int:
        return self.item_rows()[seq]

    def cell(self, seq: str, label: str) -> str:
        """A1 name of an item's cell."""
        return f"{get_column_letter(self.col(label))}{self.row(seq)}"

    def contact_cell(self, label: str) -> str:
        """A1 name of the cell right of a contact label (where the unit types)."""
        for row in self.sheet.iter_rows(min_row=1, max_row=self.header_row - 1):
            for c in row:
                if key(c.value).startswith(label):
                    return f"{get_column_letter(c.column + 1)}{c.row}"
        raise LookupError(label)

    # typing
    def set(self, seq: str, label: str, value: Any) -> None:
        if isinstance(value, str) and _CONTROL.search(value):
            # openpyxl refuses control characters; Excel stores them escaped as _xHHHH_, as written on save
            placeholder = f"CTRLPLACEHOLDER{len(self._raw)}X"
            self._raw[placeholder] = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)
            value = placeholder
        self.sheet.cell(self.row(seq), self.col(label)).value = value

    def fill(self, answers: dict[str, dict[str, Any]], contact: dict[str, str] | None = None) -> None:
        """Answers by 序号 and key (status/progress/reason/plan); contact by key (contact_person/contact_phone)."""
        for seq, values in answers.items():
            for answer_key, value in values.items():
                self.set(seq, KEYS[answer_key], value)
        for contact_key, value in (contact or {}).items():
            self.set_contact(CONTACT[contact_key], value)

    def set_contact(self, label: str, value: Any) -> None:
        cell = self.sheet[self.contact_cell(label)]
        cell.value = value

    # what Excel does to a sheet, merged ranges included
    def _restructure(self, axis: str, op: str, idx: int, amount: int) -> None:
        ranges = [CellRange(r.coord) for r in self.sheet.merged_cells.ranges]
        for r in ranges:
            self.sheet.unmerge_cells(r.coord)
        getattr(self.sheet, f"{op}_{axis}s")(idx, amount)
        lo, hi = ("min_col", "max_col") if axis == "col" else ("min_row", "max_row")
        for r in ranges:
            start, end = getattr(r, lo), getattr(r, hi)
            if op == "insert":
                if start >= idx:
                    start, end = start + amount, end + amount
                elif end >= idx:
                    end += amount
            else:
                last = idx + amount - 1
                if start > last:
                    start, end = start - amount, end - amount
                elif end >= idx:
                    kept = sum(1 for i in range(start, end + 1) if not idx <= i <= last)
                    if not kept:
                        continue
                    start = min(start, idx)
                    end = start + kept - 1
            setattr(r, lo, start)
            setattr(r, hi, end)
            if r.size["rows"] * r.size["columns"] > 1:
                self.sheet.merge_cells(r.coord)

    def insert_cols(self, idx: int, amount: int = 1) -> None:
        self._restructure("col", "insert", idx, amount)

    def delete_cols(self, idx: int, amount: int = 1) -> None:
        self._restructure("col", "delete", idx, amount)

    def insert_rows(self, idx: int, amount: int = 1) -> None:
        self._restructure("row", "insert", idx, amount)

    def delete_rows(self, idx: int, amount: int = 1) -> None:
        self._restructure("row", "delete", idx, amount)

    def move_column(self, label: str, before: str | None = None) -> None:
        """Drag the table's column (header and item rows) before another one, or after the last."""
        first, last = self.header_row, max(self.item_rows().values())
        order = list(range(1, self.sheet.max_column + 1))
        src = self.col(label)
        order.remove(src)
        order.insert(order.index(self.col(before)) if before else len(order), src)
        for r in range(first, last + 1):
            cells = [(self.sheet.cell(r, c).value, copy.copy(self.sheet.cell(r, c)._style)) for c in order]
            for c, (value, style) in enumerate(cells, start=1):
                self.sheet.cell(r, c).value = value
                self.sheet.cell(r, c)._style = style

    def delete_item(self, seq: str) -> None:
        self.delete_rows(self.row(seq))

    def duplicate_item(self, seq: str) -> None:
        """Copy an item's row and paste it as a new row right below."""
        r = self.row(seq)
        self.insert_rows(r + 1)
        for c in range(1, self.sheet.max_column + 1):
            source, target = self.sheet.cell(r, c), self.sheet.cell(r + 1, c)
            target.value = source.value
            target._style = copy.copy(source._style)
        self.sheet.row_dimensions[r + 1].height = self.sheet.row_dimensions[r].height

    # the stamp sheet (veryHidden: a unit cannot see it, but it can be edited or lost)
    @property
    def stamp(self) -> Worksheet:
        return self.workbook[STAMP_SHEET]

    def stamp_values(self) -> dict[str, str]:
        return {str(r[0].value): str(r[1].value) for r in self.stamp.iter_rows(max_col=2)}

    def set_stamp(self, name: str, value: str) -> None:
        for r in self.stamp.iter_rows(max_col=2):
            if r[0].value == name:
                r[1].value = value
                return
        raise LookupError(name)

    # saving
    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.workbook.save(buffer)
        data = buffer.getvalue()
        return patch_xml(data, self._raw) if self._raw else data

    def save(self, out: Path) -> Path:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(self.to_bytes())
        return out

    def save_rows_as_new_workbook(self, out: Path) -> Path:
        """Select all on the sheet, copy, paste into a new workbook (values and merges): the stamp is gone."""
        new = openpyxl.Workbook()
        sheet = new.active
        sheet.title = "Sheet1"
        for row in self.sheet.iter_rows():
            for c in row:
                if c.value is not None:
                    sheet.cell(c.row, c.column).value = c.value
        for r in self.sheet.merged_cells.ranges:
            sheet.merge_cells(r.coord)
        out.parent.mkdir(parents=True, exist_ok=True)
        new.save(out)
        return out


def patch_xml(data: bytes, replacements: dict[str, str]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.endswith(".xml"):
                for placeholder, text in replacements.items():
                    content = content.replace(placeholder.encode(), text.encode("utf-8"))
            target.writestr(info, content)
    return buffer.getvalue()


Edit = Callable[[Return], None]


def open_return(ws: Workspace, unit: str = UNIT, *, answers: dict[str, dict[str, Any]] | None = None,
                contact: dict[str, str] | None = None, edit: Edit | None = None) -> Return:
    """The unit's template filled with its example answers, `answers` typed over them, then `edit` applied."""
    items, person = example_answers(unit)
    for seq, values in (answers or {}).items():
        items.setdefault(seq, {}).update(values)
    filled = Return(template_path(ws, unit))
    filled.fill(items, {**person, **(contact or {})})
    if edit is not None:
        edit(filled)
    return filled


def make_return(ws: Workspace, out: Path, unit: str = UNIT, **options: Any) -> Path:
    """A filled return saved at `out` (see `open_return`)."""
    return open_return(ws, unit, **options).save(out)


def locate(path: Path, seq: str, label: str) -> str:
    """A1 name of an item's cell in a saved return, looked up independently of toolkit."""
    return Return(path).cell(seq, label)


# --- files that are not returns ---

def docx_bytes(text: str = "关于报送一季度目标任务完成情况的说明") -> bytes:
    """A minimal Word document (what a unit attaches beside its return)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType='
                   '"application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.'
                   'openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("word/document.xml", '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://'
                   'schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>'
                   f'{text}</w:t></w:r></w:p></w:body></w:document>')
    return buffer.getvalue()


def lock_file_bytes(owner: str = "wanggang") -> bytes:
    """What Excel leaves as `~$name.xlsx` while a workbook is open: 165 bytes, the owner's name inside."""
    name = owner.encode("utf-16-le")
    return (bytes([len(owner)]) + owner.encode("latin-1").ljust(53, b" ") + name.ljust(111, b" "))[:165]


class _RawNameInfo(zipfile.ZipInfo):
    """A zip entry whose name bytes are written as given (zipfile would write non-ASCII names as UTF-8)."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.filename.encode("cp437"), self.flag_bits


def write_zip(path: Path, members: dict[str, bytes], encoding: str) -> Path:
    """A .zip whose entry names are in `encoding`: "gbk" like Windows' Chinese zip tools, or "utf-8" (flagged)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if encoding == "utf-8":
                archive.writestr(zipfile.ZipInfo(name, date_time=(2022, 4, 12, 9, 30, 0)), data)
                continue
            info = _RawNameInfo(name.encode(encoding).decode("cp437"), date_time=(2022, 4, 12, 9, 30, 0))
            info.flag_bits &= ~0x800
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path
