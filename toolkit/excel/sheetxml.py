"""The summary's item rows as sheet XML, rendered and deflated in parts beside xlsxwriter, in worker processes.

At province scale (20,000 items) xlsxwriter's per-cell Python and its single-threaded deflate were most
of `toolkit merge`. So xlsxwriter writes the summary without the item rows' cells (title, header, group
subtitles, footnote, the other sheets, styles, print setup: everything else, as before), and this module

1. renders the item rows as `<row>` XML: each text an inline string escaped as xlsxwriter escapes its
   strings, each row's height by the summary's rule (layout.line_count, lines_points) stored as
   xlsxwriter's set_row stores it;
2. deflates them in parts of ROWS_PER_PART rows, each a raw deflate stream ended by a sync flush, so that
   the parts and xlsxwriter's own XML around them concatenate into one stream (as pigz does). Parts are
   cut by row count and at subtitle rows, never by the number of workers: any number writes the same bytes;
3. writes the .xlsx itself: xlsxwriter's members copied as they are, its first sheet with the parts
   spliced in between its rows (rows stay in ascending order) and its dimension widened over them.

Workers get the rows when they start (inherited under fork, pickled for each under spawn): module-level
functions and plain data, so that Windows' spawn works too.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import multiprocessing
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from xlsxwriter.utility import xl_col_to_name

from toolkit.excel.layout import (
    MAX_CELL_TEXT,
    WIDE_BMP,
    escaped_text,
    line_count,
    lines_points,
    per_line,
    wide_line_count,
)
from toolkit.model.parallel import worker_count
from toolkit.store.files import OutputError

SHEET = "xl/worksheets/sheet1.xml"  # the summary table: the workbook's first sheet
LEVEL = 6  # zlib's default, which xlsxwriter's zipfile uses: the same file size as before
ROWS_PER_PART = 1000  # rendered and deflated together: one task for a worker, about 2 MB of XML
# Automatic jobs: the rows a worker must get to pay for its start. 5,000 rows take about 0.3 s; a forked
# worker (Linux) costs a few milliseconds, one started otherwise (spawn: Windows, macOS) starts Python,
# imports the toolkit and unpickles its rows: about a second, as much as 20,000 rows take.
ROWS_PER_FORKED_WORKER = 5000
ROWS_PER_SPAWNED_WORKER = 20000
DEFAULT_ROW_PIXELS = 20  # xlsxwriter writes no height for a row of the default height (15 points)
ZIP_LIMIT = 0xFFFFFFFF  # sizes and offsets of a zip without ZIP64 extensions stay below this

# Characters xlsxwriter escapes: & < >, controls, U+FFFE/U+FFFF, and "_", which may begin an _xHHHH_ escape.
_ESCAPED = re.compile("[&<>_\\x00-\\x08\\x0b-\\x1f\\ufffe\\uffff]")
# Written as it is and measured by its bytes: none of those and, besides ASCII, only wide BMP characters.
_AS_IS = re.compile(f"[^\\t\\n\\x20-\\x25\\x27-\\x3b=\\x3f-\\x5e\\x60-\\x7f{WIDE_BMP}]")
_ROW = re.compile(rb'<row r="(\d+)"')
_DIMENSION = re.compile(rb'<dimension ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"/>')


def supported() -> bool:
    """Whether xlsxwriter tells a format's style index (Format._get_xf_index, private but long stable)."""
    from xlsxwriter.format import Format

    return callable(getattr(Format, "_get_xf_index", None))


def style_index(cell_format: Any) -> int:
    """The xf index of an xlsxwriter format, registering it so that styles.xml holds it."""
    return int(cell_format._get_xf_index())


@dataclass(frozen=True)
class ItemRows:
    """The item rows of the summary's first sheet: what rendering needs, picklable for the workers."""

    keys: tuple[str, ...]  # column keys, left to right
    widths: tuple[float, ...]  # column widths
    styles: tuple[tuple[int, ...], tuple[int, ...]]  # xf index of each column: as written, in a marked row
    font_pt: float
    line_spacing: float
    values: list[dict[str, str]]  # each item's text by column key, in sheet order
    marked: list[bool]  # each item's row is marked (missing / unverified)
    runs: tuple[tuple[int, int, int], ...]  # (sheet row of the first, first item, end item) between subtitle rows

    def last_row(self) -> int:
        """The sheet row (0-based) of the last item; -1 without items."""
        return max((row + end - start - 1 for row, start, end in self.runs), default=-1)


class Deflated(NamedTuple):
    data: bytes  # raw deflate ended by a sync flush, or, the last piece of a member, finished
    crc: int
    size: int  # uncompressed bytes


Segment = tuple[int, int, int, int]  # (run, sheet row of the first, first item, end item)


def deflate(xml: bytes, *, last: bool = False) -> Deflated:
    packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return Deflated(packer.compress(xml) + packer.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH),
                    zlib.crc32(xml), len(xml))


# --- rendering -----------------------------------------------------------------------------------------------

def render(items: ItemRows, row: int, start: int, end: int) -> bytes:
    """The <row> XML of items[start:end], the first on sheet row `row` (0-based).

    The pieces go into one flat list joined once; a row's start tag is filled in after its cells,
    when its height is known.
    """
    font_pt = items.font_pt
    columns = [(b'<c r="' + xl_col_to_name(c).encode(), key, width, per_line(width, font_pt))
               for c, (key, width) in enumerate(zip(items.keys, items.widths, strict=True))]
    # After each cell's reference, by style: a blank cell, a text, a text keeping its outer whitespace.
    after = [[(b'" s="%d"/>' % xf, b'" s="%d" t="inlineStr"><is><t>' % xf,
               b'" s="%d" t="inlineStr"><is><t xml:space="preserve">' % xf) for xf in xfs] for xfs in items.styles]
    spans = b"1:%d" % len(columns)
    heights: dict[int, bytes] = {}
    out: list[bytes] = []
    for number, index in enumerate(range(start, end), start=row + 1):
        values = items.values[index]
        at = len(out)
        out.append(b"")  # the row's start tag
        reference = b"%d" % number
        lines = 1
        for (name, key, width, fits), (blank, text_tag, kept_tag) in zip(columns, after[items.marked[index]],
                                                                       strict=True):
            text = values[key]
            if not text:  # a blank cell keeping its format
                out += (name, reference, blank)
                continue
            if len(text) <= MAX_CELL_TEXT // 2 and _AS_IS.search(text) is None:
                utf8 = text.encode()
                count = wide_line_count(text, utf8, fits)
                keep = text[0].isspace() or text[-1].isspace()
            else:
                count = line_count(text, width, font_pt)
                if len(text) > MAX_CELL_TEXT // 2 or _ESCAPED.search(text):
                    escaped, keep = escaped_text(_truncated(text))
                    utf8 = escaped.encode()
                else:
                    utf8 = text.encode()
                    keep = text[0].isspace() or text[-1].isspace()
            if count > lines:
                lines = count
            out += (name, reference, kept_tag if keep else text_tag, utf8, b"</t></is></c>")
        if lines not in heights:
            heights[lines] = _height(lines_points(lines, font_pt, items.line_spacing))
        out[at] = b'<row r="%d" spans="%s"%s>' % (number, spans, heights[lines])
        out.append(b"</row>")
    return b"".join(out)


def _height(points: float) -> bytes:
    """A row's height attributes as xlsxwriter's set_row writes them (whole pixels, none for the default)."""
    pixels = int(points * 4.0 / 3.0 + 0.5)
    return b"" if pixels == DEFAULT_ROW_PIXELS else f' ht="{pixels * 0.75:.16g}" customHeight="1"'.encode()


def _truncated(text: str) -> str:
    """The text cut at Excel's limit as xlsxwriter cuts it (never inside a character beyond the BMP)."""
    if len(text) <= MAX_CELL_TEXT // 2:
        return text
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > MAX_CELL_TEXT:
            return text[:index]
    return text


# --- parts, in this process or in workers ----------------------------------------------------------------------

def _tasks(items: ItemRows) -> list[list[Segment]]:
    """The items in tasks of ROWS_PER_PART, each a list of segments: a task is cut where subtitle rows come."""
    out: list[list[Segment]] = []
    chunk = -1
    for run, (row, start, end) in enumerate(items.runs):
        at = start
        while at < end:
            stop = min(end, (at // ROWS_PER_PART + 1) * ROWS_PER_PART)
            if at // ROWS_PER_PART != chunk:
                chunk = at // ROWS_PER_PART
                out.append([])
            out[-1].append((run, row + at - start, at, stop))
            at = stop
    return out


def _deflate_task(items: ItemRows, task: list[Segment]) -> list[tuple[int, Deflated]]:
    """A task's segments rendered and deflated, each on its own (a segment ends where a subtitle row comes)."""
    return [(run, deflate(render(items, row, start, end))) for run, row, start, end in task]


_worker_items: ItemRows | None = None


def _start_worker(items: ItemRows) -> None:
    global _worker_items
    _worker_items = items


def _deflate_in_worker(task: list[Segment]) -> list[tuple[int, Deflated]]:
    assert _worker_items is not None
    return _deflate_task(_worker_items, task)


@contextlib.contextmanager
def deflated_rows(items: ItemRows, jobs: int) -> Iterator[Iterator[tuple[int, Deflated]]]:
    """The item rows' parts, deflated, in order, each with its run.

    With more than one worker the workers start at once, so that the caller can meanwhile let xlsxwriter
    write the rest of the workbook; with one, the parts are rendered here as they are asked for.
    """
    work = _tasks(items)
    forked = multiprocessing.get_start_method() == "fork"
    per_worker = ROWS_PER_FORKED_WORKER if forked else ROWS_PER_SPAWNED_WORKER
    workers = min(worker_count(jobs, len(items.values), per_worker), len(work))
    if workers <= 1:
        yield (part for task in work for part in _deflate_task(items, task))
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_start_worker, initargs=(items,)) as pool:
        yield (part for parts in pool.map(_deflate_in_worker, work) for part in parts)


# --- the workbook ----------------------------------------------------------------------------------------------

def write_xlsx(target: Path, book: bytes, items: ItemRows, parts: Iterable[tuple[int, Deflated]]) -> None:
    """`book` (xlsxwriter's workbook without the item rows) with the item rows in its first sheet, as `target`."""
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        infos = archive.infolist()
        sheet = _spliced(archive.read(SHEET), items, parts)
    members = [(info, sheet if info.filename == SHEET else
                Deflated(_stored_data(book, info), info.CRC, info.file_size)) for info in infos]
    _write_zip(target, members)


def _spliced(xml: bytes, items: ItemRows, parts: Iterable[tuple[int, Deflated]]) -> Deflated:
    """xlsxwriter's sheet XML with each run of item rows before the first of its rows below the run."""
    xml = _widened(xml, items)
    numbers, places = [], []
    for match in _ROW.finditer(xml):
        numbers.append(int(match[1]))
        places.append(match.start())
    end = xml.index(b"</sheetData>")
    cuts = []
    for row, start, stop in items.runs:
        at = bisect.bisect_left(numbers, row + 1)
        if at < len(numbers) and numbers[at] <= row + stop - start:
            raise RuntimeError(f"xlsxwriter wrote row {numbers[at]} among the item rows")
        cuts.append(places[at] if at < len(places) else end)
    pieces: list[Deflated] = []
    written, done = 0, 0
    for run, part in parts:
        while done <= run:  # xlsxwriter's rows above this run
            pieces.append(deflate(xml[written:cuts[done]]))
            written, done = cuts[done], done + 1
        pieces.append(part)
    pieces.append(deflate(xml[written:], last=True))
    crc = 0
    for piece in pieces:
        crc = crc32_combine(crc, piece.crc, piece.size)
    return Deflated(b"".join(p.data for p in pieces), crc, sum(p.size for p in pieces))


def _widened(xml: bytes, items: ItemRows) -> bytes:
    """The sheet's dimension reaching the last item row too (xlsxwriter saw only its own rows)."""
    match = _DIMENSION.search(xml)
    if match is None:
        raise RuntimeError("xlsxwriter's sheet has no dimension")
    last_column, last_row = match[3] or match[1], int(match[4] or match[2])
    if items.last_row() + 1 <= last_row:
        return xml
    ref = b"%s%s:%s%d" % (match[1], match[2], last_column, items.last_row() + 1)
    return xml[:match.start()] + b'<dimension ref="%s"/>' % ref + xml[match.end():]


def _stored_data(book: bytes, info: zipfile.ZipInfo) -> bytes:
    """A member's compressed bytes as they are in the zip (its local header says where they start)."""
    at = info.header_offset
    if book[at:at + 4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for {info.filename}")
    name_length, extra_length = struct.unpack_from("<HH", book, at + 26)
    start = at + 30 + name_length + extra_length
    return book[start:start + info.compress_size]


def _write_zip(target: Path, members: list[tuple[zipfile.ZipInfo, Deflated]]) -> None:
    """A zip of deflated members (no ZIP64: refused clearly from 4 GB on, far beyond any summary)."""
    central = []
    offset = 0
    with target.open("wb") as out:
        for info, member in members:
            name = info.filename.encode("utf-8")
            flags = (info.flag_bits & ~0x08) | (0 if name.isascii() else 0x800)  # sizes are in the header
            year, month, day, hour, minute, second = info.date_time
            stamp = (hour << 11 | minute << 5 | second // 2, (year - 1980) << 9 | month << 5 | day)
            if max(offset, len(member.data), member.size) >= ZIP_LIMIT:
                raise OutputError(f"汇总表超过 4 GB，无法写成 .xlsx 文件：{target.name}。")
            fields = (info.extract_version, flags, info.compress_type, *stamp, member.crc, len(member.data),
                      member.size, len(name))
            out.write(struct.pack("<4sH2H2H3L2H", b"PK\x03\x04", *fields, 0) + name)
            out.write(member.data)
            central.append(struct.pack("<4s2B5H3L5H2L", b"PK\x01\x02", info.create_version, info.create_system,
                                       *fields, 0, 0, 0, info.internal_attr, info.external_attr, offset) + name)
            offset += 30 + len(name) + len(member.data)
        directory = b"".join(central)
        if offset + len(directory) >= ZIP_LIMIT:
            raise OutputError(f"汇总表超过 4 GB，无法写成 .xlsx 文件：{target.name}。")
        out.write(directory)
        out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory),
                              offset, 0))


# --- CRC-32 of concatenated pieces -----------------------------------------------------------------------------

_POLY = 0xEDB88320  # CRC-32, reflected


def _multiply(a: int, b: int) -> int:
    """a × b modulo the CRC polynomial (zlib's multmodp); `a` is never 0 here."""
    m, product = 1 << 31, 0
    while True:
        if a & m:
            product ^= b
            if a & (m - 1) == 0:
                return product
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1


def _powers() -> list[int]:
    """x^(2^n) modulo the polynomial, n = 0..31 (zlib's x2n_table)."""
    power = 1 << 30  # x^1
    table = [power]
    for _ in range(31):
        power = _multiply(power, power)
        table.append(power)
    return table


_X2N = _powers()


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from the CRC-32s of A and B and B's length, as zlib's crc32_combine."""
    power, k = 1 << 31, 3  # x^(8 × length2): a byte is 2^3 bits
    while length2:
        if length2 & 1:
            power = _multiply(_X2N[k & 31], power)
        length2 >>= 1
        k += 1
    return _multiply(power, crc1) ^ crc2

