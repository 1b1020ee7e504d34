"""Writing files atomically, with a clear word when Windows keeps a file locked (open in Excel)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


class OutputError(RuntimeError):
    """A file the toolkit must write cannot be written; the message says which and what to do."""


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside `target`, renamed onto it only when the block succeeds."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".~tmp-", suffix=target.suffix, dir=target.parent)
    except OSError as exc:  # a read-only folder, a full disk, a file where the folder should be
        raise OutputError(f"无法在“{target.parent}”中写入文件：{exc.strerror or exc}。请检查该文件夹后重试。") from exc
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        try:
            os.replace(tmp, target)
        except PermissionError as exc:
            raise OutputError(
                f"无法写入“{target}”：文件被占用或没有写权限（可能正在 Excel/WPS 中打开）。请关闭该文件后重试。"
            ) from exc
        except OSError as exc:  # e.g. a folder of that name is in the way
            raise OutputError(f"无法写入“{target}”：{exc.strerror or exc}。请检查该位置后重试。") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(target: Path, text: str, *, bom: bool = False) -> None:
    """UTF-8 text; `bom` for files a coordinator opens in Windows Notepad."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8-sig" if bom else "utf-8", newline="\n")


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
