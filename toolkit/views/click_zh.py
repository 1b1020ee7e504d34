"""The command line's own words in Chinese: typer's help (用法、选项、参数、命令、默认、必填) laid out by display width,
and its usage errors (没有这个选项、缺少参数、取值无效) in Chinese.

typer (0.29) carries its own copy of click, whose words are fixed English strings; what is Chinese here goes
through typer's extension points: the command classes (`cls=`), their context class and its `formatter_class`.
typer's own gettext words ("default: {default}", "required", the section names) go through `WORDS`.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import typer
import typer.core
from typer import _click as click  # typer's copy of click: its exceptions and help formatter

from toolkit.excel.layout import display_width
from toolkit.views.terminal import wrap_cjk

OPTIONS_METAVAR = "[选项]"
COMMAND_METAVAR = "命令 [参数]..."
HELP_TEXT = "显示本帮助后退出。"
WORDS = {"Options": "选项", "Arguments": "参数", "Commands": "命令", "required": "必填",
         "default: {default}": "默认：{default}", "env var: {var}": "环境变量：{var}", "(dynamic)": "（运行时确定）"}
# typer shows a parameter's type after its name (`<path>`); the Chinese metavar already says what to write.
_TYPE = re.compile(r" <[^<>]*>$")
_RANGE = re.compile(r"x>=(\d+)")
_EXTRA = re.compile(r"\s*\[([^\[\]]*)\]$")  # typer's "  [默认：0; 必填]" after a help text
MAX_NAME_WIDTH = 24  # a longer option name gets its help on the next line
class ChineseFormatter(click.HelpFormatter):
    """typer's help formatter with Chinese headings, widths measured in terminal columns and Chinese text wrapped
    between characters (never before closing punctuation)."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        self.write(f"{' ' * self.current_indent}{prefix or '用法：'}{prog} {args}\n")

    def write_heading(self, heading: str) -> None:
        self.write(f"{' ' * self.current_indent}{WORDS.get(heading, heading)}：\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        for paragraph in text.split("\n"):
            for line in wrap_cjk(paragraph, self.width - self.current_indent):
                self.write(f"{indent}{line}\n")

    def write_dl(self, rows: Any, col_max: int = MAX_NAME_WIDTH, col_spacing: int = 2) -> None:
        rows = [(_TYPE.sub("", name), _EXTRA.sub(_extra_in_brackets, _RANGE.sub(r"不小于 \1", text or "")))
                for name, text in rows]
        first = min(max((display_width(name) for name, _ in rows), default=0), col_max)
        indent = " " * self.current_indent
        help_at = self.current_indent + first + col_spacing
        for name, text in rows:
            lines = wrap_cjk(text, max(self.width - help_at, 20)) or [""]
            if display_width(name) > first:
                self.write(f"{indent}{name}\n")
                lines_start = " " * help_at
            else:
                lines_start = f"{indent}{name}{' ' * (first - display_width(name) + col_spacing)}"
            for line in lines:
                self.write(f"{lines_start}{line}".rstrip() + "\n")
                lines_start = " " * help_at


def _extra_in_brackets(match: re.Match[str]) -> str:
    return f"（{match[1].replace('; ', '；')}）"


class ChineseContext(typer.Context):
    formatter_class = ChineseFormatter


def _chinese_help_option(command: Any, ctx: Any) -> Any:
    option = super(type(command), command).get_help_option(ctx)
    if option is not None:
        option.help = HELP_TEXT
    return option


class ChineseCommand(typer.core.TyperCommand):
    context_class = ChineseContext

    def get_help_option(self, ctx: Any) -> Any:
        return _chinese_help_option(self, ctx)


class ChineseGroup(typer.core.TyperGroup):
    """The `toolkit` group: Chinese help, and usage errors shown in Chinese instead of click's English."""

    context_class = ChineseContext

    def get_help_option(self, ctx: Any) -> Any:
        return _chinese_help_option(self, ctx)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # `toolkit` alone: the help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.UsageError as exc:
            show_usage_error(exc)
            sys.exit(exc.exit_code)
        except click.exceptions.ClickException as exc:
            click.echo(f"错误：{exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            click.echo("已中止。", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def show_usage_error(exc: Any) -> None:
    """The usage line, where to find help, and what was wrong, in Chinese."""
    if exc.ctx is not None:
        click.echo(f"{exc.ctx.get_usage()}\n运行“{exc.ctx.command_path} --help”查看帮助。\n", err=True)
    click.echo(f"错误：{usage_error_text(exc)}", err=True)


def usage_error_text(exc: Any) -> str:
    exceptions = click.exceptions
    if isinstance(exc, exceptions.NoSuchOption):
        similar = f"（是不是要写 {'、'.join(sorted(exc.possibilities))}？）" if exc.possibilities else ""
        return f"没有 {exc.option_name} 这个选项{similar}。"
    if isinstance(exc, exceptions.MissingParameter):
        kind = exc.param_type or (exc.param.param_type_name if exc.param is not None else "argument")
        what = f" {exc.param.get_error_hint()}" if exc.param is not None else ""
        return f"缺少{'参数' if kind == 'argument' else '选项'}{what}。"
    if isinstance(exc, exceptions.BadParameter):
        what = exc.param.get_error_hint() if exc.param is not None else (exc.param_hint or "")
        if "valid integer" in exc.message:
            return f"{what} 应为整数。"
        at_least = re.search(r"greater than or equal to (\S+)", exc.message)
        if at_least:
            return f"{what} 应不小于 {at_least[1]}。"
        return f"{what} 的取值无效：{exc.message}"
    message = exc.format_message()
    for english, chinese in (("No such command", "没有这个命令"), ("'.", "'。"), ("Got unexpected extra argument", "多出了参数"),
                             ("Missing command", "缺少命令"), ("requires an argument", "后面要跟一个值"),
                             ("does not take a value", "后面不能跟值")):
        message = message.replace(english, chinese)
    return message


def install() -> None:
    """typer's own gettext words in Chinese (the section names, 默认, 必填); once per process is enough."""
    typer.core._ = lambda message: WORDS.get(message, message)  # type: ignore[attr-defined]
