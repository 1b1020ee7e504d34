"""`toolkit status` and `toolkit remind` on the bundled example: states, versions, lateness, exit codes, notices.

Returns are made as units make them (the issued template filled with openpyxl by `toolkit.demo.fill_template`)
and collected at fixed times; `--as-of` fixes "now", so every expectation here is a date, not the clock.
The example's deadline is 2022-04-15: a return collected any time that day is on time.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from toolkit.collect import collect
from toolkit.demo import fill_template
from toolkit.distribute import distribute
from toolkit.model.periods import parse_as_of
from toolkit.status import (
    JSON_KEYS,
    NOT_SENT,
    OVERDUE,
    PASSED,
    SENT,
    STATES,
    TO_FIX,
    StatusRow,
    build_status,
    compute_status,
)
from toolkit.store.ledger import ACCEPTED, REFUSED, Receipt
from toolkit.store.manifest import read_manifest
from toolkit.store.workspace import Workspace, init_workspace, load_example_answers, open_workspace
from toolkit.validate import validate

ANSWERS: dict[str, Any] = load_example_answers("gov-work-report")["units"]
DEADLINE = dt.date(2022, 4, 15)
ON_TIME = dt.datetime(2022, 4, 12, 9, 30)
BEFORE = dt.datetime(2022, 4, 14, 18, 0)  # `now` before the deadline
AFTER = dt.datetime(2022, 4, 18, 9, 0)  # `now` three days after it

GOOD = "市发展改革委"  # items 1, 2, 4; its example answers are correct
SEED = "市科技局"  # the seed's nine items; item 54 (完成 with 未完成原因 是) is a warning, not an error
FIX = "市商务局"  # items 12, 13, 14; sent with a progress phrase where 完成/未完成 is required
BROKEN = "市生态环境局"  # sends its stamped workbook with the table deleted: refused, but it is known who sent it
ITEMS = {"市工业和信息化局": ("6", "7", "8", "44"), "市地方金融监管局": ("47",)}


# --- a distributed example workspace, copied for each test ---

@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = init_workspace(tmp_path_factory.mktemp("status") / "ws", example=True)
    result = distribute(ws)
    assert not [p for p in result.problems if p.is_error]
    return ws


@pytest.fixture
def ws(distributed: Workspace, tmp_path: Path) -> Workspace:
    shutil.copytree(distributed.root, tmp_path / "ws")
    return open_workspace(tmp_path / "ws")


def issued(ws: Workspace) -> dict[str, Any]:
    return read_manifest(ws)["units"]


def make_return(ws: Workspace, folder: Path, unit: str, changes: dict[str, dict[str, str]] | None = None,
                name: str | None = None) -> Path:
    """The unit's template filled with its example answers, `changes` ({序号: {key: text}}) typed over them."""
    answers = copy.deepcopy(ANSWERS[unit]["items"])
    for seq, values in (changes or {}).items():
        answers[seq].update(values)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / (name or f"{unit}.xlsx")
    fill_template(ws.outbox / issued(ws)[unit]["file"], out, ws.spec, answers, ANSWERS[unit]["contact"])
    return out


def make_unusable_return(ws: Workspace, folder: Path, unit: str) -> Path:
    """The unit's stamped workbook with every row of its table deleted: refused, yet its stamp names the unit."""
    workbook = openpyxl.load_workbook(ws.outbox / issued(ws)[unit]["file"])
    sheet = workbook[ws.spec.sheet_name]
    sheet.delete_rows(1, sheet.max_row)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{unit}（空）.xlsx"
    workbook.save(out)
    return out


def send(ws: Workspace, when: dt.datetime, *paths: Path) -> None:
    records = collect(ws, list(paths), when)
    assert records, paths


def first_round(ws: Workspace, tmp: Path) -> None:
    """On 2022-04-12: a correct return, the seed unit's (a warning), and one with an error."""
    folder = tmp / "round1"
    make_return(ws, folder, GOOD)
    make_return(ws, folder, SEED)
    make_return(ws, folder, FIX, {"12": {"status": "序时推进"}})
    send(ws, ON_TIME, folder)


def rows_by_unit(ws: Workspace, now: dt.datetime) -> dict[str, StatusRow]:
    return {r.unit: r for r in build_status(ws, now).rows}


# --- states ---

def test_states_before_the_deadline(ws: Workspace, tmp_path: Path) -> None:
    first_round(ws, tmp_path)
    seed = validate(ws).returns[SEED]
    assert seed.errors == 0 and seed.warnings >= 1, "premise: the seed unit's return has warnings only"

    report = build_status(ws, BEFORE)
    rows = {r.unit: r for r in report.rows}
    assert [r.unit for r in report.rows] == list(issued(ws)), "one row per issued unit, in manifest order"
    assert rows[GOOD].state == PASSED and rows[GOOD].errors == 0 and rows[GOOD].warnings == 0
    assert rows[SEED].state == PASSED and rows[SEED].warnings == seed.warnings, "warnings do not stop a pass"
    assert rows[FIX].state == TO_FIX and rows[FIX].errors >= 1
    for unit in set(rows) - {GOOD, SEED, FIX}:
        row = rows[unit]
        assert (row.state, row.received, row.versions, row.errors, row.late) == (NOT_SENT, None, 0, None, False)
    assert rows[GOOD].received == "2022-04-12T09:30:00"
    assert rows[GOOD].versions == 1 and rows[GOOD].file == f"{GOOD}.xlsx"
    assert rows[SEED].items == ("43", "45", "46", "48", "49", "50", "52", "53", "54")
    assert not any(r.late for r in report.rows)
    assert report.totals == {PASSED: 2, TO_FIX: 1, SENT: 0, NOT_SENT: len(rows) - 3, OVERDUE: 0}
    assert list(report.totals) == list(STATES)
    assert not report.all_passed


def test_after_the_deadline_the_missing_are_overdue(ws: Workspace, tmp_path: Path) -> None:
    first_round(ws, tmp_path)
    rows = rows_by_unit(ws, AFTER)
    missing = set(rows) - {GOOD, SEED, FIX}
    assert {rows[u].state for u in missing} == {OVERDUE}
    assert all(rows[u].late and rows[u].days_late == 3 for u in missing)
    assert not rows[GOOD].late and rows[GOOD].state == PASSED, "sent on time: not late whatever `now` is"
    assert rows[FIX].state == TO_FIX and not rows[FIX].late


def test_the_deadline_is_the_end_of_its_day(ws: Workspace, tmp_path: Path) -> None:
    make_return(ws, tmp_path / "a", GOOD)
    send(ws, dt.datetime(2022, 4, 15, 23, 59), tmp_path / "a")
    make_return(ws, tmp_path / "b", SEED)
    send(ws, dt.datetime(2022, 4, 16, 0, 0), tmp_path / "b")
    last_minute = rows_by_unit(ws, dt.datetime(2022, 4, 15, 23, 59))
    assert last_minute[GOOD].late is False
    assert last_minute["市商务局"].state == NOT_SENT
    next_day = rows_by_unit(ws, dt.datetime(2022, 4, 16, 0, 0))
    assert next_day["市商务局"].state == OVERDUE and next_day["市商务局"].days_late == 1
    assert next_day[GOOD].late is False
    assert next_day[SEED].late is True and next_day[SEED].days_late == 1 and next_day[SEED].state == PASSED


def test_a_corrected_return_is_a_second_version(ws: Workspace, tmp_path: Path) -> None:
    first_round(ws, tmp_path)
    make_return(ws, tmp_path / "round2", FIX, name=f"{FIX}（改）(1).xlsx")
    make_return(ws, tmp_path / "round2", "市教育局")  # its first return, after the deadline
    send(ws, dt.datetime(2022, 4, 18, 8, 15), tmp_path / "round2")
    rows = rows_by_unit(ws, AFTER)
    fixed = rows[FIX]
    assert (fixed.state, fixed.versions, fixed.errors) == (PASSED, 2, 0)
    assert fixed.received == "2022-04-18T08:15:00" and fixed.file == f"{FIX}（改）(1).xlsx"
    assert fixed.late is False, "its first return came on time; the correction does not make it late"
    assert rows["市教育局"].late is True and rows["市教育局"].days_late == 3 and rows["市教育局"].versions == 1
    assert rows[GOOD].versions == 1


def test_a_newer_faulty_return_replaces_a_passed_one(ws: Workspace, tmp_path: Path) -> None:
    make_return(ws, tmp_path / "a", GOOD)
    send(ws, ON_TIME, tmp_path / "a")
    make_return(ws, tmp_path / "b", GOOD, {"1": {"status": "滞后"}})
    send(ws, dt.datetime(2022, 4, 13), tmp_path / "b")
    row = rows_by_unit(ws, BEFORE)[GOOD]
    assert (row.state, row.versions) == (TO_FIX, 2) and row.errors >= 1


def test_a_unit_whose_only_file_was_refused_has_sent(ws: Workspace, tmp_path: Path) -> None:
    make_unusable_return(ws, tmp_path / "in", BROKEN)
    records = collect(ws, [tmp_path / "in"], ON_TIME)
    assert [(r.unit, r.verdict) for r in records] == [(BROKEN, REFUSED)]
    row = rows_by_unit(ws, AFTER)[BROKEN]
    assert row.state == SENT and row.versions == 0 and row.errors is None
    assert row.note.startswith("被拒收：") and records[0].reason in row.note
    assert row.received == "2022-04-12T09:30:00" and row.late is False
    make_return(ws, tmp_path / "again", BROKEN)
    send(ws, dt.datetime(2022, 4, 13), tmp_path / "again")
    assert rows_by_unit(ws, AFTER)[BROKEN].state == PASSED


# --- the pure part ---

def receipt(n: int, unit: str, verdict: str, when: str, reason: str = "", name: str = "") -> Receipt:
    return Receipt(n, f"{n:064x}", when, name or f"{unit}.xlsx", name or f"{unit}.xlsx", 1, "xlsx", unit, verdict,
                   reason, "stamp", f"archive/{n}.xlsx")


class Checked:
    def __init__(self, errors: int, warnings: int, received_at: str, file: str) -> None:
        self.errors, self.warnings, self.received_at, self.file = errors, warnings, received_at, file


def test_compute_status_is_pure_and_keeps_unattributed_refusals() -> None:
    units = {"甲局": {"items": ["1", "2"], "file": "甲.xlsx"}, "乙局": {"items": ["3"]}, "丙局": {"items": ["4"]}}
    receipts = [
        receipt(1, "甲局", ACCEPTED, "2022-04-10T10:00:00"),
        receipt(2, "", REFUSED, "2022-04-11T10:00:00", "无法识别", "无名.xlsx"),
        receipt(3, "甲局", REFUSED, "2022-04-12T10:00:00", "期间不符", "甲局-二季度.xlsx"),
        receipt(4, "丁局", REFUSED, "2022-04-12T11:00:00", "未分发给该单位"),
        receipt(5, "乙局", "skipped", "2022-04-12T12:00:00", "重复"),
    ]
    checked = {"甲局": Checked(0, 2, "2022-04-10T10:00:00", "甲局.xlsx")}
    now = dt.datetime(2022, 4, 16, 8)
    first = compute_status(units, receipts, checked, DEADLINE, now)
    again = compute_status(units, list(reversed(receipts)), checked, DEADLINE, now)
    assert first.rows == again.rows
    a, b, c = first.rows
    assert (a.state, a.items, a.issued_file, a.warnings) == (PASSED, ("1", "2"), "甲.xlsx", 2)
    assert "甲局-二季度.xlsx" in a.note and "期间不符" in a.note, "a refused file after the current return is noted"
    assert (b.state, b.late, c.state) == (OVERDUE, True, OVERDUE), "a skipped duplicate is not a return"
    assert [r.file_name for r in first.unattributed] == ["无名.xlsx", "丁局.xlsx"]
    no_deadline = compute_status(units, receipts, checked, None, now)
    assert [r.state for r in no_deadline.rows] == [PASSED, NOT_SENT, NOT_SENT]
    assert not any(r.late for r in no_deadline.rows)


def test_as_of_accepts_dates_and_times() -> None:
    assert parse_as_of("2022-04-16") == dt.datetime(2022, 4, 16)
    assert parse_as_of("2022-04-16T09:30") == dt.datetime(2022, 4, 16, 9, 30)
    assert parse_as_of("2022-04-16 09:30") == dt.datetime(2022, 4, 16, 9, 30)
    with pytest.raises(ValueError, match="--as-of"):
        parse_as_of("4月16日")


# --- the command ---

def test_status_json_and_exit_codes(ws: Workspace, tmp_path: Path, cli) -> None:
    first_round(ws, tmp_path)
    result = cli("status", "--json", "--as-of", "2022-04-18T09:00", "-w", ws.root)
    assert result.exit_code == 1
    records = json.loads(result.output)
    assert len(records) == len(issued(ws))
    assert all(list(r) == list(JSON_KEYS) for r in records)
    assert set(JSON_KEYS) == {"unit", "state", "received", "versions", "errors", "warnings", "late"}
    by_unit = {r["unit"]: r for r in records}
    assert by_unit[GOOD] == {"unit": GOOD, "state": "已通过", "received": "2022-04-12T09:30:00", "versions": 1,
                             "errors": 0, "warnings": 0, "late": False}
    assert by_unit[FIX]["state"] == "需修改" and by_unit[FIX]["errors"] >= 1
    assert by_unit["市教育局"] == {"unit": "市教育局", "state": "逾期未报", "received": None, "versions": 0,
                                   "errors": None, "warnings": None, "late": True}

    table = cli("status", "--as-of", "2022-04-14", "-w", ws.root)
    assert table.exit_code == 1
    for word in (GOOD, FIX, "市人力资源社会保障局", "已通过", "需修改", "未报送"):
        assert word in table.output
    assert "逾期未报 0" in table.output and "未报送 8" in table.output


def test_status_exits_0_only_when_every_unit_passed(ws: Workspace, tmp_path: Path, cli) -> None:
    for unit in issued(ws):
        make_return(ws, tmp_path / "all", unit)
    send(ws, ON_TIME, tmp_path / "all")
    result = cli("status", "--json", "--as-of", "2022-04-20", "-w", ws.root)
    assert result.exit_code == 0, result.output
    assert {r["state"] for r in json.loads(result.output)} == {"已通过"}


def test_status_cannot_run_without_a_distribution(tmp_path: Path, cli) -> None:
    ws = init_workspace(tmp_path / "fresh", example=True)
    result = cli("status", "-w", ws.root)
    assert result.exit_code == 2 and "toolkit distribute" in result.output
    assert cli("status", "-w", tmp_path / "nowhere").exit_code == 2
    assert cli("status", "--as-of", "soon", "-w", ws.root).exit_code == 2


# --- chase notices ---

def read_bom_text(path: Path) -> str:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), f"{path.name}: no UTF-8 BOM (Notepad would guess the encoding)"
    return data[3:].decode("utf-8")


def test_remind_writes_one_notice_per_missing_unit(ws: Workspace, tmp_path: Path, cli) -> None:
    first_round(ws, tmp_path)
    make_unusable_return(ws, tmp_path / "bad", BROKEN)
    collect(ws, [tmp_path / "bad"], ON_TIME)
    result = cli("remind", "--as-of", "2022-04-18T09:00", "-w", ws.root)
    assert result.exit_code == 0, result.output
    folder = ws.root / "reminders"
    missing = [u for u in issued(ws) if u not in (GOOD, SEED, FIX, BROKEN)]
    notices = sorted(p.name for p in folder.glob("催报通知-*.txt"))
    assert notices == sorted(f"催报通知-{u}.txt" for u in missing)
    for unit, items in ITEMS.items():
        text = read_bom_text(folder / f"催报通知-{unit}.txt")
        assert text.startswith(f"{unit}：")
        for seq in items:
            assert f"序号{seq}：" in text
        assert "2022年4月15日" in text and "已过3天" in text and "2022年4月18日" in text
        assert issued(ws)[unit]["file"] in text
        assert "{{" not in text and "{%" not in text
    listing = read_bom_text(folder / "催报清单.txt")
    for unit in missing:
        assert unit in listing
    assert "序号6、7、8、44" in listing and "逾期3天" in listing
    assert f"{BROKEN}：被拒收" in listing, "a unit whose files were refused is named for the coordinator"
    for unit in (GOOD, SEED, FIX):
        assert unit not in listing
    assert str(folder / "催报清单.txt") in result.output


def test_remind_before_the_deadline_and_after_units_report(ws: Workspace, tmp_path: Path, cli) -> None:
    out = tmp_path / "chase"
    assert cli("remind", "--as-of", "2022-04-13T10:00", "-o", out, "-w", ws.root).exit_code == 0
    assert len(list(out.glob("催报通知-*.txt"))) == len(issued(ws))
    text = read_bom_text(out / f"催报通知-{GOOD}.txt")
    assert "截止日期为2022年4月15日（还有2天）" in text and "逾期" not in text
    first_round(ws, tmp_path)
    result = cli("remind", "--as-of", "2022-04-13T12:00", "-o", out, "-w", ws.root)
    assert "已删除 3 份过时的催报通知" in result.output
    left = {p.name for p in out.glob("催报通知-*.txt")}
    assert f"催报通知-{GOOD}.txt" not in left and f"催报通知-{FIX}.txt" not in left
    assert len(left) == len(issued(ws)) - 3
    for unit in issued(ws):
        make_return(ws, tmp_path / "rest", unit)
    send(ws, dt.datetime(2022, 4, 14), tmp_path / "rest")
    result = cli("remind", "--as-of", "2022-04-14T12:00", "-o", out, "-w", ws.root)
    assert "无需催报" in result.output and not list(out.glob("催报通知-*.txt"))
    assert "均已报送" in read_bom_text(out / "催报清单.txt")
