"""Merge's fast paths at province scale give what the plain ones give: widths, the kept target list."""

from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path

import openpyxl
import pytest
from targetlists import Row, edit_q1_target, write_list

from toolkit.collect import collect
from toolkit.distribute import distribute
from toolkit.excel import targetlist as targets_mod
from toolkit.excel.fill import fill_template
from toolkit.excel.layout import WIDE, display_width, line_count
from toolkit.excel.targetlist import CACHE_NAME, read_target_list, read_target_list_kept
from toolkit.merge import merge
from toolkit.model.periods import parse_period
from toolkit.model.spec import load_spec
from toolkit.store.workspace import Workspace, init_workspace, load_example_answers

ANSWERS = load_example_answers("gov-work-report")["units"]

MIXED = [
    "",
    "Q1 2022: 3.5% (GDP)",
    "二〇二二年第一季度全市经济社会发展主要目标任务",
    "深化“放管服”改革——持续推进“一网通办”……",  # curly quotes, em dashes and ellipses are narrow
    "全角标点，。；：！？（）【】《》　与全角字母ＡＢＣ１２３",
    "Café, naïve, résumé, Ångström, ×÷°±·µ",  # Latin-1: two bytes in UTF-8
    "完成✅ 😀🎉 进度📈",  # emoji: four bytes, some wide
    "𠀀𪚥𫝀 扩展B区汉字",  # CJK beyond the BMP
    "한국어 カタカナ ひらがな ㈱ ㎡",
    "tab\tnbsp\u00a0zero-width\u200b line\u2028separator",
    "lone surrogate \ud800 kept",
    "\ufeffBOM\ufffe and \uffff",
]


def exact_width(text: str) -> int:
    return len(text) + len(WIDE.findall(text))


def random_texts(count: int) -> list[str]:
    """Texts mixing every UTF-8 length, the wide ranges' edges and the narrow characters beside them."""
    rng = random.Random(8)
    edges = [0x10FF, 0x1100, 0x115F, 0x1160, 0x2E7F, 0x2E80, 0x303E, 0x303F, 0x4DBF, 0x4E00, 0x9FFF, 0xA000,
             0xD7A3, 0xD7A4, 0xF8FF, 0xF900, 0xFF00, 0xFF60, 0xFF61, 0xFFE6, 0xFFE7, 0x1F2FF, 0x1F300, 0x1F64F,
             0x1F650, 0x1FFFF, 0x20000, 0x3FFFD, 0x3FFFE]
    pools = [(0x20, 0x7F), (0x80, 0x800), (0x800, 0x10000), (0x10000, 0x40000)]
    texts = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randrange(0, 40)):
            if rng.random() < 0.3:
                chars.append(chr(rng.choice(edges)))
            else:
                low, high = rng.choice(pools)
                chars.append(chr(rng.randrange(low, high)))
        texts.append("".join(chars))
    return texts


@pytest.mark.parametrize("text", MIXED)
def test_display_width_counts_what_the_wide_class_matches(text):
    assert display_width(text) == exact_width(text)


def test_display_width_agrees_on_random_mixed_texts():
    for text in random_texts(5000):
        assert display_width(text) == exact_width(text), repr(text)


def test_line_count_measures_each_paragraph_by_the_exact_width():
    texts = ["\n".join(MIXED), "一\n\n二", "\n", "甲" * 200 + "\n" + "“乙”" * 30, *random_texts(200)]
    for text in texts:
        for width, pt in ((6, 12), (18, 12), (44, 12), (30, 14)):
            per_line = max((width - 1) * 11 / pt, 2)
            expected = sum(max(1, math.ceil(exact_width(p) / per_line)) for p in text.split("\n"))
            assert line_count(text, width, pt) == expected, (text, width, pt)


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
