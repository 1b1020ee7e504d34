"""`toolkit status --html`: the page opened in headless Chromium, as a coordinator opens it on a phone or a desk.

What is checked is what Chromium rendered: the DOM after loading (`--dump-dom`) holds every unit, its state word
and the counts; the screenshots (kept in $TOOLKIT_TEST_ARTIFACTS, else a temporary folder) show the bars in each state's colour. Chromium is
Debian's `chromium`: without it the Chromium tests skip on a developer's machine and fail in CI.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import run_cli, running_in_ci

from toolkit.collect import collect
from toolkit.demo import fill_template
from toolkit.distribute import distribute
from toolkit.status import STATES, StatusReport, StatusRow, render_html
from toolkit.store.manifest import read_manifest
from toolkit.store.workspace import Workspace, init_workspace, load_example_answers

# What a person may look at afterwards: TOOLKIT_TEST_ARTIFACTS, else the system's temporary folder (never the
# repository).
ARTIFACTS = Path(os.environ.get("TOOLKIT_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "toolkit-test-artifacts")
ANSWERS: dict[str, Any] = load_example_answers("gov-work-report")["units"]
AS_OF = "2022-04-18T09:00"  # three days after the example's deadline (2022-04-15)
PASSED_UNITS = ("市发展改革委", "市科技局", "市教育局")
LATE_UNIT = "市教育局"  # sends on 2022-04-17: passed, but late
TO_FIX_UNIT = "市商务局"
SENT_UNIT = "市生态环境局"  # its only file is refused
EXPECTED_TOTALS = {"已通过": 3, "需修改": 1, "已报送": 1, "未报送": 0, "逾期未报": 6}
PHONE, DESKTOP = 390, 1280


# --- the page ---

@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A workspace with every kind of unit, its `toolkit status --html` page and `--json` records."""
    root = tmp_path_factory.mktemp("dashboard")
    ws: Workspace = init_workspace(root / "ws", example=True)
    distribute(ws)
    units = read_manifest(ws)["units"]

    def fill(unit: str, folder: Path, changes: dict[str, dict[str, str]] | None = None) -> None:
        answers = {seq: {**values, **(changes or {}).get(seq, {})} for seq, values in ANSWERS[unit]["items"].items()}
        folder.mkdir(exist_ok=True)
        fill_template(ws.outbox / units[unit]["file"], folder / f"{unit}.xlsx", ws.spec, answers,
                      ANSWERS[unit]["contact"])

    for unit in PASSED_UNITS[:2]:
        fill(unit, root / "a")
    fill(TO_FIX_UNIT, root / "a", {"12": {"status": "序时推进"}})
    workbook = openpyxl.load_workbook(ws.outbox / units[SENT_UNIT]["file"])
    workbook[ws.spec.sheet_name].delete_rows(1, 200)
    workbook.save(root / "a" / f"{SENT_UNIT}.xlsx")
    collect(ws, [root / "a"], dt.datetime(2022, 4, 12, 9, 30))
    fill(LATE_UNIT, root / "b")
    collect(ws, [root / "b"], dt.datetime(2022, 4, 17, 16, 45))

    html = root / "进度.html"
    result = run_cli("status", "--html", html, "--as-of", AS_OF, "-w", ws.root)
    assert result.exit_code == 1, result.output
    assert html.is_file() and str(html) in result.output
    records = json.loads(run_cli("status", "--json", "--as-of", AS_OF, "-w", ws.root).output)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(html, ARTIFACTS / "status.html")
    return {"ws": ws, "html": html, "records": records, "root": root}


def test_the_page_is_self_contained_responsive_and_printable(page: dict[str, Any]) -> None:
    source = page["html"].read_text(encoding="utf-8")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in source
    assert '<meta charset="utf-8">' in source
    assert "@media print" in source and "@media screen and (max-width: 640px)" in source
    assert '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif' in source
    assert "<script" not in source and "<link" not in source and "<img" not in source
    assert not re.search(r"(src|href)\s*=|url\(|@import|https?://", source), "no external asset of any kind"
    title = f"{page['ws'].spec.title}报送进度"
    assert f"<title>{title}</title>" in source


def test_unit_names_are_escaped() -> None:
    row = StatusRow("<b>某局</b>&", ("1",), "已通过", "2022-04-12T09:30:00", 1, False, 0, 0, "<x>.xlsx")
    report = StatusReport([row], dt.datetime(2022, 4, 13), dt.date(2022, 4, 15))
    html = render_html(report, "标题<script>", "办公室")
    assert "<b>某局</b>" not in html and "&lt;b&gt;某局&lt;/b&gt;&amp;" in html
    assert "<script>" not in html and "&lt;x&gt;.xlsx" in html


# --- Chromium ---

CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    message = "Chromium is not installed: run `bash scripts/install-test-deps.sh` (Debian package `chromium`)"
    if running_in_ci():
        pytest.fail(f"{message} (CI is set, so this test may not be skipped)", pytrace=False)
    pytest.skip(message)


def run_chromium(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                            capture_output=True, text=True, encoding="utf-8", timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


class Node:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs, self.children = tag, attrs, []  # children: Node or str

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        out = []
        for child in self.children:
            if isinstance(child, Node):
                wanted = child.tag == tag and all(
                    (v in child.attrs.get(k.rstrip("_"), "").split()) if k == "class_" else child.attrs.get(
                        k.replace("_", "-")) == v for k, v in attrs.items())
                if wanted:
                    out.append(child)
                out += child.find_all(tag, **attrs)
        return out


class TreeBuilder(HTMLParser):
    VOID = frozenset({"meta", "br", "link", "img", "input", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_dom(text: str) -> Node:
    builder = TreeBuilder()
    builder.feed(text)
    return builder.root


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_chromium_shows_every_unit_state_and_count(page: dict[str, Any], chromium: str, tmp_path: Path) -> None:
    dom = parse_dom(run_chromium(chromium, tmp_path / "profile", "--dump-dom", page["html"].as_uri()).stdout)
    records = page["records"]
    title = dom.find_all("h1")[0].text()
    assert page["ws"].spec.title in title and "报送进度" in title

    counts = {li.attrs["data-state"]: squash(li.text()) for li in dom.find_all("li", class_="count")
              if "data-state" in li.attrs}
    assert counts == {word: f"{n}{word}" for word, n in EXPECTED_TOTALS.items()}
    assert {r["state"] for r in records} <= set(STATES)
    assert {word: sum(r["state"] == word for r in records) for word in STATES} == EXPECTED_TOTALS

    bars = dom.find_all("ul", id="chart")[0].find_all("li")
    assert [b.attrs["data-unit"] for b in bars] == [r["unit"] for r in records]
    for bar, record in zip(bars, records, strict=True):
        shown = squash(bar.text())
        assert shown.startswith(record["unit"]) and record["state"] in shown
        assert bar.attrs["data-state"] == record["state"]
        assert ("逾期" in shown) == record["late"], shown

    rows = dom.find_all("table", id="units")[0].find_all("tbody")[0].find_all("tr")
    assert len(rows) == len(records)
    for row, record in zip(rows, records, strict=True):
        cells = {td.attrs["data-label"]: squash(td.text()) for td in row.find_all("td")}
        assert cells["单位"] == record["unit"] and cells["状态"] == record["state"]
        assert cells["版本"] == str(record["versions"])
        assert cells["错误"] == ("—" if record["errors"] is None else str(record["errors"]))
    by_unit = {squash(r.find_all("td")[0].text()): r for r in rows}
    assert "被拒收" in by_unit[SENT_UNIT].text()
    assert "逾期2天" in squash(by_unit[LATE_UNIT].text()) and "2022-04-1716:45" in squash(by_unit[LATE_UNIT].text())


# --- screenshots ---

def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB(A) rows of an 8-bit PNG, decoded with the standard library only."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + previous[i]) // 2) & 255
        elif kind == 4:
            for i in range(stride):
                a, b = (line[i - bpp] if i >= bpp else 0), previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line) if bpp == 3 else bytes(v for i, v in enumerate(line) if i % 4 != 3))
        previous = line
    return width, height, rows


def pixels_of(rows: list[bytes], colour: str) -> int:
    rgb = bytes.fromhex(colour.lstrip("#"))
    return sum(row.count(rgb) for row in rows)


def bar_lines(rows: list[bytes], colour: str, min_run: float) -> int:
    """How many pixel rows hold a run of `colour` at least `min_run` pixels long: a bar is about 16 such rows."""
    run = re.compile(b"(?:" + re.escape(bytes.fromhex(colour.lstrip("#"))) + b")+")
    return sum(1 for row in rows if any(len(m.group()) // 3 >= min_run for m in run.finditer(row)))


@pytest.mark.parametrize("width", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_screenshot_shows_the_bars_in_state_colours(page: dict[str, Any], chromium: str, tmp_path: Path,
                                                    width: int) -> None:
    height = 1600
    shot = ARTIFACTS / f"status-{width}.png"
    shot.unlink(missing_ok=True)
    run_chromium(chromium, tmp_path / "profile", f"--screenshot={shot}", f"--window-size={width},{height}",
                 page["html"].as_uri())
    assert shot.is_file(), "Chromium wrote no screenshot"
    got_width, got_height, rows = read_png(shot)
    assert (got_width, got_height) == (width, height)
    for word, n in EXPECTED_TOTALS.items():
        state = STATES[word]
        if n and word != "未报送":
            assert pixels_of(rows, state.colour) > 400, f"{word} ({state.colour}) is not drawn at all"
        if n and state.progress:
            # each unit's bar: a run of the state's colour over its share of the track, about 16 pixels high
            lines = bar_lines(rows, state.colour, state.progress / 100 * 0.5 * width)
            assert lines >= 12 * n, f"{word}: {n} bar(s) expected, {lines} pixel rows of bar seen"
    background = pixels_of(rows, "#f5f5f5") + pixels_of(rows, "#ffffff")
    assert background < 0.9 * width * height, "the page looks nearly empty"
