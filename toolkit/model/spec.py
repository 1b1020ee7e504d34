"""The one spec: columns, choices, synonyms and rules of a layout, read from a preset or a config (TOML).

Every label is a jinja2 string rendered once with the campaign's context (year, period), so the
rest of the toolkit deals with plain labels. The template, the intake checks and the summary are
all derived from a `Spec`; no column label is written in code.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from toolkit.model import templating
from toolkit.model.resources import preset_names, preset_path
from toolkit.model.text import match_key

if TYPE_CHECKING:
    from toolkit.excel.sheets import HeaderRows

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)

SOURCES = ("target", "unit")
# units: the responsible units, the first one the lead; co_units: co-organisers in a column of their own
# (牵头单位 | 配合单位), listed after the lead.
ROLES = ("id", "annual", "period_target", "leader", "units", "co_units", "previous")
TYPES = ("text", "choice", "number", "percent", "date")
SEVERITIES = ("error", "warning")
ALIGNS = ("left", "center", "right")
CONTRIBUTION = "contribution"  # key of the co-organisers' column
PREVIOUS = "previous_"  # key prefix of last period's columns
# Every key a table of the spec may hold: a misspelt key is an error, not silently ignored.
KEYS = {
    "preset": {"name", "version", "description"},
    "layout": {"sheet", "title", "footnote", "contact"},
    "contact": {"key", "label", "required", "width_columns"},
    "columns": {"key", "label", "source", "role", "type", "required", "choices", "synonyms", "ambiguous",
                "aliases", "width", "align", "hint", "min", "max", "period"},
    "ambiguous": {"words", "message"},
    "rules": {"code", "severity", "when", "then", "hint", "message"},
    "when": {"column", "equals", "in", "not_empty"},
    "then": {"column", "required", "not_in", "empty_or_in", "pattern", "max_chars", "min", "max"},
    "co_organisers": {"label", "hint", "width", "into", "format"},
    "carry_forward": {"columns", "label", "hint"},
}

_TEXT, _LIST, _TABLE, _BOOL = ((str,), "文字（加引号）"), ((list,), "列表，如 [\"甲\", \"乙\"]"), \
    ((dict,), "表，如 { 甲 = \"乙\" }"), ((bool,), "true 或 false")
# The TOML type of a key's value, and how to say it; keys not listed are checked where they are read.
VALUE_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    **dict.fromkeys(("key", "label", "source", "role", "type", "align", "hint", "code", "severity", "message",
                     "title", "sheet", "footnote", "pattern", "name", "description", "column", "into", "format"),
                    _TEXT),
    **dict.fromkeys(("choices", "aliases", "words", "not_in", "empty_or_in", "in", "contact", "columns"), _LIST),
    **dict.fromkeys(("synonyms", "ambiguous", "when", "then"), _TABLE),
    **dict.fromkeys(("required", "not_empty"), _BOOL),
    **dict.fromkeys(("width", "min", "max"), ((int, float), "数字")),
    **dict.fromkeys(("width_columns", "max_chars"), ((int,), "整数")),
}


class SpecError(ValueError):
    """A preset or layout that cannot be used; the message names the file, the line and the key."""


def render(template: str, context: dict[str, Any]) -> str:
    if (split := templating.pieces(template)) is not None:
        try:
            return templating.put_in(split, context, missing=None)
        except (LookupError, AttributeError, TypeError):  # a name not given: Jinja's StrictUndefined says which
            pass
    return _compiled(template).render(**context)


@functools.lru_cache(maxsize=512)
def _compiled(template: str) -> jinja2.Template:
    return _ENV.from_string(template)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    source: str
    role: str = ""
    type: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    synonyms: dict[str, str] = field(default_factory=dict)
    ambiguous_words: tuple[str, ...] = ()
    ambiguous_message: str = ""
    aliases: tuple[str, ...] = ()
    width: float = 12
    align: str = "left"
    hint: str = ""
    minimum: float | None = None
    maximum: float | None = None

    @property
    def prefilled(self) -> bool:
        return self.source == "target"

    def header_keys(self) -> frozenset[str]:
        """Every header text (as a match key) that names this column."""
        return _header_keys(self.label, self.aliases)

    def canonical_choice(self, value: str) -> str | None:
        """The choice a value stands for (itself, or through a synonym), or None."""
        return self.choice_index().get(match_key(value))

    def choice_index(self) -> dict[str, str]:
        """Match key → the choice it stands for (choices and synonyms)."""
        return _choice_index(self.choices, tuple(self.synonyms.items()))


@functools.cache
def _header_keys(label: str, aliases: tuple[str, ...]) -> frozenset[str]:
    return frozenset({match_key(label), *(match_key(a) for a in aliases)})


@functools.cache
def _choice_index(choices: tuple[str, ...], synonyms: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Match key → choice; a choice itself wins over a synonym written the same way."""
    index = {match_key(word): choice for word, choice in reversed(synonyms)}
    index.update({match_key(choice): choice for choice in reversed(choices)})
    return index


@functools.cache
def keys_of(words: tuple[str, ...]) -> frozenset[str]:
    """The match keys of a rule's or a column's words, worked out once."""
    return frozenset(match_key(w) for w in words)


@dataclass(frozen=True)
class Rule:
    """If column `when_column` holds `when_values` (or anything, with `when_not_empty`), then `then_column` must …"""

    code: str
    severity: str
    when_column: str
    when_values: tuple[str, ...]
    when_not_empty: bool
    then_column: str
    required: bool
    not_in: tuple[str, ...]
    empty_or_in: tuple[str, ...] | None
    pattern: str
    max_chars: int | None
    minimum: float | None
    maximum: float | None
    hint: str
    message: str

    def applies(self, value: str) -> bool:
        if self.when_not_empty:
            return bool(match_key(value))
        return match_key(value) in self.when_keys

    # Worked out once per rule, not once per item (collect checks every item of every return).
    @functools.cached_property
    def when_keys(self) -> frozenset[str]:
        return keys_of(self.when_values)

    @functools.cached_property
    def not_in_keys(self) -> frozenset[str]:
        return keys_of(self.not_in)

    @functools.cached_property
    def empty_or_in_keys(self) -> frozenset[str] | None:
        return None if self.empty_or_in is None else keys_of(self.empty_or_in)

    @functools.cached_property
    def verdicts(self) -> dict[str, bool]:
        """Whether a short answer (无, a status word…) breaks the rule, once worked out (validate.rule_broken)."""
        return {}


@dataclass(frozen=True)
class ContactField:
    key: str
    label: str
    required: bool
    width_columns: int


@dataclass(frozen=True)
class CoOrganisers:
    """The one column a co-organiser fills, and how merge quotes it under the lead's text."""

    label: str
    hint: str
    width: float
    into: str
    format: str


@dataclass(frozen=True)
class CarryForward:
    columns: tuple[str, ...]
    label: str
    hint: str


@dataclass(frozen=True)
class Spec:
    name: str
    version: str
    description: str
    sheet_name: str
    title: str
    footnote: str
    contact: tuple[ContactField, ...]
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...]
    context: dict[str, Any] = field(default_factory=dict, compare=False)
    co_organisers: CoOrganisers | None = None
    carry_forward: CarryForward | None = None

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)

    def by_role(self, role: str) -> Column:
        for col in self.columns:
            if col.role == role:
                return col
        raise KeyError(role)

    @property
    def prefilled(self) -> list[Column]:
        return [c for c in self.columns if c.source == "target"]

    @property
    def target_columns(self) -> list[Column]:
        """The columns the target list holds (prefilled, less last period's answers)."""
        return [c for c in self.columns if c.source == "target" and c.role != "previous"]

    @property
    def filled(self) -> list[Column]:
        return [c for c in self.columns if c.source == "unit"]

    @functools.cached_property
    def header_keys(self) -> frozenset[str]:
        """Every header text (as a match key) that names one of the columns: a second header row ends a table."""
        return frozenset().union(*(c.header_keys() for c in self.columns))

    @functools.cached_property
    def header_rows_seen(self) -> HeaderRows:
        """What rows of returns gave as header rows, by their texts (sheets.find_header's `seen`)."""
        return {}

    @property
    def status_column(self) -> Column | None:
        """The first filled choice column: what 完成/未完成 (or a marker such as 未报送) is written in."""
        return next((c for c in self.filled if c.type == "choice"), None)

    @property
    def template_version(self) -> str:
        return f"{self.name}@{self.version}"

    def render_message(self, template: str, **values: Any) -> str:
        return render(template, {**self.context, **values})

    def for_co_organisers(self) -> Spec:
        """The co-organisers' layout: the prefilled columns and their one contribution column."""
        if self.co_organisers is None:
            raise SpecError(f"预设“{self.name}”没有定义协办单位的填报栏（[co_organisers]），不能向协办单位分发。")
        co = self.co_organisers
        column = Column(key=CONTRIBUTION, label=co.label, source="unit", required=True, width=co.width, hint=co.hint)
        prefilled = [c for c in self.columns if c.source == "target" and c.role != "previous"]
        return replace(self, columns=(*prefilled, column), rules=())

    def with_previous(self, previous: str) -> Spec:
        """Last period's answers as locked columns before the first fill-in column (carry-forward)."""
        if self.carry_forward is None:
            raise SpecError(f"预设“{self.name}”没有定义上期内容的显示方式（[carry_forward]）。")
        carried = [
            Column(key=f"{PREVIOUS}{key}", label=render(self.carry_forward.label, {"label": self.column(key).label}),
                   source="target", role="previous", width=self.column(key).width,
                   hint=render(self.carry_forward.hint, {"previous": previous}))
            for key in self.carry_forward.columns
        ]
        first_filled = next(i for i, c in enumerate(self.columns) if c.source == "unit")
        columns = (*self.columns[:first_filled], *carried, *self.columns[first_filled:])
        return replace(self, columns=columns)

    def without_previous(self) -> Spec:
        """The layout of the summary: last period's columns are for the units, not the leaders."""
        return replace(self, columns=tuple(c for c in self.columns if c.role != "previous"))


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}：无法读取：{exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}：TOML 格式错误：{exc}") from exc


def load_spec(preset: str, context: dict[str, Any], overrides: dict[str, Any] | None = None,
              base_dir: Path | None = None) -> Spec:
    """The spec of a preset (a bundled name or a .toml path), rendered for one campaign."""
    path = Path(preset) if preset.endswith(".toml") else preset_path(preset)
    if base_dir and not path.is_absolute() and preset.endswith(".toml"):
        path = base_dir / path
    if not path.is_file():
        raise SpecError(f"找不到预设“{preset}”：可用的预设有 {', '.join(preset_names())}（toolkit presets 可查看）")
    data = read_toml(path)
    if overrides:
        data = _merge(data, overrides)
    return build_spec(data, context, path)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class _Where:
    """Names a key of a TOML file with the line it is on, for messages a coordinator can act on."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            self.lines = path.read_text(encoding="utf-8-sig").splitlines() if path else []
        except OSError:
            self.lines = []

    def line(self, table: str, index: int | None, key: str | None) -> int | None:
        """The line of `key` in the index-th [[table]] (or [table]); None when not found."""
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
        any_header = re.compile(r"^\s*\[")
        seen, start = -1, None
        for number, text in enumerate(self.lines, start=1):
            if header.match(text):
                seen += 1
                if index is None or seen == index:
                    start = number
                    break
        if start is None:
            return None
        if key is None:
            return start
        key_line = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for number in range(start + 1, len(self.lines) + 1):
            text = self.lines[number - 1]
            if any_header.match(text) and not text.strip().startswith(f"[{table}."):
                break
            if key_line.match(text) or re.search(rf"[{{,]\s*{re.escape(key)}\s*=", text):
                return number
        return start

    def __call__(self, at: str, table: str, index: int | None = None, key: str | None = None) -> str:
        line = self.line(table, index, key)
        where = f"{self.path}" if self.path else "配置"
        return f"{where}{f' 第{line}行' if line else ''}（{at}）"


def build_spec(data: dict[str, Any], context: dict[str, Any], path: Path | None) -> Spec:
    where = _Where(path)

    def fail(message: str, at: str, table: str, index: int | None = None, key: str | None = None) -> SpecError:
        return SpecError(f"{where(at, table, index, key)}：{message}")

    def check_keys(table: dict[str, Any], kind: str, at: str, name: str, index: int | None = None) -> None:
        unknown = set(table) - KEYS[kind]
        if unknown:
            bad = sorted(unknown)[0]
            raise fail(f"没有“{bad}”这一项，可用：{'、'.join(sorted(KEYS[kind]))}", f"{at}{bad}", name, index, bad)
        for key, value in table.items():
            types, words = VALUE_TYPES.get(key, ((object,), ""))
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                shown = f"“{value}”" if isinstance(value, str) else str(value).lower() if isinstance(value, bool) \
                    else str(value)
                raise fail(f"{key} 须为{words}，而不是 {shown}", f"{at}{key}", name, index, key)

    def need(table: dict[str, Any], key: str, at: str, name: str, index: int | None = None) -> Any:
        if key not in table or table[key] in ("", None):
            raise fail(f"缺少 {key}", f"{at}{key}", name, index)
        return table[key]

    def one_of(value: Any, allowed: tuple[str, ...], at: str, name: str, index: int | None, key: str) -> str:
        if value not in allowed:
            raise fail(f"{key} = “{value}” 不可用，可用值：{'、'.join(allowed)}", f"{at}{key}", name, index, key)
        return value

    def text(template: Any, at: str, name: str, index: int | None = None, key: str | None = None) -> str:
        try:
            return render(str(template), context)
        except jinja2.TemplateError as exc:
            raise fail(f"模板“{template}”无法展开：{exc}", at, name, index, key) from exc

    def number(value: Any, at: str, name: str, index: int | None, key: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(f"{key} 须为数字，而不是“{value}”", f"{at}{key}", name, index, key)
        return float(value)

    preset = data.get("preset", {"name": "custom", "version": "1"})
    check_keys(preset, "preset", "preset.", "preset")
    layout = need(data, "layout", "", "layout")
    check_keys(layout, "layout", "layout.", "layout")
    raw_columns = need(data, "columns", "", "columns")
    columns: list[Column] = []
    for i, raw in enumerate(raw_columns):
        at = f"columns[{i + 1}]."
        check_keys(raw, "columns", at, "columns", i)
        source = one_of(need(raw, "source", at, "columns", i), SOURCES, at, "columns", i, "source")
        role = raw.get("role", "")
        if role:
            one_of(role, ROLES, at, "columns", i, "role")
        ctype = one_of(raw.get("type", "text"), TYPES, at, "columns", i, "type")
        align = one_of(raw.get("align", "center" if ctype != "text" else "left"), ALIGNS, at, "columns", i, "align")
        ambiguous = raw.get("ambiguous", {})
        check_keys(ambiguous, "ambiguous", at + "ambiguous.", "columns", i)
        if ctype == "choice" and not raw.get("choices"):
            raise fail("type = “choice” 的列须给出 choices（选项列表）", f"{at}choices", "columns", i, "type")
        columns.append(Column(
            key=need(raw, "key", at, "columns", i), label=text(need(raw, "label", at, "columns", i), at + "label",
                                                              "columns", i, "label"),
            source=source, role=role, type=ctype, required=bool(raw.get("required", False)),
            choices=tuple(raw.get("choices", ())), synonyms=dict(raw.get("synonyms", {})),
            ambiguous_words=tuple(ambiguous.get("words", ())), ambiguous_message=ambiguous.get("message", ""),
            aliases=tuple(text(a, at + "aliases", "columns", i, "aliases") for a in raw.get("aliases", ())),
            width=float(raw.get("width", 12)), align=align, hint=raw.get("hint", ""),
            minimum=number(raw.get("min"), at, "columns", i, "min"),
            maximum=number(raw.get("max"), at, "columns", i, "max"),
        ))
    keys = [c.key for c in columns]
    duplicate = next((k for k in keys if keys.count(k) > 1), None)
    if duplicate:
        raise fail(f"列的 key “{duplicate}” 重复", "columns.key", "columns", keys.index(duplicate), "key")
    for role in ("id", "units"):
        if role not in {c.role for c in columns if c.source == "target"}:
            raise fail(f"须有一列 source = “target”、role = “{role}”（{'序号' if role == 'id' else '责任单位'}）",
                       "columns", "columns")
    rules: list[Rule] = []
    for i, raw in enumerate(data.get("rules", [])):
        at = f"rules[{i + 1}]."
        check_keys(raw, "rules", at, "rules", i)
        when, then = need(raw, "when", at, "rules", i), need(raw, "then", at, "rules", i)
        check_keys(when, "when", at + "when.", "rules", i)
        check_keys(then, "then", at + "then.", "rules", i)
        for part, name in ((when, "when"), (then, "then")):
            if part.get("column") not in keys:
                raise fail(f"{name}.column = “{part.get('column')}” 不是已定义的列，可用：{'、'.join(keys)}",
                           f"{at}{name}.column", "rules", i, name)
        if not ({"equals", "in", "not_empty"} & set(when)):
            raise fail("when 须有 equals、in 或 not_empty 之一", f"{at}when", "rules", i, "when")
        pattern = then.get("pattern", "")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise fail(f"pattern 不是有效的正则表达式：{exc}", f"{at}then.pattern", "rules", i, "then") from exc
        values = [when["equals"]] if "equals" in when else list(when.get("in", []))
        rules.append(Rule(
            code=need(raw, "code", at, "rules", i),
            severity=one_of(raw.get("severity", "error"), SEVERITIES, at, "rules", i, "severity"),
            when_column=when["column"], when_values=tuple(str(v) for v in values),
            when_not_empty=bool(when.get("not_empty", False)), then_column=then["column"],
            required=bool(then.get("required", False)), not_in=tuple(then.get("not_in", ())),
            empty_or_in=tuple(then["empty_or_in"]) if "empty_or_in" in then else None,
            pattern=pattern, max_chars=then.get("max_chars"),
            minimum=number(then.get("min"), at + "then.", "rules", i, "min"),
            maximum=number(then.get("max"), at + "then.", "rules", i, "max"),
            hint=raw.get("hint", ""), message=need(raw, "message", at, "rules", i),
        ))
    contact = []
    for i, raw in enumerate(layout.get("contact", ())):
        check_keys(raw, "contact", f"layout.contact[{i + 1}].", "layout")
        contact.append(ContactField(key=need(raw, "key", f"layout.contact[{i + 1}].", "layout"),
                                    label=text(raw.get("label", ""), "layout.contact", "layout"),
                                    required=bool(raw.get("required", False)),
                                    width_columns=int(raw.get("width_columns", 2))))
    return Spec(
        name=str(preset.get("name", "custom")), version=str(preset.get("version", "1")),
        description=preset.get("description", ""),
        sheet_name=_sheet_name(text(layout.get("sheet", "填报表"), "layout.sheet", "layout", None, "sheet")),
        title=text(need(layout, "title", "layout.", "layout"), "layout.title", "layout", None, "title"),
        footnote=text(layout.get("footnote", ""), "layout.footnote", "layout", None, "footnote"),
        contact=tuple(contact), columns=tuple(columns), rules=tuple(rules), context=dict(context),
        co_organisers=_co_organisers(data, keys, fail, check_keys),
        carry_forward=_carry_forward(data, keys, fail, check_keys),
    )


def _co_organisers(data: dict[str, Any], keys: list[str], fail: Any, check_keys: Any) -> CoOrganisers | None:
    raw = data.get("co_organisers")
    if raw is None:
        return None
    check_keys(raw, "co_organisers", "co_organisers.", "co_organisers")
    into = raw.get("into", "")
    if into not in keys:
        raise fail(f"into = “{into}” 不是已定义的列，可用：{'、'.join(keys)}", "co_organisers.into", "co_organisers",
                   None, "into")
    return CoOrganisers(label=raw.get("label", "配合工作情况"), hint=raw.get("hint", ""),
                        width=float(raw.get("width", 40)), into=into, format=raw.get("format", "（{{ unit }}：{{ text }}）"))


def _carry_forward(data: dict[str, Any], keys: list[str], fail: Any, check_keys: Any) -> CarryForward | None:
    raw = data.get("carry_forward")
    if raw is None:
        return None
    check_keys(raw, "carry_forward", "carry_forward.", "carry_forward")
    columns = tuple(raw.get("columns", ()))
    unknown = [c for c in columns if c not in keys]
    if unknown:
        raise fail(f"columns 中的“{unknown[0]}”不是已定义的列，可用：{'、'.join(keys)}", "carry_forward.columns",
                   "carry_forward", None, "columns")
    return CarryForward(columns=columns, label=raw.get("label", "上期{{ label }}"), hint=raw.get("hint", ""))


def _sheet_name(name: str) -> str:
    """Excel's rules for a sheet name: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", "-", name)[:31] or "填报表"
