"""One toolkit process at a time per workspace: a second one waits, then says the workspace is busy."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

WAIT_SECONDS = 30.0  # TOOLKIT_LOCK_WAIT (seconds) overrides it
_held: dict[Path, int] = {}  # locks this process holds, with their depth (the lock is re-entrant)


class BusyError(RuntimeError):
    """Another toolkit process holds the workspace."""


def _try_lock(handle: int) -> bool:
    if os.name == "nt":
        import msvcrt

        try:
            msvcrt.locking(handle, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


@contextlib.contextmanager
def workspace_lock(state_dir: Path, wait: float | None = None) -> Iterator[None]:
    """Hold the workspace's lock file for the block; the OS releases it if the process dies."""
    if wait is None:
        try:
            wait = float(os.environ.get("TOOLKIT_LOCK_WAIT", WAIT_SECONDS))
        except ValueError:
            wait = WAIT_SECONDS
    path = (state_dir / "lock").resolve()
    if path in _held:
        _held[path] += 1
        try:
            yield
        finally:
            _held[path] -= 1
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                raise BusyError(f"工作区正被另一个 toolkit 进程使用（已等待 {wait:.0f} 秒）：请等它结束后再运行。")
            time.sleep(0.2)
        _held[path] = 1
        try:
            yield
        finally:
            del _held[path]
    finally:
        os.close(handle)  # closing the descriptor releases the lock
