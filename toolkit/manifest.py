"""What was issued to each unit: `outbox/manifest.json` (written by distribute), read by every later step.

Each unit's prefilled texts are kept apart, in `.toolkit/prefilled.json`: at province scale they are megabytes
that only checking a new return needs, not status, validate's cached answers or merge.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .workspace import Workspace, WorkspaceError

MANIFEST = "manifest.json"  # in the outbox
PREFILLED = "prefilled.json"  # in the state folder: each unit's prefilled texts by 序号


def read_manifest(ws: Workspace, *, with_prefilled: bool = False) -> dict[str, Any]:
    """What was issued to each unit; `with_prefilled` adds each unit's prefilled texts (`prefilled`)."""
    manifest = _read_json(ws.outbox / MANIFEST)
    units = manifest.get("units", {})
    if with_prefilled and any("prefilled" not in entry for entry in units.values()):  # older manifests hold them
        texts = _read_json(ws.state / PREFILLED)
        if not texts:
            raise WorkspaceError(f"工作区缺少各单位的预填内容 {ws.state / PREFILLED}：请重新运行 toolkit distribute"
                                 "（目标任务清单未改时，已发出的填报表不会改变），再运行本命令。")
        for unit, entry in units.items():
            entry.setdefault("prefilled", texts.get(unit, {}))
    return manifest


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
