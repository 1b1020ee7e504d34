"""What a legacy .xls (BIFF8) records of its cells, read from its bytes without building the workbook.

Some writers store long rich text in ways a reader may read only in part; the file itself records each
string's length in characters (its shared-string table), so a cell read shorter than that was cut. This
reads only those lengths and where each string is used: the compound file's FAT chain of the Workbook
stream, the SST with its CONTINUE records, and each sheet's LABELSST cells.

A reader lays a sheet out from its first cell to its last, so one cell far down and right makes it allocate
millions of empty ones: `extent` reads each sheet's rows and cells from its cell records' positions first.
"""

from __future__ import annotations

import struct

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
END_OF_CHAIN = 0xFFFFFFFE
SST, CONTINUE, BOUNDSHEET, LABELSST, BOF, EOF = 0x00FC, 0x003C, 0x0085, 0x00FD, 0x0809, 0x000A
# Records that place a cell (row and column are their first two fields); MULRK and MULBLANK end with their last column.
CELL_RECORDS = {0x0006, 0x00FD, 0x0203, 0x0204, 0x0205, 0x027E, 0x00D6, 0x0201, 0x00BD, 0x00BE}
MULTIPLE = {0x00BD, 0x00BE}


class BiffError(ValueError):
    """The file is not the compound file or BIFF8 stream it claims to be."""


def recorded_lengths(data: bytes) -> dict[str, dict[tuple[int, int], int]]:
    """{sheet name: {(row, col) 0-based: characters its text has in the file}} for the cells of shared strings."""
    stream = _workbook_stream(data)
    records = list(_records(stream))
    lengths = _sst_lengths(records)
    sheets = dict(_sheet_of(body) for _, kind, body in records if kind == BOUNDSHEET)
    out: dict[str, dict[tuple[int, int], int]] = {}
    current = None
    for offset, kind, body in records:
        if kind == BOF:
            current = sheets.get(offset)
        elif kind == LABELSST and current is not None and len(body) >= 10:
            row, col, _, index = struct.unpack_from("<HHHI", body)
            if index < len(lengths):
                out.setdefault(current, {})[(row, col)] = lengths[index]
    return out


def extent(data: bytes) -> list[tuple[str, int, int]]:
    """(name, rows, cells from A1 to the last row and column) of each substream: the globals (named ""), then each
    sheet, named as its BOUNDSHEET record says."""
    records = list(_records(_workbook_stream(data)))
    names = dict(_sheet_of(body) for _, kind, body in records if kind == BOUNDSHEET)
    sheets: list[tuple[str, int, int]] = []
    name, last_row, last_col = "", -1, -1
    for offset, kind, body in records:
        if kind == BOF:
            name, last_row, last_col = names.get(offset, ""), -1, -1
        elif kind == EOF:
            sheets.append((name, last_row + 1, (last_row + 1) * (last_col + 1)))
        elif kind in CELL_RECORDS and len(body) >= 4:
            row, col = struct.unpack_from("<HH", body)
            if kind in MULTIPLE and len(body) >= 6:
                col = max(col, struct.unpack_from("<H", body, len(body) - 2)[0])
            last_row, last_col = max(last_row, row), max(last_col, col)
    return sheets


def _workbook_stream(data: bytes) -> bytes:
    """The Workbook stream of a compound file, followed through the FAT (or, under 4096 bytes, the mini FAT)."""
    if not data.startswith(OLE_MAGIC) or len(data) < 512:
        raise BiffError("not a compound file")
    sector = 1 << struct.unpack_from("<H", data, 0x1E)[0]
    fat_sectors, directory_start = struct.unpack_from("<I", data, 0x2C)[0], struct.unpack_from("<I", data, 0x30)[0]
    difat_start, difat_count = struct.unpack_from("<II", data, 0x44)
    fat_ids = [i for i in struct.unpack_from("<109I", data, 0x4C) if i < END_OF_CHAIN]
    while difat_start < END_OF_CHAIN and difat_count:  # more FAT sectors listed in DIFAT sectors
        block = _sector(data, difat_start, sector)
        *ids, difat_start = struct.unpack_from(f"<{sector // 4}I", block)
        fat_ids += [i for i in ids if i < END_OF_CHAIN]
        difat_count -= 1
    fat_bytes = b"".join(_sector(data, i, sector) for i in fat_ids[:fat_sectors])
    fat = struct.unpack(f"<{len(fat_bytes) // 4}I", fat_bytes)
    directory = _chain(data, fat, directory_start, sector)
    root = (END_OF_CHAIN, 0)
    for entry in range(0, len(directory) - 127, 128):
        name_length = struct.unpack_from("<H", directory, entry + 64)[0]
        name = directory[entry:entry + max(name_length - 2, 0)].decode("utf-16-le", "replace")
        start, size = struct.unpack_from("<IQ", directory, entry + 116)
        size &= 0xFFFFFFFF
        if directory[entry + 66] == 5:  # the root entry: where the mini stream is
            root = (start, size)
        elif name in ("Workbook", "Book"):
            if size >= struct.unpack_from("<I", data, 0x38)[0]:  # at or over the mini stream cutoff (4096)
                return _chain(data, fat, start, sector)[:size]
            mini_fat_start = struct.unpack_from("<I", data, 0x3C)[0]
            mini_fat_bytes = _chain(data, fat, mini_fat_start, sector)
            mini_fat = struct.unpack(f"<{len(mini_fat_bytes) // 4}I", mini_fat_bytes)
            mini_stream = _chain(data, fat, root[0], sector)[:root[1]]
            return _chain(mini_stream, mini_fat, start, 64, header=0)[:size]
    raise BiffError("no Workbook stream")


def _sector(data: bytes, index: int, size: int, header: int = 1) -> bytes:
    """Sector `index` of `size` bytes; a compound file's sectors come after its one-sector header, the mini
    stream's (header=0) from its start."""
    start = (index + header) * size
    if start + size > len(data):
        raise BiffError("sector beyond the end of the file")
    return data[start:start + size]


def _chain(data: bytes, fat: tuple[int, ...], start: int, size: int, header: int = 1) -> bytes:
    parts, seen = [], set()
    while start < END_OF_CHAIN:
        if start in seen or start >= len(fat):
            raise BiffError("broken sector chain")
        seen.add(start)
        parts.append(_sector(data, start, size, header))
        start = fat[start]
    return b"".join(parts)


def _records(stream: bytes):
    """(offset, type, body) of each BIFF record."""
    offset = 0
    while offset + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, offset)
        yield offset, kind, stream[offset + 4:offset + 4 + length]
        offset += 4 + length


def _sheet_of(body: bytes) -> tuple[int, str]:
    """A BOUNDSHEET8 record: (where the sheet's BOF is, its name)."""
    position, _, _, length, wide = struct.unpack_from("<IBBBB", body)
    name = body[8:8 + length * (2 if wide & 1 else 1)]
    return position, name.decode("utf-16-le" if wide & 1 else "latin-1", "replace")


def _sst_lengths(records: list[tuple[int, int, bytes]]) -> list[int]:
    """The character count of each shared string, in order: the SST and the CONTINUE records right after it."""
    parts: list[bytes] = []
    for _, kind, body in records:
        if kind == SST:
            parts = [body[8:]]
        elif kind == CONTINUE and parts:
            parts.append(body)
        elif parts:
            break
    buffer, boundaries, end = b"".join(parts), set(), 0
    for part in parts[:-1]:
        end += len(part)
        boundaries.add(end)
    lengths: list[int] = []
    pos = 0
    while pos + 3 <= len(buffer):
        count, flags = struct.unpack_from("<HB", buffer, pos)
        pos += 3
        runs = extra = 0
        if flags & 0x08:
            runs = struct.unpack_from("<H", buffer, pos)[0]
            pos += 2
        if flags & 0x04:
            extra = struct.unpack_from("<I", buffer, pos)[0]
            pos += 4
        width, left = 2 if flags & 1 else 1, count
        while left:  # the characters; at a record boundary a new option byte says their width
            limit = min((b for b in boundaries if b > pos), default=len(buffer))
            here = min(left, (limit - pos) // width)
            pos += here * width
            left -= here
            if left:
                if pos >= len(buffer):
                    break
                width = 2 if buffer[pos] & 1 else 1
                pos += 1
        pos += runs * 4 + extra
        lengths.append(count)
    return lengths
