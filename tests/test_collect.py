"""`toolkit collect`: every file identified (by its stamp, else by its content), archived unchanged, recorded once.

Returns are made by the unit simulator in tests/returns.py from the templates `toolkit distribute` wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from returns import (
    SEED_UNIT,
    UNIT,
    copy_workspace,
    distributed_workspace,
    docx_bytes,
    lock_file_bytes,
    make_return,
    open_return,
    write_zip,
)

from toolkit.collect import collect
from toolkit.model import stamp as stamps
from toolkit.store.ledger import Ledger
from toolkit.store.workspace import Workspace

RECORD_KEYS = {"file", "unit", "verdict", "reason"}


def run_collect(cli, ws: Workspace, *paths: Path, as_of: str | None = None) -> list[dict[str, str]]:
    result = cli("collect", *paths, "--json", "-w", ws.root, *(["--as-of", as_of] if as_of else []))
    records = json.loads(result.output)
    assert all(set(r) == RECORD_KEYS for r in records), records
    assert result.exit_code == (1 if any(r["verdict"] == "refused" for r in records) else 0)
    return records


def by_file(records: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {Path(r["file"]).name if "!" not in r["file"] else r["file"].split("!", 1)[1]: r for r in records}


def receipts(ws: Workspace):
    with Ledger(ws.state / "ledger.sqlite") as ledger:
        return ledger.all()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- identification ---

def test_stamp_identifies_the_unit_whatever_the_file_name(ws: Workspace, cli, tmp_path: Path) -> None:
    returned = make_return(ws, tmp_path / "inbox" / "市商务局（改）(1).xlsx")  # 市发展改革委's, misnamed
    [record] = run_collect(cli, ws, returned)
    assert (record["unit"], record["verdict"], record["reason"]) == (UNIT, "accepted", "")
    [receipt] = receipts(ws)
    assert (receipt.unit, receipt.verdict, receipt.identified_by) == (UNIT, "accepted", "stamp")


def test_rows_copied_to_a_new_workbook_are_identified_by_content(ws: Workspace, cli, tmp_path: Path) -> None:
    copied = open_return(ws).save_rows_as_new_workbook(tmp_path / "inbox" / "新建 XLSX 工作表.xlsx")
    [record] = run_collect(cli, ws, copied)
    assert (record["unit"], record["verdict"]) == (UNIT, "accepted")
    assert "标识" in record["reason"] and "识别" in record["reason"]  # the verdict says how
    assert receipts(ws)[0].identified_by == "content"
    validated = cli("validate", "--json", "-w", ws.root)
    assert (validated.exit_code, json.loads(validated.output)) == (0, [])


def test_rows_copied_without_known_items_or_name_are_refused(ws: Workspace, cli, tmp_path: Path) -> None:
    def renumber(r) -> None:
        for seq, new in (("1", "901"), ("2", "902"), ("4", "904")):
            r.set(seq, "序号", new)

    copied = open_return(ws, edit=renumber).save_rows_as_new_workbook(tmp_path / "inbox" / "工作簿1.xlsx")
    [record] = run_collect(cli, ws, copied)
    assert record["verdict"] == "refused" and record["unit"] == ""
    assert "901" in record["reason"]


def test_another_campaigns_template_is_refused(ws: Workspace, cli, tmp_path: Path) -> None:
    other = distributed_workspace(tmp_path / "other")  # the same example, initialised again: another campaign
    returned = make_return(other, tmp_path / "inbox" / "发改委.xlsx")
    [record] = run_collect(cli, ws, returned)
    assert record["verdict"] == "refused"
    assert other.campaign_id in record["reason"] and "另一项任务" in record["reason"]
    [receipt] = receipts(ws)
    assert receipt.verdict == "refused" and (ws.root / receipt.archive).read_bytes() == returned.read_bytes()


def test_another_periods_workspace_is_refused(ws: Workspace, cli, tmp_path: Path) -> None:
    q2 = distributed_workspace(tmp_path / "q2", period_code="Q2")
    returned = make_return(q2, tmp_path / "inbox" / "发改委-二季度.xlsx")
    [record] = run_collect(cli, ws, returned)
    assert record["verdict"] == "refused" and record["reason"]


def test_another_periods_stamp_signed_with_this_secret_is_refused(ws: Workspace, cli, tmp_path: Path) -> None:
    def stamp_for_q2(r) -> None:
        v = r.stamp_values()
        items = tuple(v["items"].split(","))
        r.set_stamp("period", "Q2")
        r.set_stamp("token", stamps.sign(ws.secret(), v["campaign"], "Q2", v["unit"], v["template"], items,
                                         v["fingerprint"]))

    returned = make_return(ws, tmp_path / "inbox" / "发改委.xlsx", edit=stamp_for_q2)
    [record] = run_collect(cli, ws, returned)
    assert record["verdict"] == "refused"
    assert "Q2" in record["reason"] or "第二季度" in record["reason"]


@pytest.mark.parametrize(("field", "value"), [
    ("unit", "市商务局"),  # a unit sends its file on as another unit's
    ("period", "Q2"),  # the period edited, the token not re-signed
    ("items", "1,2,4,6"),
    ("token", "0" * 32),
])
def test_tampered_stamp_is_refused(field: str, value: str, ws: Workspace, cli, tmp_path: Path) -> None:
    returned = make_return(ws, tmp_path / "inbox" / "发改委.xlsx", edit=lambda r: r.set_stamp(field, value))
    [record] = run_collect(cli, ws, returned)
    assert record["verdict"] == "refused" and record["reason"]
    assert record["unit"] != "市商务局"
    with Ledger(ws.state / "ledger.sqlite") as ledger:
        assert ledger.current_returns() == {}


def test_stamp_of_a_unit_not_issued_is_refused(ws: Workspace, cli, tmp_path: Path) -> None:
    def stamp_for_stranger(r) -> None:
        v = r.stamp_values()
        r.set_stamp("unit", "市不存在局")
        r.set_stamp("token", stamps.sign(ws.secret(), v["campaign"], v["period"], "市不存在局", v["template"],
                                         tuple(v["items"].split(",")), v["fingerprint"]))

    returned = make_return(ws, tmp_path / "inbox" / "x.xlsx", edit=stamp_for_stranger)
    [record] = run_collect(cli, ws, returned)
    assert record["verdict"] == "refused" and "市不存在局" in record["reason"]


# --- what is not a return ---

def test_lock_files_and_other_documents_are_skipped(ws: Workspace, cli, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "~$发改委.xlsx").write_bytes(lock_file_bytes())
    (inbox / "情况说明.docx").write_bytes(docx_bytes())
    (inbox / "情况说明.txt").write_text("一季度目标任务均已完成。\n", encoding="utf-8")
    (inbox / "回报.xls").write_bytes("<html><body><table><tr><td>序号</td></tr></table></body></html>".encode())
    (inbox / "表格.xlsx").write_text("不是表格", encoding="utf-8")
    make_return(ws, inbox / "发改委回报.dat")  # a real return with a strange name: sniffed by its bytes

    records = by_file(run_collect(cli, ws, inbox))
    assert {name: r["verdict"] for name, r in records.items()} == {
        "~$发改委.xlsx": "skipped", "情况说明.docx": "skipped", "情况说明.txt": "skipped", "回报.xls": "skipped",
        "表格.xlsx": "skipped", "发改委回报.dat": "accepted"}
    assert "锁文件" in records["~$发改委.xlsx"]["reason"]
    assert "不是电子表格" in records["情况说明.docx"]["reason"] and "Word" in records["情况说明.docx"]["reason"]
    assert "不是电子表格" in records["情况说明.txt"]["reason"]
    assert "HTML" in records["回报.xls"]["reason"]
    assert records["发改委回报.dat"]["unit"] == UNIT


# --- the same bytes, newer versions ---

def test_same_bytes_twice_are_one_return(ws: Workspace, cli, tmp_path: Path) -> None:
    first = make_return(ws, tmp_path / "mail" / "发改委.xlsx")
    second = tmp_path / "upload" / "发改委(1).xlsx"
    second.parent.mkdir()
    second.write_bytes(first.read_bytes())

    records = run_collect(cli, ws, first, second)
    assert [r["verdict"] for r in records] == ["accepted", "skipped"]
    assert "发改委.xlsx" in records[1]["reason"]  # names the copy it duplicates
    again = run_collect(cli, ws, first)
    assert [r["verdict"] for r in again] == ["skipped"]

    rows = receipts(ws)
    assert [r.verdict for r in rows if r.verdict != "skipped"] == ["accepted"]
    assert len(list((ws.root / "archive").rglob("*.xlsx"))) == 1


def test_newer_return_supersedes_and_both_are_kept(ws: Workspace, cli, tmp_path: Path) -> None:
    old = make_return(ws, tmp_path / "v1" / "发改委.xlsx", answers={"2": {"status": "未完成", "reason": None}})
    new = make_return(ws, tmp_path / "v2" / "发改委（改）.xlsx")
    # collected out of order: the later --as-of wins, not the later run
    assert run_collect(cli, ws, new, as_of="2022-04-12T10:00")[0]["verdict"] == "accepted"
    assert run_collect(cli, ws, old, as_of="2022-04-10T09:00")[0]["verdict"] == "accepted"

    with Ledger(ws.state / "ledger.sqlite") as ledger:
        assert ledger.current_returns()[UNIT].sha256 == sha(new.read_bytes())
        assert [r.sha256 for r in ledger.versions(UNIT)] == [sha(old.read_bytes()), sha(new.read_bytes())]
    for version in (old, new):
        assert [p.read_bytes() for p in (ws.root / "archive").rglob(f"{sha(version.read_bytes())}.*")] == \
            [version.read_bytes()]
    assert cli("validate", "-w", ws.root).exit_code == 0  # the old version's error is no longer current

    newest = make_return(ws, tmp_path / "v3" / "发改委（再改）.xlsx", answers={"4": {"status": "滞后"}})
    run_collect(cli, ws, newest, as_of="2022-04-13T08:00")
    result = cli("validate", "--json", "-w", ws.root)
    assert result.exit_code == 1
    assert [(f["code"], f["item"]) for f in json.loads(result.output)] == [("choice-ambiguous", "4")]


# --- zip archives ---

@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_zip_members_are_opened_with_their_chinese_names(encoding: str, ws: Workspace, cli, tmp_path: Path) -> None:
    members = {
        "一季度回报/市发展改革委（改）(1).xlsx": make_return(ws, tmp_path / "a.xlsx").read_bytes(),
        "一季度回报/科技局报送表.xlsx": make_return(ws, tmp_path / "b.xlsx", SEED_UNIT).read_bytes(),
        "一季度回报/情况说明.docx": docx_bytes(),
    }
    archive = write_zip(tmp_path / "inbox" / "回报汇总.zip", members, encoding)
    if encoding == "gbk":  # the names really are GBK bytes, not flagged as UTF-8
        raw = archive.read_bytes()
        assert "市发展改革委".encode("gbk") in raw and "市发展改革委".encode() not in raw

    records = run_collect(cli, ws, tmp_path / "inbox")
    assert [r["file"] for r in records] == [f"{archive}!{name}" for name in members]
    assert [(r["unit"], r["verdict"]) for r in records] == [(UNIT, "accepted"), (SEED_UNIT, "accepted"),
                                                            ("", "skipped")]
    with Ledger(ws.state / "ledger.sqlite") as ledger:
        assert sorted(ledger.current_returns()) == sorted([UNIT, SEED_UNIT])
    result = cli("validate", "--json", "-w", ws.root)
    assert [(f["code"], f["item"], f["cell"]) for f in json.loads(result.output)] == \
        [("reason-when-done", "54", "F12")]


def test_an_answer_written_as_a_template_is_quoted_never_run(ws: Workspace, cli, tmp_path: Path) -> None:
    """A return is untrusted: an answer quoted in a rule's message is text, however it is written."""
    typed = "{{ 7*7 }}{{ cycler.__init__.__globals__.os.getpid() }}{% for x in [1] %}循环{% endfor %}"
    make_return(ws, tmp_path / "inbox" / "发改委.xlsx", answers={"2": {"status": "完成", "reason": typed}})
    assert [r["verdict"] for r in run_collect(cli, ws, tmp_path / "inbox")] == ["accepted"]

    (finding,) = [f for f in json.loads(cli("validate", "--json", "-w", ws.root).output) if f["item"] == "2"]
    assert finding["code"] == "reason-when-done"
    assert f"未完成原因却填了“{typed}”" in finding["message"]


# --- the archive ---

def test_every_file_received_is_archived_unchanged(ws: Workspace, cli, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    other = distributed_workspace(tmp_path / "other")
    originals = {
        inbox / "发改委.xlsx": make_return(ws, inbox / "发改委.xlsx").read_bytes(),
        inbox / "别的任务.xlsx": make_return(other, inbox / "别的任务.xlsx").read_bytes(),
        inbox / "说明.docx": docx_bytes(),
        inbox / "~$发改委.xlsx": lock_file_bytes(),
        inbox / "说明.txt": "见附件".encode("gbk"),
    }
    for path, data in originals.items():
        path.write_bytes(data)
    seed_return = make_return(ws, tmp_path / "s.xlsx", SEED_UNIT).read_bytes()
    archive = write_zip(inbox / "sub" / "科技局.zip", {"科技局.xlsx": seed_return}, "gbk")
    originals[Path(f"{archive}!科技局.xlsx")] = seed_return

    records = run_collect(cli, ws, inbox)
    assert len(records) == len(originals)
    cli("validate", "-w", ws.root)  # reading a return never changes its archived bytes
    rows = receipts(ws)
    assert sorted(r.source for r in rows) == sorted(str(p) for p in originals)
    for row in rows:
        data = originals[Path(row.source)]
        stored = ws.root / row.archive
        assert stored.parent == ws.root / "archive" and stored.name.startswith(sha(data))
        assert row.sha256 == sha(data) and stored.read_bytes() == data


def test_an_archived_copy_cut_short_is_written_again_and_a_whole_one_kept(ws: Workspace, cli, tmp_path: Path) -> None:
    """Archived copies are written in place: a collect killed while writing one leaves it cut short, and no
    ledger row points at it yet; the next collect writes it whole. A whole copy is not written twice."""
    cut = make_return(ws, tmp_path / "inbox" / "发改委.xlsx").read_bytes()
    whole = make_return(ws, tmp_path / "inbox" / "科技局.xlsx", SEED_UNIT).read_bytes()
    Ledger(ws.state / "ledger.sqlite").close()  # made by the killed collect before it archived anything
    (ws.root / "archive").mkdir(exist_ok=True)
    (ws.root / "archive" / f"{sha(cut)}.xlsx").write_bytes(cut[:len(cut) // 2])
    kept = ws.root / "archive" / f"{sha(whole)}.xlsx"
    kept.write_bytes(whole)
    os.utime(kept, ns=(10**18, 10**18))

    assert [r["verdict"] for r in run_collect(cli, ws, tmp_path / "inbox")] == ["accepted", "accepted"]
    assert {(ws.root / r.archive).read_bytes() for r in receipts(ws)} == {cut, whole}
    assert kept.stat().st_mtime_ns == 10**18


# --- a collect killed midway ---

def test_ledger_survives_sigkill(ws: Workspace, cli, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    count = 60
    filled = open_return(ws)
    for i in range(count):
        filled.set_contact("联系方式", f"31820{i:02d}")  # other bytes, same unit
        filled.save(folder / f"发改委-{i:02d}.xlsx")
    files = sorted(folder.iterdir())
    assert len({sha(p.read_bytes()) for p in files}) == count

    database = ws.state / "ledger.sqlite"
    first = _collect_and_kill(ws, folder, database, after_rows=3)
    assert 0 < first < count
    second = _collect_and_kill(ws, folder, database, after_rows=first + 10)  # and again, in the second run
    assert first < second < first + count

    result = cli("collect", folder, "-w", ws.root)
    assert result.exit_code == 0, result.output

    rows = receipts(ws)
    for path in files:
        kept = [r for r in rows if r.source == str(path) and r.verdict != "skipped"]
        assert len(kept) == 1, (path.name, kept)  # nothing lost, nothing counted twice
        assert kept[0].verdict == "accepted" and kept[0].unit == UNIT
        assert (ws.root / kept[0].archive).read_bytes() == path.read_bytes()
    assert sum(r.verdict != "skipped" for r in rows) == count
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def _collect_and_kill(ws: Workspace, folder: Path, database: Path, after_rows: int) -> int:
    """`toolkit collect FOLDER` in a process killed (SIGKILL) a moment after the ledger holds `after_rows` rows."""
    process = subprocess.Popen([sys.executable, "-m", "toolkit", "collect", str(folder), "-w", str(ws.root)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _rows(database) < after_rows and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(random.uniform(0, 0.01))  # anywhere in the next file: archiving, parsing or recording it
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "collect ended before it could be killed"
    return _rows(database)


def _rows(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)) as db:
            return db.execute("SELECT COUNT(*) FROM receipts").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_collect_in_library_returns_one_record_per_file(ws: Workspace, tmp_path: Path) -> None:
    a = make_return(ws, tmp_path / "in" / "a.xlsx")
    b = make_return(ws, tmp_path / "in" / "b.xlsx", SEED_UNIT)
    records = collect(ws, [tmp_path / "in", tmp_path / "missing"])
    assert [(Path(r.file).name, r.verdict) for r in records] == [(a.name, "accepted"), (b.name, "accepted"),
                                                                  ("missing", "skipped")]


def test_terminal_shows_one_line_per_file(ws: Workspace, cli, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    make_return(ws, inbox / "发改委.xlsx")
    (inbox / "~$发改委.xlsx").write_bytes(lock_file_bytes())
    result = cli("collect", inbox, "-w", ws.root)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line for line in lines if "发改委.xlsx" in line and UNIT in line and "已接收" in line]
    assert [line for line in lines if "~$发改委.xlsx" in line and "跳过" in line]
    assert "接收 1，拒收 0，跳过 1" in result.output


# --- how many processes ---

def test_automatic_jobs_start_workers_only_for_many_files(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.model import parallel

    monkeypatch.setattr(parallel, "cores", lambda: 4)
    assert parallel.worker_count(3, tasks=5, tasks_per_worker=150) == 3  # asked for: always given
    assert parallel.worker_count(parallel.AUTO, tasks=40, tasks_per_worker=150) == 1
    assert parallel.worker_count(parallel.AUTO, tasks=320, tasks_per_worker=150) == 2
    assert parallel.worker_count(parallel.AUTO, tasks=5000, tasks_per_worker=150) == 4  # no more than the cores


SPAWNED_COLLECT = """
import json, multiprocessing, sys
from pathlib import Path
from toolkit.collect import collect
from toolkit.store.workspace import open_workspace

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)
    records = collect(open_workspace(Path(sys.argv[1])), [Path(sys.argv[2])], jobs=2)
    print(json.dumps([r.to_dict() for r in records], ensure_ascii=False))
"""


def test_collect_with_spawned_workers_as_on_windows(ws: Workspace, tmp_path: Path) -> None:
    """Windows starts workers with spawn: the workspace, the manifest and the prefilled texts must pickle, and two
    spawned workers give the records and the findings of one process."""
    from toolkit.validate import validate

    inbox = tmp_path / "inbox"
    units = list(json.loads((ws.state / "manifest.json").read_text(encoding="utf-8"))["units"])
    for unit in units:
        make_return(ws, inbox / f"{unit}.xlsx", unit)
    (inbox / "说明.txt").write_text("见附件", encoding="utf-8")
    twin = copy_workspace(ws, tmp_path / "twin")  # the same campaign, collected apart
    one = [r.to_dict() for r in collect(twin, [inbox], jobs=1)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).parent.parent),
                                                                      os.environ.get("PYTHONPATH")]))}
    spawned = subprocess.run([sys.executable, "-c", SPAWNED_COLLECT, str(ws.root), str(inbox)], capture_output=True,
                             text=True, timeout=300, env=env, check=False)
    assert spawned.returncode == 0, spawned.stderr
    assert json.loads(spawned.stdout) == one and len(one) == len(units) + 1
    assert sum(r["verdict"] == "accepted" for r in one) == len(units)

    def found(workspace: Workspace) -> dict[str, list]:
        return {u: [f.to_dict() for f in r.findings] for u, r in validate(workspace).returns.items()}

    assert found(ws) == found(twin) and len(found(ws)) == len(units)


def test_files_are_counted_with_the_members_of_each_zip(tmp_path: Path) -> None:
    """The progress bar's length and the automatic --jobs: a zip of returns counts as its returns."""
    from toolkit.collect import count_files, list_files

    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "a.xlsx").write_bytes(b"x")
    (inbox / "sub" / "Thumbs.db").write_bytes(b"x")  # never collected, never counted
    write_zip(inbox / "sub" / "各单位回报.zip", {f"{i}.xlsx": b"x" for i in range(3)}, "gbk")
    (inbox / "坏的.zip").write_bytes(b"PK not a zip")
    assert count_files(list_files([inbox])) == 1 + 3 + 1
    assert count_files(list_files([inbox / "sub" / "各单位回报.zip", inbox / "a.xlsx"])) == 4


def test_files_are_listed_in_the_order_of_their_paths_without_following_linked_folders(tmp_path: Path) -> None:
    """Records come back in this order: a subfolder's files sit where its name sorts among the files."""
    from toolkit.collect import list_files

    inbox = tmp_path / "inbox"
    for name in ("a/c.xlsx", "a.xlsx", "a-b.xlsx", "b/d/e.xlsx", "b/B.xlsx", "B.xlsx", "回报/东城区.xlsx", "z.xlsx",
                 "Desktop.ini"):
        (inbox / name).parent.mkdir(parents=True, exist_ok=True)
        (inbox / name).write_bytes(b"x")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "not-mine.xlsx").write_bytes(b"x")
    (inbox / "link").symlink_to(outside, target_is_directory=True)

    from toolkit.collect import CollectRecord

    listed = list_files([inbox])
    (link,) = [r for r in listed if isinstance(r, CollectRecord)]  # said, not followed
    assert link.file == str(inbox / "link") and "指向文件夹的链接" in link.reason
    listed = [p for p in listed if not isinstance(p, CollectRecord)]
    expected = sorted(p for p in inbox.rglob("*") if p.is_file() and p.name != "Desktop.ini")
    assert listed == expected
    assert [p.relative_to(inbox).as_posix() for p in listed][:4] == ["B.xlsx", "a/c.xlsx", "a-b.xlsx", "a.xlsx"]
    assert not any("not-mine" in p.name for p in listed)


def test_a_subfolder_that_cannot_be_opened_gets_a_record_and_the_rest_are_listed(tmp_path: Path, monkeypatch) -> None:
    from toolkit import collect as collecting

    inbox = tmp_path / "inbox"
    for name in ("a.xlsx", "锁住的/b.xlsx", "z.xlsx"):
        (inbox / name).parent.mkdir(parents=True, exist_ok=True)
        (inbox / name).write_bytes(b"x")
    scandir = os.scandir

    def refusing(path):
        if Path(path).name == "锁住的":
            raise PermissionError(13, "Permission denied")
        return scandir(path)

    monkeypatch.setattr(collecting.os, "scandir", refusing)
    listed = collecting.list_files([inbox])
    assert [p.name for p in listed if isinstance(p, Path)] == ["a.xlsx", "z.xlsx"]
    (record,) = [r for r in listed if not isinstance(r, Path)]
    assert record.file == str(inbox / "锁住的") and record.verdict == "skipped"
    assert "无法打开这个文件夹：Permission denied" in record.reason and "重新 collect" in record.reason


def test_without_the_prefilled_texts_collect_says_to_distribute_again(ws: Workspace, cli, tmp_path: Path) -> None:
    outbox = {p.name: p.read_bytes() for p in ws.outbox.glob("*.xlsx")}
    (ws.state / "prefilled.json").unlink()
    make_return(ws, tmp_path / "inbox" / "发改委.xlsx")
    result = cli("collect", tmp_path / "inbox", "-w", ws.root)
    assert result.exit_code == 2 and "prefilled.json" in result.output and "toolkit distribute" in result.output
    assert "Traceback" not in result.output

    assert cli("distribute", "-w", ws.root).exit_code == 0
    assert {p.name: p.read_bytes() for p in ws.outbox.glob("*.xlsx")} == outbox  # what units hold stays valid
    records = run_collect(cli, ws, tmp_path / "inbox")
    assert [(r["unit"], r["verdict"]) for r in records] == [(UNIT, "accepted")]


def test_prefilled_texts_are_plain_json_joined_to_each_unit(ws: Workspace, tmp_path: Path) -> None:
    """prefilled.json is plain JSON beside the manifest: any unit name or text survives, and each entry gets its own."""
    from toolkit.store.manifest import PREFILLED, read_manifest, write_manifest

    kept = json.loads((ws.state / PREFILLED).read_text(encoding="utf-8"))  # by distribute
    entries = read_manifest(ws)["units"]
    assert len(kept) > 1 and {unit: entry["prefilled"] for unit, entry in entries.items()} == kept
    awkward = {'市"发改委": 办公室,': {"1": {"annual": '年度目标：\n"完成"，\\ 50%", "x": 1'}},
               "区\n教育局": {"2": {"annual": "}\n{"}}, "长" * 600: {"3": {"annual": "长名"}}}
    write_manifest(ws, {"campaign": ws.campaign_id, "units": {unit: {"unit": unit, "prefilled": texts}
                                                              for unit, texts in awkward.items()}})
    assert {unit: entry["prefilled"] for unit, entry in read_manifest(ws)["units"].items()} == awkward


def test_damaged_prefilled_texts_say_to_distribute_again(ws: Workspace, cli, tmp_path: Path) -> None:
    """A prefilled.json cut short is said in words, not a traceback."""
    path = ws.state / "prefilled.json"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:len(text) // 2], encoding="utf-8")
    make_return(ws, tmp_path / "inbox" / "发改委.xlsx")
    result = cli("collect", tmp_path / "inbox", "-w", ws.root)
    assert result.exit_code == 2 and "prefilled.json" in result.output and "toolkit distribute" in result.output
    assert "Traceback" not in result.output
