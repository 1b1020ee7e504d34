"""The quick ways through validation (collect checks 20,000 cells at province scale) decide as the full ones do.

Property-based: random cell texts (CJK, full-width forms, every kind of space, control characters, carriage
returns, choices and their synonyms, the rules' words) checked the quick way and the full way give the same
answers and the same findings.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from toolkit import validate
from toolkit.excel import intake
from toolkit.model import findings, templating
from toolkit.model.spec import keys_of
from toolkit.model.text import match_key
from toolkit.store.workspace import Workspace

EXAMPLES = settings(max_examples=300, deadline=None, database=None)
PIECES = ["无", "没有", "/", "-", "完成", "未完成", "已完成", "是", "否", "√", "部分完成", "推进中", "按计划推进",
          "全年", "目标", "1２", "Ａ", "ｶ", "é", "e\u0301", "﹣", "／", "㊀", "⑴", "\u3000", "\u00a0", "\u200b", " ",
          "\n", "\n\n", " \n ", "\r", "\r\n", "\t", "\x07", "\x00", "\ufeff", "工作进展顺利，已完成年度任务的百分之八十。"]
texts = st.lists(st.sampled_from(PIECES), max_size=12).map("".join) | st.text(max_size=40)


@pytest.fixture(scope="module")
def spec(distributed: Workspace):
    return distributed.spec


def test_the_preset_has_rules_and_choices_to_try(spec) -> None:
    assert spec.rules and any(c.type == "choice" for c in spec.columns)


def slow_rule_broken(rule, value: str) -> bool:
    """rule_broken as the preset defines it: every answer's match key worked out."""
    key = match_key(value)
    if not key:
        return rule.required
    if key in keys_of(rule.not_in):
        return True
    if rule.empty_or_in is not None and key not in keys_of(rule.empty_or_in):
        return True
    return validate.rule_broken(rule, value) if rule.pattern or rule.max_chars or rule.minimum is not None \
        or rule.maximum is not None else False


@EXAMPLES
@given(value=texts)
@example(value="没有")
@example(value=" 没 有\u3000")
@example(value="无无")
@example(value="\u200b")
def test_rule_broken_decides_as_with_every_match_key(spec, value: str) -> None:
    for rule in spec.rules:
        assert validate.rule_broken(rule, value) == slow_rule_broken(rule, value), (rule.code, value)


@EXAMPLES
@given(cells=st.lists(texts, min_size=1, max_size=8))
@example(cells=["完成 \n 目标", "目标\n\n全年", "完成\r\n", " 完成 ", "已完成\x07", "", "\u3000", "√"])
def test_check_return_quick_way_gives_what_check_value_gives(spec, cells: list[str], monkeypatch_module) -> None:
    filled = [c for c in spec.columns if not c.prefilled and c.role != "id"]
    id_key = spec.by_role("id").key
    rows = []
    for n, text in enumerate(cells, start=1):
        values = {id_key: str(n), **{c.key: text for c in filled}}
        rows.append(intake.ItemRow(seq=str(n), row=n + 3, values=values,
                                   cells={k: f"A{n + 3}" for k in values}, raw=dict(values)))
    table = intake.ReturnTable(sheet="表", header=intake.Header(2, 2, {}, {}), rows=rows, contact={},
                               missing_columns=[])
    issued = {str(n): {} for n in range(1, len(cells) + 1)}
    quick = validate.check_return(spec, table, "单位", issued, "a.xlsx")
    with monkeypatch_module.context() as patch:  # every cell through check_value
        patch.setattr(validate, "_columns_to_check",
                      lambda s: [(c, c.key, c.prefilled, "", {}) for c in s.columns])
        full = validate.check_return(spec, table, "单位", issued, "a.xlsx")
    assert quick.answers == full.answers
    assert [f.to_dict() for f in quick.findings] == [f.to_dict() for f in full.findings]


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_a_check_kept_in_the_ledger_reads_back_whole_in_either_form() -> None:
    """Kept as the findings, then the answers' layout and their texts as they are (read only when asked for);
    what earlier versions kept (the answers as JSON, or everything on one line) reads too."""
    finding = findings.make("item-missing", item="3", unit="市发展改革委", file="a.xlsx", sheet="表")
    answers = {"1": {"progress": "第一段\n第二段\r\n\u2028第三段", "status": "完成"}, "2": {"progress": "无"}}
    checked = validate.CheckedReturn("市发展改革委", "a.xlsx", "2022-04-12T09:30:00", [finding],
                                     {"contact_person": "王刚"})
    checked.answers.update(answers)
    kept = checked.to_json()
    head, layout, texts = kept.decode().split("\n", 2)
    assert json.loads(layout) == [[["1", "progress", "status"], ["2", "progress"]], [13, 2, 1]]
    assert texts == "第一段\n第二段\r\n\u2028第三段完成无"  # as they are, one after the other
    again = validate.CheckedReturn.from_json(kept)
    assert again.kept_answers and again._answers is None  # validate and status never parse the answers
    assert (again.answers, again.findings, again.contact) == (answers, [finding], {"contact_person": "王刚"})
    as_text = validate.CheckedReturn.from_json(kept.decode())  # text, as an earlier version kept it
    assert (as_text.answers, as_text.findings) == (answers, [finding])
    two_lines = head + "\n" + json.dumps(answers, ensure_ascii=False)  # the answers as JSON, as the last version kept them
    assert validate.CheckedReturn.from_json(two_lines.encode()).answers == answers
    earlier = json.dumps({"unit": "市发展改革委", "file": "a.xlsx", "received_at": "2022-04-12T09:30:00",
                          "answers": answers, "contact": {}, "findings": [finding.to_dict()]}, ensure_ascii=False)
    old = validate.CheckedReturn.from_json(earlier)
    assert (old.answers, old.findings) == (answers, [finding])


values = st.one_of(texts, st.integers(-5, 10**6), st.none(), st.sampled_from(["{{ x }}", "{% if a %}", "}}", "\n"]))


@EXAMPLES
@given(data=st.data())
def test_messages_put_together_without_jinja_read_as_jinja_renders_them(data) -> None:
    """Messages that only put in names are rendered without Jinja (collect makes thousands): the same text,
    a name not given left empty, for every message of the catalogue."""
    code = data.draw(st.sampled_from(sorted(findings.catalogue())))
    template = findings.catalogue()[code]["message"]
    names = sorted(set(templating._NAME.findall(template)) | {"unit", "item", "column", "cell", "sheet", "file"})
    given_names = data.draw(st.lists(st.sampled_from(names), unique=True))
    context = {name: data.draw(values) for name in given_names}
    assert findings.make(code, **context).message == findings._ENV.from_string(template).render(**context)


def test_most_messages_are_put_together_without_jinja() -> None:
    quick = [code for code, entry in findings.catalogue().items()
             if not hasattr(findings._compiled(entry["message"]), "__self__")]  # not a bound Template.render
    assert len(quick) > len(findings.catalogue()) * 3 // 4


template_texts = st.text(alphabet="ab 年{}%#\n\r-_.", max_size=6)
template_names = st.sampled_from(["year", "unit", "period.label", "period.long", "d.key", "d.items", "none",
                                  "missing", "period.missing", "d.missing", "year.real"])
templates = st.lists(template_texts | template_names.map(lambda name: "{{ " + name + " }}"), max_size=6).map("".join)


def rendered(render, template: str, context: dict) -> str:
    try:
        return render(template, context)
    except Exception as exc:  # a name not given, a broken template: the same error either way
        return type(exc).__name__


@EXAMPLES
@given(template=templates)
@example(template="{{ year }}年{{ period.long }}全市主要目标任务完成情况")
def test_labels_and_messages_put_together_without_jinja_read_as_jinja_renders_them(template: str) -> None:
    from toolkit.model import spec as specs
    from toolkit.model.periods import parse_period

    context = {"year": 2022, "unit": "市发改委", "period": parse_period("Q1"), "d": {"key": "值"}, "none": None}
    assert rendered(specs.render, template, context) == \
        rendered(lambda t, c: specs._ENV.from_string(t).render(**c), template, context)
    assert rendered(lambda t, c: findings._compiled(t)(**c), template, context) == \
        rendered(lambda t, c: findings._ENV.from_string(t).render(**c), template, context)


def test_validate_without_answers_reads_each_kept_check_s_findings_only(tmp_path) -> None:
    """`toolkit validate` and status need the findings only: the first line of each kept check, in this form
    and in the older ones (text, one line); asking for the answers then is a mistake, said at once."""
    from toolkit.store.ledger import Ledger

    finding = findings.make("item-missing", item="3", unit="市发展改革委", file="东城区（已填）.xlsx", sheet="表")
    checked = validate.CheckedReturn("市发展改革委", "东城区（已填）.xlsx", "2022-04-12T09:30:00", [finding],
                                     {"contact_person": "王刚"})
    checked.answers.update({"1": {"progress": "第一段\n第二段", "status": "完成"}})
    kept = {"now": checked.to_json(), "as text": checked.to_json().decode(),
            "one line": json.dumps({"unit": "市发展改革委", "file": "a.xlsx", "received_at": "",
                                    "answers": checked.answers, "contact": {}, "findings": [finding.to_dict()]},
                                   ensure_ascii=False)}
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        for key, payload in kept.items():
            ledger.keep_check("sha", key, payload)
        heads = {key: ledger.cached_check("sha", key, whole=False) for key in kept}
    assert heads["now"] == heads["as text"] == kept["now"].split(b"\n", 1)[0]
    for key, head in heads.items():
        read = validate.CheckedReturn.from_json(head, answers=False)
        assert read.findings == [finding]
        if key == "one line":  # the answers are in the line itself
            assert read.answers == checked.answers
        else:
            with pytest.raises(RuntimeError):
                read.answers  # noqa: B018
