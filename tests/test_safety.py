"""Issue 16: nothing lost, nothing replaced, nothing overwritten, under real mistakes and faults.

Every test goes through the `toolkit` command and checks the message, the exit code and that nothing was lost.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from returns import SEED_UNIT, UNIT, UNIT_ITEMS, example_answers, make_return, manifest, patch_xml, template_path
from targetlists import Row, write_list

from toolkit.store.workspace import Workspace, open_workspace


def ledger_rows(ws: Workspace) -> list[tuple]:
    """(sha256, verdict, unit) of every receipt; none while the ledger is being created."""
    db = sqlite3.connect(ws.state / "ledger.sqlite")
    try:
        return db.execute("SELECT sha256, verdict, unit FROM receipts ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def readable_text(path: Path) -> str:
    """Everything a file shows to whoever opens it: a workbook's parts unzipped, else its bytes."""
    data = path.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return data.decode("utf-8", "replace")


# --- 3. identity is not forgeable from what is mailed out ---

def test_the_outbox_holds_no_token_but_each_units_own(ws: Workspace, cli) -> None:
    units = manifest(ws)["units"]
    tokens = {unit: entry["token"] for unit, entry in units.items()}
    assert not (ws.outbox / "manifest.json").exists()
    listing = (ws.outbox / "发放清单.txt").read_text(encoding="utf-8-sig")
    assert UNIT in listing and units[UNIT]["file"] in listing
    for path in ws.outbox.iterdir():
        text = readable_text(path)
        found = {unit for unit, token in tokens.items() if token in text}
        owner = {unit for unit, entry in units.items() if entry["file"] == path.name}
        assert found <= owner, (path.name, found)


def test_an_emptied_or_replaced_secret_is_refused_and_nothing_is_recorded(ws: Workspace, cli, tmp_path: Path) -> None:
    good = make_return(ws, tmp_path / "inbox" / "good.xlsx")
    secret = ws.state / "secret"
    original = secret.read_bytes()

    secret.write_text("\n", encoding="utf-8")
    result = cli("collect", good, "-w", ws.root)
    assert result.exit_code == 2
    assert "是空的" in result.output and "从备份恢复" in result.output
    assert not (ws.state / "ledger.sqlite").exists() or ledger_rows(ws) == []

    secret.write_text("0" * 64 + "\n", encoding="utf-8")
    for command in (("collect", good), ("distribute",)):
        result = cli(*command, "-w", ws.root)
        assert result.exit_code == 2, result.output
        assert "已被替换" in result.output and "无法验证身份" in result.output and "并非单位的问题" in result.output
    assert not (ws.state / "ledger.sqlite").exists() or ledger_rows(ws) == []

    secret.write_bytes(original)
    result = cli("collect", good, "-w", ws.root)
    assert result.exit_code == 0, result.output
    assert [(v, u) for _, v, u in ledger_rows(ws)] == [("accepted", UNIT)]
    assert (ws.root / "archive" / f"{hashlib.sha256(good.read_bytes()).hexdigest()}.xlsx").is_file()


# --- 2. a later file never silently replaces a good return ---

def summary_text(output: str) -> str:
    """Every cell of the summary `toolkit merge` reports writing."""
    path = Path(next(line.split("：", 1)[1].rsplit("（", 1)[0] for line in output.splitlines() if line.startswith("汇总表：")))
    return readable_text(path)


def test_blank_fewer_filled_and_summary_files_never_replace_a_good_return(ws: Workspace, cli, tmp_path: Path) -> None:
    items, _ = example_answers(UNIT)
    progress = {seq: items[seq]["progress"] for seq in UNIT_ITEMS}
    good = make_return(ws, tmp_path / "1" / "good.xlsx")
    assert cli("collect", good, "-w", ws.root).exit_code == 0

    blank = tmp_path / "2" / "发件箱-原表.xlsx"
    blank.parent.mkdir()
    blank.write_bytes(template_path(ws, UNIT).read_bytes())
    fewer = make_return(ws, tmp_path / "3" / "fewer.xlsx",
                        answers={seq: {"progress": "", "plan": ""} for seq in UNIT_ITEMS})
    result = cli("collect", blank, fewer, "-w", ws.root)
    assert result.exit_code == 1
    assert "已存档未采用" in result.output and "空白填报表" in result.output and "少于当前回报 good.xlsx" in result.output
    merged = cli("merge", "--allow-missing", "-w", ws.root)
    assert merged.exit_code == 3, merged.output
    assert all(text in summary_text(merged.output) for text in progress.values())
    rows = {r["unit"]: r for r in json.loads(cli("status", "--json", "-w", ws.root).output)}
    assert rows[UNIT]["state"] == "已通过" and rows[UNIT]["versions"] == 3
    assert "fewer.xlsx 未采用" in cli("status", "-w", ws.root).output
    blank_only = tmp_path / "4" / "科技局原表.xlsx"  # a unit whose only file is its blank template has not reported
    blank_only.parent.mkdir()
    blank_only.write_bytes(template_path(ws, SEED_UNIT).read_bytes())
    assert cli("collect", blank_only, "-w", ws.root).exit_code == 1
    rows = {r["unit"]: r for r in json.loads(cli("status", "--json", "-w", ws.root).output)}
    assert rows[SEED_UNIT]["state"] == "已报送" and rows[SEED_UNIT]["errors"] is None

    summary = next((ws.root / "reports").glob("*.xlsx"))
    result = cli("collect", summary, "-w", ws.root)
    assert result.exit_code == 1 and "像是汇总表" in result.output

    listed = cli("status", "发展改革", "-w", ws.root)
    assert listed.exit_code == 0
    assert "共 3 版回报" in listed.output and "当前采用" in listed.output
    versions = json.loads(cli("status", UNIT, "--json", "-w", ws.root).output)[UNIT]
    assert [(v["file"], v["current"]) for v in versions] == [("good.xlsx", True), ("发件箱-原表.xlsx", False),
                                                             ("fewer.xlsx", False)]

    chosen = cli("accept", fewer, "-w", ws.root)  # the coordinator's word: the shorter one stands
    assert chosen.exit_code == 0 and f"为{UNIT}的当前回报" in chosen.output
    assert not any(text in summary_text(cli("merge", "--allow-missing", "-w", ws.root).output) for text in progress.values())

    again = cli("collect", good, "-w", ws.root)  # the good file again: said to be a version that can come back
    assert again.exit_code == 0 and "toolkit accept" in again.output
    code = hashlib.sha256(good.read_bytes()).hexdigest()[:12]
    assert cli("accept", code, "-w", ws.root).exit_code == 0
    assert all(text in summary_text(cli("merge", "--allow-missing", "-w", ws.root).output) for text in progress.values())
    assert len(list((ws.root / "archive").iterdir())) == 5  # every file received kept

    unknown = cli("accept", "0123456789ab", "-w", ws.root)
    assert unknown.exit_code == 2 and "不是已接收的回报" in unknown.output


# --- 1. the target list changes after distribute ---

def fill_every_unit(ws: Workspace, inbox: Path) -> Path:
    inbox.mkdir(parents=True, exist_ok=True)
    for unit in manifest(ws)["units"]:
        make_return(ws, inbox / f"{unit}.xlsx", unit)
    return inbox


def edit_list(path: Path, *, reword: tuple[str, str] | None = None, delete: str | None = None,
              add: str | None = None, lead: tuple[str, str] | None = None) -> None:
    """The coordinator edits the target list (header in row 1) in Excel."""
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    header = {c.value: c.column for c in sheet[1]}
    row_of = {str(sheet.cell(r, header["序号"]).value): r for r in range(2, sheet.max_row + 1)}
    if reword:
        sheet.cell(row_of[reword[0]], header["第1季度目标"]).value = reword[1]
    if lead:
        sheet.cell(row_of[lead[0]], header["责任单位"]).value = lead[1]
    if add:
        sheet.append([add if c.value == "序号" else sheet.cell(row_of["1"], c.column).value for c in sheet[1]])
    if delete:
        sheet.delete_rows(row_of[delete])
    book.save(path)


def test_a_list_changed_after_distribute_is_noticed_and_never_merged_as_complete(ws: Workspace, cli,
                                                                                  tmp_path: Path) -> None:
    inbox = fill_every_unit(ws, tmp_path / "inbox")
    assert cli("collect", inbox, "-w", ws.root).exit_code == 0
    first = cli("merge", "-w", ws.root)
    assert first.exit_code == 0, first.output
    summary = next((ws.root / "reports").glob("*汇总表.xlsx"))
    before = summary.read_bytes()

    edit_list(ws.targets_path, reword=("45", "分发后改过的目标。"), delete="2", add="999", lead=("6", "市科技局"))
    expected = ["第45项的“第1季度目标”在分发后改过", "第2项已从清单中删除", "第999项是分发后才加入清单的",
                "第6项的牵头单位已由市工业和信息化局改为市科技局"]
    for command in (("collect", inbox), ("validate",), ("status",)):
        result = cli(*command, "-w", ws.root)
        assert "目标任务清单在分发后改过（4 项）" in result.output, command
        assert all(text in result.output for text in expected), (command, result.output)
    refused = cli("merge", "-w", ws.root)
    assert refused.exit_code == 1 and "未生成汇总表" in refused.output
    assert all(text in refused.output for text in expected)
    assert summary.read_bytes() == before  # the complete summary of what was issued is left as it was

    draft = cli("merge", "--allow-missing", "-w", ws.root)
    assert draft.exit_code == 3, draft.output

    again = cli("distribute", "-w", ws.root)
    assert again.exit_code == 0, again.output
    assert "与上次发出的填报表相比，清单改动了 4 项" in again.output and all(text in again.output for text in expected)
    assert "清单有变、已更新（3）：" in again.output
    changed_line = next(line for line in again.output.splitlines() if line.strip().startswith("清单有变、已更新（"))
    assert {"市发展改革委", "市工业和信息化局", "市科技局"} <= set(changed_line.split("：", 1)[1].split("、"))
    assert "目标任务清单在分发后改过" not in cli("status", "-w", ws.root).output


# --- 5. outputs never overwrite inputs ---

def test_outputs_never_overwrite_the_workspaces_inputs_or_a_foreign_file(ws: Workspace, cli, tmp_path: Path) -> None:
    good = make_return(ws, tmp_path / "inbox" / "good.xlsx")
    assert cli("collect", good, "-w", ws.root).exit_code == 0
    inputs = {p: p.read_bytes() for p in (ws.targets_path, ws.config.path, ws.state / "ledger.sqlite",
                                          ws.state / "secret", template_path(ws, UNIT))}
    archived = next((ws.root / "archive").iterdir())
    inputs[archived] = archived.read_bytes()
    for path, word in ((ws.targets_path, "目标任务清单"), (ws.config.path, "配置文件"),
                       (ws.state / "ledger.sqlite", "工作区状态文件夹"), (archived, "存档文件夹"),
                       (template_path(ws, UNIT), "发出的填报表文件夹")):
        for command in (("merge", "--allow-missing", "--force", "-o", path), ("status", "--html", path, "--force")):
            result = cli(*command, "-w", ws.root)
            assert result.exit_code == 2 and word in result.output and "覆盖输入" in result.output, (command, result.output)
    device = cli("status", "--html", "/dev/null", "-w", ws.root)
    assert device.exit_code == 2 and "不是普通文件" in device.output
    assert {p: p.read_bytes() for p in inputs} == inputs

    foreign = tmp_path / "out" / "汇总（草稿）.xlsx"
    foreign.parent.mkdir()
    foreign.write_bytes(b"the coordinator's own file")
    refused = cli("merge", "--allow-missing", "-o", tmp_path / "out" / "汇总.xlsx", "-w", ws.root)
    assert refused.exit_code == 2 and "已存在，且不是 toolkit 写出的文件" in refused.output and "--force" in refused.output
    assert foreign.read_bytes() == b"the coordinator's own file"
    forced = cli("merge", "--allow-missing", "--force", "-o", tmp_path / "out" / "汇总.xlsx", "-w", ws.root)
    assert forced.exit_code == 3 and "这是草稿" in forced.output and foreign.read_bytes() != b"the coordinator's own file"
    again = cli("merge", "--allow-missing", "-o", tmp_path / "out" / "汇总.xlsx", "-w", ws.root)
    assert again.exit_code == 3, again.output  # written by the toolkit there before: no --force needed
    assert not (tmp_path / "out" / "汇总.xlsx").exists()  # a draft never takes the final summary's name

    folder = tmp_path / "催报"
    folder.mkdir()
    (folder / "催报清单.txt").write_text("督查室自己的清单", encoding="utf-8")
    refused = cli("remind", "-o", folder, "-w", ws.root)
    assert refused.exit_code == 2 and "已存在，且不是 toolkit 写出的文件" in refused.output
    assert (folder / "催报清单.txt").read_text(encoding="utf-8") == "督查室自己的清单"
    assert cli("remind", "-o", ws.state, "-w", ws.root).exit_code == 2

    page = tmp_path / "进度.html"
    assert cli("status", "--html", page, "-w", ws.root).exit_code == 1 and page.is_file()
    assert cli("status", "--html", page, "-w", ws.root).exit_code == 1  # its own page again


# --- 7. interrupts and odd inboxes ---

def run_toolkit(*args: str | Path, **options) -> subprocess.Popen:
    """`toolkit ARGS` as its own process group, as a terminal runs it (Ctrl-C reaches the group)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "toolkit", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True, **options)


def test_ctrl_c_during_collect_with_workers_stops_cleanly_and_the_rerun_finishes(ws: Workspace, cli,
                                                                                 tmp_path: Path) -> None:
    data = make_return(ws, tmp_path / "base.xlsx", contact={"contact_person": "PERSON-XX"}).read_bytes()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    total = 160
    for n in range(total):  # versions of one return, each its own bytes
        (inbox / f"r{n:03}.xlsx").write_bytes(patch_xml(data, {"PERSON-XX": f"联系人{n:03}"}))
    process = run_toolkit("collect", inbox, "-j", "2", "-w", ws.root)
    ledger = ws.state / "ledger.sqlite"
    for _ in range(3000):  # until the first files are recorded
        if ledger.is_file() and len(ledger_rows(ws)) > 0:
            break
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    recorded = len(ledger_rows(ws))
    assert recorded < total, "the collect ended before Ctrl-C: nothing tested"
    assert process.returncode == 130
    assert output.strip().splitlines() == ["已中断：已完成的部分都已保存，重新运行同一命令即可继续。"], output
    try:
        os.killpg(process.pid, 0)
        raise AssertionError("a worker process outlived the collect")
    except ProcessLookupError:
        pass
    with sqlite3.connect(ledger) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    rerun = cli("collect", inbox, "-w", ws.root)
    assert rerun.exit_code == 0, rerun.output[-2000:]
    assert len({sha for sha, _, _ in ledger_rows(ws)}) == total
    assert len(list((ws.root / "archive").iterdir())) == total


def test_odd_inbox_entries_each_get_their_own_verdict_and_the_rest_is_collected(ws: Workspace, cli,
                                                                                tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    good = make_return(ws, inbox / "good.xlsx")
    other = make_return(ws, tmp_path / "other.xlsx", SEED_UNIT)
    (inbox / "loop-a.xlsx").symlink_to(inbox / "loop-b.xlsx")
    (inbox / "loop-b.xlsx").symlink_to(inbox / "loop-a.xlsx")
    (inbox / "to-folder").symlink_to(inbox)
    (inbox / "回报.rar").write_bytes(b"Rar!\x1a\x07\x01\x00" + b"\x00" * 64)
    (inbox / "回报.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 64)
    (inbox / "来信.eml").write_text("From: a@b.cn\nSubject: 回报\n\nbody\n", encoding="utf-8")
    (inbox / "来信.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    with zipfile.ZipFile(inbox / "mac.zip", "w") as archive:
        archive.writestr("回报/科技局.xlsx", other.read_bytes())
        archive.writestr("__MACOSX/回报/._科技局.xlsx", b"\x00\x05\x16\x07" + b"\x00" * 60)

    missing = cli("collect", inbox, tmp_path / "no-such-folder", "-w", ws.root)
    assert missing.exit_code == 2 and "找不到" in missing.output and "未收取任何文件" in missing.output
    assert not (ws.state / "ledger.sqlite").exists() or ledger_rows(ws) == []

    result = cli("collect", inbox, "--json", "-w", ws.root)
    assert result.exit_code == 0, result.output
    records = {Path(r["file"].split("!")[-1]).name: r for r in json.loads(result.output)}
    assert records["good.xlsx"]["verdict"] == "accepted" and records["科技局.xlsx"]["verdict"] == "accepted"
    expected = {"loop-a.xlsx": "形成了循环", "loop-b.xlsx": "形成了循环", "to-folder": "指向文件夹的链接",
                "回报.rar": "RAR 压缩包", "回报.7z": "7z 压缩包", "来信.eml": "邮件文件", "来信.msg": "邮件文件",
                "._科技局.xlsx": "macOS"}
    for name, words in expected.items():
        assert records[name]["verdict"] == "skipped" and words in records[name]["reason"], (name, records[name])
    archived = {p.name.split(".")[0] for p in (ws.root / "archive").iterdir()}
    assert hashlib.sha256(good.read_bytes()).hexdigest() in archived
    assert hashlib.sha256(other.read_bytes()).hexdigest() in archived


# --- 6. the workspace's own files ---

def receipts_by_source(ws: Workspace) -> dict[str, tuple[str, str, str]]:
    """source -> (sha256, received_at, verdict), read straight from the ledger."""
    db = sqlite3.connect(ws.state / "ledger.sqlite")
    try:
        return {row[0]: row[1:] for row in db.execute("SELECT source, sha256, received_at, verdict FROM receipts")}
    finally:
        db.close()


def current_file(cli, ws: Workspace, unit: str) -> str:
    versions = json.loads(cli("status", unit, "--json", "-w", ws.root).output)[unit]
    return next(v["file"] for v in versions if v["current"])


def test_a_damaged_or_lost_ledger_is_said_and_rebuilt_from_the_archive_with_its_times(ws: Workspace, cli,
                                                                                     tmp_path: Path) -> None:
    first = make_return(ws, tmp_path / "a" / "发改委.xlsx")
    second = make_return(ws, tmp_path / "b" / "发改委（改）.xlsx", answers={"1": {"plan": "改过的打算。"}})
    seed = make_return(ws, tmp_path / "c" / "科技局.xlsx", SEED_UNIT)
    assert cli("collect", first, seed, "--as-of", "2022-04-10T09:00", "-w", ws.root).exit_code == 0
    assert cli("collect", second, "--as-of", "2022-04-11T10:30", "-w", ws.root).exit_code == 0
    assert cli("accept", first, "-w", ws.root).exit_code == 0  # the coordinator's choice survives a rebuild
    before = receipts_by_source(ws)
    ledger = ws.state / "ledger.sqlite"

    for damage, words in ((lambda: ledger.write_bytes(b"this is no database" * 200), "已损坏"),
                          (lambda: ledger.write_bytes(ledger.read_bytes()[:3000]), "toolkit rebuild"),
                          (ledger.unlink, "不会从空台账重新开始")):
        cli("status", "-w", ws.root)  # settles the ledger's WAL into the file
        damage()
        for command in (("status",), ("validate",), ("collect", first), ("merge", "--allow-missing")):
            result = cli(*command, "-w", ws.root)
            assert result.exit_code == 2, (command, result.output)
            assert words in result.output and "toolkit rebuild" in result.output and "内部错误" not in result.output
        rebuilt = cli("rebuild", "-w", ws.root)
        assert rebuilt.exit_code == 0, rebuilt.output
        assert "其中 3 个按收件记录恢复了原收到时间和来源" in rebuilt.output
        assert receipts_by_source(ws) == before  # same files, same sources, same receipt times
        assert current_file(cli, ws, UNIT) == "发改委.xlsx" and current_file(cli, ws, SEED_UNIT) == "科技局.xlsx"
    assert len(list(ws.state.glob("ledger.sqlite.before-rebuild-*"))) == 2  # damaged ledgers kept aside, not deleted


def test_a_lost_or_damaged_manifest_or_archived_copy_is_said_with_what_to_do(ws: Workspace, cli,
                                                                            tmp_path: Path) -> None:
    good = make_return(ws, tmp_path / "in" / "发改委.xlsx")
    seed = make_return(ws, tmp_path / "in" / "科技局.xlsx", SEED_UNIT)
    assert cli("collect", tmp_path / "in", "-w", ws.root).exit_code == 0
    issued = ws.state / "manifest.json"
    text = issued.read_text(encoding="utf-8")

    for damage, words in ((lambda: issued.write_text(text[: len(text) // 2], encoding="utf-8"), "已损坏"),
                          (issued.unlink, "缺少发放记录"),
                          (lambda: (ws.state / "prefilled.json").write_text("{", encoding="utf-8"), "预填内容")):
        damage()
        for command in (("status",), ("validate",), ("merge", "--allow-missing"), ("collect", good)):
            result = cli(*command, "-w", ws.root)
            assert result.exit_code == 2 and words in result.output and "toolkit distribute" in result.output, \
                (command, result.output)
        assert cli("distribute", "-w", ws.root).exit_code == 0  # the same list: the same templates, nothing lost
        assert cli("validate", "-w", ws.root).exit_code == 0

    copy = ws.root / "archive" / f"{hashlib.sha256(good.read_bytes()).hexdigest()}.xlsx"
    copy.write_bytes(copy.read_bytes()[:100])
    db = sqlite3.connect(ws.state / "ledger.sqlite")
    db.execute("DELETE FROM checks")  # as after an upgrade of toolkit: every return read again
    db.commit()
    db.close()
    result = cli("validate", "-w", ws.root)
    assert result.exit_code == 1 and "缺失或不完整" in result.output and "再 toolkit collect 一次" in result.output
    assert current_file(cli, ws, SEED_UNIT) == "科技局.xlsx"  # the other unit is unaffected
    again = cli("collect", good, "-w", ws.root)
    assert again.exit_code == 0 and copy.read_bytes() == good.read_bytes()
    assert cli("validate", "-w", ws.root).exit_code == 0
    assert seed.is_file()


def test_a_full_disk_or_a_killed_writer_leaves_the_previous_outputs_and_no_temporary_file(
        ws: Workspace, cli, tmp_path: Path, monkeypatch) -> None:
    from toolkit.store import files

    assert cli("collect", make_return(ws, tmp_path / "in" / "发改委.xlsx"), "-w", ws.root).exit_code == 0
    assert cli("merge", "--allow-missing", "-w", ws.root).exit_code == 3
    (summary,) = (ws.root / "reports").glob("*（草稿）.xlsx")
    outputs = {p: p.read_bytes() for p in [summary, *ws.outbox.iterdir()]}

    def full(*_args) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(files.os, "replace", full)
        for command in (("merge", "--allow-missing"), ("distribute",)):
            result = cli(*command, "-w", ws.root)
            assert result.exit_code == 2 and "No space left on device" in result.output, result.output
    assert {p: p.read_bytes() for p in outputs} == outputs
    leftovers = [p for folder in (ws.outbox, ws.reports, ws.state) for p in folder.glob(".~tmp-*")]
    assert leftovers == []

    for folder in (ws.outbox, ws.reports):  # what a writer killed with kill -9 leaves behind
        (folder / ".~tmp-0123456789abcdef.xlsx").write_bytes(b"half a workbook")
    assert cli("distribute", "-w", ws.root).exit_code == 0
    assert cli("merge", "--allow-missing", "-w", ws.root).exit_code == 3
    assert [p for folder in (ws.outbox, ws.reports) for p in folder.glob(".~tmp-*")] == []


# --- 8. names ---

def test_unit_names_that_cannot_be_windows_file_names_get_safe_unique_ones_before_anything_is_written(
        cli, tmp_path: Path) -> None:
    long_name = "某" * 150 + "局"
    rows = [Row(1, units="市教育\u200b局"), Row(2, units="ABC局"), Row(3, units="abc局"), Row(4, units="CON"),
            Row(5, units=long_name), Row(6, units="市发展改革委")]
    write_list(tmp_path / "清单.xlsx", rows)
    assert cli("init", tmp_path / "ws", "--targets", tmp_path / "清单.xlsx", "--year", "2022",
               "--period", "Q1").exit_code == 0
    config = tmp_path / "ws" / "toolkit.toml"
    config.write_text(re.sub(r'(?m)^template = .*$', 'template = "{{ unit }}.xlsx"',
                             config.read_text(encoding="utf-8")), encoding="utf-8")
    result = cli("distribute", "-w", tmp_path / "ws")
    assert result.exit_code == 0, result.output
    ws = open_workspace(tmp_path / "ws")
    files = {unit: entry["file"] for unit, entry in manifest(ws)["units"].items()}
    assert set(files) == {"市教育局", "ABC局", "abc局", "CON", long_name, "市发展改革委"}  # the invisible space split nothing
    assert files["CON"] == "_CON.xlsx" and files["市教育局"] == "市教育局.xlsx"
    assert {files["ABC局"].casefold(), files["abc局"].casefold()} == {"abc局.xlsx", "abc局-2.xlsx"}
    assert len({name.casefold() for name in files.values()}) == len(files)
    assert all(len(f"{Path(name).stem}-填报通知.txt".encode()) <= 255 for name in files.values())
    assert files[long_name].startswith("某" * 20) and "…" in files[long_name]
    assert sorted(p.name for p in ws.outbox.glob("*.xlsx")) == sorted(files.values())

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in files.values():  # each unit's template comes back (blank: held, but to that unit)
        shutil.copy(ws.outbox / name, inbox / name)
    records = json.loads(cli("collect", inbox, "--json", "-w", ws.root).output)
    assert {(Path(r["file"]).name, r["unit"]) for r in records} == {(name, unit) for unit, name in files.items()}


# --- 4. limits hold for every format before parsing ---

def sheet_far_out_xlsx(path: Path) -> Path:
    """A workbook with a cell in A1 and one far down and right: a reader would lay out every cell between."""
    book = openpyxl.Workbook()
    book.active["A1"] = "序号"
    book.active.cell(65536, 256).value = "远处的一格"
    book.save(path)
    return path


def test_a_zip_hidden_behind_an_ole_header_is_refused_unopened(ws: Workspace, cli, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    good = make_return(ws, inbox / "good.xlsx")
    rows = "".join(f'<row r="{r}"><c r="XFD{r}"><v>1</v></c></row>' for r in range(1, 150_001))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:  # 0.7 MB; laid out: 2.5 billion cells
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", f"<worksheet><sheetData>{rows}</sheetData></worksheet>")
    hostile = inbox / "回报.xls"
    hostile.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + buffer.getvalue())

    result = cli("collect", inbox, "--json", "-w", ws.root)
    assert result.exit_code == 1
    records = {Path(r["file"]).name: r for r in json.loads(result.output)}
    assert records["回报.xls"]["verdict"] == "refused" and "藏着 zip 压缩包" in records["回报.xls"]["reason"]
    assert records["good.xlsx"]["verdict"] == "accepted"
    archived = {p.name for p in (ws.root / "archive").iterdir()}
    assert {f"{hashlib.sha256(p.read_bytes()).hexdigest()}.{ext}" for p, ext in ((good, "xlsx"), (hostile, "xls"))} \
        <= archived


def test_a_workbook_with_a_far_cell_is_refused_before_it_is_laid_out(ws: Workspace, cli, tmp_path: Path) -> None:
    far = tmp_path / "inbox" / "回报.xlsx"  # 5 KB; laid out from A1 to XFD20000: 327 million cells
    far.parent.mkdir()
    book = openpyxl.Workbook()
    book.active["A1"], book.active["XFD20000"] = "序号", "远处的一格"
    book.save(far)
    good = make_return(ws, tmp_path / "inbox" / "good.xlsx")
    result = cli("collect", far.parent, "--json", "-w", ws.root)
    records = {Path(r["file"]).name: r for r in json.loads(result.output)}
    assert result.exit_code == 1 and records["回报.xlsx"]["verdict"] == "refused"
    assert "共 327680000 格，超过上限 2000000 格" in records["回报.xlsx"]["reason"]
    assert records["good.xlsx"]["verdict"] == "accepted" and good.is_file()


@pytest.mark.libreoffice
def test_a_legacy_workbook_with_a_far_cell_is_refused_before_it_is_laid_out(ws: Workspace, cli, tmp_path: Path) -> None:
    from toolkit.excel.office import convert

    (far,) = convert([sheet_far_out_xlsx(tmp_path / "far.xlsx")], "xls", tmp_path / "inbox")
    result = cli("collect", far, "--json", "-w", ws.root)
    (record,) = json.loads(result.output)
    assert result.exit_code == 1 and record["verdict"] == "refused"
    assert "工作表“Sheet”有 65536 行，超过上限 20000 行" in record["reason"]
