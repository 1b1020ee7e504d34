"""Dates that make sense: the 2022 example checked as of a 2022 date and as of today; distribute warns about a
past or missing deadline and an empty coordinator contact; the HTML page says when it was really made."""

from __future__ import annotations

import datetime as dt
import re

from toolkit.store.workspace import Workspace

DEADLINE = dt.date(2022, 4, 15)  # the bundled example's deadline (2022 Q1)


def set_config(ws: Workspace, old: str, new: str) -> None:
    text = ws.config.path.read_text(encoding="utf-8")
    assert old in text
    ws.config.path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_2022_campaign_as_of_2022_counts_from_its_deadline(ws: Workspace, cli) -> None:
    result = cli("status", "--as-of", "2022-04-17", "--html", ws.root / "status.html", "-w", ws.root)
    assert re.search(r"逾期未报 .* 2天", result.output) and "截至 2022-04-17 00:00，截止日期 2022-04-15" in result.output
    assert "距今" not in result.output  # an as-of date: no note about a past campaign
    page = (ws.root / "status.html").read_text(encoding="utf-8")
    assert f"生成于 {dt.datetime.now():%Y-%m-%d}" in page  # the real time, not the as-of time
    assert "按 2022-04-17 00:00 的情况统计" in page
    remind = cli("remind", "--as-of", "2022-04-10", "-w", ws.root)
    assert remind.exit_code == 0 and "距今" not in remind.output
    notice = next((ws.root / "reminders").glob("催报通知-*.txt")).read_text(encoding="utf-8-sig")
    assert "截止日期为2022年4月15日（还有5天），截至2022年4月10日 00:00" in notice


def test_2022_campaign_as_of_today_says_it_is_a_past_campaign(ws: Workspace, cli) -> None:
    days = (dt.date.today() - DEADLINE).days
    result = cli("status", "--html", ws.root / "status.html", "-w", ws.root)
    assert re.search(rf"逾期未报 .* {days}天", result.output)
    note = (f"本期报送截止日期为2022年4月15日，距今已{days}天：逾期天数按今天计算。"
            "如要看当时的报送情况，请加 --as-of 指定日期（如 --as-of 2022-04-16）。")
    assert note in result.output
    page = (ws.root / "status.html").read_text(encoding="utf-8")
    assert note in page and re.search(r"生成于 \d{4}-\d\d-\d\d \d\d:\d\d。", page)
    assert note in cli("remind", "-w", ws.root).output


def test_distribute_warns_about_past_deadline_and_empty_contact(example_ws: Workspace, cli) -> None:
    result = cli("distribute", "-w", example_ws.root)
    assert result.exit_code == 0
    today = dt.date.today()
    assert (f"请注意：报送截止日期2022年4月15日已经过去（今天是{today.year}年{today.month}月{today.day}日）"
            in result.output)
    assert "请注意：toolkit.toml 的 [coordinator] 中联系人、联系方式未填写：填报通知和催报通知中将没有联系电话" in result.output


def test_distribute_is_quiet_with_a_future_deadline_and_a_contact(example_ws: Workspace, cli) -> None:
    future = dt.date.today() + dt.timedelta(days=10)
    set_config(example_ws, 'deadline = "2022-04-15"', f'deadline = "{future.isoformat()}"')
    set_config(example_ws, 'contact_person = ""', 'contact_person = "张三"')
    set_config(example_ws, 'contact_phone = ""', 'contact_phone = "3179657"')
    result = cli("distribute", "-w", example_ws.root)
    assert result.exit_code == 0 and "请注意" not in result.output
    notice = next(example_ws.outbox.glob("*-填报通知.txt")).read_text(encoding="utf-8-sig")
    assert f"请于{future.year}年{future.month}月{future.day}日前报送" in notice
    assert "联系人：张三　　联系方式：3179657" in notice
    assert not re.search(r"[\u4e00-\u9fff，。：；] +[\u4e00-\u9fff\d]|\d +[\u4e00-\u9fff]", notice)  # no half-width gaps


def test_distribute_warns_about_missing_deadline(example_ws: Workspace, cli) -> None:
    set_config(example_ws, 'deadline = "2022-04-15"', 'deadline = ""')
    result = cli("distribute", "-w", example_ws.root)
    assert "[campaign] 中没有填写报送截止日期（deadline）" in result.output
    notice = next(example_ws.outbox.glob("*-填报通知.txt")).read_text(encoding="utf-8-sig")
    assert "二、报送时间：请尽快报送" in notice
