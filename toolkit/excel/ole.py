"""The size of a legacy workbook (.xls, WPS .et: BIFF8 records in an OLE compound file), read before it is parsed.

A reader lays a sheet out from its first to its last cell, so one cell far down and right makes it allocate
millions of empty ones: `extent` finds each sheet's rows and cells from the cell records' positions, walking
the OLE structure by hand (what the format's specification, [MS-CFB], says), without building anything.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
END_OF_CHAIN = 0xFFFFFFFE
WORKBOOK_STREAMS = ("workbook", "book")  # BIFF8, BIFF5
BOF, EOF = 0x0809, 0x000A
# Records that place a cell (row and column are their first two fields); MULRK and MULBLANK end with their last column.
CELL_RECORDS = {0x0006, 0x00FD, 0x0203, 0x0204, 0x0205, 0x027E, 0x00D6, 0x0201, 0x00BD, 0x00BE}
MULTIPLE = {0x00BD, 0x00BE}


class OleError(ValueError):
    """The bytes are not a compound file this module can walk."""


def extent(data: bytes) -> list[tuple[int, int]]:
    """(rows, cells from the first row and column to the last) of each sheet of the workbook stream."""
    sheets: list[tuple[int, int]] = []
    last_row = last_col = -1
    depth = 0
    for kind, body in _records(workbook_stream(data)):
        if kind == BOF:
            depth += 1
            last_row = last_col = -1
        elif kind == EOF:
            if depth == 1 or last_row >= 0:
                sheets.append((last_row + 1, (last_row + 1) * (last_col + 1)))
            depth = max(depth - 1, 0)
        elif kind in CELL_RECORDS and len(body) >= 4:
            row, col = struct.unpack_from("<HH", body)
            if kind in MULTIPLE and len(body) >= 6:
                col = max(col, struct.unpack_from("<H", body, len(body) - 2)[0])
            last_row, last_col = max(last_row, row), max(last_col, col)
    return sheets


def _records(stream: bytes) -> Iterator[tuple[int, bytes]]:
    offset = 0
    while offset + 4 <= len(stream):
        kind, size = struct.unpack_from("<HH", stream, offset)
        yield kind, stream[offset + 4:offset + 4 + size]
        offset += 4 + size


def workbook_stream(data: bytes) -> bytes:
    """The bytes of the Workbook (or Book) stream; OleError when the file holds none a reader could use."""
    if not data.startswith(MAGIC) or len(data) < 512:
        raise OleError("不是 OLE 复合文件")
    shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
    if shift not in (9, 12) or mini_shift != 6:
        raise OleError("OLE 文件头无效")
    size = 1 << shift
    fat_count, directory, _, cutoff, mini_fat, mini_fat_count, difat, difat_count = \
        struct.unpack_from("<8I", data, 0x2C)

    def sector(n: int) -> bytes:
        start = (n + 1) * size
        if start + size > len(data) + size:  # the last sector may be cut short
            raise OleError("OLE 扇区超出文件末尾")
        return data[start:start + size]

    fat_sectors = list(struct.unpack_from("<109I", data, 0x4C))
    for _ in range(difat_count):
        if difat >= END_OF_CHAIN:
            break
        entries = struct.unpack(f"<{size // 4}I", sector(difat))
        fat_sectors += entries[:-1]
        difat = entries[-1]
    fat: list[int] = []
    for n in fat_sectors[:fat_count]:
        fat += struct.unpack(f"<{size // 4}I", sector(n))

    def chain(start: int, table: list[int]) -> Iterator[int]:
        seen = 0
        while start < END_OF_CHAIN - 4 and seen <= len(table):  # a loop in the table ends here
            yield start
            if start >= len(table):
                raise OleError("OLE 扇区链无效")
            start, seen = table[start], seen + 1

    entries = b"".join(sector(n) for n in chain(directory, fat))
    root_start, root_size, found = 0, 0, None
    for offset in range(0, len(entries) - 127, 128):
        name_bytes = struct.unpack_from("<H", entries, offset + 0x40)[0]
        name = entries[offset:offset + max(name_bytes - 2, 0)].decode("utf-16-le", "replace").lower()
        kind = entries[offset + 0x42]
        start, length = struct.unpack_from("<II", entries, offset + 0x74)
        if kind == 5:
            root_start, root_size = start, length
        elif kind == 2 and name in WORKBOOK_STREAMS and found is None:
            found = (start, length)
    if found is None:
        raise OleError("OLE 文件中没有工作簿数据流")
    start, length = found
    if length >= cutoff:
        return b"".join(sector(n) for n in chain(start, fat))[:length]
    mini_table: list[int] = []
    for n in chain(mini_fat, fat) if mini_fat_count else ():
        mini_table += struct.unpack(f"<{size // 4}I", sector(n))
    mini_stream = b"".join(sector(n) for n in chain(root_start, fat))[:root_size]
    mini = 1 << mini_shift
    return b"".join(mini_stream[n * mini:(n + 1) * mini] for n in chain(start, mini_table))[:length]
