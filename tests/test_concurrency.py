"""Two toolkit processes on one workspace, and writes that cannot replace their file.

A process holding the workspace lock (`ws.lock()`, as every writing command does) makes `toolkit collect` in
another process wait, then exit 2 with the "busy" message (TOOLKIT_LOCK_WAIT shortens the wait); the ledger
stays intact. A file that cannot be replaced (immutable, or open in Excel on Windows) fails with the clear
OutputError message and keeps its old bytes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from returns import SEED_UNIT, UNIT, make_return

from toolkit.store import files as fileio
from toolkit.store.files import OutputError, write_bytes
from toolkit.store.ledger import Ledger
from toolkit.store.lock import BusyError, workspace_lock
from toolkit.store.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
BUSY = "工作区正被另一个 toolkit 进程使用"

HOLDER = """
import sys, time
from pathlib import Path
from toolkit.store.workspace import open_workspace
ws = open_workspace(Path(sys.argv[1]))
with ws.lock():
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
print("released", flush=True)
"""


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "TOOLKIT_DEBUG"} | extra
    out["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])  # this checkout
    return out


@contextlib.contextmanager
def lock_held(ws: Workspace, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the workspace lock for `seconds` (from when this yields)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(ws.root), str(seconds)], stdout=subprocess.PIPE,
                              text=True, env=env())
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=30)


def toolkit(*args: str | Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True,
                          env=env(**extra_env), timeout=300, check=False)


def integrity(ws: Workspace) -> list[tuple[str]]:
    with contextlib.closing(sqlite3.connect(ws.state / "ledger.sqlite")) as db:
        return db.execute("PRAGMA integrity_check").fetchall()


def rows(ws: Workspace) -> list[tuple[str, str, str]]:
    with Ledger(ws.state / "ledger.sqlite") as ledger:
        return [(Path(r.source).name, r.unit, r.verdict) for r in ledger.all()]


# --- the workspace lock across processes ---

def test_collect_while_another_process_holds_the_lock_says_busy(ws: Workspace, tmp_path: Path) -> None:
    first = make_return(ws, tmp_path / "in" / "发改委.xlsx")
    assert toolkit("collect", first, "-w", ws.root).returncode == 0
    before = rows(ws)
    second = make_return(ws, tmp_path / "in2" / "科技局.xlsx", SEED_UNIT)

    with lock_held(ws, 60):
        start = time.monotonic()
        result = toolkit("collect", second, "-w", ws.root, TOOLKIT_LOCK_WAIT="1.5")
        waited = time.monotonic() - start
    assert result.returncode == 2, result.stdout + result.stderr
    assert BUSY in result.stderr and "Traceback" not in result.stdout + result.stderr
    assert waited >= 1.5  # it waited before giving up
    assert rows(ws) == before and integrity(ws) == [("ok",)]
    assert not list((ws.root / "archive").rglob("*.tmp*"))

    again = toolkit("collect", second, "-w", ws.root)  # the holder is gone: the same command now works
    assert again.returncode == 0, again.stdout + again.stderr
    assert rows(ws) == [*before, ("科技局.xlsx", SEED_UNIT, "accepted")]
    assert integrity(ws) == [("ok",)]


def test_collect_waits_for_the_lock_then_runs(ws: Workspace, tmp_path: Path) -> None:
    returned = make_return(ws, tmp_path / "in" / "发改委.xlsx")
    with lock_held(ws, 2) as holder:
        start = time.monotonic()
        result = toolkit("collect", returned, "-w", ws.root, TOOLKIT_LOCK_WAIT="60")
        waited = time.monotonic() - start
        assert holder.stdout is not None and holder.stdout.readline().strip() == "released"
    assert result.returncode == 0, result.stdout + result.stderr
    assert waited >= 1.5
    assert rows(ws) == [("发改委.xlsx", UNIT, "accepted")] and integrity(ws) == [("ok",)]


def test_two_collects_at_once_each_record_their_files_once(ws: Workspace, tmp_path: Path) -> None:
    """Started together on different folders: one runs, the other waits for it; neither loses a row."""
    folders = []
    for name, unit, count in (("a", UNIT, 12), ("b", SEED_UNIT, 12)):
        folder = tmp_path / name
        for i in range(count):
            make_return(ws, folder / f"{name}-{i:02d}.xlsx", unit, contact={"contact_phone": f"31{i:05d}"})
        folders.append(folder)
    processes = [subprocess.Popen([sys.executable, "-m", "toolkit", "collect", str(f), "-w", str(ws.root)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
                 for f in folders]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    recorded = rows(ws)
    assert len(recorded) == 24 and {name for name, _, _ in recorded} == \
        {p.name for f in folders for p in f.iterdir()}
    assert all(verdict == "accepted" for _, _, verdict in recorded)
    assert integrity(ws) == [("ok",)]


def test_lock_wait_comes_from_the_environment(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLKIT_LOCK_WAIT", "0.3")
    with lock_held(ws, 60):
        start = time.monotonic()
        with pytest.raises(BusyError, match=BUSY), workspace_lock(ws.state):
            pass
        assert 0.3 <= time.monotonic() - start < 10
    with workspace_lock(ws.state):  # released with its process
        pass


# --- a file that cannot be replaced ---

@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """The file made immutable (chattr +i): even root cannot replace it."""
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False) \
        if os.name == "posix" else None
    if made is None or made.returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_write_over_an_immutable_file_fails_clearly_and_keeps_it(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "validation.xlsx"
    target.parent.mkdir()
    target.write_bytes(b"old report")
    with immutable(target), pytest.raises(OutputError) as raised:
        write_bytes(target, b"new report")
    assert str(target) in str(raised.value) and "无法写入" in str(raised.value)
    assert target.read_bytes() == b"old report"
    assert [p.name for p in target.parent.iterdir()] == ["validation.xlsx"]  # no temporary file left


def test_validate_when_its_report_is_open_in_excel(ws: Workspace, cli, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows a workbook open in Excel cannot be replaced (os.replace raises PermissionError): exit 2, said
    in words, the old report kept."""
    cli("collect", make_return(ws, tmp_path / "in" / "发改委.xlsx"), "-w", ws.root)
    report = ws.reports / "validation.xlsx"
    assert cli("validate", "-w", ws.root).exit_code == 0 and report.is_file()
    old = report.read_bytes()
    real_replace = os.replace

    def locked(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst) == report:
            raise PermissionError(13, "另一个程序正在使用此文件，进程无法访问。", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(fileio.os, "replace", locked)
    result = cli("validate", "-w", ws.root)
    assert result.exit_code == 2
    assert "无法写入" in result.output and "validation.xlsx" in result.output and "Traceback" not in result.output
    assert report.read_bytes() == old
    assert sorted(p.name for p in ws.reports.iterdir()) == ["validation.xlsx"]


def test_validate_over_an_immutable_report_exits_2(ws: Workspace, tmp_path: Path) -> None:
    assert toolkit("collect", make_return(ws, tmp_path / "in" / "发改委.xlsx"), "-w", ws.root).returncode == 0
    assert toolkit("validate", "-w", ws.root).returncode == 0
    report = ws.reports / "validation.xlsx"
    old = report.read_bytes()
    with immutable(report):
        result = toolkit("validate", "-w", ws.root)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "无法写入" in result.stderr and "Traceback" not in result.stdout + result.stderr
    assert report.read_bytes() == old
    assert integrity(ws) == [("ok",)]


def test_write_into_a_folder_that_takes_no_new_file_fails_clearly(tmp_path: Path) -> None:
    """The temporary file cannot be made beside the target (an immutable folder): OutputError, old file kept."""
    target = tmp_path / "reports" / "validation.xlsx"
    target.parent.mkdir()
    target.write_bytes(b"old report")
    with immutable(target.parent), pytest.raises(OutputError, match="无法在") as raised:
        write_bytes(target, b"new report")
    assert str(target.parent) in str(raised.value)
    assert target.read_bytes() == b"old report"


def test_validate_when_a_folder_is_in_the_way_of_its_report(ws: Workspace, tmp_path: Path) -> None:
    assert toolkit("collect", make_return(ws, tmp_path / "in" / "发改委.xlsx"), "-w", ws.root).returncode == 0
    in_the_way = ws.reports / "validation.xlsx"
    in_the_way.mkdir(parents=True)
    (in_the_way / "keep.txt").write_text("mine", encoding="utf-8")
    result = toolkit("validate", "-w", ws.root)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "无法写入" in result.stderr and "validation.xlsx" in result.stderr
    assert "内部错误" not in result.stderr and "Traceback" not in result.stderr
    assert (in_the_way / "keep.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in ws.reports.iterdir()) == ["validation.xlsx"]
