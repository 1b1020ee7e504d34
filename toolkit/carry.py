"""Carry-forward: last period's answers shown, locked, in this period's templates (`distribute --previous`).

The previous answers are read once, from a previous workspace (its units' current returns) or a
previous summary workbook, and kept in the workspace (.toolkit/previous.json), so the template,
the intake checks and validation all see the same extra columns.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolkit.excel.sheets import find_header, read_grids
from toolkit.excel.targetlist import normalise_seq
from toolkit.model.spec import PREVIOUS, Spec
from toolkit.model.text import cell_text, tidy_multiline
from toolkit.store.files import write_text
from toolkit.store.workspace import CONFIG_NAME, Workspace, WorkspaceError, open_workspace

FILE = "previous.json"


def read_previous(path: Path, spec: Spec) -> dict[str, Any]:
    """{"source", "label", "values": {序号: {column key: text}}} from a workspace folder or a summary .xlsx."""
    if spec.carry_forward is None:
        raise WorkspaceError(f"预设“{spec.name}”没有定义上期内容的显示方式（[carry_forward]），不能使用 --previous。")
    keys = spec.carry_forward.columns
    if path.is_dir():
        if not (path / CONFIG_NAME).is_file():
            raise WorkspaceError(f"{path} 不是 toolkit 工作区：--previous 需要上期的工作区文件夹或上期汇总表（.xlsx）。")
        from toolkit.validate import validate

        previous = open_workspace(path)
        checked = validate(previous)
        values = {seq: {k: answers.get(k, "") for k in keys}
                  for r in checked.returns.values() for seq, answers in r.answers.items()}
        label = f"{previous.context['year']}年{previous.period.long}"
    elif path.is_file():
        values = _from_summary(path, spec, keys)
        label = path.stem
    else:
        raise WorkspaceError(f"找不到 {path}：--previous 需要上期的工作区文件夹或上期汇总表（.xlsx）。")
    if not values:
        raise WorkspaceError(f"{path} 中没有读到上期的填报内容（{'、'.join(spec.column(k).label for k in keys)}）。")
    return {"source": str(path), "label": label, "values": values}


def _from_summary(path: Path, spec: Spec, keys: tuple[str, ...]) -> dict[str, dict[str, str]]:
    try:
        grids = read_grids(path)
    except Exception as exc:  # calamine's errors for files that are no workbook
        raise WorkspaceError(f"{path} 无法读取：{exc}") from exc
    id_col = spec.by_role("id")
    wanted = [id_col, *(spec.column(k) for k in keys)]
    matchers = {c.key: (lambda k, c=c: k in c.header_keys()) for c in wanted}
    for grid in grids:
        header = find_header(grid, matchers, id_col.key)
        if header is None or not set(keys) & set(header.columns):
            continue
        values = {}
        for r in range(header.last_row + 1, grid.height):
            seq = normalise_seq(grid.value(r, header.columns[id_col.key]))
            if seq.isdigit():
                values[seq] = {k: tidy_multiline(cell_text(grid.value(r, header.columns[k])))
                               for k in keys if k in header.columns}
        return values
    return {}


def save_previous(ws: Workspace, data: dict[str, Any]) -> None:
    write_text(ws.state / FILE, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def load_previous(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise WorkspaceError(f"{path} 已损坏：请重新运行 toolkit distribute --previous。") from exc


def previous_values(data: dict[str, Any], seq: str) -> dict[str, str]:
    """An item's previous answers keyed as the carried columns (previous_progress, …)."""
    return {f"{PREVIOUS}{k}": v for k, v in data.get("values", {}).get(seq, {}).items()}
