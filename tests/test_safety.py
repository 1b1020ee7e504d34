"""Issue 16: nothing lost, nothing replaced, nothing overwritten, under real mistakes and faults.

Every test goes through the `toolkit` command and checks the message, the exit code and that nothing was lost.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zipfile
from pathlib import Path

from returns import UNIT, UNIT_ITEMS, example_answers, make_return, manifest, template_path

from toolkit.store.workspace import Workspace


def ledger_rows(ws: Workspace) -> list[tuple]:
    with sqlite3.connect(ws.state / "ledger.sqlite") as db:
        return db.execute("SELECT sha256, verdict, unit FROM receipts ORDER BY id").fetchall()


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
    assert len(list((ws.root / "archive").iterdir())) == 4  # every file received kept

    unknown = cli("accept", "0123456789ab", "-w", ws.root)
    assert unknown.exit_code == 2 and "不是已接收的回报" in unknown.output
