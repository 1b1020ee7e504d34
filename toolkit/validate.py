"""`toolkit validate`: each unit's current return checked against the spec and what was issued to it."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from toolkit import __version__
from toolkit.excel import intake
from toolkit.excel.targetlist import seq_key
from toolkit.model import findings
from toolkit.model.findings import Finding
from toolkit.model.spec import Column, Rule, Spec, keys_of
from toolkit.model.text import has_control_chars, match_key, remove_control_chars, split_units, tidy_multiline
from toolkit.store.ledger import Ledger, Receipt
from toolkit.store.workspace import Workspace
from toolkit.views.terminal import no_progress


@dataclass
class CheckedReturn:
    """A return as checked: its findings, and its answers cleaned for the summary.

    Kept in the ledger as UTF-8 bytes: a line of JSON with the findings, then the answers (see to_json).
    Validate and status need only the findings, so the answers (most of the text) are read when first asked for.
    """

    unit: str
    file: str
    received_at: str
    findings: list[Finding] = field(default_factory=list)
    contact: dict[str, str] = field(default_factory=dict)
    # The answers as kept, not parsed yet; None: not read from the ledger (validate(…, answers=False)).
    kept_answers: str | bytes | None = field(default="", repr=False)
    _answers: dict[str, dict[str, str]] | None = field(default=None, repr=False)

    @property
    def answers(self) -> dict[str, dict[str, str]]:
        """序号 -> column key -> text."""
        if self._answers is None:
            if self.kept_answers is None:
                raise RuntimeError("the answers were not read: validate(ws, answers=True)")
            self._answers = _read_answers(self.kept_answers)
        return self._answers

    @property
    def errors(self) -> int:
        return sum(f.is_error for f in self.findings)

    def to_json(self) -> bytes:
        """Bytes, made once in the process that checked the return: collect's main process passes them on to
        the ledger as they are."""
        head = {"unit": self.unit, "file": self.file, "received_at": self.received_at, "contact": self.contact,
                "findings": [f.to_dict() for f in self.findings]}
        # The answers' texts follow a line of their layout (each 序号 with its column keys, then every text's
        # length), as they are: escaping them for JSON took collect longer than checking them.
        # json.dumps escapes every line break inside a string: the first two divide the three parts.
        rows = [[seq, *row] for seq, row in self.answers.items()]
        texts = [text for row in self.answers.values() for text in row.values()]
        layout = json.dumps([rows, list(map(len, texts))])
        return "\n".join((json.dumps(head, ensure_ascii=False), layout, "".join(texts))).encode()

    @classmethod
    def from_json(cls, kept: str | bytes, *, answers: bool = True) -> CheckedReturn:
        """`kept`: to_json's bytes, or text (as earlier versions kept it); without `answers`, its first line."""
        head, _, rest = kept.partition(b"\n") if isinstance(kept, bytes) else kept.partition("\n")
        data = json.loads(head)
        data["findings"] = [Finding(**f) for f in data["findings"]]
        if "answers" in data:  # kept by an earlier version, in one part
            data["_answers"] = data.pop("answers")
        return cls(**data, kept_answers=rest if answers else None)

    @property
    def warnings(self) -> int:
        return sum(not f.is_error for f in self.findings)


def _read_answers(kept: str | bytes) -> dict[str, dict[str, str]]:
    """The answers as to_json keeps them, or as one JSON object (as earlier versions kept them)."""
    text = kept.decode() if isinstance(kept, bytes) else kept
    if not text or text.startswith("{"):
        return json.loads(text) if text else {}
    layout, _, texts = text.partition("\n")
    rows, lengths = json.loads(layout)
    ends = itertools.accumulate(lengths)
    start = 0
    answers: dict[str, dict[str, str]] = {}
    for seq, *keys in rows:
        row = answers[seq] = {}
        for key in keys:
            row[key], start = texts[start:(end := next(ends))], end
    return answers


@dataclass
class ValidationResult:
    returns: dict[str, CheckedReturn]
    not_returned: list[str]

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.returns.values() for f in r.findings]


def check_value(spec: Spec, col: Column, raw: object, text: str, at: dict) -> tuple[str, list[Finding]]:
    """One filled cell: its cleaned text and what is wrong with it."""
    out: list[Finding] = []
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and col.type == "text" and 20000 < raw < 80000:
        out.append(findings.make("date-serial", value=text, as_date=intake.excel_date(float(raw)), **at))
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
        day = dt.date.fromisoformat(intake.excel_date(float(raw)))
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
    if len(value) > SHORT_ANSWER:
        return _rule_broken(rule, value)
    verdicts = rule.verdicts  # short answers recur in every return: 无, 完成, …
    if (verdict := verdicts.get(value)) is None:
        if len(verdicts) >= 4096:
            verdicts.clear()
        verdict = verdicts[value] = _rule_broken(rule, value)
    return verdict


SHORT_ANSWER = 64


def _rule_broken(rule: Rule, value: str) -> bool:
    # The match key of a long answer is worked out only when a short word list could hold it.
    key = None if _WORDY.search(value) else match_key(value)  # None: not empty, not worked out yet
    if key == "":
        return rule.required
    if rule.not_in and _among(value, key, rule.not_in_keys):
        return True
    if rule.empty_or_in_keys is not None and not (rule.empty_or_in and _among(value, key, rule.empty_or_in_keys)):
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


def _among(value: str, key: str | None, keys: frozenset[str]) -> bool:
    """Whether the value's match key (`key`, or worked out here when None) is one of `keys`."""
    longest = _longest(keys)
    if next(itertools.islice(_IDEOGRAPH.finditer(value), longest, None), None) is not None:
        return False  # more ideographs than the longest: NFKC keeps every ideograph, and spaces are all a match key drops
    return (match_key(value) if key is None else key) in keys


_WORDY = re.compile(r"[0-9A-Za-z\u4e00-\u9fff]")  # a text holding one of these has a match key
# Compiled once, at import, before collect forks its workers: a CJK range takes the re module 2.5 ms.
_IDEOGRAPH = re.compile("[\u4e00-\u9fff]")


@functools.cache
def _longest(keys: frozenset[str]) -> int:
    return max(map(len, keys), default=0)


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


def check_return(spec: Spec, table: intake.ReturnTable, unit: str, issued: dict[str, dict[str, str]],
                 file: str) -> CheckedReturn:
    """Every check of one return; pure: the same table and issue give the same findings."""
    result = CheckedReturn(unit=unit, file=file, received_at="")
    base = {"unit": unit, "file": file, "sheet": table.sheet}
    for key in table.missing_columns:
        result.findings.append(findings.make("header-incomplete", column=spec.column(key).label, **base))
    issued_by_seq = issued  # 序号 -> prefilled column key -> text, as written into the template
    id_column = spec.by_role("id")
    seen: dict[str, list[int]] = {}
    for row in table.rows:
        seen.setdefault(row.seq, []).append(row.row)
    columns = _columns_to_check(spec)
    for row in table.rows:
        at = {**base, "item": row.seq}
        if row.seq not in issued_by_seq:
            result.findings.append(findings.make("item-foreign", cell=row.cells[id_column.key],
                                                 column=id_column.label, **at))
            continue
        if len(seen[row.seq]) > 1:
            if row.row != seen[row.seq][0]:
                continue
            result.findings.append(findings.make(
                "item-duplicate", count=len(seen[row.seq]), rows="、".join(map(str, seen[row.seq])),
                cell=row.cells[id_column.key], column=id_column.label, **at))
        prefilled = issued_by_seq[row.seq]
        answers: dict[str, str] = {}
        values, raw_values = row.values, row.raw
        for col, key, is_prefilled, quick, listed in columns:
            text = values.get(key)
            if text is None:
                continue
            if is_prefilled:
                if text != prefilled.get(key, ""):
                    result.findings += _check_prefilled(col, prefilled.get(key, ""), text,
                                                        {**at, "column": col.label, "cell": row.cells[key]})
                continue
            if quick and type(raw_values.get(key)) is str and \
                    (text.isprintable() or text.replace("\n", "").isprintable() or not _NOT_PLAIN.search(text)):
                # Most answers: clean text, or a choice written as listed: nothing to report.
                cleaned = text.strip() if "\n" not in text else tidy_multiline(text)
                if quick == "text" and cleaned:
                    answers[key] = cleaned
                    continue
                if quick == "choice" and (choice := listed.get(match_key(cleaned))) is not None:
                    answers[key] = choice
                    continue
            answers[key], problems = check_value(spec, col, raw_values.get(key), text,
                                                 {**at, "column": col.label, "cell": row.cells[key]})
            result.findings += problems
        if spec.rules:
            result.findings += check_rules(spec, answers, row.cells, at)
        result.answers[row.seq] = answers
    for seq in sorted(set(issued_by_seq) - set(seen), key=seq_key):
        result.findings.append(findings.make("item-missing", item=seq, **base))
    for field_ in spec.contact:
        text, cell = table.contact.get(field_.key, ("", ""))
        result.contact[field_.key] = text.strip()
        if field_.required and not text.strip():
            result.findings.append(findings.make("contact-missing", column=field_.label.rstrip(":："), cell=cell,
                                                 **base))
    result.findings.sort(key=lambda f: (seq_key(f.item) if f.item else (-1, ""), f.cell))
    return result


# A filled cell needing check_value: control characters, or a carriage return (\r\n, \r) to tidy.
# (A text that isprintable(), once its line breaks are taken out, holds none of them: the quicker test.)
_NOT_PLAIN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\r]")


def _columns_to_check(spec: Spec) -> list[tuple[Column, str, bool, str, dict[str, str]]]:
    """Each column worked out once per return, not once per cell: (column, key, prefilled, quick way, choices).

    The quick way ("text" or "choice"; "" for none) takes a clean text or a choice written as listed
    (`choices`: a choice's match key → the choice); anything else goes through check_value.
    """
    return [(col, col.key, col.prefilled, col.type if col.type in ("text", "choice") else "",
             _as_listed(col.choices) if col.type == "choice" else {}) for col in spec.columns]


@functools.cache
def _as_listed(choices: tuple[str, ...]) -> dict[str, str]:
    """The first of the choices written the same way wins, as in the column's choice_index."""
    return {match_key(choice): choice for choice in reversed(choices)}


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


def validate(ws: Workspace, tick: Callable[[], None] = no_progress, manifest: dict | None = None, *,
             answers: bool = True) -> ValidationResult:
    """Check the current return of every unit that has one; a return checked before is not read again.

    Without `answers` (the findings are all `toolkit validate` and status need) the answers kept with
    each check are not read: most of the bytes.
    """
    from toolkit.store.manifest import Prefilled, read_manifest

    issued_units: dict[str, dict] = (manifest if manifest is not None else read_manifest(ws)).get("units", {})
    order = {unit: i for i, unit in enumerate(issued_units)}
    keys = CheckKeys(ws)
    returns = {}
    prefilled: Prefilled | None = None  # read only when a return must be checked again
    with Ledger(ws.state / "ledger.sqlite") as ledger, ledger.batch():
        current = ledger.current_returns()
        for unit, receipt in sorted(current.items(), key=lambda kv: order.get(kv[0], len(order))):
            issued = issued_units.get(unit, {})
            key = keys.key(receipt, issued)
            cached = ledger.cached_check(receipt.sha256, key, whole=answers)
            if cached is not None:
                returns[unit] = CheckedReturn.from_json(cached, answers=answers)
            else:
                if "prefilled" not in issued:
                    prefilled = prefilled or Prefilled(ws)
                    issued = {**issued, "prefilled": prefilled.of(unit)}
                returns[unit] = check_receipt(ws, receipt, issued)
                ledger.keep_check(receipt.sha256, key, returns[unit].to_json())
            tick()
    not_returned = [u for u in issued_units if u not in current]
    return ValidationResult(returns, not_returned)


class CheckKeys:
    """What a return's findings depend on besides its bytes: the layout, the issue, the limits, the messages."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.bases: dict[str, str] = {}

    def key(self, receipt: Receipt, issued: dict) -> str:
        role = issued.get("role", "lead")
        if role not in self.bases:
            parts = [__version__, repr(self.ws.spec_for(role)), repr(self.ws.limits),
                     repr(sorted(findings.catalogue().items()))]
            self.bases[role] = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        # The token signs the unit, its items and a hash of their prefilled texts: what was issued.
        issue = issued.get("token") or json.dumps(issued, ensure_ascii=False, sort_keys=True)
        own = [self.bases[role], issue, receipt.source, receipt.unit, receipt.received_at]
        return hashlib.sha256("\x1f".join(own).encode("utf-8")).hexdigest()


def display_name(source: str) -> str:
    """A return's file name as the coordinator knows it (`inbox/a.xlsx`, `mail.zip!dir/a.xlsx` → the name)."""
    return source.replace("\\", "/").rsplit("/", 1)[-1].rsplit("!", 1)[-1]


def check_parsed(ws: Workspace, parsed: intake.Parsed, unit: str, issued: dict, source: str,
                 received_at: str) -> CheckedReturn:
    """A parsed return checked against what was issued to its unit."""
    display = display_name(source)
    if parsed.table is None:
        checked = CheckedReturn(unit, display, received_at)
        checked.findings.append(parsed.problem or findings.make("file-no-table", file=display))
        return checked
    spec = ws.spec_for(issued.get("role", "lead"))
    checked = check_return(spec, parsed.table, unit, issued["prefilled"] if issued else {}, display)
    checked.received_at = received_at
    return checked


def check_receipt(ws: Workspace, receipt: Receipt, issued: dict) -> CheckedReturn:
    data = (ws.root / receipt.archive).read_bytes()
    parsed = intake.parse(data, ws.spec_for(issued.get("role", "lead")), receipt.source, ws.limits)
    return check_parsed(ws, parsed, receipt.unit, issued, receipt.source, receipt.received_at)
