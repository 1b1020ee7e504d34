"""Reading one returned workbook: its format (from the bytes), its stamp, its table and its contact.

Pure functions of the file's bytes: collect uses them to identify a return, validate to check it.
Nothing here trusts positions: the header is found by the spec's labels, items by their 序号.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from toolkit.excel import biff
from toolkit.excel.sheets import (
    EXCEL_ERRORS,
    Grid,
    Header,
    find_header,
    formula_cells,
    read_grids,
    read_grids_openpyxl,
)
from toolkit.excel.targetlist import is_footnote, normalise_seq
from toolkit.model import findings, stamp
from toolkit.model.findings import Finding, cell_name
from toolkit.model.spec import Spec
from toolkit.model.text import cell_text, match_key

# What reading a damaged or hostile zip raises (zipfile, struct and zlib underneath it).
ZIP_ERRORS = (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError, EOFError, struct.error,
              zlib.error)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ROOT_ELEMENT = re.compile(rb"<[A-Za-z_]")  # the first start tag: no DOCTYPE may come after it
FIRST_STEP = 256  # the root element is usually within a part's first hundred bytes
MAX_STEP = 4096


@dataclass(frozen=True)
class Limits:
    """What a return may be, checked before it is parsed (a returned workbook is untrusted input)."""

    file_mb: float = 20
    uncompressed_mb: float = 200
    rows: int = 20000
    cell_chars: int = 32767  # Excel's own limit for a cell
    cells: int = 2_000_000  # a sheet's rows × columns from its first cell to its last: what a reader allocates

    @classmethod
    def from_config(cls, table: dict[str, Any]) -> Limits:
        allowed = set(cls.__dataclass_fields__)
        unknown = set(table) - allowed
        if unknown:
            raise ValueError(f"limits 中没有 {'、'.join(sorted(unknown))} 这一项：可用 {'、'.join(sorted(allowed))}")
        return cls(**{k: type(getattr(cls, k))(v) for k, v in table.items()})


def check_limits(data: bytes, fmt: str, limits: Limits, file: str,
                 archive: zipfile.ZipFile | None = None) -> Finding | None:
    """Size, uncompressed size, rows and XML entities, without building the workbook.

    The readers (calamine, openpyxl) stop at a member's declared size, so declared sizes bound the
    work: their sum is the uncompressed size, a part too small to hold `limits.rows` rows is not
    counted, and entities can only be declared in a DOCTYPE before the root element.
    """
    size_mb = len(data) / 1048576
    if size_mb > limits.file_mb:
        return findings.make("limit-file-size", size_mb=f"{size_mb:.1f}", limit_mb=f"{limits.file_mb:g}", file=file)
    if fmt == "xls":
        return _check_legacy(data, limits, file)
    if fmt not in ("xlsx", "xlsm", "xlsb", "ods"):
        return None
    try:
        with archive or zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if sum(info.file_size for info in members) > limits.uncompressed_mb * 1048576:
                return findings.make("limit-uncompressed", limit_mb=f"{limits.uncompressed_mb:g}", file=file)
            for info in members:
                if not info.filename.endswith((".xml", ".rels", ".vml")):  # every XML part a reader parses
                    continue
                may_hold_rows = info.file_size >= limits.rows * len(b"<row/>")
                # LibreOffice (feedback on an .ods) may read any part: there every part is read whole.
                xml = _whole_part(archive, info) if may_hold_rows or fmt == "ods" else _part_head(archive, info)
                if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
                    return findings.make("file-xml-entities", file=file)
                rows = xml.count(b"<row") + xml.count(b"<table:table-row") if may_hold_rows else 0
                if rows > limits.rows:
                    return findings.make("limit-rows", sheet="", rows=rows, limit=limits.rows, file=file)
                if info.filename.startswith("xl/worksheets/"):
                    cells = _laid_out_cells(xml if may_hold_rows else _whole_part(archive, info))
                    if cells > limits.cells:
                        return findings.make("limit-cells", sheet="", cells=cells, limit=limits.cells, file=file)
    except ZIP_ERRORS as exc:  # e.g. a member said to start beyond the end of the file
        return findings.make("file-unreadable", reason=str(exc) or type(exc).__name__, file=file)
    return None


# A cell reference's column letters and its row, each found apart: a sheet has few distinct ones of either.
_CELL_COLUMN = re.compile(rb'<c\b[^>]*?\sr="([A-Z]{1,3})[0-9]')
_CELL_ROW = re.compile(rb'<c\b[^>]*?\sr="[A-Z]{1,3}([0-9]{1,7})"')


def _laid_out_cells(xml: bytes) -> int:
    """Rows × columns from A1 to a worksheet's farthest cell reference: what a reader allocates for the sheet."""
    last_col = 0
    for letters in set(_CELL_COLUMN.findall(xml)):
        col = 0
        for letter in letters:
            col = col * 26 + letter - 64
        last_col = max(last_col, col)
    return max(map(int, set(_CELL_ROW.findall(xml))), default=0) * last_col


def _check_legacy(data: bytes, limits: Limits, file: str) -> Finding | None:
    """An .xls/.et: no zip behind its OLE header (a reader would open the zip, unchecked), and each sheet's
    rows and cells within the limits, from its cell records, before a reader lays the sheets out."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        return findings.make("file-disguised", file=file)
    try:
        sheets = biff.extent(data)
    except (biff.BiffError, struct.error) as exc:
        return findings.make("file-unreadable", reason=str(exc) or type(exc).__name__, file=file)
    for sheet, rows, cells in sheets:
        if rows > limits.rows:
            return findings.make("limit-rows", sheet=sheet, rows=rows, limit=limits.rows, file=file)
        if cells > limits.cells:
            return findings.make("limit-cells", sheet=sheet, cells=cells, limit=limits.cells, file=file)
    return None


def _whole_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A part's bytes; a part holding more than it declares is refused as broken.

    zipfile reads no further than the size it is given, and checks the CRC there: it is given two
    bytes more than declared and one byte more is read, to tell a part that holds more.
    """
    asked = copy.copy(info)
    asked.file_size = info.file_size + 2
    with archive.open(asked) as part:
        xml = part.read(info.file_size + 1)
    if len(xml) > info.file_size:
        raise zipfile.BadZipFile(f"{info.filename}：内容大于其声明的大小")
    return xml


def _part_head(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A part's head up to its root element (where a DOCTYPE would end), read a little at a time."""
    head, step = b"", FIRST_STEP
    with archive.open(info) as part:
        while not _ROOT_ELEMENT.search(head) and (more := part.read(step)):
            head += more
            step = min(step * 4, MAX_STEP)
    return head


def check_cells(grids: list[Grid], limits: Limits, file: str) -> Finding | None:
    for grid in grids:
        if grid.height > limits.rows:
            return findings.make("limit-rows", sheet=grid.name, rows=grid.height, limit=limits.rows, file=file)
        longest = limits.cell_chars
        for r, row in enumerate(grid.rows):
            for value in row:
                if type(value) is str and len(value) > longest:
                    c = row.index(value)
                    return findings.make("limit-cell", cell=f"{grid.name}!{cell_name(r + 1, c + 1)}",
                                         chars=len(value), limit=limits.cell_chars, file=file, sheet=grid.name)
    return None


def sniff(data: bytes) -> tuple[str, str]:
    """(format, what it is) from the bytes: xlsx, xlsm, ods, xls, or a kind that is no spreadsheet."""
    archive = open_zip(data)
    with archive or contextlib.nullcontext():
        return _sniff(data, archive)


def open_zip(data: bytes) -> zipfile.ZipFile | None:
    """The bytes as a zip (its directory read), or None: not a zip, or too damaged to read one."""
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return None
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS:
        return None


def _sniff(data: bytes, archive: zipfile.ZipFile | None) -> tuple[str, str]:
    """sniff, given what open_zip made of the bytes (read once for sniffing and for the limits)."""
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if archive is None:
            return "broken", "损坏的压缩包"
        names = set(archive.namelist())
        try:
            mimetype = archive.read("mimetype").decode("ascii", "replace") if "mimetype" in names else ""
        except ZIP_ERRORS:
            return "broken", "损坏的压缩包"
        if "xl/workbook.bin" in names:
            return "xlsb", "Excel 二进制工作簿"
        if "xl/workbook.xml" in names:
            return ("xlsm", "Excel 启用宏的工作簿") if "xl/vbaProject.bin" in names else ("xlsx", "Excel 工作簿")
        if "spreadsheet" in mimetype:
            return "ods", "OpenDocument 电子表格"
        if "word/document.xml" in names or "text" in mimetype:
            return "other", "Word 文档"
        if "ppt/presentation.xml" in names:
            return "other", "PowerPoint 演示文稿"
        return "other", "zip 压缩包"
    if data.startswith(OLE_MAGIC):
        if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00i\x00o\x00n\x00I\x00n\x00f\x00o" in data[:1 << 20] or \
           b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e" in data:
            return "encrypted", "加密的 Office 文件"
        return "xls", "Excel 97-2003 工作簿"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")) or b"<html" in head[:512]:
        return "other", "网页文件（HTML），只是扩展名为 .xls"
    if head.startswith(b"<?xml"):
        return "other", "XML 文件"
    if head.startswith(b"%pdf"):
        return "other", "PDF 文件"
    if not data:
        return "other", "空文件"
    return "other", "文本或未知格式文件"


@dataclass
class ItemRow:
    """One item's row in a return: values by column key (as text), and where each cell is."""

    seq: str
    row: int  # 1-based
    values: dict[str, str]
    cells: dict[str, str]
    raw: dict[str, Any] = field(default_factory=dict)
    formulas: dict[str, tuple[str, str]] = field(default_factory=dict)  # column key -> (formula, error shown)


@dataclass
class ReturnTable:
    sheet: str
    header: Header
    rows: list[ItemRow]
    contact: dict[str, tuple[str, str]]  # contact key -> (text, cell)
    missing_columns: list[str]


def read_stamp(grids: list[Grid]) -> dict[str, str] | None:
    """The stamp's fields, from the stamp sheet (even renamed) if any."""
    ordered = sorted(grids, key=lambda g: g.name != stamp.SHEET)
    for grid in ordered:
        if grid.height and grid.value(0, 0) == stamp.MARKER:
            return stamp.parse(grid.rows[:20])
    return None


def find_table(grids: list[Grid], spec: Spec) -> ReturnTable | None:
    """The sheet holding the spec's table: the one whose header names the most of its columns."""
    matchers = {c.key: c.header_keys().__contains__ for c in spec.columns}
    best: tuple[int, Grid, Header] | None = None
    for grid in grids:
        if grid.height and grid.value(0, 0) == stamp.MARKER:
            continue
        header = find_header(grid, matchers, spec.by_role("id").key)
        if header and (best is None or len(header.columns) > best[0]
                       or (len(header.columns) == best[0] and grid.visibility == "visible"
                           and best[1].visibility != "visible")):
            best = (len(header.columns), grid, header)
    if best is None:
        return None
    _, grid, header = best
    return ReturnTable(
        sheet=grid.name, header=header, rows=_item_rows(grid, header, spec),
        contact=_contact(grid, header, spec),
        missing_columns=[c.key for c in spec.columns if c.key not in header.columns],
    )


def _item_rows(grid: Grid, header: Header, spec: Spec) -> list[ItemRow]:
    """Rows with a 序号; a row without one right under an item continues it (one row per paragraph).

    Reading stops at a second header row (a table pasted below) or a footnote.
    """
    id_key = spec.by_role("id").key
    rows: list[ItemRow] = []
    for r in range(header.last_row + 1, grid.height):
        texts = {key: grid.value(r, c) for key, c in header.columns.items()}
        first = texts[id_key]
        if match_key(first) in spec.header_keys:
            break  # a second table
        seq = normalise_seq(first)
        if not seq:
            if not any(v is not None for v in texts.values()):
                continue
            first = next(cell_text(v) for v in texts.values() if v is not None)
            if is_footnote(first):
                break
            if rows:
                _continue_row(rows[-1], texts, spec)
            continue
        if not seq.isdigit():
            continue
        rows.append(ItemRow(seq=seq, row=r + 1, values={k: cell_text(v) for k, v in texts.items()},
                            cells={key: cell_name(r + 1, c + 1) for key, c in header.columns.items()}, raw=texts))
    return rows


def _continue_row(item: ItemRow, texts: dict[str, Any], spec: Spec) -> None:
    """A paragraph typed in the next row instead of after a line break: joined to its item."""
    for col in spec.filled:
        extra = cell_text(texts.get(col.key)).strip()
        if extra:
            item.values[col.key] = f"{item.values.get(col.key, '').rstrip()}\n{extra}".strip("\n")


def _contact(grid: Grid, header: Header, spec: Spec) -> dict[str, tuple[str, str]]:
    """Each contact field's text: the next filled cell right of its label, or text after the label itself."""
    found: dict[str, tuple[str, str]] = {}
    labels = {f.key: match_key(f.label).rstrip(":：") for f in spec.contact}
    for r in range(0, header.first_row):
        row = [(c, match_key(value)) for c, value in enumerate(grid.rows[r]) if value != ""]  # empty cells name nothing
        for key, label in labels.items():
            for c, text in row:
                if not label or not text.startswith(label):
                    continue
                rest = text[len(label):].lstrip(":：")  # "联系人：王刚" typed into the label cell
                cell = cell_name(r + 1, c + 1 if rest else c + 2)
                if not rest:
                    for c2 in range(c + 1, grid.width):
                        candidate = cell_text(grid.value(r, c2)).strip()
                        if any(match_key(candidate).startswith(x) for x in labels.values() if x):
                            break
                        if candidate:
                            rest, cell = candidate, cell_name(r + 1, c2 + 1)
                            break
                found[key] = (rest, cell)
                break
    return found


@dataclass
class Parsed:
    """What collect and validate need of one file."""

    format: str
    kind: str
    stamp: dict[str, str] | None = None
    table: ReturnTable | None = None
    problem: Finding | None = None  # why the file cannot be used at all
    fallback: str = ""  # why calamine could not read it, when openpyxl did
    cut_short: list[tuple[str, str, int, int]] = field(default_factory=list)  # (sheet, cell, recorded, read) of .xls


def parse(data: bytes, spec: Spec, file: str, limits: Limits | None = None,
          sniffed: tuple[str, str] | None = None) -> Parsed:
    """`sniffed`: what `sniff` said of these bytes, when the caller knows it already."""
    archive = open_zip(data)  # its directory read once, for sniffing and for the limits
    with archive or contextlib.nullcontext():
        fmt, kind = sniffed or _sniff(data, archive)
        limits = limits or Limits()
        problem = check_limits(data, fmt, limits, file, archive) if fmt in SPREADSHEETS else None
    if problem is not None:
        return Parsed(fmt, kind, problem=problem)
    if fmt == "encrypted":
        return Parsed(fmt, kind, problem=findings.make("file-password", file=file))
    if fmt in ("other", "broken"):
        code = "file-unreadable" if fmt == "broken" else "file-not-spreadsheet"
        return Parsed(fmt, kind, problem=findings.make(code, kind=kind, reason=kind, file=file))
    fallback = ""
    try:
        grids = read_grids(data)
    except Exception as exc:  # calamine raises many kinds for broken or hostile files
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        code = "file-password" if "password" in reason.lower() or "encrypt" in reason.lower() else "file-unreadable"
        grids = _read_by_fallback(data) if fmt in ("xlsx", "xlsm") and code == "file-unreadable" else None
        if grids is None:
            return Parsed(fmt, kind, problem=findings.make(code, reason=reason, file=file))
        fallback = reason
    problem = check_cells(grids, limits, file)
    if problem is not None:
        return Parsed(fmt, kind, problem=problem)
    parsed = Parsed(fmt, kind, stamp=read_stamp(grids), table=find_table(grids, spec), fallback=fallback,
                    cut_short=_cut_short(data, grids) if fmt == "xls" else [])
    if parsed.table is None:
        parsed.problem = findings.make("file-no-table", labels="”“".join(c.label for c in spec.columns[:4]),
                                       file=file)
    elif fmt in ("xlsx", "xlsm"):
        _find_formulas(data, parsed.table, spec)
    return parsed


SPREADSHEETS = ("xlsx", "xlsm", "xlsb", "ods", "xls")


def _cut_short(data: bytes, grids: list[Grid]) -> list[tuple[str, str, int, int]]:
    """The cells of a legacy .xls whose text was read shorter than the file records it: (sheet, cell, recorded, read)."""
    try:
        recorded = biff.recorded_lengths(data)
    except (biff.BiffError, struct.error, UnicodeDecodeError):  # not plain BIFF8: nothing to compare with
        return []
    found = []
    for grid in grids:
        for (r, c), length in sorted(recorded.get(grid.name, {}).items()):
            value = grid.value(r, c)
            if isinstance(value, str) and len(value) < length:
                found.append((grid.name, cell_name(r + 1, c + 1), length, len(value)))
    return found


_FORMULA_OR_ERROR = re.compile(rb'<(?:\w+:)?f[ >]|\st="e"')  # a cell's <f> (not <formula>), an error value


def _has_formulas(data: bytes) -> bool:
    """Whether any sheet of an .xlsx holds a formula or an error value: most returns hold none, and then openpyxl
    need not be asked about their empty cells."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(_FORMULA_OR_ERROR.search(archive.read(name)) for name in archive.namelist()
                       if name.startswith("xl/worksheets/") and name.endswith(".xml"))
    except ZIP_ERRORS:
        return False


def _read_by_fallback(data: bytes) -> list[Grid] | None:
    """The workbook read by openpyxl when calamine refused it (its limits already checked); None if it fails too."""
    try:
        return read_grids_openpyxl(data)
    except Exception:  # openpyxl's errors for a file that is broken after all
        return None


def _find_formulas(data: bytes, table: ReturnTable, spec: Spec) -> None:
    """The units' cells that read empty or as an error value but hold a formula or an error: noted on their rows.

    calamine reads a formula without a cached value, and an error value (#N/A), as an empty cell: openpyxl is
    asked about those cells only, so a return without them costs nothing more.
    """
    suspects = {row.cells[col.key]: (row, col.key) for row in table.rows for col in spec.filled
                if col.key in row.cells and (not row.values.get(col.key, "").strip()
                                             or row.values[col.key].strip() in EXCEL_ERRORS)}
    if not suspects or not _has_formulas(data):
        return
    try:
        found = formula_cells(data, table.sheet, set(suspects))
    except Exception:  # a workbook openpyxl cannot open: the cells stay as calamine read them
        return
    for ref, formula in found.items():
        row, key = suspects[ref]
        row.formulas[key] = formula
