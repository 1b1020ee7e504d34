"""The summary's PDF reads as an official document: Chinese faces embedded (serif for 仿宋/小标宋, bold sans for
黑体, Simplified Chinese), no line beginning with closing punctuation, no header label leaving a lone character."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from toolkit.excel import office
from toolkit.store.workspace import open_workspace

pytestmark = pytest.mark.libreoffice
CLOSING = "，。、；：？！）》」』】〕〉”’"


def poppler(tool: str, *args: str | Path) -> str:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} (poppler-utils) is not installed: run `bash scripts/install-test-deps.sh`")
    return subprocess.run([tool, *map(str, args)], capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`toolkit demo` then `toolkit merge --pdf`: the workspace and what merge printed."""
    from conftest import run_cli

    root = tmp_path_factory.mktemp("pdf") / "demo"
    assert run_cli("demo", root).exit_code == 0
    result = run_cli("merge", "--pdf", "-w", root)
    assert result.exit_code == 0, result.output
    return root, result.output


def pdf_of(root: Path) -> Path:
    return next((root / "reports").glob("*.pdf"))


def test_pdf_embeds_chinese_serif_and_bold_sans(merged: tuple[Path, str]) -> None:
    root, output = merged
    listing = poppler("pdffonts", pdf_of(root)).splitlines()[2:]
    names = [line.split()[0].split("+")[-1] for line in listing]
    assert all(re.search(r"\byes\s+yes\s+yes\b", line) for line in listing), listing  # embedded, subset, unicode
    assert any("SerifCJK" in n and "Regular" in n for n in names), names  # 仿宋_GB2312 → a serif face
    assert any("SerifCJK" in n and "Bold" in n for n in names), names  # 方正小标宋简体 → a heavy serif face
    assert any("SansCJK" in n and "Bold" in n for n in names), names  # 黑体 → a bold sans face
    assert not any("DejaVu" in n or "Liberation" in n for n in names), names  # no Latin fallback for Chinese
    installed = office.installed_families() or set()
    if "仿宋_GB2312" not in installed and "黑体" not in installed:  # said once which faces stand in
        assert output.count("本机未安装公文字体") == 1
        assert "仿宋_GB2312 → Noto Serif CJK SC" in output and "黑体 → Noto Sans CJK SC（粗体）" in output


def test_stand_ins_are_simplified_chinese_faces(tmp_path: Path) -> None:
    substitutes = office.font_substitutes(["仿宋_GB2312", "方正小标宋简体", "黑体"])
    if not substitutes:
        pytest.skip("the official faces are installed here: nothing stands in")
    assert all(face.endswith(("SC", "CN")) for face, _ in substitutes.values()), substitutes
    conf = tmp_path / "fonts.conf"
    conf.write_text(office.fonts_conf(substitutes), encoding="utf-8")
    found = subprocess.run(["fc-match", "--format", "%{postscriptname} %{weight}", "仿宋_GB2312"], env={
        "FONTCONFIG_FILE": str(conf), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True).stdout
    assert re.match(r"\S*(sc|SC|CN)\S*", found) and "jp" not in found.lower(), found  # the SC face, not JP


def test_no_line_begins_with_closing_punctuation_nor_leaves_a_lone_header_character(merged: tuple[Path, str]) -> None:
    root, _ = merged
    lines = [line.strip() for line in poppler("pdftotext", "-raw", pdf_of(root), "-").splitlines() if line.strip()]
    assert len(lines) > 200  # the whole table is there
    starts = [line for line in lines if line[0] in CLOSING]
    assert not starts, starts
    layout = poppler("pdftotext", "-layout", pdf_of(root), "-")
    assert not re.search(rf"(^|\s{{2,}})[{CLOSING}]", layout, re.M)  # nor in any column of the laid-out page
    for label in (c.label for c in open_workspace(root).spec.columns):
        assert label[-1] not in lines, f"{label} leaves “{label[-1]}” alone on a line"


@pytest.mark.parametrize("folder", ["outbox", "inbox"])
def test_template_and_returned_workbook_printed_with_chinese_line_breaks(merged: tuple[Path, str], folder: str,
                                                                         tmp_path: Path) -> None:
    root, _ = merged
    workbook = next((root / folder).glob("*市科技局*.xlsx"))
    pdf = office.convert([workbook], "pdf", tmp_path, chinese_line_breaks=True)[0]
    lines = [line.strip() for line in poppler("pdftotext", "-raw", pdf, "-").splitlines() if line.strip()]
    assert any("年度目标" in line for line in lines)
    assert not [line for line in lines if line[0] in CLOSING]
    assert "导" not in lines  # 市政府分管领导 broken into balanced lines
