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
        texts = Prefilled(ws)
        for unit, entry in units.items():
            entry.setdefault("prefilled", texts.of(unit))
    return manifest


def prefilled_json(prefilled: dict[str, dict[str, dict[str, str]]]) -> str:
    """`prefilled.json`: one JSON object, each unit on a line of its own (see Prefilled)."""
    lines = [f"{json.dumps(unit, ensure_ascii=False)}: {json.dumps(texts, ensure_ascii=False)}"
             for unit, texts in prefilled.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


class Prefilled:
    """Each unit's prefilled texts (序号 -> column key -> text), a unit's parsed only when asked for.

    At province scale the file is megabytes and a collect needs the units of its new returns only:
    the file is read whole but parsed one line (one unit) at a time, in the worker that needs it.
    A file written whole on one line (by earlier versions) is parsed whole.
    """

    def __init__(self, ws: Workspace) -> None:
        path = ws.state / PREFILLED
        data = path.read_bytes() if path.is_file() else b""
        self._parsed: dict[str, dict[str, dict[str, str]]] = {}
        self._lines = _unit_lines(data)
        if self._lines is None:
            self._parsed = _read_json(path)
            self._lines = {}
        if not self._lines and not self._parsed:
            raise WorkspaceError(f"工作区缺少各单位的预填内容 {path}：请重新运行 toolkit distribute"
                                 "（目标任务清单未改时，已发出的填报表不会改变），再运行本命令。")

    def of(self, unit: str) -> dict[str, dict[str, str]]:
        if unit not in self._parsed:
            line = self._lines.get(unit)
            self._parsed[unit] = json.loads(line) if line else {}
        return self._parsed[unit]


_DECODER = json.JSONDecoder()
_NAME_BYTES = 1024  # a unit's name, JSON-escaped, fits in this many bytes (else its whole line is decoded)


def _unit_lines(data: bytes) -> dict[str, bytes] | None:
    """Unit -> the JSON of its texts (UTF-8, decoded when parsed), from a file in prefilled_json's layout;
    None for any other layout."""
    lines = data.split(b"\n")
    if len(lines) < 3 or lines[0] != b"{" or lines[-2:] != [b"}", b""]:
        return None
    out = {}
    try:
        for line in lines[1:-2]:
            head = line[:_NAME_BYTES].decode("utf-8", "ignore") if len(line) > _NAME_BYTES else line.decode()
            unit, end = _DECODER.raw_decode(head)
            name_end = len(head[:end].encode())
            if not isinstance(unit, str) or line[name_end:name_end + 2] != b": ":
                return None
            out[unit] = line[name_end + 2:].removesuffix(b",")
    except ValueError:  # UnicodeDecodeError too
        return None
    return out


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
