"""The target list (目标任务清单): items, their prefilled texts and their units, read as offices keep them."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.excel.layout import new_workbook, printable, write_text_cell
from toolkit.excel.sheets import Grid, Header, Matcher, find_header, read_grids
from toolkit.model import findings
from toolkit.model.findings import Finding, cell_name
from toolkit.model.periods import Period
from toolkit.model.render import render
from toolkit.model.resources import labels as resource_labels
from toolkit.model.spec import Column, Spec
from toolkit.model.text import cell_text, match_key, split_unit_names, split_units, tidy_multiline


def labels() -> dict[str, Any]:
    return resource_labels("target_list")


@dataclass(frozen=True)
class Item:
    seq: str
    values: dict[str, str]  # prefilled column key -> text as written
    units: tuple[str, ...]  # official names, lead first
    row: int = 0  # 1-based row in the target list
    co_column: tuple[str, ...] = ()  # co-units listed in a column of their own (role co_units); also in units
    joined: tuple[str, ...] = ()  # names made of two pieces of a line broken in the cell: guesses to confirm
    members: tuple[str, ...] = ()  # the lead's members when it is a collective unit (单位 sheet): each gets the item
    units_cell: str = ""  # A1 name of the item's units cell, for the coordinator's checks

    @property
    def lead(self) -> str:
        return self.units[0]

    @property
    def leads(self) -> tuple[str, ...]:
        """Who answers the item: the lead, or each member of a collective lead."""
        return self.members or (self.lead,)

    @property
    def units_column(self) -> tuple[str, ...]:
        """What the units column (role units) shows: every unit, less those of a separate co-units column."""
        return tuple(u for u in self.units if u not in self.co_column)

    @property
    def co_units(self) -> tuple[str, ...]:
        return self.units[1:]


@dataclass
class TargetList:
    items: list[Item]
    aliases: dict[str, str] = field(default_factory=dict)  # match key -> official name

    def by_lead(self) -> dict[str, list[Item]]:
        """Each lead unit's items (a collective lead's members each get the item), in order of their first item."""
        groups: dict[str, list[Item]] = {}
        for item in self.items:
            for lead in item.leads:
                groups.setdefault(lead, []).append(item)
        return groups

    def leads(self) -> list[str]:
        return list(self.by_lead())

    def item(self, seq: str) -> Item | None:
        return next((i for i in self.items if i.seq == seq), None)

    def resolve_unit(self, name: str) -> str | None:
        return self.aliases.get(match_key(name))


def prefilled_values(spec: Spec, item: Item) -> dict[str, str]:
    """An item's prefilled cells by column key, 责任单位 one unit per line (lead first)."""
    out = {}
    for col in spec.prefilled:
        out[col.key] = "\n".join(item.units_column) if col.role == "units" else item.values.get(col.key, "")
    return out


@dataclass
class UnitEntry:
    """A unit the target list names: the items it leads and assists, and the guesses its name rests on."""

    name: str
    lead: list[str] = field(default_factory=list)  # 序号 of the items it answers for (a collective's members too)
    co: list[str] = field(default_factory=list)  # 序号 of the items it assists
    joined: list[tuple[str, str]] = field(default_factory=list)  # (序号, units cell) where its name was joined
    members: tuple[str, ...] = ()  # a collective unit's members
    via: str = ""  # the collective unit whose member it is


def unit_index(targets: TargetList) -> list[UnitEntry]:
    """Every unit the list names, in order of first mention, with its items: what `toolkit units` shows."""
    entries: dict[str, UnitEntry] = {}

    def entry(name: str) -> UnitEntry:
        return entries.setdefault(name, UnitEntry(name))

    for item in targets.items:
        for n, unit in enumerate(item.units):
            if n == 0:
                entry(unit).lead.append(item.seq)
                entry(unit).members = item.members
                for member in item.members:
                    entry(member).lead.append(item.seq)
                    entry(member).via = unit
            else:
                entry(unit).co.append(item.seq)
            if unit in item.joined:
                entry(unit).joined.append((item.seq, item.units_cell))
    return list(entries.values())


def add_unit_sheet(path: Path, targets: TargetList) -> int:
    """The 单位 sheet added to a target list that has none, one row per unit found; how many rows.

    Joined names are noted for the coordinator to confirm: once listed, a name is known and no longer guessed.
    """
    import openpyxl  # only init needs it

    names = labels()
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.create_sheet(names["units_sheet"])
    sheet.append([names["unit_name"], names["unit_aliases"], names["unit_members"], names["unit_note"]])
    entries = [e for e in unit_index(targets) if not e.via]
    for e in entries:
        note = render(names["unit_note_joined"], {"cell": "、".join(dict.fromkeys(c for _, c in e.joined)),
                                                  "items": "、".join(f"第{s}项" for s, _ in e.joined)}) if e.joined else ""
        sheet.append([e.name, "", "", note])
    for letter, width in zip("ABCD", (30, 24, 40, 60), strict=True):
        sheet.column_dimensions[letter].width = width
    workbook.save(path)
    return len(entries)


def is_footnote(text: str) -> bool:
    """注：… under a table (labels.toml footnote_prefixes): the end of the items, not an item."""
    return text.strip().startswith(tuple(labels()["footnote_prefixes"]))


def is_collective(name: str) -> bool:
    """各区人民政府, 区直各部门 …: units that cannot receive a file of their own (labels.toml)."""
    return re.search("|".join(f"(?:{pattern})" for pattern in labels()["collective"]), name) is not None


def seq_key(seq: str) -> tuple[int, str]:
    """Sort key of a 序号: numbers in numeric order, then anything else."""
    match = re.fullmatch(r"\d+", seq)
    return (int(seq), "") if match else (10**9, seq)


def normalise_seq(value: Any) -> str:
    """A 序号 cell as text: 43, 43.0, '４３', ' 43 ' all give '43'."""
    text = match_key(cell_text(value))
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".")[0]
    return text


def read_target_list(path: Path, spec: Spec, period: Period, *,
                     data: bytes | None = None) -> tuple[TargetList, list[Finding]]:
    """The items of the chosen period with every problem found; a list with errors must not be used.

    `data`: the file's bytes when the caller has read them already.
    """
    where = {"file": str(path)}
    try:
        grids = read_grids(path if data is None else data)
    except Exception as exc:  # calamine's errors for broken, encrypted or foreign files
        return TargetList([]), [findings.make("targets-unreadable", reason=str(exc) or type(exc).__name__, **where)]
    unit_grid = next((g for g in grids if match_key(g.name) == match_key(labels()["units_sheet"])), None)
    item_grids = [g for g in grids if g is not unit_grid and g.visibility == "visible"] or grids
    if not item_grids:  # a damaged workbook can list no sheet at all
        return TargetList([]), [findings.make("targets-no-sheet", **where)]
    aliases, ambiguous, members = _read_units(unit_grid) if unit_grid else ({}, {}, {})
    matchers = _column_matchers(spec, period)
    for grid in item_grids:
        header = find_header(grid, matchers, spec.by_role("id").key)
        if header is not None:
            break
    else:
        return TargetList([]), [findings.make(
            "targets-no-header", sheet=item_grids[0].name, rows=30,
            labels="”“".join(c.label for c in spec.target_columns), **where)]
    problems = _missing_columns(spec, period, grid.name, header, where)
    if problems:
        return TargetList([], aliases), problems
    unit_columns = [c.key for c in spec.target_columns if c.role in ("units", "co_units")]
    known = frozenset(aliases) | _names_written_whole(grid, header, unit_columns)
    groups = {official: tuple(aliases.get(match_key(m), m) for m in names) for official, names in members.items()}
    sheet = _ItemSheet(spec, header, {"sheet": grid.name, **where}, aliases, ambiguous, known, groups)
    items, problems = _read_items(sheet, grid)
    if not items and not problems:  # a new workspace's list, not filled in yet
        problems.append(findings.make("targets-empty", sheet=grid.name, **where))
    return TargetList(items, aliases), problems


def _names_written_whole(grid: Grid, header: Header, keys: list[str]) -> frozenset[str]:
    """Match keys of the unit names a units cell gives without a line break: names known whole."""
    whole: set[str] = set()
    for r in range(header.last_row + 1, grid.height):
        for key in keys:
            text = cell_text(grid.value(r, header.columns[key]))
            if "\n" not in text and "\r" not in text:
                whole.update(match_key(name) for name in split_units(text))
    return frozenset(whole)


def _period_column(spec: Spec) -> Column | None:
    return next((c for c in spec.target_columns if c.role == "period_target"), None)


def _column_matchers(spec: Spec, period: Period) -> dict[str, Matcher]:
    """What names each column of the list; the chosen period's target column may be named by its period."""
    matchers = {c.key: c.header_keys().__contains__ for c in spec.target_columns}
    period_col = _period_column(spec)
    if period_col:
        words = frozenset(match_key(w) for w in period.words())
        matchers[period_col.key] = functools.partial(_names_period, words, period_col.header_keys())
    return matchers


def _names_period(words: frozenset[str], header_keys: frozenset[str], key: str) -> bool:
    """Whether a header (第1季度目标, 一季度) names the period of `words`, or is the column's own label."""
    return _period_word(key) in words or key in header_keys


def _missing_columns(spec: Spec, period: Period, sheet: str, header: Header, where: dict[str, str]) -> list[Finding]:
    period_col = _period_column(spec)
    return [findings.make("targets-no-period-column" if col is period_col else "targets-no-column", sheet=sheet,
                          column=col.label, label=col.label, period=period.label, found=header.found_labels(),
                          cell=cell_name(header.last_row + 1, 1), **where)
            for col in spec.target_columns if col.key not in header.columns]


@dataclass
class _ItemSheet:
    """The list's item sheet, found by its header, and what the unit names in it resolve to."""

    spec: Spec
    header: Header
    at: dict[str, str]  # sheet and file, for findings
    aliases: dict[str, str]  # match key -> official name; a name not on the 单位 sheet is added as written
    ambiguous: dict[str, list[str]]  # match key -> the units it could name
    known: frozenset[str]  # names known whole (单位 sheet, written alone in the list): a units cell is split by them
    groups: dict[str, tuple[str, ...]]  # collective unit -> its members

    def cell(self, row: int, key: str) -> str:
        return cell_name(row + 1, self.header.columns[key] + 1)


def _read_items(sheet: _ItemSheet, grid: Grid) -> tuple[list[Item], list[Finding]]:
    """The items under the header in 序号 order, and the problems of their rows."""
    id_col = sheet.spec.by_role("id")
    items: list[Item] = []
    problems: list[Finding] = []
    rows: dict[str, int] = {}  # 序号 -> its row
    for r in range(sheet.header.last_row + 1, grid.height):
        values = {key: cell_text(grid.value(r, c)) for key, c in sheet.header.columns.items()}
        if not any(v.strip() for v in values.values()) or _looks_like_footnote(values):
            continue  # an empty row, or 注：… under the table, in the 序号 column or any other
        seq = normalise_seq(values[id_col.key])
        if not seq:
            problems.append(findings.make("targets-seq-missing", row=r + 1, cell=sheet.cell(r, id_col.key),
                                          **sheet.at))
        elif seq in rows:
            problems.append(findings.make("targets-seq-duplicate", item=seq, other=sheet.cell(rows[seq], id_col.key),
                                          cell=sheet.cell(r, id_col.key), column=id_col.label, **sheet.at))
        else:
            rows[seq] = r
            item = _read_item(sheet, r, seq, values, problems)
            if item is not None:
                items.append(item)
    items.sort(key=lambda i: seq_key(i.seq))
    return items, problems


def _read_item(sheet: _ItemSheet, r: int, seq: str, values: dict[str, str], problems: list[Finding]) -> Item | None:
    """One item from its row's texts, its problems added to `problems`; None when it names no unit."""
    spec, at = sheet.spec, sheet.at
    for col in spec.target_columns:
        if col.required and col.role != "units" and not values[col.key].strip():
            problems.append(findings.make("targets-value-missing", item=seq, column=col.label,
                                          cell=sheet.cell(r, col.key), **at))
    units_col = spec.by_role("units")
    co_col = next((c for c in spec.columns if c.role == "co_units"), None)
    names = split_unit_names(values[units_col.key], sheet.known)
    if not names:
        problems.append(findings.make("targets-no-unit", item=seq, column=units_col.label,
                                      cell=sheet.cell(r, units_col.key), **at))
        return None
    groups = [(names, units_col)]
    if co_col:  # 牵头单位 | 配合单位: the co-units column's names come after the lead's
        groups.append((split_unit_names(values[co_col.key], sheet.known), co_col))
    official: list[str] = []
    apart: list[str] = []
    joined: list[str] = []
    for group, col in groups:
        for name, was_joined in group:
            key = match_key(name)
            if key in sheet.ambiguous:
                problems.append(findings.make("targets-unit-ambiguous", item=seq, name=name,
                                              candidates="、".join(sheet.ambiguous[key]), cell=sheet.cell(r, col.key),
                                              column=col.label, **at))
            resolved = sheet.aliases.setdefault(key, name)
            if was_joined and key not in sheet.known:  # a name known whole (单位 sheet, elsewhere) is no guess
                joined.append(name)
            if resolved not in official:
                official.append(resolved)
                if col is co_col:
                    apart.append(resolved)
    members = sheet.groups.get(official[0], ())
    if is_collective(official[0]) and not members:
        problems.append(findings.make("targets-collective-lead", item=seq, name=official[0],
                                      cell=sheet.cell(r, units_col.key), column=units_col.label, **at))
    texts = {key: tidy_multiline(v) for key, v in values.items() if key != units_col.key}
    texts[spec.by_role("id").key] = seq
    if co_col:
        texts[co_col.key] = "\n".join(apart)
    return Item(seq=seq, values=texts, units=tuple(official), row=r + 1, co_column=tuple(apart), joined=tuple(joined),
                members=members, units_cell=sheet.cell(r, units_col.key))


def _period_word(header_key: str) -> str:
    """第1季度目标 → 第1季度: the period named by a target column's header."""
    return re.sub(r"(工作|进度|任务|目标|计划|安排)+$", "", header_key)


def _looks_like_footnote(values: dict[str, str]) -> bool:
    filled = [v for v in values.values() if v.strip()]
    return len(filled) == 1 and is_footnote(filled[0])


def _read_units(grid: Grid) -> tuple[dict[str, str], dict[str, list[str]], dict[str, list[str]]]:
    """({match key: official name}, {match key: the units it could name}, {collective unit: its members as
    written}) from the 单位 sheet.

    An alias claimed by two units is ambiguous: using it in the list is a problem, never a guess.
    """
    names = labels()
    matchers = {"name": {match_key(names["unit_name"])}.__contains__,
                "aliases": {match_key(x) for x in names["unit_aliases_match"]}.__contains__,
                "members": {match_key(x) for x in names["unit_members_match"]}.__contains__}
    header = find_header(grid, matchers, "name", max_rows=10)
    if header is None:
        return {}, {}, {}
    claims: dict[str, set[str]] = {}
    members: dict[str, list[str]] = {}
    for r in range(header.last_row + 1, grid.height):
        official = cell_text(grid.value(r, header.columns["name"])).strip()
        if not official:
            continue
        claims.setdefault(match_key(official), set()).add(official)
        if "aliases" in header.columns:
            for alias in split_units(cell_text(grid.value(r, header.columns["aliases"]))):
                claims.setdefault(match_key(alias), set()).add(official)
        if "members" in header.columns:
            listed = split_units(cell_text(grid.value(r, header.columns["members"])))
            if listed:
                members[official] = listed
    aliases = {key: next(iter(owners)) for key, owners in claims.items() if len(owners) == 1}
    ambiguous = {key: sorted(owners) for key, owners in claims.items() if len(owners) > 1}
    return aliases, ambiguous, members


def write_target_list(path: Path, spec: Spec, periods: Iterable[Period], items: list[dict[str, Any]],
                      units: list[dict[str, Any]], period_labels: dict[str, str] | None = None) -> None:
    """A target list the coordinator edits in Excel: one target column per period, a 单位 sheet.

    `period_labels`: period code -> its target column's label in this layout (一季度目标 …); else 第1季度目标 ….
    """
    names = labels()
    period_col = _period_column(spec)
    columns: list[tuple[str, str, float]] = []
    for col in spec.target_columns:
        if col is period_col:
            columns += [(f"period:{p.code}", (period_labels or {}).get(p.code, p.target_label), col.width)
                        for p in periods]
        else:
            columns.append((col.key, col.label, col.width))
    workbook = new_workbook(path)
    head = workbook.add_format({"bold": True, "border": 1, "align": "center", "valign": "vcenter",
                                "text_wrap": True, "bg_color": "#DDEBF7"})
    body = workbook.add_format({"border": 1, "valign": "top", "text_wrap": True})
    sheet = workbook.add_worksheet(names["items_sheet"])
    for c, (_, label, width) in enumerate(columns):
        sheet.set_column(c, c, width)
        sheet.write_string(0, c, label, head)
    for r, item in enumerate(items, start=1):
        for c, (key, _, _) in enumerate(columns):
            if key.startswith("period:"):
                value = item.get("targets", {}).get(key.split(":")[1], "")
            elif key == spec.by_role("units").key:
                value = "、".join(item.get("units", []))
            else:
                value = item.get(key, "")
                if isinstance(value, list):  # a co-units column given as a list of names
                    value = "、".join(value)
            if isinstance(value, int):
                sheet.write_number(r, c, value, body)
            else:
                write_text_cell(sheet, r, c, str(value), body)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(items), 1), len(columns) - 1)
    printable(sheet, 0)
    unit_sheet = workbook.add_worksheet(names["units_sheet"])
    printable(unit_sheet, 0, landscape=False)
    unit_sheet.set_column(0, 0, 28)
    unit_sheet.set_column(1, 2, 36)
    unit_sheet.write_string(0, 0, names["unit_name"], head)
    unit_sheet.write_string(0, 1, names["unit_aliases"], head)
    unit_sheet.write_string(0, 2, names["unit_members"], head)
    for r, unit in enumerate(units, start=1):
        unit_sheet.write_string(r, 0, unit["name"], body)
        unit_sheet.write_string(r, 1, "、".join(unit.get("aliases", [])), body)
        unit_sheet.write_string(r, 2, "、".join(unit.get("members", [])), body)
    workbook.close()
