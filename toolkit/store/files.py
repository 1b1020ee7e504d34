"""Writing files atomically, with a clear word when Windows keeps a file locked (open in Excel)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


class OutputError(RuntimeError):
    """A file the toolkit must write cannot be written; the message says which and what to do."""


TEMP_PREFIX = ".~tmp-"


def _temp_beside(target: Path) -> tuple[int, Path]:
    """A new file (open for writing) beside `target`, under a name no other writer picks."""
    tmp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}{target.suffix}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileNotFoundError:  # the folder first (asked only when missing: collect archives thousands)
            target.parent.mkdir(parents=True, exist_ok=True)
            return os.open(tmp, flags, 0o666), tmp
    except OSError as exc:  # a read-only folder, a full disk, a file where the folder should be
        raise OutputError(f"无法在“{target.parent}”中写入文件：{exc.strerror or exc}。请检查该文件夹后重试。") from exc


def _cannot_write(target: Path, exc: OSError) -> OutputError:
    if isinstance(exc, PermissionError):
        return OutputError(f"无法写入“{target}”：文件被占用或没有写权限（可能正在 Excel/WPS 中打开）。请关闭该文件后重试。")
    # e.g. a folder of that name in the way, a full disk
    return OutputError(f"无法写入“{target}”：{exc.strerror or exc}。请检查该位置后重试。")


@contextlib.contextmanager
def _replacing(tmp: Path, target: Path) -> Iterator[None]:
    """The block writes `tmp`; then it takes `target`'s place, or is removed."""
    try:
        yield
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise _cannot_write(target, exc) from exc
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def sweep_temporaries(*folders: Path) -> None:
    """Remove the temporary files a writer killed mid-way (kill -9, a power cut) left in `folders`: called under
    the workspace lock by the commands that write there, so no temporary file of a running writer is touched."""
    for folder in folders:
        for path in folder.glob(f"{TEMP_PREFIX}*") if folder.is_dir() else ():
            with contextlib.suppress(OSError):
                path.unlink()


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside `target`, renamed onto it only when the block succeeds."""
    fd, tmp = _temp_beside(target)
    os.close(fd)
    with _replacing(tmp, target):
        yield tmp


def write_text(target: Path, text: str, *, bom: bool = False) -> None:
    """UTF-8 text; `bom` for files a coordinator opens in Windows Notepad."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8-sig" if bom else "utf-8", newline="\n")


def write_bytes(target: Path, data: bytes) -> None:
    """Bytes written through the file just created, renamed onto `target` only when whole."""
    fd, tmp = _temp_beside(target)
    with _replacing(tmp, target), open(fd, "wb", closefd=True) as out:
        out.write(data)


def write_named_by_content(target: Path, data: bytes) -> None:
    """Bytes of a file named by their own hash (collect's archive), written straight into `target`.

    A copy already there whole is left as it is; one cut short (a collect killed while writing it) is
    written again. Nothing reads such a file before the ledger row written after it, so no temporary
    file and rename are needed (they took half the time of archiving a return).
    """
    try:
        if os.stat(target).st_size == len(data):
            return
    except FileNotFoundError:
        pass
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    try:
        try:
            fd = os.open(target, flags, 0o666)
        except FileNotFoundError:  # the folder first (asked only when missing)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, flags, 0o666)
        with open(fd, "wb", closefd=True) as out:
            out.write(data)
    except OSError as exc:  # a read-only folder, a full disk, a folder of that name in the way
        raise _cannot_write(target, exc) from exc
