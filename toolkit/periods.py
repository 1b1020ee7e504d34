"""Reporting periods and their Chinese words, available to every label and template as `period`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMERALS = "一二三四五六七八九十"


@dataclass(frozen=True)
class Period:
    code: str  # Q1…Q4
    kind: str  # quarter
    n: int
    label: str  # 第1季度
    long: str  # 第一季度
    short: str  # 一季度
    months: str  # 1-3月
    target_label: str  # 第1季度目标: the target-list column that holds this period's targets
    last_month: int

    def words(self) -> set[str]:
        """Every way a target list may name this period in a column header."""
        return {self.label, self.long, self.short, self.months, self.months.replace("-", "—"),
                self.months.replace("-", "～"), self.months.replace("-", "至")}


def parse_period(code: str) -> Period:
    """Q1…Q4 (case and spaces ignored); raises ValueError with what is allowed."""
    text = code.strip().upper()
    match = re.fullmatch(r"Q([1-4])", text)
    if not match:
        raise ValueError(f"期间“{code}”无法识别：可用 Q1、Q2、Q3、Q4（季度）")
    n = int(match.group(1))
    first, last = 3 * n - 2, 3 * n
    return Period(
        code=f"Q{n}", kind="quarter", n=n,
        label=f"第{n}季度", long=f"第{_NUMERALS[n - 1]}季度", short=f"{_NUMERALS[n - 1]}季度",
        months=f"{first}-{last}月", target_label=f"第{n}季度目标", last_month=last,
    )


def all_periods_of_kind(period: Period) -> list[Period]:
    return [parse_period(f"Q{n}") for n in range(1, 5)]
