"""`toolkit demo`: the whole cycle on the bundled example, with units' typing simulated."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from toolkit.collect import collect
from toolkit.distribute import distribute
from toolkit.excel.fill import fill_template
from toolkit.merge import merge
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
        console().print(f"  {issue.unit}：第 {'、'.join(i.seq for i in issue.items)} 项 → {issue.file_name}")

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
    records = collect(ws, [inbox])
    for record in records:
        console().print(f"  {record.unit or '（未识别）'}：{VERDICT_WORDS[record.verdict]} {record.reason}")

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
    console().print(f"汇总表（{len(merged.rows)} 项，按序号排列）：{merged.path}")
    console().print(f"\n示例完成。可在 {ws.root} 中查看各步输出；用 toolkit status -w {ws.root} 查看报送进度。")
    return 0
