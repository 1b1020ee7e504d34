"""`toolkit demo`: the whole cycle on the bundled example, with units' typing simulated."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from rich.markup import escape

from toolkit.collect import collect
from toolkit.distribute import distribute
from toolkit.excel.fill import fill_template
from toolkit.merge import merge
from toolkit.status import workspace_deadline
from toolkit.store.workspace import STATE_DIR, WorkspaceError, init_workspace, load_example_answers
from toolkit.validate import report_path, validate
from toolkit.views.terminal import VERDICT_WORDS, console, print_findings

DEMO_MARK = "demo"


def run_demo(directory: Path, preset: str = "gov-work-report") -> int:
    if directory.exists() and any(directory.iterdir()):
        if not (directory / STATE_DIR / DEMO_MARK).is_file():
            raise WorkspaceError(f"{directory} 已存在且不是示例工作区：请换一个文件夹。")
        shutil.rmtree(directory)
    console().rule("1. toolkit init --example")
    ws = init_workspace(directory, preset=preset, example=True)
    (ws.state / DEMO_MARK).write_text("toolkit demo\n", encoding="utf-8")
    console().print(f"工作区：{ws.root}\n目标任务清单：{ws.targets_path}")

    console().rule("2. toolkit distribute")
    result = distribute(ws)
    if result.problems:
        print_findings(result.problems)
        return 1
    console().print(f"{len(result.issues)} 份填报表（{result.seconds:.2f} 秒）：{ws.outbox}")
    for issue in result.issues:
        console().print(f"  {issue.unit}：第{'、'.join(i.seq for i in issue.items)}项 → {issue.file_name}")
    for note in result.notes:
        console().print(f"[yellow]请注意：[/yellow]{escape(note)}")
    if result.notes:
        console().print("（示例是2022年的任务、没有填写联系人，以上提醒在示例中可以不管；正式使用时请按提醒修改 toolkit.toml。）")

    console().rule("3. 各单位填报（模拟）")
    answers: dict[str, Any] = load_example_answers(preset)["units"]
    inbox = ws.root / "inbox"
    for issue in result.issues:
        unit_answers = answers.get(issue.unit)
        if not unit_answers:
            continue
        out = inbox / f"{Path(issue.file_name).stem}（已填）.xlsx"
        fill_template(ws.outbox / issue.file_name, out, ws.spec, unit_answers["items"], unit_answers["contact"])
    console().print(f"{len(list(inbox.glob('*.xlsx')))} 份回报：{inbox}")

    console().rule("4. toolkit collect inbox")
    deadline = workspace_deadline(ws)
    # The simulated returns arrive two days before the example's deadline, as in a real round.
    received = dt.datetime.combine(deadline - dt.timedelta(days=2), dt.time(10, 0)) if deadline else None
    records = collect(ws, [inbox], received)
    for record in records:
        console().print(f"  {record.unit or '（未识别）'}：{VERDICT_WORDS[record.verdict]}{'，' + record.reason if record.reason else ''}")

    console().rule("5. toolkit validate")
    checked = validate(ws)
    if checked.findings:
        print_findings(checked.findings)
    errors = sum(f.is_error for f in checked.findings)
    console().print(f"错误 {errors}，警告 {len(checked.findings) - errors}；问题清单：{report_path(ws)}")

    console().rule("6. toolkit merge")
    merged = merge(ws)
    if merged.path is None:
        console().print(f"[red]未生成汇总表：[/red]未报送 {merged.missing}，有错误 {list(merged.with_errors)}")
        return 1
    console().print(f"汇总表（{len(merged.rows)}项，按序号排列）：{merged.path}")
    science = next((i.file_name for i in result.issues if "科技" in i.unit), result.issues[0].file_name)
    as_of = (deadline + dt.timedelta(days=1)).isoformat() if deadline else ""
    console().print(f"\n示例完成。建议先看这几个文件（都在 {ws.root} 中）：")
    console().print(f"  1. 汇总表：{merged.path.relative_to(ws.root)}（给领导的正式汇总表，可加 --pdf 导出）")
    console().print(f"  2. 一个单位收到的填报表：{(ws.outbox / science).relative_to(ws.root)}")
    console().print(f"  3. 校验出的问题清单：{report_path(ws).relative_to(ws.root)}")
    console().print(f"再运行 toolkit status -w {ws.root}{f' --as-of {as_of}' if as_of else ''} 查看当时的报送进度。"
                    "删除示例：直接删除这个文件夹即可。")
    return 0
