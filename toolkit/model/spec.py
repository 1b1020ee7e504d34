"""The one spec: columns, choices, synonyms and rules of a layout, read from a preset or a config (TOML).

Every label is a jinja2 string rendered once with the campaign's context (year, period), so the
rest of the toolkit deals with plain labels. The template, the intake checks and the summary are
all derived from a `Spec`; no column label is written in code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2

from toolkit.model.render import render
from toolkit.model.resources import preset_names, preset_path, templates_dir
from toolkit.model.text import match_key

CONTRIBUTION = "contribution"  # key of the co-organisers' column
PREVIOUS = "previous_"  # key prefix of last period's columns

# The spec's own schema (templates/spec-schema.toml): every table's keys, their types, defaults and allowed values.
SCHEMA: dict[str, Any] = tomllib.loads((templates_dir() / "spec-schema.toml").read_text(encoding="utf-8"))
_TYPES: dict[str, tuple[type, ...]] = {"text": (str,), "list": (list,), "table": (dict,), "bool": (bool,),
                                       "number": (int, float), "integer": (int,)}


class SpecError(ValueError):
    """A preset or layout that cannot be used; the message names the file, the line and the key."""


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
    in_template: bool = True  # in the units' template (and their returns); else in the target list only
    in_summary: bool = True
    done: tuple[str, ...] = ()  # the choices that mean done (a choice column's)

    # Worked out when the column is made: collect looks up every cell of every return.
    _header_keys: frozenset[str] = field(init=False, repr=False, compare=False)
    _choice_index: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_header_keys", keys_of((self.label, *self.aliases)))
        # A choice itself wins over a synonym written the same way, an earlier one over a later one.
        index = {match_key(word): choice for word, choice in reversed(self.synonyms.items())}
        index.update({match_key(choice): choice for choice in reversed(self.choices)})
        object.__setattr__(self, "_choice_index", index)

    @property
    def prefilled(self) -> bool:
        return self.source == "target"

    def header_keys(self) -> frozenset[str]:
        """Every header text (as a match key) that names this column."""
        return self._header_keys

    def canonical_choice(self, value: str) -> str | None:
        """The choice a value stands for (itself, or through a synonym), or None."""
        return self._choice_index.get(match_key(value))


def keys_of(words: tuple[str, ...]) -> frozenset[str]:
    """The match keys of a rule's or a column's words."""
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
    # Worked out when the rule is made, not once per item (collect checks every item of every return).
    when_keys: frozenset[str] = field(init=False, repr=False, compare=False)
    not_in_keys: frozenset[str] = field(init=False, repr=False, compare=False)
    empty_or_in_keys: frozenset[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "when_keys", keys_of(self.when_values))
        object.__setattr__(self, "not_in_keys", keys_of(self.not_in))
        object.__setattr__(self, "empty_or_in_keys", None if self.empty_or_in is None else keys_of(self.empty_or_in))

    def applies(self, value: str) -> bool:
        if self.when_not_empty:
            return bool(match_key(value))
        return match_key(value) in self.when_keys


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
    # Every header text (as a match key) that names one of the columns: a second header row ends a table.
    header_keys: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "header_keys", frozenset().union(*(c.header_keys() for c in self.columns)))

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
        """The layout without last period's columns: they are for the units, not the leaders."""
        return replace(self, columns=tuple(c for c in self.columns if c.role != "previous"))

    def for_template(self) -> Spec:
        """The layout of the units' template and returns: the columns marked `template = false` left out."""
        if all(c.in_template for c in self.columns):
            return self
        return replace(self, columns=tuple(c for c in self.columns if c.in_template))

    def for_summary(self) -> Spec:
        """The layout of the summary: no last period's columns, none marked `summary = false`."""
        return replace(self, columns=tuple(c for c in self.columns if c.role != "previous" and c.in_summary))


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


class _Checker:
    """Checks a spec's tables against SCHEMA and renders its labels; errors name the file, the line and the key."""

    def __init__(self, path: Path | None, context: dict[str, Any]) -> None:
        self.where = _Where(path)
        self.context = context

    def fail(self, message: str, at: str, table: str, index: int | None = None, key: str | None = None) -> SpecError:
        return SpecError(f"{self.where(at, table, index, key)}：{message}")

    def table(self, raw: Any, kind: str, at: str, table: str | None, index: int | None = None) -> dict[str, Any]:
        """`raw` checked against SCHEMA's `kind`, with the defaults of the keys not given.

        `table` and `index` say where the TOML file has it (for the line number); None at the top level,
        whose keys name their own tables.
        """
        schema = SCHEMA["tables"][kind]
        if not isinstance(raw, dict):  # an item of a list of tables
            raise self.fail(f"{at[:-1]} 须为{SCHEMA['types']['table']}", at[:-1], table or kind, index)
        if table is None:  # the top level: a config holds other tables too ([campaign], [files]…)
            raw = {key: value for key, value in raw.items() if key in schema}
        unknown = sorted(set(raw) - set(schema))
        if unknown:
            bad = unknown[0]
            raise self.fail(f"没有“{bad}”这一项，可用：{'、'.join(sorted(schema))}", f"{at}{bad}", table or bad, index,
                            bad)
        for key, value in raw.items():
            kind_of = schema[key]["type"]
            if kind_of != "any" and (not isinstance(value, _TYPES[kind_of]) or
                                     (isinstance(value, bool) and kind_of != "bool")):
                shown = f"“{value}”" if isinstance(value, str) else str(value).lower() if isinstance(value, bool) \
                    else str(value)
                raise self.fail(f"{key} 须为{SCHEMA['types'][kind_of]}，而不是 {shown}", f"{at}{key}", table or key,
                                index, key)
        out = {}
        for key, rule in schema.items():
            value = raw.get(key, rule.get("default"))
            if rule.get("required") and value in ("", None):
                raise self.fail(f"缺少 {key}", f"{at}{key}", table or key, index)
            if key in raw and "values" in rule and value != rule.get("default") and value not in rule["values"]:
                raise self.fail(f"{key} = “{value}” 不可用，可用值：{'、'.join(rule['values'])}", f"{at}{key}",
                                table or key, index, key)
            if "of" in rule and isinstance(value, dict):
                value = self.table(value, rule["of"], f"{at}{key}.", table or key, index)
            elif "of" in rule and isinstance(value, list):
                value = [self.table(one, rule["of"], f"{at}{key}[{i + 1}].", table or key,
                                    i if table is None else index) for i, one in enumerate(value)]
            out[key] = value
        return out

    def text(self, template: Any, at: str, table: str, index: int | None = None, key: str | None = None) -> str:
        """A label rendered for the campaign (year, period)."""
        try:
            return render(str(template), self.context)
        except jinja2.TemplateError as exc:
            raise self.fail(f"模板“{template}”无法展开：{exc}", at, table, index, key) from exc


def build_spec(data: dict[str, Any], context: dict[str, Any], path: Path | None) -> Spec:
    check = _Checker(path, context)
    spec = check.table(data, "spec", "", None)
    columns = tuple(_column(raw, i, check) for i, raw in enumerate(spec["columns"]))
    keys = [c.key for c in columns]
    duplicate = next((k for k in keys if keys.count(k) > 1), None)
    if duplicate:
        raise check.fail(f"列的 key “{duplicate}” 重复", "columns.key", "columns", keys.index(duplicate), "key")
    for role in ("id", "units"):
        if role not in {c.role for c in columns if c.source == "target"}:
            raise check.fail(f"须有一列 source = “target”、role = “{role}”（{'序号' if role == 'id' else '责任单位'}）",
                             "columns", "columns")
    preset, layout = spec["preset"], spec["layout"]
    return Spec(
        name=str(preset["name"]), version=str(preset["version"]), description=preset["description"],
        sheet_name=_sheet_name(check.text(layout["sheet"], "layout.sheet", "layout", None, "sheet")),
        title=check.text(layout["title"], "layout.title", "layout", None, "title"),
        footnote=check.text(layout["footnote"], "layout.footnote", "layout", None, "footnote"),
        contact=tuple(ContactField(key=raw["key"], label=check.text(raw["label"], "layout.contact", "layout"),
                                   required=raw["required"], width_columns=raw["width_columns"])
                      for raw in layout["contact"]),
        columns=columns, rules=tuple(_rule(raw, i, keys, check) for i, raw in enumerate(spec["rules"])),
        context=dict(context), co_organisers=_co_organisers(spec["co_organisers"], keys, check),
        carry_forward=_carry_forward(spec["carry_forward"], keys, check),
    )


def _column(raw: dict[str, Any], i: int, check: _Checker) -> Column:
    at = f"columns[{i + 1}]."
    if raw["type"] == "choice" and not raw["choices"]:
        raise check.fail("type = “choice” 的列须给出 choices（选项列表）", f"{at}choices", "columns", i, "type")
    if raw["done"] and raw["type"] != "choice":
        raise check.fail("done 只用于 type = “choice” 的列", f"{at}done", "columns", i, "done")
    outside = [word for word in raw["done"] if word not in raw["choices"]]
    if outside:
        raise check.fail(f"done 中的“{outside[0]}”不是本列的选项，可用：{'、'.join(raw['choices'])}", f"{at}done",
                         "columns", i, "done")
    if not raw["template"] and (raw["source"] == "unit" or raw["role"] == "id"):
        raise check.fail("单位填写的列和序号列须在填报表中，不能设 template = false", f"{at}template", "columns", i,
                         "template")
    if not raw["summary"] and raw["role"] == "id":
        raise check.fail("序号列须在汇总表中（汇总表按序号排列），不能设 summary = false", f"{at}summary", "columns", i,
                         "summary")
    return Column(
        key=raw["key"], label=check.text(raw["label"], f"{at}label", "columns", i, "label"),
        source=raw["source"], role=raw["role"], type=raw["type"], required=raw["required"],
        choices=tuple(raw["choices"]), synonyms=dict(raw["synonyms"]),
        ambiguous_words=tuple(raw["ambiguous"]["words"]), ambiguous_message=raw["ambiguous"]["message"],
        aliases=tuple(check.text(a, f"{at}aliases", "columns", i, "aliases") for a in raw["aliases"]),
        width=float(raw["width"]), align=raw["align"] or ("left" if raw["type"] == "text" else "center"),
        hint=raw["hint"], minimum=_number(raw["min"]), maximum=_number(raw["max"]),
        in_template=raw["template"], in_summary=raw["summary"], done=tuple(raw["done"]),
    )


def _rule(raw: dict[str, Any], i: int, keys: list[str], check: _Checker) -> Rule:
    at = f"rules[{i + 1}]."
    when, then = raw["when"], raw["then"]
    for part, name in ((when, "when"), (then, "then")):
        if part["column"] not in keys:
            raise check.fail(f"{name}.column = “{part['column']}” 不是已定义的列，可用：{'、'.join(keys)}",
                             f"{at}{name}.column", "rules", i, name)
    if when["equals"] is None and when["in"] is None and when["not_empty"] is None:
        raise check.fail("when 须有 equals、in 或 not_empty 之一", f"{at}when", "rules", i, "when")
    try:
        re.compile(then["pattern"])
    except re.error as exc:
        raise check.fail(f"pattern 不是有效的正则表达式：{exc}", f"{at}then.pattern", "rules", i, "then") from exc
    values = [when["equals"]] if when["equals"] is not None else when["in"] or []
    return Rule(
        code=raw["code"], severity=raw["severity"], when_column=when["column"],
        when_values=tuple(str(v) for v in values), when_not_empty=bool(when["not_empty"]),
        then_column=then["column"], required=then["required"], not_in=tuple(then["not_in"]),
        empty_or_in=None if then["empty_or_in"] is None else tuple(then["empty_or_in"]),
        pattern=then["pattern"], max_chars=then["max_chars"], minimum=_number(then["min"]),
        maximum=_number(then["max"]), hint=raw["hint"], message=raw["message"],
    )


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)


def _co_organisers(raw: dict[str, Any] | None, keys: list[str], check: _Checker) -> CoOrganisers | None:
    if raw is None:
        return None
    if raw["into"] not in keys:
        raise check.fail(f"into = “{raw['into']}” 不是已定义的列，可用：{'、'.join(keys)}", "co_organisers.into",
                         "co_organisers", None, "into")
    return CoOrganisers(label=raw["label"], hint=raw["hint"], width=float(raw["width"]), into=raw["into"],
                        format=raw["format"])


def _carry_forward(raw: dict[str, Any] | None, keys: list[str], check: _Checker) -> CarryForward | None:
    if raw is None:
        return None
    unknown = [c for c in raw["columns"] if c not in keys]
    if unknown:
        raise check.fail(f"columns 中的“{unknown[0]}”不是已定义的列，可用：{'、'.join(keys)}", "carry_forward.columns",
                         "carry_forward", None, "columns")
    return CarryForward(columns=tuple(raw["columns"]), label=raw["label"], hint=raw["hint"])


def _sheet_name(name: str) -> str:
    """Excel's rules for a sheet name: at most 31 characters, none of []:*?/\\."""
    return re.sub(r"[\[\]:*?/\\]", "-", name)[:31] or "填报表"
