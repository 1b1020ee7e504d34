"""At 80 columns the terminal output neither overflows nor breaks a unit's name or a file name in the middle;
`toolkit presets` is aligned; `toolkit demo` writes into ./toolkit-demo/ (ignored by git) and says where to look."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.excel.layout import display_width
from toolkit.store.manifest import read_manifest
from toolkit.store.workspace import open_workspace

ROOT = Path(__file__).resolve().parents[1]


def run80(*args: str | Path, cwd: Path | None = None) -> tuple[int, str]:
    previous = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "80"}, catch_exceptions=False,
                                    prog_name="toolkit")
    finally:
        os.chdir(previous)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`toolkit demo` run with no folder from a fresh directory: its workspace and what it printed."""
    here = tmp_path_factory.mktemp("terminal")
    code, out = run80("demo", cwd=here)
    assert code == 0, out
    return here / "toolkit-demo", out


def assert_fits(out: str) -> list[str]:
    lines = out.splitlines()
    too_wide = [line for line in lines if display_width(line) > 80 and "/" not in line]  # a path: whole, own line
    assert not too_wide, too_wide
    assert "…" not in out  # nothing cut off with an ellipsis
    return lines


def test_demo_uses_toolkit_demo_folder_ignored_by_git_and_says_where_to_look(demo: tuple[Path, str]) -> None:
    root, out = demo
    assert (root / "toolkit.toml").is_file()
    assert "/toolkit-demo/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "示例完成。建议先看这几个文件" in out
    assert re.search(r"1\. 汇总表：reports/.+汇总表\.xlsx", out)
    assert "3. 校验出的问题清单：reports/validation.xlsx" in out
    assert "--as-of 2022-04-16 查看当时的报送进度" in out


def test_status_at_80_columns_keeps_names_whole(demo: tuple[Path, str]) -> None:
    root, _ = demo
    code, out = run80("status", "--as-of", "2022-04-16", "-w", root)
    assert code == 0  # every unit passed
    lines = assert_fits(out)
    units = read_manifest(open_workspace(root))["units"]
    for unit in units:
        assert any(line.startswith(unit) for line in lines), unit
    assert "逾期" not in "".join(line for line in lines if line.startswith("市"))  # returned on time (demo: 04-13)
    for name in (root / "inbox").glob("*.xlsx"):
        assert any(name.name in line for line in lines), name.name  # each file name on one line


def test_collect_and_validate_at_80_columns_keep_names_whole(demo: tuple[Path, str]) -> None:
    root, _ = demo
    _, out = run80("collect", root / "inbox", "-w", root)
    lines = assert_fits(out)
    for name in (root / "inbox").glob("*.xlsx"):
        assert any(name.name in line for line in lines), name.name
    code, out = run80("validate", "-w", root)
    assert code == 0  # a warning, no error
    lines = assert_fits(out)
    assert any(line.startswith("警告　市科技局　第54项") for line in lines)
    assert not re.search(r"^\s*[，。、；：）”》]", out, re.M)


def test_presets_are_aligned() -> None:
    code, out = run80("presets")
    assert code == 0
    lines = assert_fits(out)
    starts = {display_width(line) - display_width(line.lstrip()) if line.startswith(" ")
              else display_width(re.match(r"\S+\s+", line)[0]) for line in lines}
    assert len(starts) == 1, out  # descriptions and their continuation lines start in one column
