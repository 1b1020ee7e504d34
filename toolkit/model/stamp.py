"""The identity stamp: who a template was issued to and what it held, signed with the workspace secret.

It lives in cells of a hidden sheet (LibreOffice turns veryHidden into hidden, and calamine reads
cells of hidden sheets), so it survives Excel, WPS and LibreOffice re-saving the return.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass

SHEET = "填报标识"
MARKER = "toolkit-stamp"
FORMAT = "1"
FIELDS = ("campaign", "period", "unit", "template", "items", "fingerprint", "token")


@dataclass(frozen=True)
class Stamp:
    campaign: str
    period: str
    unit: str
    template: str
    items: tuple[str, ...]
    fingerprint: str
    token: str

    def rows(self) -> list[tuple[str, str]]:
        return [(MARKER, FORMAT), *((name, self.value(name)) for name in FIELDS)]

    def value(self, name: str) -> str:
        value = getattr(self, name)
        return ",".join(value) if isinstance(value, tuple) else str(value)


def fingerprint(prefilled: Sequence[dict[str, str]]) -> str:
    """A short hash of the prefilled texts: changes when the target list changes for this unit."""
    blob = json.dumps(prefilled, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def sign(secret: bytes, campaign: str, period: str, unit: str, template: str, items: tuple[str, ...],
         print_: str) -> str:
    message = "|".join([campaign, period, unit, template, ",".join(items), print_]).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def issue(secret: bytes, campaign: str, period: str, unit: str, template: str, items: tuple[str, ...],
          prefilled: Sequence[dict[str, str]]) -> Stamp:
    print_ = fingerprint(prefilled)
    return Stamp(campaign, period, unit, template, items, print_,
                 sign(secret, campaign, period, unit, template, items, print_))


def parse(rows: list[list[object]]) -> dict[str, str] | None:
    """The stamp's fields from a sheet's cells, or None when the sheet is no stamp."""
    values: dict[str, str] = {}
    for row in rows:
        if len(row) >= 2 and isinstance(row[0], str):
            cell = row[1]
            values[row[0].strip()] = str(int(cell)) if isinstance(cell, float) and cell.is_integer() else str(cell)
    if values.get(MARKER) is None:
        return None
    return values


def verify(secret: bytes, values: dict[str, str]) -> bool:
    items = tuple(x for x in values.get("items", "").split(",") if x)
    expected = sign(secret, values.get("campaign", ""), values.get("period", ""), values.get("unit", ""),
                    values.get("template", ""), items, values.get("fingerprint", ""))
    return hmac.compare_digest(expected, values.get("token", ""))
