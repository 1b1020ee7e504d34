"""One toolkit process at a time per workspace: a second one waits, then says the workspace is busy."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

WAIT_SECONDS = 30.0  # TOOLKIT_LOCK_WAIT (seconds) overrides it


class BusyError(RuntimeError):
    """Another toolkit process holds the workspace."""


@contextlib.contextmanager
def workspace_lock(state_dir: Path, wait: float | None = None) -> Iterator[None]:
    """Hold the workspace's lock file for the block; the OS releases it if the process dies."""
    if wait is None:
        try:
            wait = float(os.environ.get("TOOLKIT_LOCK_WAIT", WAIT_SECONDS))
        except ValueError:
            wait = WAIT_SECONDS
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(state_dir / "lock", is_singleton=True)  # one object a path: re-entrant within a process
    try:
        lock.acquire(timeout=wait, poll_interval=0.2)
    except Timeout:
        raise BusyError(f"工作区正被另一个 toolkit 进程使用（已等待 {wait:.0f} 秒）：请等它结束后再运行。") from None
    try:
        yield
    finally:
        lock.release()
