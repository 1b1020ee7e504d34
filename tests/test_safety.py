"""Issue 16: nothing lost, nothing replaced, nothing overwritten, under real mistakes and faults.

Every test goes through the `toolkit` command and checks the message, the exit code and that nothing was lost.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zipfile
from pathlib import Path

from returns import UNIT, UNIT_ITEMS, make_return, manifest

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
