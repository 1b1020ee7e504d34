"""`toolkit merge`: every item of the target list, in 序号 order, with its lead unit's current answers.

Prefilled columns come from the target list, filled columns from the returns. By default a merge
with a unit missing or a return with errors writes nothing; `allow_missing` marks those items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .fileio import atomic_path
from .summary import SummaryRow, SummaryStyle, UnitContact, missing_line, write_summary
from .targets import TargetList
from .validate import ValidationResult, validate
from .workspace import Workspace, WorkspaceError

COMPLETE, REFUSED, PARTIAL = 0, 1, 3  # exit codes of `toolkit merge`


@dataclass
class MergeResult:
    outcome: int
    path: Path | None = None
    missing: list[str] = field(default_factory=list)  # units that have not returned
    with_errors: dict[str, int] = field(default_factory=dict)  # unit -> errors in its current return
    rows: list[SummaryRow] = field(default_factory=list)


def summary_rows(targets: TargetList, checked: ValidationResult) -> list[SummaryRow]:
    """One row per item: answers of the lead unit's current return, or the reason there are none."""
    rows = []
    for item in targets.items:
        current = checked.returns.get(item.lead)
        if current is None:
            rows.append(SummaryRow(item, {}, "missing"))
        else:
            state = "unverified" if current.errors else "ok"
            rows.append(SummaryRow(item, current.answers.get(item.seq, {}), state))
    return rows


def merge(ws: Workspace, output: Path | None = None, *, allow_missing: bool = False,
          group_by: str | None = None) -> MergeResult:
    with ws.lock():
        return _merge(ws, output, allow_missing, group_by)


def _merge(ws: Workspace, output: Path | None, allow_missing: bool, group_by: str | None) -> MergeResult:
    targets, problems = ws.load_targets()
    if any(p.is_error for p in problems):
        raise WorkspaceError(f"目标任务清单 {ws.targets_path.name} 有错误，无法汇总：请先运行 toolkit distribute 查看并修改。")
    checked = validate(ws)
    leads = targets.leads()
    missing = [u for u in leads if u not in checked.returns]
    with_errors = {u: r.errors for u, r in checked.returns.items() if r.errors and u in leads}
    result = MergeResult(COMPLETE, missing=missing, with_errors=with_errors, rows=summary_rows(targets, checked))
    if (missing or with_errors) and not allow_missing:
        result.outcome = REFUSED
        return result
    contacts = [UnitContact(unit, r.contact, r.received_at.replace("T", " "), r.file)
                for unit, r in checked.returns.items()]
    path = output or ws.reports / ws.file_name("summary")
    if missing or with_errors:
        result.outcome = PARTIAL
    style = SummaryStyle.from_config(ws.config.get("summary", {}) or {})
    spec = ws.spec.without_previous()
    with atomic_path(path) as tmp:
        write_summary(tmp, spec, result.rows, contacts, coordinator=ws.coordinator_contact(),
                      missing_line=missing_line(spec, result.rows), style=style, group_by=group_by)
    result.path = path
    return result
