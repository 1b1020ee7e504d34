"""What was issued to each unit: `outbox/manifest.json` (written by distribute), read by every later step.

Each unit's prefilled texts (序号 -> column key -> text, as written into its template) are kept in
`.toolkit/prefilled.json` and joined to its entry as `prefilled`: collect and validate compare returns with them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolkit.store.files import write_text
from toolkit.store.workspace import Workspace, WorkspaceError

MANIFEST = "manifest.json"  # in the outbox
PREFILLED = "prefilled.json"  # in the state folder


def read_manifest(ws: Workspace, *, with_prefilled: bool = True) -> dict[str, Any]:
    """What was issued to each unit (with its prefilled texts, unless distribute only compares tokens); empty before
    the first distribute."""
    manifest = _read_json(ws.outbox / MANIFEST)
    units = manifest.get("units", {})
    if with_prefilled and units and any("prefilled" not in entry for entry in units.values()):  # manifests of 0.1 held them
        prefilled = _read_json(ws.state / PREFILLED)
        if not isinstance(prefilled, dict) or not prefilled:
            raise WorkspaceError(f"工作区缺少或损坏了各单位的预填内容 {ws.state / PREFILLED}：请重新运行 toolkit distribute"
                                 "（目标任务清单未改时，已发出的填报表不会改变），再运行本命令。")
        for unit, entry in units.items():
            entry.setdefault("prefilled", prefilled.get(unit, {}))
    return manifest


def write_manifest(ws: Workspace, manifest: dict[str, Any]) -> None:
    """The manifest in the outbox, each unit's prefilled texts in the state folder."""
    prefilled = {unit: entry.pop("prefilled") for unit, entry in manifest["units"].items()}
    write_text(ws.state / PREFILLED, json.dumps(prefilled, ensure_ascii=False, indent=1) + "\n")
    write_text(ws.outbox / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
