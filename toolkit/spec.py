"""The one spec: columns, choices, synonyms and rules of a layout, read from a preset (TOML).

Every label is a jinja2 string rendered once with the campaign's context (year, period), so the
rest of the toolkit deals with plain labels. The template, the intake checks and the summary are
all derived from a `Spec`; no column label is written in code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from .resources import preset_names, preset_path
from .text import match_key

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)

SOURCES = ("target", "unit")
ROLES = ("id", "annual", "period_target", "leader", "units")
TYPES = ("text", "choice")
SEVERITIES = ("error", "warning")


class SpecError(ValueError):
    """A preset or layout that cannot be used; the message names the file and the key."""


def render(template: str, context: dict[str, Any]) -> str:
    return _ENV.from_string(template).render(**context)


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

    @property
    def prefilled(self) -> bool:
        return self.source == "target"

    def header_keys(self) -> set[str]:
        """Every header text (as a match key) that names this column."""
        return {match_key(self.label), *(match_key(a) for a in self.aliases)}

    def canonical_choice(self, value: str) -> str | None:
        """The choice a value stands for (itself, or through a synonym), or None."""
        key = match_key(value)
        for choice in self.choices:
            if match_key(choice) == key:
                return choice
        for word, choice in self.synonyms.items():
            if match_key(word) == key:
                return choice
        return None


@dataclass(frozen=True)
class Rule:
    code: str
    severity: str
    when_column: str
    when_equals: str
    then_column: str
    required: bool
    not_in: tuple[str, ...]
    empty_or_in: tuple[str, ...] | None
    hint: str
    message: str


@dataclass(frozen=True)
class ContactField:
    key: str
    label: str
    required: bool
    width_columns: int


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
    def filled(self) -> list[Column]:
        return [c for c in self.columns if c.source == "unit"]

    @property
    def template_version(self) -> str:
        return f"{self.name}@{self.version}"

    def render_message(self, template: str, **values: Any) -> str:
        return render(template, {**self.context, **values})


def load_spec(preset: str, context: dict[str, Any], overrides: dict[str, Any] | None = None) -> Spec:
    """The spec of a preset (a bundled name or a .toml path), rendered for one campaign."""
    path = Path(preset) if preset.endswith(".toml") else preset_path(preset)
    if not path.is_file():
        raise SpecError(f"找不到预设“{preset}”：可用的预设有 {', '.join(preset_names())}（toolkit presets 可查看）")
    with path.open("rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"{path}：TOML 格式错误：{exc}") from exc
    if overrides:
        data = _merge(data, overrides)
    return build_spec(data, context, str(path))


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def build_spec(data: dict[str, Any], context: dict[str, Any], where: str) -> Spec:
    def need(table: dict[str, Any], key: str, at: str) -> Any:
        if key not in table:
            raise SpecError(f"{where}：缺少 {at}{key}")
        return table[key]

    def text(template: str, at: str) -> str:
        try:
            return render(template, context)
        except jinja2.TemplateError as exc:
            raise SpecError(f"{where}：{at} 的模板“{template}”无法展开：{exc}") from exc

    preset = need(data, "preset", "")
    layout = need(data, "layout", "")
    columns: list[Column] = []
    for i, raw in enumerate(need(data, "columns", "")):
        at = f"columns[{i}]."
        source = need(raw, "source", at)
        if source not in SOURCES:
            raise SpecError(f"{where}：{at}source = “{source}” 不可用，可用值：{'、'.join(SOURCES)}")
        role = raw.get("role", "")
        if role and role not in ROLES:
            raise SpecError(f"{where}：{at}role = “{role}” 不可用，可用值：{'、'.join(ROLES)}")
        ctype = raw.get("type", "text")
        if ctype not in TYPES:
            raise SpecError(f"{where}：{at}type = “{ctype}” 不可用，可用值：{'、'.join(TYPES)}")
        ambiguous = raw.get("ambiguous", {})
        columns.append(Column(
            key=need(raw, "key", at), label=text(need(raw, "label", at), at + "label"), source=source,
            role=role, type=ctype, required=bool(raw.get("required", False)),
            choices=tuple(raw.get("choices", ())), synonyms=dict(raw.get("synonyms", {})),
            ambiguous_words=tuple(ambiguous.get("words", ())), ambiguous_message=ambiguous.get("message", ""),
            aliases=tuple(text(a, at + "aliases") for a in raw.get("aliases", ())),
            width=float(raw.get("width", 12)), align=raw.get("align", "left"), hint=raw.get("hint", ""),
        ))
    keys = [c.key for c in columns]
    for role in ("id", "units"):
        if role not in {c.role for c in columns}:
            raise SpecError(f"{where}：columns 中须有一列 role = “{role}”")
    rules: list[Rule] = []
    for i, raw in enumerate(data.get("rules", [])):
        at = f"rules[{i}]."
        when, then = need(raw, "when", at), need(raw, "then", at)
        for part, name in ((when, "when"), (then, "then")):
            if part.get("column") not in keys:
                raise SpecError(f"{where}：{at}{name}.column = “{part.get('column')}” 不是已定义的列：{'、'.join(keys)}")
        severity = raw.get("severity", "error")
        if severity not in SEVERITIES:
            raise SpecError(f"{where}：{at}severity = “{severity}” 不可用，可用值：error、warning")
        rules.append(Rule(
            code=need(raw, "code", at), severity=severity, when_column=when["column"],
            when_equals=need(when, "equals", at + "when."), then_column=then["column"],
            required=bool(then.get("required", False)), not_in=tuple(then.get("not_in", ())),
            empty_or_in=tuple(then["empty_or_in"]) if "empty_or_in" in then else None,
            hint=raw.get("hint", ""), message=need(raw, "message", at),
        ))
    contact = tuple(
        ContactField(key=c["key"], label=c["label"], required=bool(c.get("required", False)),
                     width_columns=int(c.get("width_columns", 2)))
        for c in layout.get("contact", ())
    )
    return Spec(
        name=need(preset, "name", "preset."), version=str(need(preset, "version", "preset.")),
        description=preset.get("description", ""),
        sheet_name=text(layout.get("sheet", "填报表"), "layout.sheet")[:31],
        title=text(need(layout, "title", "layout."), "layout.title"),
        footnote=text(layout.get("footnote", ""), "layout.footnote"),
        contact=contact, columns=tuple(columns), rules=tuple(rules), context=dict(context),
    )
