"""Reading one returned workbook: its format (from the bytes), its stamp, its table and its contact.

Pure functions of the file's bytes: collect uses them to identify a return, validate to check it.
Nothing here trusts positions: the header is found by the spec's labels, items by their 序号.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from toolkit.excel.sheets import Grid, Header, find_header, read_grids
from toolkit.excel.targetlist import is_footnote, normalise_seq
from toolkit.model import findings, stamp
from toolkit.model.findings import Finding, cell_name
from toolkit.model.spec import Spec
from toolkit.model.text import cell_text, match_key

# What reading a damaged or hostile zip raises (zipfile, struct and zlib underneath it).
ZIP_ERRORS = (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError, EOFError, struct.error,
              zlib.error)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Limits:
    """What a return may be, checked before it is parsed (a returned workbook is untrusted input)."""

    file_mb: float = 20
    uncompressed_mb: float = 200
    rows: int = 20000
    cell_chars: int = 32767  # Excel's own limit for a cell

    @classmethod
    def from_config(cls, table: dict[str, Any]) -> Limits:
        allowed = set(cls.__dataclass_fields__)
        unknown = set(table) - allowed
        if unknown:
            raise ValueError(f"limits 中没有 {'、'.join(sorted(unknown))} 这一项：可用 {'、'.join(sorted(allowed))}")
        return cls(**{k: type(getattr(cls, k))(v) for k, v in table.items()})


def check_limits(data: bytes, fmt: str, limits: Limits, file: str,
                 archive: Archive | None = None) -> Finding | None:
    """Size, uncompressed size, rows and XML entities, without building the workbook.

    The readers (calamine, openpyxl) stop at a member's declared size, so declared sizes bound the
    work: their sum is the uncompressed size, a part too small to hold `limits.rows` rows is not
    counted, and entities can only be declared in a DOCTYPE before the root element.
    """
    size_mb = len(data) / 1048576
    if size_mb > limits.file_mb:
        return findings.make("limit-file-size", size_mb=f"{size_mb:.1f}", limit_mb=f"{limits.file_mb:g}", file=file)
    if fmt not in ("xlsx", "xlsm", "ods"):
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
                entities, rows = _scan_part(archive, data, info, whole=may_hold_rows or fmt == "ods",
                                            count_rows=may_hold_rows)
                if entities:
                    return findings.make("file-xml-entities", file=file)
                if rows > limits.rows:
                    return findings.make("limit-rows", sheet="", rows=rows, limit=limits.rows, file=file)
    except ZIP_ERRORS as exc:  # struct.error: e.g. a member said to start beyond the end of the file
        return findings.make("file-unreadable", reason=str(exc) or type(exc).__name__, file=file)
    return None


def _scan_part(archive: Archive, data: bytes, info: Member, whole: bool,
               count_rows: bool) -> tuple[bool, int]:
    """(whether the part declares entities, how many rows it holds when counted).

    A small part met before, byte for byte, is not inflated again: the program that saved a return
    writes the same theme, styles and relationships into every workbook it saves.
    """
    key = None
    if info.compress_size <= SEEN_PART_BYTES and info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) \
            and not info.flag_bits & 1:
        start = _data_start(data, info)
        key = (info.compress_type, info.file_size, whole, count_rows, data[start:start + info.compress_size])
        if (seen := _SEEN_PARTS.get(key)) is not None:
            return seen
    xml = _member_bytes(archive, data, info, whole)
    scanned = (b"<!DOCTYPE" in xml or b"<!ENTITY" in xml,
               xml.count(b"<row") + xml.count(b"<table:table-row") if count_rows else 0)
    if key is not None:
        if len(_SEEN_PARTS) >= SEEN_PARTS:
            _SEEN_PARTS.clear()
        _SEEN_PARTS[key] = scanned
    return scanned


SEEN_PART_BYTES = 4096  # parts compressed to at most this size are remembered…
SEEN_PARTS = 512  # …this many of them, in each process
_SEEN_PARTS: dict[tuple[int, int, bool, bool, bytes], tuple[bool, int]] = {}
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, then the name's and the extra field's lengths
_ROOT_ELEMENT = re.compile(rb"<[A-Za-z_]")  # the first start tag: no DOCTYPE may come after it
HEAD = 4096
FIRST_STEP = 256


def _data_start(data: bytes, info: Member) -> int:
    """Where a part's compressed bytes start, after its local header."""
    signature, name_len, extra_len = _LOCAL_HEADER.unpack_from(data, info.header_offset)
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{info.filename}：本地文件头损坏")
    return info.header_offset + _LOCAL_HEADER.size + name_len + extra_len


def _member_bytes(archive: Archive, data: bytes, info: Member, whole: bool) -> bytes:
    """A part's bytes, or (not `whole`) its head up to the root element, never beyond its declared size;
    a part read whole that holds more than it declares is refused as broken.

    Inflated straight from the archive: zipfile's reader costs more than the inflating.
    """
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or info.flag_bits & 1:
        assert isinstance(archive, zipfile.ZipFile) and isinstance(info, zipfile.ZipInfo)  # ZipDirectory holds none
        return archive.read(info)  # other methods, encrypted: zipfile reads them or says why not
    start = _data_start(data, info)
    raw = memoryview(data)[start:start + info.compress_size]
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    if whole:
        xml = bytes(raw) if info.compress_type == zipfile.ZIP_STORED else inflater.decompress(raw, info.file_size + 1)
        if len(xml) > info.file_size:
            raise zipfile.BadZipFile(f"{info.filename}：内容大于其声明的大小")
        return xml
    if info.compress_type == zipfile.ZIP_STORED:
        return bytes(raw[:info.file_size])
    # A small first step: the root element is usually within the first hundred bytes.
    step = FIRST_STEP
    head = inflater.decompress(raw, min(step, info.file_size))
    while not _ROOT_ELEMENT.search(head) and not inflater.eof and len(head) < info.file_size:
        step = min(step * 4, HEAD)
        more = inflater.decompress(inflater.unconsumed_tail, min(step, info.file_size - len(head)))
        if not more:
            break
        head += more
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


def open_zip(data: bytes) -> Archive | None:
    """The bytes as a zip (its directory read), or None: not a zip, or too damaged to read one."""
    if not (data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06")):
        return None
    try:
        return ZipDirectory.parse(data) or zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS:
        return None


class ZipPart(NamedTuple):
    """What sniffing and the limits need of a zip member (named as zipfile.ZipInfo names them)."""

    filename: str
    flag_bits: int
    compress_type: int
    compress_size: int
    file_size: int
    header_offset: int


class ZipDirectory:
    """A plain zip's members, as zipfile would list them, read straight from its central directory.

    zipfile builds a ZipInfo of twenty fields per member (a tenth of reading a return's cells): for a
    zip as office programs save it (one disk, no zip64, no comment, nothing before or after, stored or
    deflated members, no encryption) this reads the six needed. Anything else is left to zipfile.
    """

    def __init__(self, parts: list[ZipPart]) -> None:
        self.parts = parts

    @classmethod
    def parse(cls, data: bytes) -> ZipDirectory | None:
        """The directory of `data`, or None: a zip to leave to zipfile (named apart from zipfile's read(member))."""
        end = len(data) - _END.size
        if end < 0:
            return None
        signature, disk, cd_disk, on_disk, count, cd_size, cd_start, comment = _END.unpack_from(data, end)
        if signature != b"PK\x05\x06" or disk or cd_disk or on_disk != count or comment or \
                cd_start + cd_size != end or data[end - 20:end - 16] == b"PK\x06\x07":
            return None  # a comment, several disks, bytes before or after, zip64: zipfile's way
        parts, at = [], cd_start
        for _ in range(count):
            if at + _ENTRY.size > end:
                return None
            signature, version, flags, method, packed, size, name_len, extra_len, comment_len, offset = \
                _ENTRY.unpack_from(data, at)
            if signature != b"PK\x01\x02" or version > zipfile.MAX_EXTRACT_VERSION or flags & 1 or extra_len \
                    or method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or 0xFFFFFFFF in (packed, size, offset):
                return None  # encrypted, compressed otherwise, extra fields (zip64 among them): zipfile's way
            raw = data[at + _ENTRY.size:at + _ENTRY.size + name_len]
            name = raw.decode("ascii" if raw.isascii() else "utf-8" if flags & 0x800 else "cp437")
            if "\0" in name or name == "mimetype" or (os.sep != "/" and os.sep in name):
                return None  # as zipfile would cut or turn them; an ODS's mimetype is read by zipfile
            parts.append(ZipPart(name, flags, method, packed, size, offset))
            at += _ENTRY.size + name_len + extra_len + comment_len
        return cls(parts) if at == end else None

    def infolist(self) -> list[ZipPart]:
        return self.parts

    def namelist(self) -> list[str]:
        return [part.filename for part in self.parts]

    def __enter__(self) -> ZipDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


Archive = ZipDirectory | zipfile.ZipFile
Member = ZipPart | zipfile.ZipInfo
_END = struct.Struct("<4s4H2LH")  # end of central directory: disks, entries, size, start, comment length
# A central directory entry: version needed, flags, method, sizes, name/extra/comment lengths, local header offset.
_ENTRY = struct.Struct("<4s2xBxHH8xLLHHH8xL")


def _sniff(data: bytes, archive: Archive | None) -> tuple[str, str]:
    """sniff, given what open_zip made of the bytes (read once for sniffing and for the limits)."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        if archive is None:
            return "broken", "损坏的压缩包"
        names = set(archive.namelist())
        try:
            mimetype = archive.read("mimetype").decode("ascii", "replace") if "mimetype" in names else ""
        except ZIP_ERRORS:
            return "broken", "损坏的压缩包"
        if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
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


class RowCells(Mapping[str, str]):
    """A row's cell names by column key, named only when asked (most cells never get a finding)."""

    def __init__(self, row: int, columns: dict[str, int]) -> None:
        self.row, self.columns = row, columns

    def __getitem__(self, key: str) -> str:
        return cell_name(self.row, self.columns[key] + 1)

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)


@dataclass
class ItemRow:
    """One item's row in a return: values by column key (as text), and where each cell is."""

    seq: str
    row: int  # 1-based
    values: dict[str, str]
    cells: Mapping[str, str]
    raw: dict[str, Any] = field(default_factory=dict)


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
    columns = list(header.columns.items())
    last_column = max(header.columns.values(), default=-1)
    rows: list[ItemRow] = []
    for r in range(header.last_row + 1, grid.height):
        line = grid.rows[r]
        if len(line) > last_column:  # calamine's rows are all as wide as the sheet
            texts = {key: None if (value := line[c]) == "" else value for key, c in columns}
        else:
            texts = {key: line[c] if c < len(line) and line[c] != "" else None for key, c in columns}
        first = texts[id_key]
        seq = normalise_seq(first)
        if (seq if seq is first else match_key(first)) in spec.header_keys:
            break  # a second table
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
        values = {k: v if type(v) is str else cell_text(v) for k, v in texts.items()}
        rows.append(ItemRow(seq=seq, row=r + 1, values=values,
                            cells=RowCells(r + 1, header.columns), raw=texts))
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


def parse(data: bytes, spec: Spec, file: str, limits: Limits | None = None,
          sniffed: tuple[str, str] | None = None) -> Parsed:
    """`sniffed`: what `sniff` said of these bytes, when the caller knows it already."""
    archive = open_zip(data)  # its directory read once, for sniffing and for the limits
    with archive or contextlib.nullcontext():
        fmt, kind = sniffed or _sniff(data, archive)
        limits = limits or Limits()
        problem = check_limits(data, fmt, limits, file, archive) if fmt in ("xlsx", "xlsm", "ods", "xls") else None
    if problem is not None:
        return Parsed(fmt, kind, problem=problem)
    if fmt == "encrypted":
        return Parsed(fmt, kind, problem=findings.make("file-password", file=file))
    if fmt in ("other", "broken"):
        code = "file-unreadable" if fmt == "broken" else "file-not-spreadsheet"
        return Parsed(fmt, kind, problem=findings.make(code, kind=kind, reason=kind, file=file))
    try:
        grids = read_grids(data)
    except Exception as exc:  # calamine raises many kinds for broken or hostile files
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        code = "file-password" if "password" in reason.lower() or "encrypt" in reason.lower() else "file-unreadable"
        return Parsed(fmt, kind, problem=findings.make(code, reason=reason, file=file))
    problem = check_cells(grids, limits, file)
    if problem is not None:
        return Parsed(fmt, kind, problem=problem)
    parsed = Parsed(fmt, kind, stamp=read_stamp(grids), table=find_table(grids, spec))
    if parsed.table is None:
        parsed.problem = findings.make("file-no-table", labels="”“".join(c.label for c in spec.columns[:4]),
                                       file=file)
    return parsed


def excel_date(serial: float) -> str:
    """An Excel serial number as the date it stands for (1900 date system)."""
    try:
        return (dt.date(1899, 12, 30) + dt.timedelta(days=int(serial))).isoformat()
    except (OverflowError, ValueError):
        return ""
