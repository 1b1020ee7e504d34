"""The checks of one return, as pure functions: a parsed table and what was issued in, findings and answers out.

collect checks each return as it arrives, validate re-checks kept returns when the layout changed; both call these.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from toolkit.excel.targetlist import seq_key  # moves to model.targets (after the target list rework)
from toolkit.model import findings
from toolkit.model.findings import Finding
from toolkit.model.spec import Column, Rule, Spec, keys_of
from toolkit.model.text import (
    excel_date,
    has_control_chars,
    match_key,
    remove_control_chars,
    split_units,
    tidy_multiline,
)

if TYPE_CHECKING:
    from toolkit.excel.intake import Parsed, ReturnTable


@dataclass
class CheckedReturn:
    """A return as checked: its findings, and its answers cleaned for the summary (kept in the ledger as JSON)."""

    unit: str
    file: str
    received_at: str
    findings: list[Finding] = field(default_factory=list)
    contact: dict[str, str] = field(default_factory=dict)
    answers: dict[str, dict[str, str]] = field(default_factory=dict)  # 序号 -> column key -> text

    @property
    def errors(self) -> int:
        return sum(f.is_error for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(not f.is_error for f in self.findings)

    def to_json(self) -> str:
        return json.dumps({"unit": self.unit, "file": self.file, "received_at": self.received_at,
                           "contact": self.contact, "findings": [f.to_dict() for f in self.findings],
                           "answers": self.answers}, ensure_ascii=False)

    @classmethod
    def from_json(cls, kept: str) -> CheckedReturn:
        data = json.loads(kept)
        data["findings"] = [Finding(**f) for f in data["findings"]]
        return cls(**data)


def display_name(source: str) -> str:
    """A return's file name as the coordinator knows it (`inbox/a.xlsx`, `mail.zip!dir/a.xlsx` → the name)."""
    return source.replace("\\", "/").rsplit("/", 1)[-1].rsplit("!", 1)[-1]


def check_parsed(spec: Spec, parsed: Parsed, unit: str, issued: dict, source: str,
                 received_at: str) -> CheckedReturn:
    """A parsed return checked against what was issued to its unit (`spec`: the layout of the unit's role)."""
    checked = CheckedReturn(unit, display_name(source), received_at)
    if parsed.table is None:
        checked.findings.append(parsed.problem or findings.make("file-no-table", file=checked.file))
        return checked
    checked = check_return(spec, parsed.table, unit, issued.get("prefilled", {}), checked.file)
    checked.received_at = received_at
    if parsed.cut_short:  # cells read short: named by their item and column when they are in the table
        where = {(parsed.table.sheet, ref): (row.seq, spec.column(key).label)
                 for row in parsed.table.rows for key, ref in row.cells.items()}
        checked.findings[:0] = [
            findings.make("cell-cut-short", unit=unit, file=checked.file, sheet=sheet, cell=cell, recorded=recorded,
                          read=read, item=where.get((sheet, cell), ("", ""))[0],
                          column=where.get((sheet, cell), ("", ""))[1])
            for sheet, cell, recorded, read in parsed.cut_short]
    return checked


def check_value(spec: Spec, col: Column, raw: object, text: str, at: dict) -> tuple[str, list[Finding]]:
    """One cell a unit filled: its cleaned text and what is wrong with it."""
    out: list[Finding] = []
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and col.type == "text" and 20000 < raw < 80000:
        out.append(findings.make("date-serial", value=text, as_date=excel_date(float(raw)), **at))
    elif isinstance(raw, (dt.date, dt.datetime)) and col.type == "text":
        text = raw.strftime("%Y-%m-%d")
        out.append(findings.make("date-serial", value=text, as_date=text, **at))
    if has_control_chars(text):
        text = remove_control_chars(text)
        out.append(findings.make("control-chars", **at))
    text = tidy_multiline(text)
    if not text:
        if col.required:
            out.append(findings.make("value-required", **at))
        return text, out
    if col.type == "choice":
        choice = col.canonical_choice(text)
        if choice is None:
            if match_key(text) in keys_of(col.ambiguous_words):
                detail = spec.render_message(col.ambiguous_message, value=text, **at)
                out.append(findings.make("choice-ambiguous", detail=detail, value=text, **at))
            else:
                out.append(findings.make("choice-invalid", value=text, choices="、".join(col.choices), **at))
        elif match_key(choice) != match_key(text):
            out.append(findings.make("choice-synonym", value=text, choice=choice, **at))
            text = choice
        else:
            text = choice
    elif col.type in ("number", "percent"):
        text, problem = _typed_number(col, raw, text, at)
        out += problem
    elif col.type == "date":
        text, problem = _typed_date(raw, text, at)
        out += problem
    return text, out


def parse_number(text: str) -> float | None:
    """12, 12.5, '1,200', '１２', '85%' (as 85) → a number; anything else → None."""
    cleaned = match_key(text).replace(",", "").rstrip("%")
    try:
        return float(cleaned)
    except ValueError:
        return None


def _typed_number(col: Column, raw: object, text: str, at: dict) -> tuple[str, list[Finding]]:
    """A number or percent cell as the text the summary shows; a percent cell's 0.85 is 85%."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        number = float(raw) * (100 if col.type == "percent" else 1)
    else:
        number = parse_number(text)
    if number is None:
        return text, [findings.make("number-invalid", value=text, **at)]
    shown = f"{number:g}" + ("%" if col.type == "percent" else "")
    if (col.minimum is not None and number < col.minimum) or (col.maximum is not None and number > col.maximum):
        bounds = f"{col.minimum:g}" if col.minimum is not None else "", f"{col.maximum:g}" if col.maximum is not None else ""
        return shown, [findings.make("number-range", value=shown, minimum=bounds[0], maximum=bounds[1], **at)]
    return shown, []


_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def _typed_date(raw: object, text: str, at: dict) -> tuple[str, list[Finding]]:
    """A date cell, a serial number or a typed date (2022-03-31, 2022/3/31, 2022年3月31日) as 2022年3月31日."""
    day: dt.date | None = None
    if isinstance(raw, (dt.date, dt.datetime)):
        day = raw if isinstance(raw, dt.date) else raw.date()
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool) and 1 < raw < 2958466:
        day = dt.date.fromisoformat(excel_date(float(raw)))
    elif match := _DATE.fullmatch(match_key(text)):
        try:
            day = dt.date(*map(int, match.groups()))
        except ValueError:
            day = None
    if day is None:
        return text, [findings.make("date-invalid", value=text, **at)]
    return f"{day.year}年{day.month}月{day.day}日", []


def rule_broken(rule: Rule, value: str) -> bool:
    """Whether `value` in the rule's `then` column breaks it (the rule's `when` already holds)."""
    key = match_key(value)
    if key == "":
        return rule.required
    if key in rule.not_in_keys:
        return True
    if rule.empty_or_in_keys is not None and key not in rule.empty_or_in_keys:
        return True
    if rule.pattern and not re.fullmatch(rule.pattern, value.strip()):
        return True
    if rule.max_chars is not None and len(value.strip()) > rule.max_chars:
        return True
    if rule.minimum is not None or rule.maximum is not None:
        number = parse_number(value)
        if number is None or (rule.minimum is not None and number < rule.minimum) or \
                (rule.maximum is not None and number > rule.maximum):
            return True
    return False


def check_rules(spec: Spec, answers: dict[str, str], cells: Mapping[str, str], where: dict) -> list[Finding]:
    out = []
    for rule in spec.rules:
        if not rule.applies(answers.get(rule.when_column, "")):
            continue
        value = answers.get(rule.then_column, "")
        if rule_broken(rule, value):
            column = spec.column(rule.then_column).label
            at = {**where, "column": column, "cell": cells.get(rule.then_column, "")}
            message = spec.render_message(rule.message, value=value, **at)
            out.append(findings.make(rule.code, severity=rule.severity, message=message, **at))
    return out


def check_return(spec: Spec, table: ReturnTable, unit: str, issued: dict[str, dict[str, str]],
                 file: str) -> CheckedReturn:
    """Every check of one return; `issued`: 序号 -> prefilled column key -> text, as written into the template."""
    result = CheckedReturn(unit=unit, file=file, received_at="")
    base = {"unit": unit, "file": file, "sheet": table.sheet}
    for key in table.missing_columns:
        result.findings.append(findings.make("header-incomplete", column=spec.column(key).label, **base))
    id_column = spec.by_role("id")
    seen: dict[str, list[int]] = {}
    for row in table.rows:
        seen.setdefault(row.seq, []).append(row.row)
    for row in table.rows:
        at = {**base, "item": row.seq}
        if row.seq not in issued:
            result.findings.append(findings.make("item-foreign", cell=row.cells[id_column.key],
                                                 column=id_column.label, **at))
            continue
        if len(seen[row.seq]) > 1:
            if row.row != seen[row.seq][0]:
                continue
            result.findings.append(findings.make(
                "item-duplicate", count=len(seen[row.seq]), rows="、".join(map(str, seen[row.seq])),
                cell=row.cells[id_column.key], column=id_column.label, **at))
        prefilled = issued[row.seq]
        answers: dict[str, str] = {}
        for col in spec.columns:
            text = row.values.get(col.key)
            if text is None:
                continue
            cell_at = {**at, "column": col.label, "cell": row.cells[col.key]}
            if col.prefilled:
                result.findings += _check_prefilled(col, prefilled.get(col.key, ""), text, cell_at)
                continue
            if col.key in row.formulas:  # read as empty or as #N/A: the formula's result is not there to read
                formula, error = row.formulas[col.key]
                answers[col.key] = ""
                result.findings.append(findings.make("formula-no-value", formula=formula, error=error, **cell_at))
                continue
            answers[col.key], problems = check_value(spec, col, row.raw.get(col.key), text, cell_at)
            result.findings += problems
        if spec.rules:
            result.findings += check_rules(spec, answers, row.cells, at)
        result.answers[row.seq] = answers
    for seq in sorted(set(issued) - set(seen), key=seq_key):
        result.findings.append(findings.make("item-missing", item=seq, **base))
    for field_ in spec.contact:
        text, cell = table.contact.get(field_.key, ("", ""))
        result.contact[field_.key] = text.strip()
        if field_.required and not text.strip():
            result.findings.append(findings.make("contact-missing", column=field_.label.rstrip(":："), cell=cell,
                                                 **base))
    result.findings.sort(key=lambda f: (seq_key(f.item) if f.item else (-1, ""), f.cell))
    return result


def _check_prefilled(col: Column, issued_text: str, returned: str, at: dict) -> list[Finding]:
    """Prefilled text is the coordinator's: any change of its words (not its spacing) is an error."""
    if returned == issued_text:
        return []
    if col.role == "units":
        issued_units = [match_key(u) for u in split_units(issued_text)]
        same = [match_key(u) for u in split_units(returned)] == issued_units or \
            match_key(returned) == "".join(issued_units)
        issued_text = "、".join(split_units(issued_text))
    else:
        same = match_key(returned) == match_key(issued_text)
    if same:
        return []
    return [findings.make("prefilled-changed", issued=_short(issued_text), returned=_short(returned), **at)]


def _short(text: str, limit: int = 300) -> str:
    # Whole texts as a rule: a change is often at the end of a target, and a cut text would hide it.
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"
