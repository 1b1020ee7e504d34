"""What distribute shares between workbooks (one blueprint per layout, formulas prepared once) changes nothing a
unit receives: with co-organisers enabled, leads and co-organisers each get their own layout, and two processes
write the same bytes as one."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from toolkit.distribute import distribute
from toolkit.store.manifest import read_manifest
from toolkit.store.workspace import Workspace, init_workspace, open_workspace

HEADER_ROW = 3


def with_co_organisers(root: Path) -> Workspace:
    ws = init_workspace(root, example=True)
    config = ws.config.path.read_text(encoding="utf-8").replace("[campaign]\n", "[campaign]\nco_organisers = true\n")
    ws.config.path.write_text(config, encoding="utf-8")
    return open_workspace(root)


def outbox_bytes(ws: Workspace) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(ws.outbox.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def co_ws(tmp_path_factory) -> Workspace:
    ws = with_co_organisers(tmp_path_factory.mktemp("co") / "ws")
    distribute(ws)
    return ws


def test_leads_and_co_organisers_each_get_their_own_layout(co_ws):
    units = read_manifest(co_ws)["units"]
    roles = {entry["role"] for entry in units.values()}
    assert roles == {"lead", "co"}
    for entry in units.values():
        sheet = openpyxl.load_workbook(co_ws.outbox / entry["file"]).worksheets[0]
        header = [c.value.replace("\n", "") for c in sheet[HEADER_ROW] if c.value]  # balanced label lines
        spec = co_ws.spec_for(entry["role"])
        assert header == [c.label for c in spec.columns], entry["file"]
        marks = [rule.formula for cf in sheet.conditional_formatting for rule in cf.rules]
        assert len(marks) == (len([r for r in spec.rules if (r.required or r.not_in) and not r.when_not_empty])
                              if entry["role"] == "lead" else 0), entry["file"]


def test_every_lead_workbook_carries_the_same_rule_marks(co_ws):
    """The marks' formulas are prepared once per process: the last workbook's equal the first's."""
    files = [e["file"] for e in read_manifest(co_ws)["units"].values() if e["role"] == "lead"]
    marks = set()
    for name in files:
        sheet = openpyxl.load_workbook(co_ws.outbox / name).worksheets[0]
        marks.add(tuple(tuple(rule.formula) for cf in sheet.conditional_formatting for rule in cf.rules))
    assert len(files) > 1 and len(marks) == 1 and all(marks.pop())


def test_two_processes_write_the_same_files_as_one(tmp_path):
    ws = with_co_organisers(tmp_path / "ws")
    distribute(ws)
    one = outbox_bytes(ws)
    for path in ws.outbox.iterdir():
        path.unlink()
    result = distribute(open_workspace(ws.root), jobs=2)
    assert outbox_bytes(ws) == one
    assert len(result.issues) == len([name for name in one if name.endswith(".xlsx")])
