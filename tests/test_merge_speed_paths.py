"""The target list kept in .toolkit/ between commands gives merge and distribute what parsing it gives."""

from __future__ import annotations

import hashlib
from pathlib import Path

import openpyxl
import pytest
from targetlists import Row, edit_q1_target, write_list

from toolkit.collect import collect
from toolkit.distribute import distribute
from toolkit.excel import targetlist as targets_mod
from toolkit.excel.fill import fill_template
from toolkit.excel.targetlist import CACHE_NAME, read_target_list, read_target_list_kept
from toolkit.merge import merge
from toolkit.model.periods import parse_period
from toolkit.model.spec import load_spec
from toolkit.store.workspace import Workspace, init_workspace, load_example_answers

ANSWERS = load_example_answers("gov-work-report")["units"]

# --- the target list, kept in .toolkit/ between commands ---

def parsed(ws: Workspace):
    return read_target_list(ws.targets_path, ws.spec, ws.period)


def no_parsing(*_args, **_kwargs):
    raise AssertionError("the target list was parsed again")


def test_merge_after_distribute_does_not_parse_the_list_again(example_ws, monkeypatch):
    distribute(example_ws)
    assert (example_ws.state / CACHE_NAME).is_file()
    expected = parsed(example_ws)

    monkeypatch.setattr(targets_mod, "read_target_list", no_parsing)
    targets, problems = example_ws.load_targets()

    assert (targets.items, targets.aliases, problems) == (expected[0].items, expected[0].aliases, expected[1])


def test_an_edited_target_list_gives_its_new_text_to_merge_and_distribute(example_ws, tmp_path):
    result = distribute(example_ws)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for issue in result.issues:
        unit = ANSWERS[issue.unit]
        fill_template(example_ws.outbox / issue.file_name, inbox / issue.file_name, example_ws.spec,
                      unit["items"], unit["contact"])
    collect(example_ws, [inbox])
    assert merge(example_ws).path is not None  # the list is kept after distribute's and merge's reads

    edit_q1_target(example_ws.targets_path, "45", "省实验室完成理事会组建，编辑于合并之后。")
    summary = merge(example_ws).path

    sheet = openpyxl.load_workbook(summary).worksheets[0]
    header = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "序号")
    column = [c.value for c in sheet[header]].index("第1季度目标") + 1
    (row,) = [r for r in range(header + 1, sheet.max_row + 1) if sheet.cell(r, 1).value == "45"]
    assert sheet.cell(row, column).value == "省实验室完成理事会组建，编辑于合并之后。"

    edit_q1_target(example_ws.targets_path, "45", "再次编辑后分发。")
    distribute(example_ws)
    template = openpyxl.load_workbook(next(example_ws.outbox.glob("*市科技局*.xlsx"))).worksheets[0]
    assert "再次编辑后分发。" in [c.value for row in template.iter_rows() for c in row]


def damaged(kept: bytes) -> dict[str, bytes]:
    head, _, payload = kept.partition(b"\n")
    key = head.split(b" ")[0]
    other_text = payload.replace(b'"annual": "', '"annual": "改'.encode(), 1)
    assert other_text != payload
    wrong_shape = b'{"items": [["1"]], "aliases": {}, "problems": []}'
    return {
        "garbage": b"\x00\xff not a cache at all",
        "empty": b"",
        "truncated": kept[: len(kept) // 2],
        "text changed, checksum not": head + b"\n" + other_text,
        "another list's key": hashlib.sha256(b"another").hexdigest().encode() + head[len(key):] + b"\n" + payload,
        "wrong shape, checksum recomputed": key + b" " + hashlib.sha256(wrong_shape).hexdigest().encode() + b"\n"
                                            + wrong_shape,
    }


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "text changed, checksum not",
                                    "another list's key", "wrong shape, checksum recomputed"])
def test_a_damaged_or_foreign_cache_is_parsed_again_and_replaced(example_ws, monkeypatch, damage):
    example_ws.load_targets()
    cache = example_ws.state / CACHE_NAME
    cache.write_bytes(damaged(cache.read_bytes())[damage])
    expected = parsed(example_ws)

    targets, problems = example_ws.load_targets()

    assert (targets.items, targets.aliases, problems) == (expected[0].items, expected[0].aliases, expected[1])
    monkeypatch.setattr(targets_mod, "read_target_list", no_parsing)
    assert example_ws.load_targets()[0].items == expected[0].items  # the cache was written whole again


def test_a_list_with_problems_reads_back_the_same_problems(tmp_path, monkeypatch):
    path = tmp_path / "list.xlsx"
    write_list(path, [Row(1), Row(1), Row(2, annual=None), Row(3, units=None), Row(4, units="市科技局、市发改委")],
               units=[("市科技局", ""), ("市发展改革委", "市发改委")])
    period = parse_period("Q1")
    spec = load_spec("gov-work-report", {"year": 2022, "period": period})
    state = tmp_path / "state"
    expected = read_target_list(path, spec, period)
    assert expected[1] and expected[0].aliases

    first = read_target_list_kept(path, spec, period, state)
    monkeypatch.setattr(targets_mod, "read_target_list", no_parsing)
    second = read_target_list_kept(path, spec, period, state)

    for got in (first, second):
        assert (got[0].items, got[0].aliases, got[1]) == (expected[0].items, expected[0].aliases, expected[1])


def test_the_cache_is_keyed_by_period_and_place(tmp_path):
    ws = init_workspace(tmp_path / "ws", example=True)
    ws.load_targets()
    moved = Path(tmp_path / "elsewhere.xlsx")
    moved.write_bytes(ws.targets_path.read_bytes())
    q2 = parse_period("Q2")
    spec_q2 = load_spec("gov-work-report", {"year": 2022, "period": q2})

    for path, spec, period in ((moved, ws.spec, ws.period), (ws.targets_path, spec_q2, q2)):
        expected = read_target_list(path, spec, period)
        got = read_target_list_kept(path, spec, period, ws.state)
        assert (got[0].items, got[1]) == (expected[0].items, expected[1])
