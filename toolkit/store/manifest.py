"""What was issued to each unit: `.toolkit/manifest.json` (written by distribute), read by every later step.

The manifest holds each unit's stamp token, so it stays in the state folder, never in the outbox that gets
mailed: a unit holding another's token could stamp a return in its name. The outbox gets a harmless
`发放清单.txt` instead (unit, file, items). Each unit's prefilled texts (序号 -> column key -> text, as written
into its template) are kept in `.toolkit/prefilled.json` and joined to its entry as `prefilled`: collect and
validate compare returns with them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from toolkit.excel.targetlist import TargetList, prefilled_values
from toolkit.model import findings
from toolkit.model.findings import Finding
from toolkit.model.text import match_key
from toolkit.store.files import write_text
from toolkit.store.workspace import MANIFEST, Workspace, WorkspaceError, secret_check

PREFILLED = "prefilled.json"  # in the state folder
LISTING = "发放清单.txt"  # in the outbox: what went to whom, nothing secret
REDISTRIBUTE = "请重新运行 toolkit distribute（目标任务清单未改时，发出的填报表不会改变），再运行本命令。"


def read_manifest(ws: Workspace, *, with_prefilled: bool = True) -> dict[str, Any]:
    """What was issued to each unit (with its prefilled texts, unless distribute only compares tokens); empty before
    the first distribute. A manifest lost or damaged after a distribute is an error, never an empty start."""
    path = ws.state / MANIFEST
    legacy = ws.outbox / MANIFEST  # where toolkit 0.x kept it: read until the next distribute moves it
    if not path.is_file() and legacy.is_file():
        path = legacy
    if not path.is_file():
        if (ws.outbox / LISTING).is_file() or any(ws.outbox.glob("*.xlsx")):
            raise WorkspaceError(f"工作区缺少发放记录 {ws.state / MANIFEST}（已分发过填报表）。{REDISTRIBUTE}")
        return {}
    manifest = _read_json(path)
    units = manifest.get("units") if isinstance(manifest, dict) else None
    if not isinstance(units, dict):
        raise WorkspaceError(f"发放记录 {path} 已损坏（不完整或不是有效的 JSON）。{REDISTRIBUTE}")
    if with_prefilled and units and any("prefilled" not in entry for entry in units.values()):
        prefilled = _read_json(ws.state / PREFILLED)
        if not isinstance(prefilled, dict) or not prefilled:
            raise WorkspaceError(f"工作区缺少或损坏了各单位的预填内容 {ws.state / PREFILLED}：{REDISTRIBUTE}")
        for unit, entry in units.items():
            entry.setdefault("prefilled", prefilled.get(unit, {}))
    return manifest


def write_manifest(ws: Workspace, manifest: dict[str, Any]) -> None:
    """The manifest and each unit's prefilled texts in the state folder, the harmless list in the outbox."""
    prefilled = {unit: entry.pop("prefilled") for unit, entry in manifest["units"].items()}
    manifest["secret_check"] = secret_check(ws.secret())
    manifest["targets"] = list_fingerprint(ws)
    write_text(ws.state / PREFILLED, json.dumps(prefilled, ensure_ascii=False) + "\n")  # large: one line
    write_text(ws.state / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    lines = [f"{entry['unit'] if entry.get('role') == 'co' else unit}\t{entry.get('file', '')}\t"
             f"{'、'.join(entry.get('items', []))}" for unit, entry in manifest["units"].items()]
    write_text(ws.outbox / LISTING, "单位\t填报表\t事项序号\n" + "\n".join(lines) + "\n", bom=True)
    (ws.outbox / MANIFEST).unlink(missing_ok=True)  # toolkit 0.x's copy held every unit's token


def list_fingerprint(ws: Workspace) -> str:
    """The target list's bytes and the layout it is read with: what was issued follows from these."""
    try:
        data = ws.targets_path.read_bytes()
    except OSError:
        return ""
    return hashlib.sha256(data + repr(ws.spec).encode("utf-8")).hexdigest()


def target_list_changes(ws: Workspace, manifest: dict[str, Any] | None = None) -> list[Finding]:
    """How the target list differs from what was issued (nothing when the list has errors: they are reported
    by the command that needs the list). A list and layout unchanged since distribute are not read again.
    `manifest`: read_manifest(ws), when the caller has it."""
    if manifest is None:
        manifest = read_manifest(ws)  # says so when it or the prefilled texts are lost or damaged
    if manifest.get("targets") and manifest["targets"] == list_fingerprint(ws):
        return []
    targets, problems = ws.load_targets()
    if any(p.is_error for p in problems):
        return []
    return changes_since_issue(ws, targets, manifest)


def changes_since_issue(ws: Workspace, targets: TargetList, manifest: dict[str, Any]) -> list[Finding]:
    """Items of the target list that differ from what the lead units were sent: added, deleted, given another
    lead, or with other prefilled text. Empty before the first distribute."""
    issued = {unit: entry for unit, entry in manifest.get("units", {}).items() if entry.get("role", "lead") == "lead"}
    lead_of = {seq: unit for unit, entry in issued.items() for seq in entry.get("items", [])}
    if not lead_of:
        return []
    spec, changes = ws.spec, []
    for item in targets.items:
        old = lead_of.pop(item.seq, None)
        if old is None:
            changes.append(findings.make("issue-item-added", item=item.seq, unit=item.lead))
        elif old != item.lead:
            changes.append(findings.make("issue-item-lead-changed", item=item.seq, unit=item.lead, old=old))
        else:
            sent = issued[old].get("prefilled", {}).get(item.seq, {})
            now = prefilled_values(spec, item)
            differ = [spec.column(key).label for key in now if key in sent and sent[key] != now[key]]
            if differ:
                changes.append(findings.make("issue-item-reworded", item=item.seq, unit=old, columns="、".join(differ)))
    changes += [findings.make("issue-item-deleted", item=seq, unit=unit) for seq, unit in lead_of.items()]
    return changes


def resolve_units(names: list[str], known: list[str]) -> list[str]:
    """Units as the user typed them: the exact name, else the one name containing it (科技局 → 市科技局)."""
    out: list[str] = []
    for name in names:
        key = match_key(name)
        exact = [u for u in known if match_key(u) == key]
        partial = [u for u in known if key and key in match_key(u)]
        found = exact or partial
        if len(found) != 1:
            why = f"可指多个单位（{'、'.join(found)}）" if found else "不是本次分发名单中的单位"
            raise WorkspaceError(f"“{name}”{why}：请写单位全称（toolkit status 可查看单位名单）。")
        if found[0] not in out:
            out.append(found[0])
    return out


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
