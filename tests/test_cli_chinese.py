"""The command line speaks Chinese: every --help, the usage errors and --version, within 80 columns."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from toolkit import __version__
from toolkit.cli import app
from toolkit.excel.layout import display_width

COMMANDS = [info.name or info.callback.__name__ for info in app.registered_commands]
_WORD = re.compile(r"(?<![-\w.])[A-Za-z]{2,}")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "80"}, catch_exceptions=False, prog_name="toolkit")
    return result.exit_code, result.output


def our_words() -> set[str]:
    """ASCII words the toolkit's own help texts use (command names, toolkit, Excel, LibreOffice, .xlsx …)."""
    command = typer.main.get_command(app)
    texts = [command.help or "", *COMMANDS]
    for sub in command.commands.values():
        texts.append(sub.help or "")
        texts += [f"{p.help or ''} {p.metavar or ''} {p.default}" for p in sub.params]
    return {w.lower() for w in _WORD.findall(" ".join(texts))}


@pytest.mark.parametrize("args", [["--help"], *[[name, "--help"] for name in COMMANDS]], ids=lambda a: " ".join(a))
def test_help_is_chinese_and_fits_80_columns(args: list[str]) -> None:
    code, out = run(*args)
    assert code == 0
    assert out.startswith("用法：toolkit")
    assert "选项：" in out and "显示本帮助后退出。" in out
    foreign = {w for w in _WORD.findall(out) if w.lower() not in our_words()}
    assert not foreign, f"English words of click/typer in `toolkit {' '.join(args)}`: {sorted(foreign)}\n{out}"
    assert max(display_width(line) for line in out.splitlines()) <= 80, out
    assert not re.search(r"^\s+[，。、；：）》”]", out, re.M), out  # no wrapped line begins with closing punctuation


def test_usage_errors_are_chinese() -> None:
    code, out = run("merge", "--allow")
    assert code == 2
    assert "用法：toolkit merge [选项]" in out and "运行“toolkit merge --help”查看帮助。" in out
    assert "错误：没有 --allow 这个选项（是不是要写 --allow-missing？）。" in out
    assert "错误：缺少参数 '路径'。" in run("collect")[1]
    assert "错误：'--jobs' / '-j' 应为整数。" in run("distribute", "-j", "abc")[1]
    for _, out in (run("merge", "--allow"), run("collect"), run("nosuch")):
        assert not {"Error", "Usage", "Try", "Missing", "No", "such"} & set(_WORD.findall(out)), out


def test_version() -> None:
    assert run("--version") == (0, f"toolkit 版本 {__version__}\n")


def test_group_by_takes_chinese_words(cli, tmp_path) -> None:
    result = cli("merge", "--group-by", "部门", "-w", tmp_path)
    assert result.exit_code == 2
    assert "--group-by 只能是“领导”或“单位”（也可写 leader、unit），而不是“部门”。" in result.output
