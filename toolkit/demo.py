"""`toolkit demo`: the whole cycle on the bundled example, with units' typing simulated."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import openpyxl

from .console import VERDICT_WORDS, console
from .spec import Spec
from .targets import normalise_seq
from .text import match_key
from .workspace import STATE_DIR, WorkspaceError, init_workspace, load_example_answers

DEMO_MARK = "demo"


def fill_template(template: Path, out: Path, spec: Spec, answers: dict[str, dict[str, str]],
                  contact: dict[str, str]) -> None:
    """Type answers ({序号: {column key: text}}) and the contact into a copy, as a unit would in Excel."""
    workbook = openpyxl.load_workbook(template)
    sheet = workbook[spec.sheet_name]
    labels = {match_key(c.label): c.key for c in spec.columns}
    header_row, columns = 0, {}
    for row in sheet.iter_rows(max_row=20):
        found = {labels[match_key(c.value)]: c.column for c in row if match_key(c.value) in labels}
        if spec.by_role("id").key in found:
            header_row, columns = row[0].row, found
            break
    id_col = columns[spec.by_role("id").key]
    for r in range(header_row + 1, sheet.max_row + 1):
        seq = normalise_seq(sheet.cell(r, id_col).value)
        for key, value in answers.get(seq, {}).items():
            sheet.cell(r, columns[key]).value = value
    contact_labels = {match_key(f.label): f.key for f in spec.contact}
    for row in sheet.iter_rows(max_row=header_row):
        for c in row:
            key = contact_labels.get(match_key(c.value))
            if key and key in contact:
                sheet.cell(c.row, c.column + 1).value = contact[key]
    workbook.save(out)


def run_demo(directory: Path, preset: str = "gov-work-report") -> int:
    if directory.exists() and any(directory.iterdir()):
        if not (directory / STATE_DIR / DEMO_MARK).is_file():
            raise WorkspaceError(f"{directory} 已存在且不是示例工作区：请换一个文件夹。")
        shutil.rmtree(directory)
    console.rule("1. toolkit init --example")
    ws = init_workspace(directory, preset=preset, example=True)
    (ws.state / DEMO_MARK).write_text("toolkit demo\n", encoding="utf-8")
    console.print(f"工作区：{ws.root}\n目标任务清单：{ws.targets_path}")

    console.rule("2. toolkit distribute")
    from .distribute import distribute

    result = distribute(ws)
    if result.problems:
        from .console import print_findings

        print_findings(result.problems)
        return 1
    console.print(f"{len(result.issues)} 份填报表（{result.seconds:.2f} 秒）：{ws.outbox}")
    for issue in result.issues:
        console.print(f"  {issue.unit}：第 {'、'.join(i.seq for i in issue.items)} 项 → {issue.file_name}")

    console.rule("3. 各单位填报（模拟）")
    answers: dict[str, Any] = load_example_answers(preset)["units"]
    inbox = ws.root / "inbox"
    for issue in result.issues:
        unit_answers = answers.get(issue.unit)
        if not unit_answers:
            continue
        out = inbox / f"{Path(issue.file_name).stem}（已填）.xlsx"
        fill_template(ws.outbox / issue.file_name, out, ws.spec, unit_answers["items"], unit_answers["contact"])
    console.print(f"{len(list(inbox.glob('*.xlsx')))} 份回报：{inbox}")

    console.rule("4. toolkit collect inbox")
    from .collect import collect

    records = collect(ws, [inbox])
    for record in records:
        console.print(f"  {record.unit or '（未识别）'}：{VERDICT_WORDS[record.verdict]} {record.reason}")

    console.rule("5. toolkit validate")
    from .console import print_findings
    from .report import write_findings_xlsx
    from .validate import validate

    checked = validate(ws)
    report = ws.reports / "validation.xlsx"
    write_findings_xlsx(report, checked.findings, f"{ws.spec.title} 校验结果")
    if checked.findings:
        print_findings(checked.findings)
    errors = sum(f.is_error for f in checked.findings)
    console.print(f"错误 {errors}，警告 {len(checked.findings) - errors}；问题清单：{report}")

    console.rule("6. toolkit merge")
    from .merge import merge

    merged = merge(ws)
    if merged.path is None:
        console.print(f"[red]未生成汇总表：[/red]未报送 {merged.missing}，有错误 {list(merged.with_errors)}")
        return 1
    console.print(f"汇总表（{len(merged.rows)} 项，按序号排列）：{merged.path}")
    console.print(f"\n示例完成。可在 {ws.root} 中查看各步输出；用 toolkit status -w {ws.root} 查看报送进度。")
    return 0
