"""The `toolkit` command: a thin typer layer over the library, one function per step."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from toolkit import __version__
from toolkit.model import findings, resources
from toolkit.model.periods import ALLOWED as PERIOD_CODES
from toolkit.model.periods import parse_as_of, parse_period
from toolkit.model.spec import SpecError, load_spec
from toolkit.store.files import OutputError
from toolkit.store.ledger import REBUILD
from toolkit.store.lock import BusyError
from toolkit.store.workspace import Workspace, WorkspaceError, init_workspace, open_workspace
from toolkit.views import click_zh
from toolkit.views.terminal import (
    VERDICT_WORDS,
    console,
    files_table,
    print_findings,
    print_joined,
    progress,
    units_table,
    wrap_cjk,
)

click_zh.install()  # click's and typer's own words (用法、选项、默认…) in Chinese
app = typer.Typer(
    no_args_is_help=True, add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False,
    options_metavar=click_zh.OPTIONS_METAVAR, subcommand_metavar=click_zh.COMMAND_METAVAR, cls=click_zh.ChineseGroup,
)
command = functools.partial(app.command, options_metavar=click_zh.OPTIONS_METAVAR, cls=click_zh.ChineseCommand)

JobsOption = Annotated[int, typer.Option(
    "--jobs", "-j", min=0, metavar="进程数", help="并行进程数：0 为自动（文件多时每个 CPU 核一个进程），1 为单进程；结果都相同")]
ForceOption = Annotated[bool, typer.Option(
    "--force", help="输出文件已存在且不是 toolkit 写出的时，仍然覆盖（工作区的清单、配置、台账、存档等永不覆盖）")]
WorkspaceOption = Annotated[
    Path | None, typer.Option("-w", "--workspace", metavar="文件夹", help="工作区文件夹（默认：当前文件夹或其上级中的工作区）")
]


# --group-by's values: the Chinese words, and the English codes the library uses.
GROUP_WORDS = {"领导": "leader", "分管领导": "leader", "leader": "leader", "单位": "unit", "牵头单位": "unit", "unit": "unit"}


def version_shown(shown: bool) -> None:
    if shown:
        console().print(f"toolkit 版本 {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option(
        "--version", "-V", callback=version_shown, is_eager=True, help="显示版本号后退出。")] = False,
) -> None:
    """目标任务报送汇总工具：init 建工作区 → distribute 分发填报表 → collect 收集回报 → validate 校验 → merge 汇总。"""


def friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Known problems become a clear message and exit code 2; nothing prints a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (WorkspaceError, SpecError, OutputError, BusyError) as exc:
            console(stderr=True).print(f"[red]错误：[/red]{exc}")
            raise typer.Exit(2) from None
        except sqlite3.DatabaseError as exc:  # a ledger damaged in a way only a query finds
            console(stderr=True).print(f"[red]错误：[/red]台账无法读写（{exc}）。如台账已损坏，{REBUILD}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console(stderr=True).print("已中断：已完成的部分都已保存，重新运行同一命令即可继续。")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if os.environ.get("TOOLKIT_DEBUG"):
                raise
            console(stderr=True).print(f"[red]内部错误：[/red]{type(exc).__name__}: {exc}\n"
                              "这是 toolkit 的缺陷，请设置环境变量 TOOLKIT_DEBUG=1 重新运行并把输出报告给开发者。")
            raise typer.Exit(2) from None

    return wrapper


@contextlib.contextmanager
def writing(workspace: Path | None) -> Iterator[Workspace]:
    """The workspace, locked for the whole command: every command that writes in it goes through here."""
    ws = open_workspace(workspace)
    with ws.lock():
        yield ws


def report_changes(ws: Workspace, changes: list | None = None) -> None:
    """The target list's items that differ from what the units were sent, if any."""
    from toolkit.store.manifest import target_list_changes

    changes = target_list_changes(ws) if changes is None else changes
    if changes:
        print_findings(changes, title=f"目标任务清单在分发后改过（{len(changes)} 项），与发出的填报表不一致")


def as_of_time(text: str | None) -> dt.datetime:
    try:
        return parse_as_of(text)
    except ValueError as exc:
        raise WorkspaceError(str(exc)) from None


@command()
@friendly
def init(
    directory: Annotated[Path, typer.Argument(metavar="文件夹", help="新工作区的文件夹")],
    example: Annotated[bool, typer.Option("--example", help="填入所选预设附带的示例清单（gov-work-report 为2022年第一季度）")] = False,
    targets: Annotated[Path | None, typer.Option("--targets", metavar="文件", help="已有的目标任务清单（.xlsx/.xls/.ods）")] = None,
    year: Annotated[int | None, typer.Option("--year", metavar="年份", help="年份，默认今年（示例为2022）")] = None,
    period: Annotated[str | None, typer.Option("--period", metavar="期间", help=f"期间：{PERIOD_CODES}")] = None,
    preset: Annotated[str, typer.Option("--preset", metavar="预设", help="版式预设，见 toolkit presets")] = "gov-work-report",
    upstream: Annotated[Path | None, typer.Option(
        "--upstream", metavar="文件", help="上级下发给本单位的填报表：以其事项建清单，汇总时填好此表上报")] = None,
) -> None:
    """建立工作区：配置文件 toolkit.toml 与可在 Excel 中编辑的目标任务清单。"""
    if sum(bool(x) for x in (example, targets, upstream)) > 1:
        raise WorkspaceError("--example、--targets 与 --upstream 只能选一个。")
    if targets and not targets.is_file():
        raise WorkspaceError(f"找不到目标任务清单文件 {targets}")
    ws = init_workspace(directory, preset=preset, year=year, period_code=period, targets=targets, example=example,
                        upstream=upstream)
    console().print(f"已建立工作区 {ws.root}")
    console().print(f"  配置：{ws.config.path}")
    console().print(f"  目标任务清单：{ws.targets_path}（可在 Excel 中编辑）")
    if targets:
        from toolkit.excel.targetlist import unit_index
        from toolkit.store.workspace import prefill_unit_sheet

        found, listed = prefill_unit_sheet(ws)
        entries = unit_index(found)
        if listed is not None:
            console().print(f"  已在清单中加了“单位”工作表，列出清单中的 {listed} 个单位：请核对名称，登记简称；"
                            "集体单位（如“各区人民政府”）牵头的事项，请在“成员单位”栏列出其成员。")
        print_joined(entries)
    if upstream:
        console().print(f"清单中的事项取自上级下发的填报表：请先在“{ws.spec.by_role('units').label}”栏填写本单位的承办科室或下级单位（第一个为牵头），"
                      "汇总（toolkit merge）时会自动填好上级的这张表，用于上报。")
    console().print(f"下一步：cd {ws.root} 后运行 toolkit distribute")


@command()
@friendly
def distribute(
    previous: Annotated[Path | None, typer.Option(
        "--previous", metavar="路径", help="上期的工作区文件夹或上期汇总表：把上期的工作进展和下步打算列入本期填报表（锁定，仅供对照）")] = None,
    jobs: JobsOption = 0,
    workspace: WorkspaceOption = None,
) -> None:
    """按牵头单位生成填报表（outbox/），附填报通知与发放清单。清单有错误时不写任何文件。"""
    from toolkit.distribute import distribute as run
    from toolkit.excel.targetlist import unit_index

    with writing(workspace) as ws:
        with progress("生成填报表", None) as tick:
            result = run(ws, previous, tick, jobs)
        if result.problems:
            print_findings(result.problems, title=f"目标任务清单 {ws.targets_path.name} 的问题")
        entries = unit_index(result.targets) if result.targets is not None else []
        if any(p.is_error for p in result.problems):
            print_joined(entries)
            console().print(f"[red]目标任务清单有 {sum(p.is_error for p in result.problems)} 个错误，未生成任何填报表。"
                          "[/red]请在 Excel 中修改清单后重新运行 toolkit distribute。")
            raise typer.Exit(1)
        if result.item_changes:
            print_findings(result.item_changes, title=f"与上次发出的填报表相比，清单改动了 {len(result.item_changes)} 项"
                                                      "（下面“清单有变、已更新”的单位需重新发送填报表）")
        if result.new:  # units that get a workbook for the first time: the coordinator checks whom the list names
            console().print(units_table(entries))
        leads = [i for i in result.issues if i.role == "lead"]
        co = len(result.issues) - len(leads)
        console().print(f"已为 {len(leads)} 个牵头单位生成填报表（共 {sum(len(i.items) for i in leads)} 项）"
                      f"{f'，为 {co} 个协办单位生成配合情况填报表' if co else ''}，用时 {result.seconds:.2f} 秒：{ws.outbox}")
        for label, units in (("新增", result.new), ("清单有变、已更新", result.changed), ("未变", result.unchanged),
                             ("已无牵头任务、已删除其填报表", result.removed)):
            if units and (label != "未变" or result.changed or result.new):
                console().print(f"  {label}（{len(units)}）：{'、'.join(units)}")
        for note in result.notes:
            console().print(f"[yellow]请注意：[/yellow]{escape(note)}")
        if result.notes:
            console().print(f"修改 {ws.config.path.name} 后重新运行 toolkit distribute，填报通知即随之更新。")
        print_joined(entries)


@command()
@friendly
def units(workspace: WorkspaceOption = None) -> None:
    """列出目标任务清单中的单位及其牵头、协办事项（不写任何文件）；标出由换行前后两段合成的单位名称，供核对。"""
    from toolkit.excel.targetlist import unit_index

    ws = open_workspace(workspace)
    targets, problems = ws.load_targets()
    entries = unit_index(targets)
    if problems:
        print_findings(problems, title=f"目标任务清单 {ws.targets_path.name} 的问题")
    console().print(units_table(entries))
    recipients = targets.by_lead()
    console().print(f"共 {len(entries)} 个单位，{len(targets.items)} 项事项；distribute 将为 {len(recipients)} 个单位"
                    f"各生成一份填报表。")
    print_joined(entries)
    raise typer.Exit(1 if any(p.is_error for p in problems) else 0)


@command()
@friendly
def collect(
    paths: Annotated[list[Path], typer.Argument(metavar="路径", help="回报文件、文件夹（含子文件夹）或 .zip 压缩包")],
    as_json: Annotated[bool, typer.Option("--json", help="每个文件输出一条 JSON 记录")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", metavar="时间", help="按此时间记为收到（如 2022-04-12T09:30）")] = None,
    jobs: JobsOption = 0,
    workspace: WorkspaceOption = None,
) -> None:
    """收集回报：识别每个文件属于哪个单位，原样存档并记入台账；同一单位的新回报取代旧的。"""
    from toolkit.collect import collect as run
    from toolkit.collect import count_files, list_files

    missing = [str(p) for p in paths if not os.path.lexists(p)]
    if missing:  # a mistyped path: nothing collected, rather than a run that looks complete
        raise WorkspaceError(findings.make("paths-missing", paths="、".join(missing)).message)
    with writing(workspace) as ws:
        when = as_of_time(as_of) if as_of else None
        listed = list_files(paths)
        with progress("收集回报", count_files(listed)) as tick:
            records = run(ws, paths, when, tick, jobs, listed)
        if as_json:
            print(json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=1))
        else:
            rows = [(r.file, r.unit, VERDICT_WORDS.get(r.verdict, r.verdict), r.reason) for r in records]
            console().print(files_table(rows, console().width))
            counts = {v: sum(r.verdict == v for r in records) for v in VERDICT_WORDS}
            held = f"，已存档未采用 {counts['held']}（toolkit status 单位名 查看各版本，toolkit accept 选定）" \
                if counts["held"] else ""
            console().print(f"共 {len(records)} 个文件：接收 {counts['accepted']}{held}，拒收 {counts['refused']}，"
                          f"跳过 {counts['skipped']}。下一步：toolkit validate")
            report_changes(ws)
        raise typer.Exit(1 if any(r.verdict in ("refused", "held") for r in records) else 0)


@command()
@friendly
def rebuild(
    jobs: JobsOption = 0,
    workspace: WorkspaceOption = None,
) -> None:
    """重建台账：台账丢失或损坏时，按存档和收件记录重新建立（保留原收到时间、来源和 accept 的选择；原台账移到一旁，不删除）。"""
    from toolkit.collect import rebuild_ledger

    with writing(workspace) as ws:
        with progress("重建台账", None) as tick:
            result = rebuild_ledger(ws, tick, jobs)
        for path in result.moved:
            console().print(f"原文件已移到：{path}")
        counts = {v: sum(r.verdict == v for r in result.records) for v in VERDICT_WORDS}
        console().print(f"已按存档重建台账：{len(result.records)} 个文件（接收 {counts['accepted']}，"
                        f"已存档未采用 {counts['held']}，拒收 {counts['refused']}，跳过 {counts['skipped']}），"
                        f"其中 {result.from_journal} 个按收件记录恢复了原收到时间和来源。")
        if result.from_archive:
            console().print(f"[yellow]{len(result.from_archive)} 个存档文件没有收件记录，按文件时间记为收到时间[/yellow]"
                            f"（来源记为存档文件本身）：{'、'.join(result.from_archive[:5])}{'等' if len(result.from_archive) > 5 else ''}")
        if result.lost:
            console().print(f"[red]{len(result.lost)} 个文件的存档已不在，无法恢复：[/red]{'、'.join(result.lost)}。"
                            "请向相关单位重新索取后 collect。")
        console().print("下一步：toolkit status 核对各单位的状态。")
        raise typer.Exit(1 if result.lost else 0)


@command()
@friendly
def validate(
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出全部问题")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """校验每个单位的最新回报；问题清单同时写入 reports/validation.xlsx。退出码：0 无错误，1 有错误，2 无法运行。"""
    from toolkit.validate import report_path, units_to_check
    from toolkit.validate import validate as run
    from toolkit.views.report import findings_json

    with writing(workspace) as ws:
        with progress("校验回报", units_to_check(ws)) as tick:
            result = run(ws, tick)
        found = result.findings
        errors = sum(f.is_error for f in found)
        if as_json:
            print(json.dumps(findings_json(found), ensure_ascii=False, indent=1))
        else:
            report_changes(ws, result.changes)
            if len(found) > len(result.changes):
                print_findings(found[len(result.changes):])
            console().print(f"已校验 {len(result.returns)} 个单位的回报：错误 {errors}，警告 {len(found) - errors}。\n"
                          f"{len(result.not_returned)} 个单位尚未报送（toolkit status 查看）。")
            console().print(f"问题清单：{report_path(ws)}")
        raise typer.Exit(1 if errors else 0)


@command()
@friendly
def merge(
    output: Annotated[Path | None, typer.Option("-o", "--output", metavar="文件", help="汇总表文件（默认写入 reports/）")] = None,
    allow_missing: Annotated[bool, typer.Option(
        "--allow-missing", help="有单位未报送或回报有错误时仍然汇总，相关事项标注“未报送”或“待核实”")] = False,
    group_by: Annotated[str | None, typer.Option(
        "--group-by", metavar="领导|单位", help="按分管领导（领导，或写 leader）或牵头单位（单位，或写 unit）分组")] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="同时用 LibreOffice 导出 PDF")] = False,
    force: ForceOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """汇总为正式汇总表（按序号排列）。退出码：0 完整汇总，1 未汇总（有单位未报送或回报有错误），3 已带标注汇总。"""
    from toolkit.merge import PARTIAL, REFUSED, draft_path
    from toolkit.merge import merge as run

    if group_by is not None:
        if group_by.strip() not in GROUP_WORDS:
            raise WorkspaceError(f"--group-by 只能是“领导”或“单位”（也可写 leader、unit），而不是“{group_by}”。")
        group_by = GROUP_WORDS[group_by.strip()]
    with writing(workspace) as ws:
        if pdf and output is not None:  # the PDF goes beside the summary: the same care
            for candidate in (output, draft_path(output)):
                ws.check_output(candidate.with_suffix(".pdf"), force=force)
        with progress("汇总", None) as tick:
            result = run(ws, output, allow_missing=allow_missing, group_by=group_by, tick=tick, force=force)
        if result.missing:
            console().print(f"[yellow]未报送（{len(result.missing)}）：[/yellow]{'、'.join(result.missing)}")
        if result.with_errors:
            listed = "、".join(f"{u}（{n}个错误）" for u, n in result.with_errors.items())
            console().print(f"[yellow]回报有错误：[/yellow]{listed}（toolkit validate 查看原因）")
        report_changes(ws, result.changes)
        if result.outcome == REFUSED:
            console().print("[red]未生成汇总表。[/red]请催报或退回修改后重新 collect"
                          f"{'，清单的改动按上面所说处理' if result.changes else ''}；"
                          "如需先出一版，请加 --allow-missing（相关事项将标注“未报送”或“待核实”）。")
            raise typer.Exit(REFUSED)
        console().print(f"汇总表：{result.path}（{len(result.rows)} 项）")
        if result.outcome == PARTIAL:
            console().print("[yellow]这是草稿（文件名和标题都标有“草稿”），不是正式汇总表。[/yellow]")
        if result.upstream:
            console().print(f"上报上级的填报表（已按汇总结果填好）：{result.upstream}")
        if pdf and result.path:
            from toolkit.excel.office import OfficeError
            from toolkit.summary import export_pdf, pdf_substitutes, substitutes_line

            substitutes = pdf_substitutes(result.style) if result.style else {}
            try:
                pdf_path = export_pdf(result.path, result.path.parent, substitutes=substitutes)
            except OfficeError as exc:
                console(stderr=True).print(f"[red]PDF 未生成：[/red]{exc}")
                raise typer.Exit(2) from None
            if output is not None:
                ws.record_output(pdf_path)
            console().print(f"PDF：{pdf_path}")
            if substitutes:
                console().print(substitutes_line(substitutes))
        raise typer.Exit(result.outcome)


@command()
@friendly
def feedback(
    units: Annotated[list[str] | None, typer.Argument(
        metavar="单位", help="单位名称（可写简称）；不写则为所有回报有错误的单位")] = None,
    deadline: Annotated[str | None, typer.Option(
        "--deadline", metavar="日期", help="修改后发回的期限（如 2022-04-20；默认今天起 3 天）")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """退回修改：把单位自己的回报标出问题（红色为错误、黄色为提示，附批注和问题清单），连同退回说明写入 feedback/。"""
    from toolkit.feedback import LIST_ONLY, NO_ERRORS, NOT_RETURNED, make_feedback

    with writing(workspace) as ws:
        due = None
        if deadline:
            try:
                due = dt.date.fromisoformat(deadline)
            except ValueError:
                raise WorkspaceError(f"--deadline “{deadline}” 不是有效日期：请写成 2022-04-20。") from None
        results = make_feedback(ws, units or None, deadline=due)
        if not results:
            console().print("没有回报有错误的单位，无需退回修改。")
            return
        for r in results:
            if r.state == NOT_RETURNED:
                console().print(f"{r.unit}：尚未报送，没有可退回的回报（toolkit remind 催报）。")
            elif r.state == NO_ERRORS:
                extra = f"，有 {r.warnings} 个提示（toolkit validate 查看）" if r.warnings else ""
                console().print(f"{r.unit}：当前回报没有错误{extra}，无需退回修改。")
            else:
                counts = f"错误 {r.errors}" + (f"，提示 {r.warnings}" if r.warnings else "")
                console().print(f"{r.unit}（{counts}）：{r.workbook}")
                console().print(f"  退回说明：{r.notice}")
                if r.state == LIST_ONLY:
                    console().print(f"  [yellow]只写了问题清单：{r.note}；[/yellow]说明中已请单位在原表格中修改。")
        written = [r for r in results if r.workbook]
        if written:
            console().print(f"已为 {len(written)} 个单位生成退回修改文件：{written[0].workbook.parent}。"
                          "请把两个文件一并发给单位；修改后发回的文件用 toolkit collect 收集。")


@command()
@friendly
def status(
    units: Annotated[list[str] | None, typer.Argument(
        metavar="单位", help="单位名称（可写简称）：列出该单位发来的每一版回报，并标明当前采用的是哪一版")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="每个单位输出一条 JSON 记录")] = False,
    html: Annotated[Path | None, typer.Option("--html", metavar="文件", help="同时写出一个网页（手机可看、可打印）")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="时间", help="按此时间判断是否逾期（如 2022-04-16 或 2022-04-16T09:30；默认现在）")] = None,
    force: ForceOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """报送进度：每个单位的状态、收到时间、版本数、是否逾期、错误与警告数。退出码：0 全部已通过，1 尚有单位未通过，2 无法运行。"""
    from toolkit.status import build_status, status_table, unit_versions, versions_table, write_html

    ws = open_workspace(workspace)
    if units:
        listed = unit_versions(ws, units)
        if as_json:
            print(json.dumps({unit: [v.to_json() for v in versions] for unit, versions in listed.items()},
                             ensure_ascii=False, indent=1))
        else:
            for unit, versions in listed.items():
                console().print(versions_table(unit, versions, console().width))
        return
    if html:
        ws.check_output(html, force=force)
    report = build_status(ws, as_of_time(as_of) if as_of else None)
    if html:
        write_html(ws, report, html)
        ws.record_output(html)
    if as_json:
        print(json.dumps([r.to_json() for r in report.rows], ensure_ascii=False, indent=1))
    else:
        console().print(status_table(report, console().width))
        console().print(report.totals_line())
        report_changes(ws)
        if report.past_campaign_note:
            console().print(f"[yellow]请注意：[/yellow]{report.past_campaign_note}")
        if report.unattributed:
            console().print(f"[yellow]另有 {len(report.unattributed)} 个文件被拒收且无法识别单位[/yellow]"
                          "（--html 网页中列出）。")
    if html:
        console(stderr=as_json).print(f"网页：{html}")
    raise typer.Exit(0 if report.all_passed else 1)


@command()
@friendly
def accept(
    version: Annotated[str, typer.Argument(metavar="文件或编号", help="要采用的回报：文件路径，或 toolkit status 单位名 列出的编号（哈希开头）")],
    workspace: WorkspaceOption = None,
) -> None:
    """选定某单位采用哪一版回报（已收集过的文件）：此后校验、汇总都用这一版，直到该单位再发来新的回报。"""
    from toolkit.status import accept_version

    with writing(workspace) as ws:
        chosen = accept_version(ws, version)
        console().print(f"已采用 {chosen.file_name}（{chosen.received_at.replace('T', ' ')} 收到，编号 {chosen.sha256[:12]}）"
                        f"为{chosen.unit}的当前回报。下一步：toolkit validate")


@command()
@friendly
def remind(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="时间", help="按此时间判断是否逾期（如 2022-04-16 或 2022-04-16T09:30；默认现在）")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", metavar="文件夹", help="写入的文件夹（默认：工作区的 reminders/）")] = None,
    force: ForceOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """催报：为每个未报送、逾期未报的单位写一份催报通知，并写一份催报清单；已发来文件的单位的旧通知会被删除。"""
    from toolkit.status import build_status, write_reminders

    with writing(workspace) as ws:
        report = build_status(ws, as_of_time(as_of) if as_of else None)
        if report.past_campaign_note:
            console().print(f"[yellow]请注意：[/yellow]{report.past_campaign_note}")
        result = write_reminders(ws, report, output, force=force)
        rows = {r.unit: r for r in report.rows}
        if result.notices:
            console().print(f"已为 {len(result.notices)} 个单位写好催报通知：")
            for unit, path in result.notices.items():
                late = f"，逾期{rows[unit].days_late}天" if rows[unit].late else ""
                console().print(f"  {unit}（{rows[unit].state}{late}）：{path}")
        else:
            console().print("没有未报送的单位，无需催报。")
        if result.removed:
            console().print(f"已删除 {len(result.removed)} 份过时的催报通知（这些单位已发来文件）。")
        console().print(f"催报清单：{result.listing}")


@command()
@friendly
def presets() -> None:
    """列出可用的版式预设。"""
    names = resources.preset_names()
    indent = max(len(name) for name in names) + 2
    out = console()
    for name in names:
        spec = load_spec(name, {"year": 2022, "period": parse_period("Q1")})
        lines = wrap_cjk(spec.description, max(out.width - indent, 20)) or [""]
        out.print(f"{name:<{indent}}{lines[0]}")
        for line in lines[1:]:
            out.print(f"{'':<{indent}}{line}")


@command()
@friendly
def demo(
    directory: Annotated[Path, typer.Argument(metavar="文件夹", help="示例工作区的文件夹（默认：当前文件夹下的 toolkit-demo）", show_default=False)] = Path("toolkit-demo"),
) -> None:
    """用附带示例走完一轮：建工作区、分发、模拟各单位填报、收集、校验、汇总。"""
    from toolkit.demo import run_demo

    raise typer.Exit(run_demo(directory))
