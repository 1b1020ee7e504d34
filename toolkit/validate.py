"""`toolkit validate`: each unit's current return checked, the findings written to reports/validation.xlsx."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from toolkit.model.parallel import no_progress
from toolkit.store.checked import ValidationResult, checked_returns
from toolkit.store.manifest import read_manifest, target_list_changes
from toolkit.store.workspace import Workspace
from toolkit.views.report import write_findings_xlsx


def validate(ws: Workspace, tick: Callable[[], None] = no_progress) -> ValidationResult:
    """Every current return checked (kept checks reused), the findings written to `report_path(ws)`."""
    manifest = read_manifest(ws)
    result = checked_returns(ws, tick, manifest)
    result.changes = target_list_changes(ws, manifest)
    write_findings_xlsx(report_path(ws), result.findings, f"{ws.spec.title}校验结果",
                        {rule.code: rule.hint for rule in ws.spec.rules if rule.hint})
    return result


def report_path(ws: Workspace) -> Path:
    return ws.reports / "validation.xlsx"


def units_to_check(ws: Workspace) -> int:
    """How many units validate will look at: the length of its progress bar."""
    return len(read_manifest(ws).get("units", {}))
