"""What was issued to each unit: `outbox/manifest.json` (written by distribute), read by every later step.

Each unit's prefilled texts are kept apart, in `.toolkit/prefilled.json`: at province scale they are megabytes
that only checking a new return needs, not status, validate's cached answers or merge.
"""

from __future__ import annotations

import json
import mmap
from pathlib import Path
from typing import Any

from toolkit.store.workspace import Workspace, WorkspaceError

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
    the file is mapped, not read, and parsed one line (one unit) at a time, in the worker that needs it.
    A file written whole on one line (by earlier versions) is parsed whole.
    """

    def __init__(self, ws: Workspace) -> None:
        self.path = ws.state / PREFILLED
        self._data = _mapped(self.path)
        self._parsed: dict[str, dict[str, dict[str, str]]] = {}
        self._spans = _unit_spans(self._data)
        if self._spans is None:
            self._parsed, self._spans = _read_json(self.path), {}
        if not self._spans and not self._parsed:
            raise self._unusable()

    def __getstate__(self) -> dict[str, object]:
        """Workers that are not forked (Windows, Python 3.14's forkserver) map the file again themselves."""
        return {**self.__dict__, "_data": None}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._data = _mapped(self.path)

    def of(self, unit: str) -> dict[str, dict[str, str]]:
        if unit not in self._parsed:
            start, end = self._spans.get(unit, (0, 0))
            try:
                self._parsed[unit] = json.loads(self._data[start:end]) if end else {}
            except ValueError:  # a damaged line: checked only now, in the worker that needs it
                raise self._unusable() from None
        return self._parsed[unit]

    def _unusable(self) -> WorkspaceError:
        return WorkspaceError(f"工作区缺少或损坏了各单位的预填内容 {self.path}：请重新运行 toolkit distribute"
                              "（目标任务清单未改时，已发出的填报表不会改变），再运行本命令。")


def _mapped(path: Path) -> bytes | mmap.mmap:
    """The file's bytes, mapped rather than read: megabytes that forked workers share and use a line of."""
    try:
        with path.open("rb") as handle:
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    except ValueError:  # an empty file cannot be mapped
        return b""
    except OSError:
        return path.read_bytes() if path.is_file() else b""


_DECODER = json.JSONDecoder()
_NAME_BYTES = 1024  # a unit's name, JSON-escaped, fits in this many bytes (else its whole line is decoded)


def _unit_spans(data: bytes | mmap.mmap) -> dict[str, tuple[int, int]] | None:
    """Unit -> where the JSON of its texts is in `data` (prefilled_json's layout); None for any other layout."""
    if data[:2] != b"{\n" or data[-3:] != b"\n}\n" or len(data) < 5:
        return None
    spans = {}
    start, last = 2, len(data) - 3  # each line from just after "{\n" to just before "\n}\n"
    try:
        while start < last:
            end = data.find(b"\n", start, last)
            end = last if end < 0 else end
            value_end = end - 1 if data[end - 1:end] == b"," else end
            name_end = data.find(b'": ', start, value_end) + 1
            name = data[start:name_end]
            if name[:1] == b'"' and b"\\" not in name and b'"' not in name[1:-1]:  # no escapes: no decoder needed
                unit: object = name[1:-1].decode()
            else:
                text = data[start:min(value_end, start + _NAME_BYTES)].decode("utf-8", "ignore")
                try:
                    unit, name_chars = _DECODER.raw_decode(text)
                except ValueError:  # a name longer than _NAME_BYTES
                    text = data[start:value_end].decode()
                    unit, name_chars = _DECODER.raw_decode(text)
                name_end = start + len(text[:name_chars].encode())
            if not isinstance(unit, str) or data[name_end:name_end + 2] != b": ":
                return None
            spans[unit] = (name_end + 2, value_end)
            start = end + 1
    except ValueError:  # UnicodeDecodeError too
        return None
    return spans


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
