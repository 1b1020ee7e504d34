"""How many processes distribute and collect use (what was asked, or enough to pay for starting them), and their
progress callback.

Starting a worker costs a Python start-up and the toolkit's imports (on Windows about a second), so
`0` (automatic, the default) uses one process per core only when each gets that much work.
"""

from __future__ import annotations

import os

AUTO = 0


def cores() -> int:
    """The cores this process may run on (a container or `taskset` may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def worker_count(requested: int, tasks: int, tasks_per_worker: int) -> int:
    """`requested` processes, or with AUTO one per core as long as each has `tasks_per_worker` tasks."""
    if requested != AUTO:
        return max(1, requested)
    return max(1, min(cores(), tasks // tasks_per_worker))


def no_progress() -> None:
    """The `tick` of a step run without a progress bar (the library's default)."""
