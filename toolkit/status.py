"""`toolkit status` and `toolkit remind`: who has sent what, who must fix what, who must be chased.

One row per issued unit (lead unit with a fill-in workbook, in manifest order). Its state is one of:

- 已通过 (passed): the unit's current return (its latest accepted file) has no error; warnings are allowed.
- 需修改 (to fix): the current return has at least one error; the unit gets a feedback workbook (退回修改).
- 已报送 (sent, unusable): the unit sent one or more files but every one was refused at intake (other
  period, forged stamp, password, not a table…); it has no usable return. The row shows the refusal reason.
- 未报送 (not sent): nothing accepted or refused from the unit, and the deadline has not passed yet.
- 逾期未报 (overdue): nothing accepted or refused from the unit, and the deadline has passed.

Other columns:

- received: when the current return was collected (ISO); for 已报送, when the latest refused file was collected.
- versions: how many accepted returns the unit has sent (a corrected return is a new version).
- late: the unit's first usable return (its first accepted file; for 已报送 its first refused file) was
  collected after the end of the deadline day; or nothing came and `now` is past the end of that day.
  A unit that reported on time and then sent a correction after the deadline is not late.
- errors / warnings: findings of the current return (None when there is no accepted return).

`now` is a parameter (`--as-of`, else the clock): it only decides whether the deadline has passed; every
file in the ledger counts whatever its date, so status is deterministic for a given ledger and `now`.
Nothing here writes except `write_html` and `write_reminders`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from rich import box
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from toolkit.model.periods import chinese_date, deadline_end, naive, parse_as_of, parse_time
from toolkit.model.resources import templates_dir
from toolkit.store.checked import checked_returns
from toolkit.store.files import write_text
from toolkit.store.ledger import ACCEPTED, REFUSED, Ledger, Receipt
from toolkit.store.manifest import read_manifest, resolve_units
from toolkit.store.workspace import Workspace, WorkspaceError, safe_file_name
from toolkit.views.terminal import wrap_cjk, wrapped


@dataclass(frozen=True)
class State:
    word: str
    style: str  # rich
    colour: str  # HTML
    progress: int  # how far along the cycle, in percent, for the chart
    meaning: str


PASSED, TO_FIX, SENT, NOT_SENT, OVERDUE = "已通过", "需修改", "已报送", "未报送", "逾期未报"

# The states in display order (the order of totals, of the legend and of the HTML counts).
STATES: dict[str, State] = {s.word: s for s in (
    State(PASSED, "green", "#2e7d32", 100, "最新回报无错误（可有警告）"),
    State(TO_FIX, "yellow", "#e65100", 66, "最新回报有错误，需退回修改"),
    State(SENT, "cyan", "#1565c0", 33, "已发来文件，但均被拒收，需重新报送"),
    State(NOT_SENT, "", "#757575", 0, "尚未报送，未到截止日期"),
    State(OVERDUE, "red", "#c62828", 0, "已过截止日期仍未报送"),
)}
MISSING = (NOT_SENT, OVERDUE)  # the states `toolkit remind` chases
JSON_KEYS = ("unit", "state", "received", "versions", "errors", "warnings", "late")
PAST_CAMPAIGN_DAYS = 60  # a deadline further back than this, with no --as-of: a past campaign looked at later
REMINDER_PREFIX = "催报通知-"
REMINDER_LIST = "催报清单.txt"


@dataclass(frozen=True)
class StatusRow:
    unit: str
    items: tuple[str, ...]
    state: str
    received: str | None
    versions: int
    late: bool
    errors: int | None
    warnings: int | None
    file: str = ""
    note: str = ""  # why the unit's files were refused, or that a later file was refused
    days_late: int = 0  # days between the deadline and the first return (or `now` when none came)
    issued_file: str = ""  # the fill-in workbook the unit was sent

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in JSON_KEYS}

    @property
    def received_short(self) -> str:
        return short_time(self.received)


@dataclass
class StatusReport:
    rows: list[StatusRow]
    now: dt.datetime
    deadline: dt.date | None
    unattributed: list[Receipt] = field(default_factory=list)  # refused files that name no issued unit
    by_clock: bool = False  # `now` is the clock (no --as-of): a past campaign looked at today

    @property
    def past_campaign_note(self) -> str:
        """For a campaign whose deadline is long past, looked at by the clock: the days late count from today,
        and how to see it as it stood then (--as-of). Empty otherwise."""
        if not self.by_clock or self.deadline is None:
            return ""
        days = (self.now.date() - self.deadline).days
        if days <= PAST_CAMPAIGN_DAYS:
            return ""
        then = self.deadline + dt.timedelta(days=1)
        return (f"本期报送截止日期为{chinese_date(self.deadline)}，距今已{days}天：逾期天数按今天计算。"
                f"如要看当时的报送情况，请加 --as-of 指定日期（如 --as-of {then.isoformat()}）。")

    @property
    def totals(self) -> dict[str, int]:
        return {word: sum(r.state == word for r in self.rows) for word in STATES}

    @property
    def all_passed(self) -> bool:
        return bool(self.rows) and all(r.state == PASSED for r in self.rows)

    @property
    def missing(self) -> list[StatusRow]:
        return [r for r in self.rows if r.state in MISSING]

    @property
    def deadline_passed(self) -> bool:
        return self.deadline is not None and self.now >= deadline_end(self.deadline)

    def totals_line(self) -> str:
        counts = "，".join(f"{word} {n}" for word, n in self.totals.items())
        when = f"截至 {self.now:%Y-%m-%d %H:%M}"
        if self.deadline:
            when += f"，截止日期 {self.deadline.isoformat()}"
        return f"共 {len(self.rows)} 个单位：{counts}。\n{when}。"


# --- time ---

def workspace_deadline(ws: Workspace) -> dt.date | None:
    text = str(ws.context.get("deadline") or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise WorkspaceError(f"{ws.config.path}：campaign.deadline = “{text}” 不是有效日期，请写成 2022-04-15。") from None


def short_time(iso: str | None) -> str:
    """2022-04-12T09:30:00 → 2022-04-12 09:30."""
    return iso[:16].replace("T", " ") if iso else ""


# --- the pure part ---

def compute_status(issued: dict[str, dict[str, Any]], receipts: Iterable[Receipt], checked: dict[str, Any],
                   deadline: dt.date | None, now: dt.datetime) -> StatusReport:
    """One row per issued unit, in the order issued.

    `issued` is the manifest's units, `receipts` every row of the ledger, `checked` each unit's
    current return as validated (anything with errors, warnings, received_at and file).
    """
    now = naive(now)
    end = deadline_end(deadline) if deadline else None
    accepted: dict[str, list[Receipt]] = {}
    refused: dict[str, list[Receipt]] = {}
    unattributed = []
    for receipt in sorted(receipts, key=lambda r: (r.received_at, r.id)):
        if receipt.verdict == ACCEPTED:
            accepted.setdefault(receipt.unit, []).append(receipt)
        elif receipt.verdict == REFUSED:
            if receipt.unit in issued:
                refused.setdefault(receipt.unit, []).append(receipt)
            else:
                unattributed.append(receipt)
    rows = []
    for unit, entry in issued.items():
        versions = accepted.get(unit, [])
        rejected = refused.get(unit, [])
        errors = warnings = None
        note = ""
        if versions and unit not in checked:  # every version held back (blank…): nothing usable, like all refused
            state, first, last = SENT, versions[0], versions[-1]
            received, file = last.received_at, last.file_name
            note = f"未采用：{last.held}" if last.held else ""
        elif versions:
            current = checked.get(unit)
            latest = versions[-1]
            received = getattr(current, "received_at", "") or latest.received_at
            file = getattr(current, "file", "") or latest.file_name
            if current is not None:
                errors, warnings = current.errors, current.warnings
            state = PASSED if errors == 0 else TO_FIX  # a return not checked (None) has not passed
            first = next((r for r in versions if not r.held), versions[0])  # a blank template is no return
            later_refusals = [r for r in rejected if (r.received_at, r.id) > (latest.received_at, latest.id)]
            if later_refusals:
                last = later_refusals[-1]
                note = f"{short_time(last.received_at)} 发来的 {last.file_name} 被拒收：{last.reason}"
            later_held = [r for r in versions
                          if r.held and r.file_name != file and r.received_at >= getattr(current, "received_at", "")]
            if later_held:
                last = later_held[-1]
                note = f"{short_time(last.received_at)} 发来的 {last.file_name} 未采用：{last.held}"
        elif rejected:
            state, first, last = SENT, rejected[0], rejected[-1]
            received, file = last.received_at, last.file_name
            note = f"被拒收：{last.reason}" if last.reason else "被拒收"
        else:
            first, received, file = None, None, ""
            state = OVERDUE if end is not None and now >= end else NOT_SENT
        arrived = parse_time(first.received_at) if first is not None else None
        late, days_late = False, 0
        if end is not None and deadline is not None:
            moment = arrived if arrived is not None else now
            late = moment >= end
            days_late = max((moment.date() - deadline).days, 0) if late else 0
        rows.append(StatusRow(
            unit=unit, items=tuple(entry.get("items", ())), state=state, received=received or None,
            versions=len(versions), late=late, errors=errors, warnings=warnings, file=file, note=note,
            days_late=days_late, issued_file=entry.get("file", ""),
        ))
    return StatusReport(rows, now, deadline, unattributed)


# --- gathering it from a workspace ---

def build_status(ws: Workspace, now: dt.datetime | None = None) -> StatusReport:
    """Status of every issued unit: reads the manifest and ledger, validates every current return."""
    manifest = read_manifest(ws)
    issued = manifest.get("units", {})
    if not issued:
        raise WorkspaceError("尚未分发填报表（.toolkit/manifest.json 不存在或为空）：请先运行 toolkit distribute。")
    deadline = workspace_deadline(ws)
    with Ledger(ws.state / "ledger.sqlite") as ledger:
        receipts = ledger.all()
    checked = checked_returns(ws, manifest=manifest).returns
    report = compute_status(issued, receipts, checked, deadline, now or parse_as_of(None))
    report.by_clock = now is None
    return report


# --- every version of a unit ---

@dataclass(frozen=True)
class Version:
    """One accepted file of a unit, as `toolkit status UNIT` lists it."""

    number: int
    code: str  # the start of its content hash: what `toolkit accept` takes
    received: str
    file: str
    source: str
    filled: int
    current: bool
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"version": self.number, "code": self.code, "received": self.received, "file": self.file,
                "source": self.source, "filled": self.filled, "current": self.current, "note": self.note}


def unit_versions(ws: Workspace, names: list[str]) -> dict[str, list[Version]]:
    """Every accepted version of each named unit (short names allowed), which one is current, why others are not."""
    issued = read_manifest(ws, with_prefilled=False).get("units", {})
    if not issued:
        raise WorkspaceError("尚未分发填报表：请先运行 toolkit distribute。")
    with Ledger(ws.state / "ledger.sqlite") as ledger:
        current = ledger.current_returns()
        out = {}
        for unit in resolve_units(names, list(issued)):
            chosen = current.get(unit)
            out[unit] = [Version(n, r.sha256[:12], short_time(r.received_at), r.file_name, r.source, r.filled,
                                 chosen is not None and r.id == chosen.id,
                                 r.held or ("" if chosen is None or r.id == chosen.id else "已被其他版本取代"))
                         for n, r in enumerate(ledger.versions(unit), 1)]
    return out


def accept_version(ws: Workspace, version: str) -> Receipt:
    """Make a collected file (its path, or the start of its hash) its unit's current return."""
    path = Path(version)
    if path.is_file():
        code = hashlib.sha256(path.read_bytes()).hexdigest()
    elif len(version) >= 6 and all(c in "0123456789abcdef" for c in version.lower()):
        code = version.lower()
    else:
        raise WorkspaceError(f"“{version}”既不是存在的文件，也不是回报编号：请写文件路径，"
                             "或 toolkit status 单位名 列出的编号。")
    with Ledger(ws.state / "ledger.sqlite") as ledger:
        found = {r.sha256: r for r in ledger.find_accepted(code)}
        if len(found) != 1:
            if found:
                raise WorkspaceError(f"编号“{version}”可指多个回报：请多写几位。")
            raise WorkspaceError(f"“{version}”不是已接收的回报：请先用 toolkit collect 收集该文件"
                                 "（被拒收的文件不能采用，toolkit status 单位名 可查看各版本）。")
        receipt = next(iter(found.values()))
        ledger.choose(receipt, dt.datetime.now().isoformat(timespec="seconds"))
    return receipt


def versions_table(unit: str, versions: list[Version], width: int = 80) -> RenderableType:
    """Every version of a unit's return: a table whose codes, times and file names are never broken (the note
    wrapped between words), or, when the file names leave no room, each version as lines."""
    title = f"{unit}：共 {len(versions)} 版回报"
    rows = [(str(v.number), v.code, v.received, v.file, "—" if v.filled < 0 else str(v.filled),
             "[green]当前采用[/green]" if v.current else "", v.note) for v in versions]
    fixed = sum(max(cell_len(label), *(cell_len(Text.from_markup(r[c]).plain) for r in rows)) + 3
                for c, label in enumerate(("版本", "编号", "收到时间", "文件", "已填单元格", "当前")))
    if width - fixed - 4 >= 16:
        table = Table(title=title, header_style="bold", title_justify="left")
        for label in ("版本", "编号", "收到时间", "文件", "已填单元格", "当前"):
            table.add_column(label, no_wrap=True)
        table.add_column("说明")
        for row in rows:
            table.add_row(*row[:-1], wrapped(row[-1], width - fixed - 4))
        return table
    lines: list[Any] = [Text(title, style="bold")]
    for number, code, received, file, filled, current, note in rows:
        lines.append(Text.from_markup(f"第{number}版　{code}　{received}　已填 {filled} 格　{current}".rstrip("　")))
        lines += [Text(f"  {file}"), *(Text(f"  {line}") for line in wrap_cjk(note, width - 2))]
    return Group(*lines)


# --- views ---

def status_table(report: StatusReport, width: int = 80) -> RenderableType:
    """The terminal view: unit names, state words, times and file names are never broken in the middle. The
    files and notes get a column when the terminal is wide enough for them, else lines under the table."""
    this_year = f"{report.now.year}-"
    rows = []
    for row in report.rows:
        style = STATES[row.state].style
        received = row.received_short
        received = received.removeprefix(this_year) if received.startswith(this_year) else received
        rows.append([row.unit, str(len(row.items)), f"[{style}]{row.state}[/{style}]" if style else row.state,
                     received, str(row.versions or ""), f"[red]{row.days_late}天[/red]" if row.late else "",
                     _count(row.errors), _count(row.warnings)])
    headers = [("单位", "left"), ("事项", "right"), ("状态", "left"), ("收到时间", "left"), ("版本", "right"),
               ("逾期", "right"), ("错误", "right"), ("警告", "right")]
    details = [(row.unit, row.file, row.note) for row in report.rows if row.file or row.note]
    plain = [[Text.from_markup(cell).plain for cell in cells] for cells in rows]
    used = sum(max([cell_len(h), *(cell_len(r[i]) for r in plain)]) + 2 for i, (h, _) in enumerate(headers)) - 2
    detail_width = max((cell_len(text) for _, file, note in details for text in (file, note)), default=0)
    wide = not details or used + detail_width + 2 <= width
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for label, justify in headers:
        table.add_column(label, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    if details and wide:
        table.add_column("文件／说明", no_wrap=True)
    for row, cells in zip(report.rows, rows, strict=True):
        if details and wide:
            cells = [*cells, "\n".join(x for x in (row.file, row.note) if x)]
        table.add_row(*cells)
    if wide:
        return table
    lines: list[RenderableType] = [table, Text("文件／说明：", style="bold")]
    for unit, file, note in details:
        lines.append(Text(f"  {unit}"))
        lines += [Text(f"    {line}") for text in (file, note) if text for line in wrap_cjk(text, width - 4)]
    return Group(*lines)


def _count(value: int | None) -> str:
    return "—" if value is None else str(value)


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def render_html(report: StatusReport, title: str, office: str = "", kicker: str = "报送进度") -> str:
    """A self-contained page: counts, a bar per unit coloured by state, and the per-unit table.

    Its heading is `title` followed by `kicker` (the spec's title, then 报送进度).
    """
    rows = len(report.rows) or 1
    return _env().get_template("status.html.j2").render(
        title=title, kicker=kicker, office=office, report=report, states=STATES, totals=report.totals,
        index={word: n for n, word in enumerate(STATES, 1)},
        shares={word: round(100 * n / rows, 2) for word, n in report.totals.items()},
        now=f"{report.now:%Y-%m-%d %H:%M}", deadline=report.deadline.isoformat() if report.deadline else "",
        generated=f"{dt.datetime.now():%Y-%m-%d %H:%M}", short_time=short_time, file_name=breakable_file_name,
    )


def breakable_file_name(name: str) -> Markup:
    """A file name for the page, which a narrow screen may break only after a “-” or before a “（”."""
    return Markup(str(escape(name)).replace("-", "-<wbr>").replace("（", "<wbr>（"))


def write_html(ws: Workspace, report: StatusReport, path: Path) -> Path:
    write_text(path, render_html(report, ws.spec.title, str(ws.context.get("office", ""))))
    return path


# --- chase notices ---

@dataclass
class Reminders:
    folder: Path
    notices: dict[str, Path]  # unit -> its notice
    listing: Path
    removed: list[Path]


def reminder_name(unit: str) -> str:
    return safe_file_name(f"{REMINDER_PREFIX}{unit}.txt")


def _item_lines(ws: Workspace, issued: dict[str, Any], row: StatusRow, limit: int = 40) -> list[dict[str, str]]:
    """Each item of a unit: its 序号 and the start of its annual target, for the notice."""
    try:
        annual_key = ws.spec.by_role("annual").key
    except KeyError:
        annual_key = ""
    prefilled = issued.get(row.unit, {}).get("prefilled", {})
    out = []
    for seq in row.items:
        text = " ".join(str(prefilled.get(seq, {}).get(annual_key, "")).split()) if annual_key else ""
        out.append({"seq": seq, "target": text if len(text) <= limit else text[:limit] + "…"})
    return out


def write_reminders(ws: Workspace, report: StatusReport, folder: Path | None = None, *,
                    force: bool = False) -> Reminders:
    """One notice per unit that has not reported (UTF-8 with BOM, for Notepad) and one list for the coordinator.

    Notices of units that have reported since are removed, so the folder holds only who is still to chase.
    In a folder of the coordinator's choice (`folder`), no file the toolkit did not write there is overwritten
    or removed unless `force`.
    """
    issued = read_manifest(ws).get("units", {})
    custom = folder is not None
    if folder is not None:
        for path in [folder / REMINDER_LIST, *(folder / reminder_name(r.unit) for r in report.missing)]:
            ws.check_output(path, force=force)
    folder = folder or ws.root / "reminders"
    env = _env()
    env.autoescape = False
    env.keep_trailing_newline = True
    common = {
        **ws.context, "title": ws.spec.title, "contact_line": ws.coordinator_line(),
        "date": chinese_date(report.now.date()), "now": f"{chinese_date(report.now.date())} {report.now:%H:%M}",
        "deadline_words": chinese_date(report.deadline) if report.deadline else "",
        "deadline_passed": report.deadline_passed,
    }
    days_left = (report.deadline - report.now.date()).days if report.deadline else None
    notices = {}
    for row in report.missing:
        text = env.get_template("remind.txt.j2").render(
            **common, row=row, unit=row.unit, items=_item_lines(ws, issued, row), days_left=days_left)
        path = folder / reminder_name(row.unit)
        write_text(path, text, bom=True)
        notices[row.unit] = path
    removed = []
    for unit in issued:
        path = folder / reminder_name(unit)
        if unit not in notices and path.is_file() and (not custom or ws.owns(path)):
            path.unlink()
            removed.append(path)
    listing = folder / REMINDER_LIST
    sent = [r for r in report.rows if r.state == SENT]
    write_text(listing, env.get_template("remind-list.txt.j2").render(
        **common, rows=report.missing, sent=sent, total=len(report.rows), days_left=days_left,
        notices={unit: path.name for unit, path in notices.items()}), bom=True)
    if custom:
        ws.record_output(*notices.values(), listing)
    return Reminders(folder, notices, listing, removed)
