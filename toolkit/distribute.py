"""`toolkit distribute`: one fill-in workbook per lead unit, derived from the spec, with its stamp."""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import repeat
from pathlib import Path
from typing import Any

import jinja2
from xlsxwriter.utility import xl_rowcol_to_cell

from toolkit.excel.layout import (
    balanced_label,
    new_workbook,
    row_height,
    rows_grown,
    write_contact_row,
    write_text_cell,
)
from toolkit.excel.sheets import find_header, read_grids
from toolkit.excel.targetlist import Item, TargetList, is_collective, normalise_seq, prefilled_values
from toolkit.model import stamp as stamps
from toolkit.model.findings import Finding
from toolkit.model.parallel import AUTO, no_progress, worker_count
from toolkit.model.periods import chinese_date
from toolkit.model.resources import templates_dir
from toolkit.model.spec import Column, Spec
from toolkit.model.text import cell_text, tidy_multiline
from toolkit.store import manifest
from toolkit.store.checked import checked_returns
from toolkit.store.files import atomic_path, sweep_temporaries, write_text
from toolkit.store.workspace import CONFIG_NAME, Workspace, WorkspaceError, open_workspace

TITLE_ROW, CONTACT_ROW, HEADER_ROW = 0, 1, 2
FIRST_ITEM_ROW = HEADER_ROW + 1
BODY_PT = 11
PREVIOUS_FILL = "#DDEBF7"  # last period's answers: locked, and told apart from this period's prefilled text
NUMBER_FORMATS = {"percent": "0%", "date": 'yyyy"年"m"月"d"日"'}
PROTECTION = {"format_rows": True, "format_columns": True, "select_locked_cells": True,
              "select_unlocked_cells": True}  # what a unit may still do on the protected sheet


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
    prefilled: tuple[dict[str, str], ...]  # each item's prefilled_values, worked out once for stamp and workbook
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
    item_changes: list[Finding] = field(default_factory=list)  # the list against what was issued before
    seconds: float = 0.0
    targets: TargetList | None = None  # the list as read: its units are shown to the coordinator
    notes: list[str] = field(default_factory=list)  # what the coordinator should fix before sending (deadline, contact)


@dataclass(frozen=True)
class Blueprint:
    """What every workbook and notice of one spec shares: worked out once per distribute, not once per unit."""

    spec: Spec
    properties: dict[str, Any]
    password: str
    formats: dict[str, dict[str, Any]]  # name -> xlsxwriter format properties
    cells: tuple[tuple[str, str | None], ...]  # per column: its item cells' format, and its key when prefilled
    header_height: float
    sizing: tuple[tuple[str, float], ...]  # (key, width) of the prefilled columns: they set an item row's height
    validations: tuple[tuple[int, dict[str, Any]], ...]  # (column, options) in the order they are added
    marks: tuple[tuple[int, str], ...]  # (column, formula) of each rule's red mark
    notice: dict[str, Any]  # the notice's words that are the same for every unit


def plan(ws: Workspace, targets: TargetList) -> list[UnitIssue]:
    """What each lead unit (and each co-organiser, when enabled) gets, stamped. Pure but for the secret."""
    spec, secret = ws.spec, ws.secret()

    def issue(recipient: str, unit: str, items: tuple[Item, ...], unit_spec: Spec, role: str) -> UnitIssue:
        prefilled = tuple(prefilled_values(unit_spec, item) for item in items)
        stamp = stamps.issue(secret, ws.campaign_id, ws.period.code, recipient, unit_spec.template_version,
                             tuple(i.seq for i in items), prefilled)
        co_units = tuple(dict.fromkeys(u for i in items for u in i.co_units)) if role == "lead" else ()
        return UnitIssue(recipient, items, stamp, ws.file_name("template", unit=recipient), co_units, unit_spec,
                         prefilled, role, unit)

    issues = [issue(unit, unit, tuple(items), spec, "lead") for unit, items in targets.by_lead().items()]
    if ws.co_organisers_enabled:
        co_spec = spec.for_co_organisers()
        assisted: dict[str, list[Item]] = {}
        for item in targets.items:
            for unit in (u for u in item.co_units if not is_collective(u)):
                assisted.setdefault(unit, []).append(item)
        issues += [issue(ws.co_recipient(unit), unit, tuple(items), co_spec, "co") for unit, items in assisted.items()]
    return _apart(issues)


def _apart(issues: list[UnitIssue]) -> list[UnitIssue]:
    """Each workbook its own file name, even where case does not count (Windows): ABC局 and abc局 are told apart
    by a number, before anything is written."""
    taken: set[str] = set()
    out = []
    for issue in issues:
        name, number = issue.file_name, 1
        stem, suffix = Path(name).stem, Path(name).suffix
        while name.casefold() in taken:
            number += 1
            name = f"{stem}-{number}{suffix}"
        taken.add(name.casefold())
        out.append(issue if name == issue.file_name else replace(issue, file_name=name))
    return out


def distribute(ws: Workspace, previous: Path | None = None, tick: Callable[[], None] = no_progress,
               jobs: int = AUTO) -> DistributeResult:
    """Write every template, notice and the manifest; nothing is written when the target list has errors.

    `previous` (a previous workspace or summary) adds last period's answers to the templates.
    """
    sweep_temporaries(ws.outbox, ws.state)
    if previous is not None:
        ws.save_previous(read_previous(previous, ws.spec.without_previous()))
    started = dt.datetime.now()
    targets, problems = ws.load_targets()
    result = DistributeResult(problems=problems, targets=targets)
    if any(p.is_error for p in problems):
        return result
    result.issues = plan(ws, targets)
    try:
        issued = manifest.read_manifest(ws)
    except WorkspaceError:  # lost or damaged: this distribute writes it again, every unit counted as new
        issued = {}
    old_units = issued.get("units", {})
    result.item_changes = manifest.changes_since_issue(ws, targets, issued)
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
    result.notes = campaign_notes(ws, started.date())
    result.seconds = (dt.datetime.now() - started).total_seconds()
    return result


def campaign_notes(ws: Workspace, today: dt.date) -> list[str]:
    """What the notices would get wrong: a deadline missing or already past, the coordinator's contact empty."""
    notes = []
    text = str(ws.context.get("deadline") or "").strip()
    try:
        deadline = dt.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        deadline = None
        notes.append(f"{ws.config.path.name} 中的报送截止日期“{text}”不是有效日期（应写成 2022-04-15）："
                     "填报通知中的报送时间将照原样写出，status 也无法判断逾期。")
    if not text:
        notes.append(f"{ws.config.path.name} 的 [campaign] 中没有填写报送截止日期（deadline）："
                     "填报通知中的报送时间将是空的，status 和 remind 也无法判断逾期。")
    elif deadline is not None and deadline < today:
        notes.append(f"报送截止日期{chinese_date(deadline)}已经过去（今天是{chinese_date(today)}）："
                     "填报通知会写着这个已过的日期。如是新一期，请修改 [campaign] 中的 deadline。")
    empty = [f.label.strip().rstrip("：:") for f in ws.spec.contact if not ws.coordinator_contact()[f.key].strip()]
    if empty:
        notes.append(f"{ws.config.path.name} 的 [coordinator] 中{'、'.join(empty)}未填写："
                     "填报通知和催报通知中将没有联系电话，单位有疑问时无从联系。")
    return notes


def read_previous(path: Path, spec: Spec) -> dict[str, Any]:
    """{"source", "label", "values": {序号: {column key: text}}} from a workspace folder or a summary .xlsx."""
    if spec.carry_forward is None:
        raise WorkspaceError(f"预设“{spec.name}”没有定义上期内容的显示方式（[carry_forward]），不能使用 --previous。")
    keys = spec.carry_forward.columns
    if path.is_dir():
        if not (path / CONFIG_NAME).is_file():
            raise WorkspaceError(f"{path} 不是 toolkit 工作区：--previous 需要上期的工作区文件夹或上期汇总表（.xlsx）。")
        previous = open_workspace(path)
        checked = checked_returns(previous)
        values = {seq: {k: answers.get(k, "") for k in keys}
                  for r in checked.returns.values() for seq, answers in r.answers.items()}
        label = f"{previous.context['year']}年{previous.period.long}"
    elif path.is_file():
        values = _from_summary(path, spec, keys)
        label = path.stem
    else:
        raise WorkspaceError(f"找不到 {path}：--previous 需要上期的工作区文件夹或上期汇总表（.xlsx）。")
    if not values:
        raise WorkspaceError(f"{path} 中没有读到上期的填报内容（{'、'.join(spec.column(k).label for k in keys)}）。")
    return {"source": str(path), "label": label, "values": values}


def _from_summary(path: Path, spec: Spec, keys: tuple[str, ...]) -> dict[str, dict[str, str]]:
    try:
        grids = read_grids(path)
    except Exception as exc:  # calamine's errors for files that are no workbook
        raise WorkspaceError(f"{path} 无法读取：{exc}") from exc
    id_col = spec.by_role("id")
    wanted = [id_col, *(spec.column(k) for k in keys)]
    matchers = {c.key: (lambda k, c=c: k in c.header_keys()) for c in wanted}
    for grid in grids:
        header = find_header(grid, matchers, id_col.key)
        if header is None or not set(keys) & set(header.columns):
            continue
        values = {}
        for r in range(header.last_row + 1, grid.height):
            seq = normalise_seq(grid.value(r, header.columns[id_col.key]))
            if seq.isdigit():
                values[seq] = {k: tidy_multiline(cell_text(grid.value(r, header.columns[k])))
                               for k in keys if k in header.columns}
        return values
    return {}


def write_issue(outbox: Path, blueprint: Blueprint, issue: UnitIssue) -> UnitIssue:
    """One unit's template and notice, each written atomically."""
    with atomic_path(outbox / issue.file_name) as tmp:
        write_template(tmp, blueprint, issue)
    write_text(outbox / notice_name(issue), render_notice(blueprint, issue), bom=True)
    return issue


WORKBOOKS_PER_WORKER = 150  # automatic --jobs: a worker pays for itself from about this many workbooks


def _write_all(ws: Workspace, issues: list[UnitIssue], jobs: int) -> Iterator[UnitIssue]:
    """Every unit's files, in `jobs` processes when more than one (the same bytes either way)."""
    jobs = worker_count(jobs, len(issues), WORKBOOKS_PER_WORKER)
    today = dt.date.today()
    blueprints = {role: blueprint_for(ws, spec, role, today) for role, spec in {i.role: i.spec for i in issues}.items()}
    if jobs <= 1 or len(issues) < 2:
        for issue in issues:
            yield write_issue(ws.outbox, blueprints[issue.role], issue)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(write_issue, repeat(ws.outbox), [blueprints[i.role] for i in issues], issues,
                            chunksize=max(1, len(issues) // (jobs * 8)))


def notice_name(issue: UnitIssue) -> str:
    return f"{Path(issue.file_name).stem}-填报通知.txt"


def write_manifest(ws: Workspace, issues: list[UnitIssue]) -> None:
    manifest.write_manifest(ws, {
        "campaign": ws.campaign_id,
        "period": ws.period.code,
        "template": ws.spec.template_version,
        "units": {
            i.unit: {"unit": i.official, "role": i.role, "file": i.file_name, "notice": notice_name(i),
                     "items": list(i.stamp.items), "fingerprint": i.stamp.fingerprint, "token": i.stamp.token,
                     "prefilled": dict(zip(i.stamp.items, i.prefilled, strict=True))}
            for i in issues
        },
    })


@functools.cache
def _notice_template() -> jinja2.Template:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()), autoescape=False,
                                     trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("notice.txt.j2")


def render_notice(blueprint: Blueprint, issue: UnitIssue) -> str:
    return _notice_template().render(**blueprint.notice, unit=issue.official or issue.unit,
                                     items=[i.seq for i in issue.items], file_name=issue.file_name,
                                     co_units=issue.co_units)


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


def blueprint_for(ws: Workspace, spec: Spec, role: str, today: dt.date) -> Blueprint:
    """The workbooks' formats, checks and sizes and the notice's fixed words, for the units of one spec."""
    base = {"font_name": "宋体", "font_size": BODY_PT, "valign": "vcenter", "text_wrap": True}
    formats: dict[str, dict[str, Any]] = {
        "title": {**base, "font_name": "方正小标宋简体", "font_size": 16, "align": "center", "locked": True},
        "label": {**base, "align": "right", "bold": True},
        "contact": {**base, "locked": False, "bottom": 1},
        "header": {**base, "font_name": "黑体", "bold": True, "align": "center", "border": 1, "bg_color": "#D9D9D9"},
        "note": {**base, "text_wrap": False},
        "mark": {"bg_color": "#FFC7CE", "font_color": "#9C0006"},
    }
    cells = []
    for col in spec.columns:
        locked = col.prefilled  # prefilled cells are locked, the units' own are not
        cell = {
            **base, "border": 1, "locked": locked, "align": col.align,
            "valign": "vcenter" if col.align == "center" else "top",
            **({"bg_color": PREVIOUS_FILL if col.role == "previous" else "#F2F2F2"} if locked else {}),
            **({"num_format": NUMBER_FORMATS[col.type]} if col.type in NUMBER_FORMATS else {}),
        }
        name = next((n for n, known in formats.items() if known == cell), f"cell{len(formats)}")
        formats[name] = cell
        cells.append((name, col.key if locked else None))
    validations, marks = _checks(spec)
    return Blueprint(
        spec=spec,
        # Fixed properties: the same target list gives byte-identical templates.
        properties={"title": spec.title, "author": ws.config.get("coordinator.office", ""),
                    "created": dt.datetime(ws.context["year"], 1, 1)},
        password=ws.config.get("template.password", "") or "",
        formats=formats,
        cells=tuple(cells),
        header_height=row_height([(c.label, c.width) for c in spec.columns], BODY_PT, minimum_lines=2),
        sizing=tuple((c.key, c.width) for c in spec.columns if c.prefilled),
        validations=validations,
        marks=marks,
        notice={**ws.context, "title": ws.spec.title, "role": role, "co_organisers": ws.co_organisers_enabled,
                "hints": [(c.label, message) for c in spec.filled if (message := input_message(spec, c))],
                "contact_labels": [f.label.rstrip(":：") for f in spec.contact],
                "contact_line": ws.coordinator_line(), "date": chinese_date(today),
                "deadline_words": _deadline_words(ws.context["deadline"])},
    )


def write_template(path: Path, blueprint: Blueprint, issue: UnitIssue) -> None:
    """The unit's workbook: title, contact row, header, its items, footnote; prefilled cells locked."""
    spec = blueprint.spec
    last_col = len(spec.columns) - 1
    assembled = io.BytesIO()
    workbook = new_workbook(assembled)
    workbook.set_properties(dict(blueprint.properties))
    fmt = {name: workbook.add_format(properties) for name, properties in blueprint.formats.items()}

    sheet = workbook.add_worksheet(spec.sheet_name)
    for c, col in enumerate(spec.columns):
        sheet.set_column(c, c, col.width)
    sheet.merge_range(TITLE_ROW, 0, TITLE_ROW, last_col, spec.title, fmt["title"])
    sheet.set_row(TITLE_ROW, 40)
    write_contact_row(sheet, spec.contact, CONTACT_ROW, last_col, fmt["label"], fmt["contact"])
    sheet.set_row(CONTACT_ROW, 24)
    for c, col in enumerate(spec.columns):
        sheet.write_string(HEADER_ROW, c, balanced_label(col.label, col.width, BODY_PT), fmt["header"])
    sheet.set_row(HEADER_ROW, blueprint.header_height)

    cells = [(c, key, fmt[name]) for c, (name, key) in enumerate(blueprint.cells)]
    for r, values in enumerate(issue.prefilled, start=FIRST_ITEM_ROW):
        for c, key, cell_format in cells:
            if key is None:
                sheet.write_blank(r, c, None, cell_format)
            else:
                write_text_cell(sheet, r, c, values[key], cell_format)
        sheet.set_row(r, row_height([(values[key], width) for key, width in blueprint.sizing], BODY_PT,
                                    minimum_lines=3))
    last_row = FIRST_ITEM_ROW + len(issue.items) - 1
    for c, options in blueprint.validations:
        sheet.data_validation(FIRST_ITEM_ROW, c, last_row, c, options)
    for c, formula in blueprint.marks:
        sheet.conditional_format(FIRST_ITEM_ROW, c, last_row, c,
                                 {"type": "formula", "criteria": formula, "format": fmt["mark"]})
    if spec.footnote:
        sheet.write_string(last_row + 2, 0, spec.footnote, fmt["note"])

    sheet.freeze_panes(FIRST_ITEM_ROW, 0)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.repeat_rows(HEADER_ROW)
    sheet.fit_to_pages(1, 0)
    sheet.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    sheet.center_horizontally()
    sheet.protect(blueprint.password, PROTECTION)
    sheet.activate()

    stamp_sheet = workbook.add_worksheet(stamps.SHEET)
    for r, (name, value) in enumerate(issue.stamp.rows()):
        stamp_sheet.write_string(r, 0, name)
        stamp_sheet.write_string(r, 1, value)
    stamp_sheet.protect(blueprint.password)
    stamp_sheet.very_hidden()
    workbook.close()
    path.write_bytes(rows_grown(assembled.getvalue(), range(FIRST_ITEM_ROW, last_row + 1)))


def _checks(spec: Spec) -> tuple[tuple[tuple[int, dict[str, Any]], ...], tuple[tuple[int, str], ...]]:
    """Dropdowns and input messages (column, options), and the red marks of rules broken (column, formula)."""
    index = {col.key: c for c, col in enumerate(spec.columns)}
    validations: list[tuple[int, dict[str, Any]]] = []
    for c, col in enumerate(spec.columns):
        if col.role == "previous" and col.hint:
            validations.append((c, {"validate": "any", "input_title": col.label[:32], "input_message": col.hint[:255]}))
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
        validations.append((c, options))
    marks = []
    for rule in spec.rules:
        if not (rule.required or rule.not_in) or rule.when_not_empty:
            continue
        when = xl_rowcol_to_cell(FIRST_ITEM_ROW, index[rule.when_column], col_abs=True)
        then = xl_rowcol_to_cell(FIRST_ITEM_ROW, index[rule.then_column], col_abs=True)
        wrong = [f"LEN(TRIM({then}))=0"] + [f'TRIM({then})="{word}"' for word in rule.not_in]
        applies = ",".join(f'TRIM({when})="{value}"' for value in rule.when_values)
        marks.append((index[rule.then_column], f"=AND(OR({applies}),OR({','.join(wrong)}))"))
    return tuple(validations), tuple(marks)
