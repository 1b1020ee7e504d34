"""Multi-level campaigns: a unit that received a template (a district, a bureau) runs its own campaign
for its own units, and its merge fills the template it received, so the level above collects the
lower level's summary as that unit's return: same stamp, same layout, same prefilled text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from toolkit.excel.intake import find_table, read_stamp
from toolkit.excel.sheets import read_grids
from toolkit.model.periods import parse_period
from toolkit.model.spec import Spec, SpecError, load_spec
from toolkit.store.files import atomic_path

TEMPLATE = "upstream.xlsx"
INFO = "upstream.json"


class UpstreamError(ValueError):
    """The file given as the template from above cannot be used; the message says why."""


def read_upstream(path: Path) -> dict[str, Any]:
    """What a workspace needs of a template received from above: preset, year, period, unit and items."""
    try:
        grids = read_grids(path)
    except Exception as exc:  # calamine's errors for files that are no workbook
        raise UpstreamError(f"{path} 无法读取：{exc}") from exc
    values = read_stamp(grids)
    if not values:
        raise UpstreamError(f"{path} 没有填报标识页：--upstream 需要上级下发的原始填报表。")
    preset = values.get("template", "").split("@")[0]
    year_match = re.match(r"(\d{4})", values.get("campaign", ""))
    try:
        period = parse_period(values.get("period", ""))
        spec = load_spec(preset, {"year": int(year_match.group(1)) if year_match else 0, "period": period})
    except (ValueError, SpecError) as exc:
        raise UpstreamError(f"{path} 的标识无法识别（{exc}）：请使用上级下发的原始填报表。") from exc
    table = find_table(grids, spec)
    if table is None:
        raise UpstreamError(f"{path} 中找不到填报表的表头：请使用上级下发的原始填报表。")
    items = []
    for row in table.rows:
        item: dict[str, Any] = {"units": []}  # the lower level assigns its own units
        for col in spec.target_columns:
            text = row.values.get(col.key, "")
            if col.role == "period_target":
                item["targets"] = {period.code: text}
            elif col.role == "id":
                item[col.key] = int(row.seq)
            elif col.role != "units":
                item[col.key] = text
        items.append(item)
    return {"preset": preset, "year": int(year_match.group(1)) if year_match else None, "period": period.code,
            "unit": values.get("unit", ""), "items": items, "file_name": path.name}


def save(state_dir: Path, source: Path, info: dict[str, Any]) -> None:
    (state_dir / TEMPLATE).write_bytes(source.read_bytes())
    kept = {k: info[k] for k in ("preset", "year", "period", "unit", "file_name")}
    (state_dir / INFO).write_text(json.dumps(kept, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def load(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / INFO
    if not (path.is_file() and (state_dir / TEMPLATE).is_file()):
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def return_path(state_dir: Path, out_dir: Path) -> Path | None:
    """Where merge writes this level's return to the level above (beside the summary); None without a template
    received from above."""
    info = load(state_dir)
    return None if info is None else out_dir / f"{Path(info['file_name']).stem}（汇总上报）.xlsx"


def write_return(state_dir: Path, out_dir: Path, spec: Spec, answers: dict[str, dict[str, str]],
                 contact: dict[str, str]) -> Path | None:
    """The template received from above, filled with this level's merged answers; None without one."""
    out = return_path(state_dir, out_dir)
    if out is None:
        return None
    from toolkit.excel.fill import fill_template  # openpyxl, imported only by a workspace that reports upward

    with atomic_path(out) as tmp:
        fill_template(state_dir / TEMPLATE, tmp, spec, answers, contact)
    return out
