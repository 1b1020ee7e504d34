"""Reporting periods and their Chinese words (available to every label and template as `period`), and dates.

Codes: Q1–Q4 (quarters), H1/H2 (half-years), M1–M12 (months), YTD2–YTD11 (1-N月, year to date),
Y (全年). The Chinese words are accepted too: 第1季度, 一季度, 上半年, 下半年, 3月, 1-6月, 前三季度, 全年.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

NUMERALS = "一二三四五六七八九十"


def numeral(n: int) -> str:
    """1–12 in Chinese numerals (十一, 十二)."""
    return NUMERALS[n - 1] if n <= 10 else "十" + NUMERALS[n - 11]


@dataclass(frozen=True)
class Period:
    code: str  # Q1, H1, M3, YTD6, Y
    kind: str  # quarter, half, month, ytd, year
    n: int  # the quarter, half, month, or the last month of a year-to-date period
    label: str  # 第1季度, 上半年, 3月, 1-6月, 全年
    long: str  # 第一季度, 上半年, 3月, 1-6月, 全年: for titles
    short: str  # 一季度, 上半年, 三月, 1-6月, 全年
    months: str  # 1-3月
    first_month: int
    last_month: int

    @property
    def target_label(self) -> str:
        """The target-list column that holds this period's targets."""
        return f"{self.label}目标"

    def words(self) -> set[str]:
        """Every way a target list may name this period in a column header."""
        words = {self.label, self.long, self.short}
        if self.first_month != self.last_month:
            for dash in ("-", "—", "－", "～", "~", "至"):
                words.add(f"{self.first_month}{dash}{self.last_month}月")
        if self.kind == "ytd" and self.last_month == 9:
            words.add("前三季度")
        if self.kind == "month":
            words |= {f"{numeral(self.n)}月", f"{self.n}月份"}
        return words

    def __str__(self) -> str:
        return self.label


def _make(code: str) -> Period:
    kind_code = re.match(r"[A-Z]+", code).group(0)  # type: ignore[union-attr]
    n = int(code[len(kind_code):] or 12)
    if kind_code == "Q":
        first, last = 3 * n - 2, 3 * n
        return Period(code, "quarter", n, f"第{n}季度", f"第{numeral(n)}季度", f"{numeral(n)}季度",
                      f"{first}-{last}月", first, last)
    if kind_code == "H":
        first, last = 6 * n - 5, 6 * n
        word = "上半年" if n == 1 else "下半年"
        return Period(code, "half", n, word, word, word, f"{first}-{last}月", first, last)
    if kind_code == "M":
        return Period(code, "month", n, f"{n}月", f"{n}月", f"{numeral(n)}月", f"{n}月", n, n)
    if kind_code == "YTD":
        return Period(code, "ytd", n, f"1-{n}月", f"1-{n}月", f"1-{n}月", f"1-{n}月", 1, n)
    return Period("Y", "year", 12, "全年", "全年", "全年", "1-12月", 1, 12)


def _all_codes() -> list[str]:
    return ([f"Q{n}" for n in range(1, 5)] + ["H1", "H2"] + [f"M{n}" for n in range(1, 13)]
            + [f"YTD{n}" for n in range(2, 12)] + ["Y"])


ALLOWED = "Q1–Q4（季度）、H1/H2（上/下半年）、M1–M12（月）、YTD2–YTD11（1-N月累计）、Y（全年），或中文如 第1季度、上半年、1-6月、前三季度、全年"


def parse_period(text: str) -> Period:
    """A period from its code or Chinese words; raises ValueError saying what is allowed."""
    raw = text.strip().upper().replace(" ", "")
    if raw in _all_codes():
        return _make(raw)
    for code in _all_codes():
        period = _make(code)
        if raw in {w.upper() for w in period.words()}:
            # 1-6月 names both H1 and YTD6, 1-3月 both Q1 and YTD3: the cumulative reading wins for 1-N月
            if period.kind in ("quarter", "half") and re.fullmatch(r"1[-—－～~至]\d+月", raw) and period.first_month == 1:
                return _make(f"YTD{period.last_month}") if period.last_month < 12 else _make("Y")
            return period
    raise ValueError(f"期间“{text}”无法识别：可用 {ALLOWED}")


def periods_of_kind(period: Period) -> list[Period]:
    """The periods of a year that a target list keeps columns for, for a campaign of this kind."""
    prefix = {"quarter": "Q", "half": "H", "month": "M", "ytd": "YTD"}.get(period.kind)
    if prefix is None:
        return [period]
    return [_make(c) for c in _all_codes() if re.fullmatch(rf"{prefix}\d+", c)]


def chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def naive(moment: dt.datetime) -> dt.datetime:
    """Local time without a zone, as the ledger stores it."""
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo else moment


def parse_time(text: str) -> dt.datetime | None:
    try:
        return naive(dt.datetime.fromisoformat(text))
    except (TypeError, ValueError):
        return None


def parse_as_of(text: str | None) -> dt.datetime:
    """`--as-of` (2022-04-16 or 2022-04-16T09:30), else now; raises ValueError saying how to write it."""
    if not text:
        return dt.datetime.now().replace(microsecond=0)
    moment = parse_time(text.strip())
    if moment is None:
        raise ValueError(f"--as-of “{text}” 不是有效时间：请写成 2022-04-16 或 2022-04-16T09:30。")
    return moment


def deadline_end(deadline: dt.date) -> dt.datetime:
    """The first moment after the deadline day: a return that day is on time."""
    return dt.datetime.combine(deadline + dt.timedelta(days=1), dt.time.min)
