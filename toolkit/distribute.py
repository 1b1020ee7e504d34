"""`toolkit distribute`: one fill-in workbook per lead unit, derived from the spec, with its stamp."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import jinja2
from xlsxwriter.utility import xl_rowcol_to_cell

from . import stamp as stamps
from .console import no_progress
from .fileio import atomic_path, write_text
from .findings import Finding
from .layout import new_workbook, row_height, write_contact_row
from .resources import templates_dir
from .spec import Column, Spec
from .targets import Item, TargetList, is_collective
from .workspace import Workspace

TITLE_ROW, CONTACT_ROW, HEADER_ROW = 0, 1, 2
FIRST_ITEM_ROW = HEADER_ROW + 1
BODY_PT = 11
MANIFEST = "manifest.json"
PREVIOUS_FILL = "#DDEBF7"  # last period's answers: locked, and told apart from this period's prefilled text
NUMBER_FORMATS = {"percent": "0%", "date": 'yyyy"年"m"月"d"日"'}


@dataclass(frozen=True)
class UnitIssue:
    """One workbook to send: to a lead unit (its items) or, when enabled, to a co-organiser (items it assists).

    `unit` is the recipient's name as the ledger and the stamp know it: the unit's own name for a
    lead, the name with a suffix (labels.toml [co_organisers]) for a co-organiser's workbook.
    """

    unit: str
    items: tuple[Item, ...]
    stamp: stamps.Stamp
    file_name: str
    co_units: tuple[str, ...]
    spec: Spec
    role: str = "lead"  # lead / co
    official: str = ""  # the unit's own name


@dataclass
class DistributeResult:
    issues: list[UnitIssue] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def prefilled_values(spec: Spec, item: Item) -> dict[str, str]:
    """An item's prefilled cells by column key, 责任单位 one unit per line (lead first)."""
    out = {}
    for col in spec.prefilled:
        out[col.key] = "\n".join(item.units_column) if col.role == "units" else item.values.get(col.key, "")
    return out


def plan(ws: Workspace, targets: TargetList) -> list[UnitIssue]:
    """What each lead unit (and each co-organiser, when enabled) gets, stamped. Pure but for the secret."""
    spec, secret = ws.spec, ws.secret()

    def issue(recipient: str, unit: str, items: tuple[Item, ...], unit_spec: Spec, role: str) -> UnitIssue:
        prefilled = [prefilled_values(unit_spec, item) for item in items]
        stamp = stamps.issue(secret, ws.campaign_id, ws.period.code, recipient, unit_spec.template_version,
                             tuple(i.seq for i in items), prefilled)
        co_units = tuple(dict.fromkeys(u for i in items for u in i.co_units)) if role == "lead" else ()
        return UnitIssue(recipient, items, stamp, ws.file_name("template", unit=recipient), co_units, unit_spec,
                         role, unit)

    issues = [issue(unit, unit, tuple(items), spec, "lead") for unit, items in targets.by_lead().items()]
    if ws.co_organisers_enabled:
        co_spec = spec.for_co_organisers()
        assisted: dict[str, list[Item]] = {}
        for item in targets.items:
            for unit in (u for u in item.co_units if not is_collective(u)):
                assisted.setdefault(unit, []).append(item)
        issues += [issue(ws.co_recipient(unit), unit, tuple(items), co_spec, "co") for unit, items in assisted.items()]
    return issues


def distribute(ws: Workspace, previous: Path | None = None, tick: Callable[[], None] = no_progress,
               jobs: int = 1) -> DistributeResult:
    """Write every template, notice and the manifest; nothing is written when the target list has errors.

    `previous` (a previous workspace or summary) adds last period's answers to the templates.
    """
    with ws.lock():
        if previous is not None:
            from .carry import read_previous, save_previous

            save_previous(ws, read_previous(previous, ws.spec.without_previous()))
            ws.__dict__.pop("spec", None)  # the layout now has last period's columns
        return _distribute(ws, tick, jobs)


def _distribute(ws: Workspace, tick: Callable[[], None], jobs: int) -> DistributeResult:
    started = dt.datetime.now()
    targets, problems = ws.load_targets()
    result = DistributeResult(problems=problems)
    if any(p.is_error for p in problems):
        return result
    result.issues = plan(ws, targets)
    previous = read_manifest(ws)
    old_units = previous.get("units", {})
    ws.outbox.mkdir(parents=True, exist_ok=True)
    for issue in _write_all(ws, result.issues, jobs):
        old = old_units.get(issue.unit)
        if old is None:
            result.new.append(issue.unit)
        elif old.get("token") != issue.stamp.token:
            result.changed.append(issue.unit)
        else:
            result.unchanged.append(issue.unit)
        tick()
    current = {i.unit for i in result.issues}
    for unit, entry in old_units.items():
        if unit not in current:
            result.removed.append(unit)
            for name in (entry.get("file"), entry.get("notice")):
                if name and (ws.outbox / name).is_file():
                    (ws.outbox / name).unlink()
    write_manifest(ws, result.issues)
    result.seconds = (dt.datetime.now() - started).total_seconds()
    return result


def write_issue(ws: Workspace, issue: UnitIssue) -> UnitIssue:
    """One unit's template and notice, each written atomically."""
    with atomic_path(ws.outbox / issue.file_name) as tmp:
        write_template(tmp, ws, issue)
    write_text(ws.outbox / notice_name(issue), render_notice(ws, issue), bom=True)
    return issue


def _write_all(ws: Workspace, issues: list[UnitIssue], jobs: int) -> Iterator[UnitIssue]:
    """Every unit's files, in `jobs` processes when more than one (the same bytes either way)."""
    if jobs <= 1 or len(issues) < 2:
        for issue in issues:
            yield write_issue(ws, issue)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(write_issue, repeat(ws), issues, chunksize=max(1, len(issues) // (jobs * 8)))


def notice_name(issue: UnitIssue) -> str:
    return f"{Path(issue.file_name).stem}-填报通知.txt"


def read_manifest(ws: Workspace) -> dict[str, Any]:
    path = ws.outbox / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}


def write_manifest(ws: Workspace, issues: list[UnitIssue]) -> None:
    data = {
        "campaign": ws.campaign_id,
        "period": ws.period.code,
        "template": ws.spec.template_version,
        "units": {
            i.unit: {"unit": i.official, "role": i.role, "file": i.file_name, "notice": notice_name(i),
                     "items": list(i.stamp.items), "fingerprint": i.stamp.fingerprint, "token": i.stamp.token,
                     "co_units": list(i.co_units),
                     "prefilled": {item.seq: prefilled_values(i.spec, item) for item in i.items}}
            for i in issues
        },
    }
    write_text(ws.outbox / MANIFEST, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


@functools.cache
def _text_templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()), autoescape=False,
                              trim_blocks=True, lstrip_blocks=True)


def render_notice(ws: Workspace, issue: UnitIssue) -> str:
    return _text_templates().get_template("notice.txt.j2").render(
        **ws.context, unit=issue.official or issue.unit, title=ws.spec.title, role=issue.role,
        co_organisers=ws.co_organisers_enabled, items=[i.seq for i in issue.items],
        file_name=issue.file_name, co_units=issue.co_units,
        hints=[(c.label, message) for c in issue.spec.filled if (message := input_message(issue.spec, c))],
        contact_labels=[f.label.rstrip(":：") for f in issue.spec.contact],
        contact_line=ws.coordinator_line(), date=chinese_date(dt.date.today()),
        deadline_words=_deadline_words(ws.context["deadline"]),
    )


def chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _deadline_words(deadline: str) -> str:
    try:
        return chinese_date(dt.date.fromisoformat(deadline))
    except ValueError:
        return deadline


def input_message(spec: Spec, col: Column) -> str:
    """The hint shown when a unit selects a fill-in cell: the column's hint and its rules' hints."""
    parts = [col.hint] if col.hint else []
    parts += [r.hint for r in spec.rules if r.then_column == col.key and r.hint]
    if col.required and not parts:
        parts.append("必填。")
    return "".join(parts)[:255]


def write_template(path: Path, ws: Workspace, issue: UnitIssue) -> None:
    """The unit's workbook: title, contact row, header, its items, footnote; prefilled cells locked."""
    spec = issue.spec
    columns = list(spec.columns)
    last_col = len(columns) - 1
    workbook = new_workbook(path)
    # Fixed properties: the same target list gives byte-identical templates.
    workbook.set_properties({"title": spec.title, "author": ws.config.get("coordinator.office", ""),
                             "created": dt.datetime(ws.context["year"], 1, 1)})
    base = {"font_name": "宋体", "font_size": BODY_PT, "valign": "vcenter", "text_wrap": True}
    fmt_title = workbook.add_format({**base, "font_name": "方正小标宋简体", "font_size": 16, "align": "center",
                                     "locked": True})
    fmt_label = workbook.add_format({**base, "align": "right", "bold": True})
    fmt_contact = workbook.add_format({**base, "locked": False, "bottom": 1})
    fmt_header = workbook.add_format({**base, "font_name": "黑体", "bold": True, "align": "center", "border": 1,
                                      "bg_color": "#D9D9D9"})
    fmt_note = workbook.add_format({**base, "text_wrap": False})
    fmt_cells: dict[tuple[str, bool], Any] = {}
    for col in columns:
        for locked in (True, False):
            fmt_cells[(col.key, locked)] = workbook.add_format({
                **base, "border": 1, "locked": locked, "align": col.align,
                "valign": "vcenter" if col.align == "center" else "top",
                **({"bg_color": PREVIOUS_FILL if col.role == "previous" else "#F2F2F2"} if locked else {}),
                **({"num_format": NUMBER_FORMATS[col.type]} if col.type in NUMBER_FORMATS else {}),
            })

    sheet = workbook.add_worksheet(spec.sheet_name)
    for c, col in enumerate(columns):
        sheet.set_column(c, c, col.width)
    sheet.merge_range(TITLE_ROW, 0, TITLE_ROW, last_col, spec.title, fmt_title)
    sheet.set_row(TITLE_ROW, 40)
    write_contact_row(sheet, spec.contact, CONTACT_ROW, last_col, fmt_label, fmt_contact)
    sheet.set_row(CONTACT_ROW, 24)
    for c, col in enumerate(columns):
        sheet.write_string(HEADER_ROW, c, col.label, fmt_header)
    sheet.set_row(HEADER_ROW, row_height([(c.label, c.width) for c in columns], BODY_PT, minimum_lines=2))

    for offset, item in enumerate(issue.items):
        r = FIRST_ITEM_ROW + offset
        values = prefilled_values(spec, item)
        for c, col in enumerate(columns):
            if col.prefilled:
                sheet.write_string(r, c, values[col.key], fmt_cells[(col.key, True)])
            else:
                sheet.write_blank(r, c, None, fmt_cells[(col.key, False)])
        sheet.set_row(r, row_height([(values[c.key], c.width) for c in columns if c.prefilled], BODY_PT,
                                    minimum_lines=3))
    last_row = FIRST_ITEM_ROW + len(issue.items) - 1
    _add_checks(workbook, sheet, spec, columns, last_row)
    if spec.footnote:
        sheet.write_string(last_row + 2, 0, spec.footnote, fmt_note)

    sheet.freeze_panes(FIRST_ITEM_ROW, 0)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.repeat_rows(HEADER_ROW)
    sheet.fit_to_pages(1, 0)
    sheet.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    sheet.center_horizontally()
    sheet.protect(ws.config.get("template.password", "") or "", {
        "format_rows": True, "format_columns": True, "select_locked_cells": True, "select_unlocked_cells": True,
    })
    sheet.activate()

    stamp_sheet = workbook.add_worksheet(stamps.SHEET)
    for r, (name, value) in enumerate(issue.stamp.rows()):
        stamp_sheet.write_string(r, 0, name)
        stamp_sheet.write_string(r, 1, value)
    stamp_sheet.protect(ws.config.get("template.password", "") or "")
    stamp_sheet.very_hidden()
    workbook.close()


def _add_checks(workbook: Any, sheet: Any, spec: Spec, columns: list[Column], last_row: int) -> None:
    """Dropdowns, input messages and the red mark of a rule broken, all from the spec."""
    index = {col.key: c for c, col in enumerate(columns)}
    for c, col in enumerate(columns):
        if col.role == "previous" and col.hint:
            sheet.data_validation(FIRST_ITEM_ROW, c, last_row, c, {"validate": "any", "input_title": col.label[:32],
                                                                    "input_message": col.hint[:255]})
        if col.prefilled:
            continue
        message = input_message(spec, col)
        options: dict[str, Any] = {"input_title": col.label[:32], "input_message": message}
        if col.type == "choice" and col.choices:
            options.update({"validate": "list", "source": list(col.choices), "error_type": "stop",
                            "error_title": col.label[:32],
                            "error_message": f"请从下拉列表中选择：{'、'.join(col.choices)}。"[:255]})
        elif col.type in ("number", "percent"):
            scale = 0.01 if col.type == "percent" else 1
            low = col.minimum * scale if col.minimum is not None else -1e15
            high = col.maximum * scale if col.maximum is not None else 1e15
            options.update({"validate": "decimal", "criteria": "between", "minimum": low, "maximum": high,
                            "error_type": "warning", "error_message": "此处应填数字。"})
        elif col.type == "date":
            options.update({"validate": "date", "criteria": ">", "value": dt.date(1990, 1, 1),
                            "error_type": "warning", "error_message": "此处应填日期，如 2022-03-31。"})
        elif message:
            options.update({"validate": "any"})
        else:
            continue
        sheet.data_validation(FIRST_ITEM_ROW, c, last_row, c, options)
    red = workbook.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
    for rule in spec.rules:
        if not (rule.required or rule.not_in) or rule.when_not_empty:
            continue
        when = xl_rowcol_to_cell(FIRST_ITEM_ROW, index[rule.when_column], col_abs=True)
        then = xl_rowcol_to_cell(FIRST_ITEM_ROW, index[rule.then_column], col_abs=True)
        wrong = [f"LEN(TRIM({then}))=0"] + [f'TRIM({then})="{word}"' for word in rule.not_in]
        applies = ",".join(f'TRIM({when})="{value}"' for value in rule.when_values)
        formula = f"=AND(OR({applies}),OR({','.join(wrong)}))"
        col = index[rule.then_column]
        sheet.conditional_format(FIRST_ITEM_ROW, col, last_row, col,
                                 {"type": "formula", "criteria": formula, "format": red})
