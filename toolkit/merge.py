"""`toolkit merge`: every item of the target list, in 序号 order, with its lead unit's current answers.

Prefilled columns come from the target list, filled columns from the returns. By default a merge
with a unit missing or a return with errors writes nothing; `allow_missing` marks those items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from toolkit.excel.targetlist import TargetList
from toolkit.excel.upstream import return_path, write_return
from toolkit.model.checks import CheckedReturn
from toolkit.model.findings import Finding
from toolkit.model.parallel import no_progress
from toolkit.model.spec import CONTRIBUTION, Spec, render
from toolkit.store.checked import ValidationResult, checked_returns
from toolkit.store.files import atomic_path, sweep_temporaries
from toolkit.store.manifest import changes_since_issue, read_manifest
from toolkit.store.workspace import Workspace, WorkspaceError
from toolkit.summary import SummaryError, SummaryRow, SummaryStyle, UnitContact, missing_line, write_summary

COMPLETE, REFUSED, PARTIAL = 0, 1, 3  # exit codes of `toolkit merge`


@dataclass
class MergeResult:
    outcome: int
    path: Path | None = None
    missing: list[str] = field(default_factory=list)  # units that have not returned
    with_errors: dict[str, int] = field(default_factory=dict)  # unit -> errors in its current return
    rows: list[SummaryRow] = field(default_factory=list)
    upstream: Path | None = None  # this level's return to the level above (multi-level campaigns)
    style: SummaryStyle | None = None  # the summary's fonts and paper, for its PDF
    changes: list[Finding] = field(default_factory=list)  # items of the target list unlike what was issued


def summary_rows(spec: Spec, targets: TargetList, checked: ValidationResult,
                 co_returns: dict[str, CheckedReturn] | None = None,
                 changes: list[Finding] | None = None) -> list[SummaryRow]:
    """One row per item: answers of the lead unit's current return, or the reason there are none.

    An item its lead unit was never sent (added, or given another lead, after distribute) has no answer; one
    whose text changed since is unverified: the unit answered the text it was sent.

    Co-organisers' contributions (returns without errors) are placed under the lead's text, labelled
    with the unit's name as the preset's [co_organisers].format says (like the seed's `（市教育局负责）`).
    An item led by a collective unit has one row per member, in the 单位 sheet's order.
    """
    rows = []
    unverified = {unit for unit, r in checked.returns.items() if r.errors}  # counted once a return, not once an item
    not_sent = {f.item for f in changes or () if f.code in ("issue-item-added", "issue-item-lead-changed")}
    reworded = {f.item for f in changes or () if f.code == "issue-item-reworded"}
    for item in targets.items:
        for member in item.members:
            current = checked.returns.get(member)
            if current is None:
                rows.append(SummaryRow(item, {}, "missing", member))
            else:
                rows.append(SummaryRow(item, current.answers.get(item.seq, {}),
                                       "unverified" if member in unverified else "ok", member))
        if item.members:
            continue
        current = checked.returns.get(item.lead)
        if current is None or item.seq in not_sent:
            rows.append(SummaryRow(item, {}, "missing"))
            continue
        answers = current.answers.get(item.seq, {})  # shared, not copied: a row's answers are only read
        if spec.co_organisers and co_returns:
            into = spec.co_organisers.into
            notes = [render(spec.co_organisers.format, {"unit": unit, "text": text})
                     for unit in item.co_units
                     if (co := co_returns.get(unit)) and not co.errors
                     and (text := co.answers.get(item.seq, {}).get(CONTRIBUTION, "").strip())]
            if notes:
                answers = {**answers, into: "\n".join([answers.get(into, ""), *notes]).strip("\n")}
        rows.append(SummaryRow(item, answers, "unverified" if item.lead in unverified or item.seq in reworded else "ok"))
    return rows


DRAFT = "（草稿）"  # in the file name and the title of a summary with items marked


def draft_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}{DRAFT}{path.suffix}")


def merge(ws: Workspace, output: Path | None = None, *, allow_missing: bool = False,
          group_by: str | None = None, tick: Callable[[], None] = no_progress, force: bool = False) -> MergeResult:
    """The summary (`output`, else in reports/); with items missing, unverified or changed since they were
    issued, nothing unless `allow_missing`, and then a draft (named and titled so). `output` never overwrites
    the workspace's inputs, nor an existing file the toolkit did not write there, unless `force`."""
    if output is not None:  # the summary, its draft and the return upward all go beside `output`
        for candidate in (output, draft_path(output), return_path(ws.state, output.parent)):
            if candidate is not None:
                ws.check_output(candidate, force=force)
    targets, problems = ws.load_targets()
    if any(p.is_error for p in problems):
        raise WorkspaceError(f"目标任务清单 {ws.targets_path.name} 有错误，无法汇总：请先运行 toolkit distribute 查看并修改。")
    manifest = read_manifest(ws)
    checked = checked_returns(ws, tick, manifest)
    issued = manifest.get("units", {})
    co_returns = {issued[r]["unit"]: checked.returns.pop(r) for r in list(checked.returns)
                  if issued.get(r, {}).get("role") == "co"}
    leads = targets.leads()
    missing = [u for u in leads if u not in checked.returns]
    with_errors = {u: r.errors for u, r in checked.returns.items() if r.errors and u in leads}
    spec = ws.layout.for_summary()
    changes = changes_since_issue(ws, targets, manifest)
    result = MergeResult(COMPLETE, missing=missing, with_errors=with_errors,
                         rows=summary_rows(spec, targets, checked, co_returns, changes), changes=changes)
    if (missing or with_errors or changes) and not allow_missing:
        result.outcome = REFUSED
        return result
    contacts = [UnitContact(unit, r.contact, r.received_at.replace("T", " "), r.file)
                for unit, r in checked.returns.items()]
    path = output or ws.reports / ws.file_name("summary")
    sweep_temporaries(path.parent)
    if missing or with_errors or changes:
        result.outcome = PARTIAL
        path = draft_path(path)
        spec = replace(spec, title=f"{spec.title}{DRAFT}")
    try:
        style = SummaryStyle.from_config(ws.config.get("summary", {}) or {})
    except SummaryError as exc:
        raise WorkspaceError(f"{ws.config.path}：[summary] {exc}") from exc
    with atomic_path(path) as tmp:
        write_summary(tmp, spec, result.rows, contacts, coordinator=ws.coordinator_contact(),
                      missing_line=missing_line(spec, result.rows), style=style, group_by=group_by)
    result.path, result.style = path, style
    if output is not None:  # recorded at once: a return upward that cannot be written leaves the summary the toolkit's
        ws.record_output(path)
    result.upstream = write_return(ws.state, path.parent, ws.spec.without_previous(),
                                   {r.item.seq: r.filled for r in result.rows if r.state != "missing"},
                                   ws.coordinator_contact())
    if output is not None and result.upstream is not None:
        ws.record_output(result.upstream)
    return result
