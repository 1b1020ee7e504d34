"""Text normalisation: keys for matching, never for display (what units wrote is shown as written)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

# Every kind of space a return carries: ASCII, full-width (U+3000), no-break, zero-width, BOM, line breaks.
_BLANK = r"[\s\u00a0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]"
_BLANKS = re.compile(_BLANK + "+")
_SEPARATOR_RUN = re.compile(f"((?:[、，,；;]|{_BLANK})+)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Separators between unit names in a 责任单位 cell (outside brackets).
_UNIT_SEPARATORS = set("、，,；;") | {"\n", "\r", "\t"}
_OPEN = "（(〈<《[【〔{"
_CLOSE = "）)〉>》]】〕}"
_OPENING = re.compile(f"[{re.escape(_OPEN)}]")


def match_key(value: object) -> str:
    """A key for comparing labels and names: NFKC (full-width → half-width), no spaces of any kind."""
    if value is None:
        return ""
    return _BLANKS.sub("", unicodedata.normalize("NFKC", str(value)))


def cell_text(value: object) -> str:
    """A cell value as the text a person sees: floats that are whole numbers lose their `.0`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def has_control_chars(text: str) -> bool:
    return bool(_CONTROL.search(text))


def remove_control_chars(text: str) -> str:
    return _CONTROL.sub("", text)


def paragraphs(text: str) -> list[str]:
    """The non-empty lines of a cell: a blank line between paragraphs is not content."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [line for line in map(str.strip, text.split("\n")) if line]


def tidy_multiline(text: str) -> str:
    """One line break between paragraphs, edges trimmed: how a cell's text is kept."""
    return "\n".join(paragraphs(text))


_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")


def split_units(text: str, known: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Unit names in a 责任单位 cell, in order, as written (split_unit_names without the guesses)."""
    return [name for name, _ in split_unit_names(text, known)]


def split_unit_names(text: str, known: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, bool]]:
    """(name, joined across a line break) for each unit in a 责任单位 cell; separators inside brackets do not split.

    Separators: 、，,；; line breaks and runs of spaces. A line break usually separates two units; where only
    line breaks (and spaces) split two pieces, they are one name the page layout broke in two
    (`市人力资源社会` / `保障局`) when they make a known unit together, or when neither is known, the
    first does not end as a unit's name does and the second does not start as one does (see `_broken`).
    `known`: match keys of names known whole (the 单位 sheet's, and those written alone elsewhere in the list).
    Zero-width characters (pasted from web pages and chat tools) are dropped: invisible, they split nothing.
    """
    text = _ZERO_WIDTH.sub("", text)
    if not _OPENING.search(text):  # no brackets: one regular expression does it
        parts = _SEPARATOR_RUN.split(text)
        pieces = [(name, parts[i - 1] if i else "") for i, name in enumerate(parts) if i % 2 == 0 and name]
        return _join_broken(pieces, known)
    pieces = []  # (name, the separators between it and the previous piece)
    current: list[str] = []
    separators = ""
    depth = 0
    for ch in text + "、":
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
        if depth == 0 and (ch in _UNIT_SEPARATORS or _BLANKS.fullmatch(ch)):
            if current:
                pieces.append(("".join(current), separators))
                current, separators = [], ""
            separators += ch
        else:
            current.append(ch)
    return _join_broken(pieces, known)


def _line_breaks_only(separators: str) -> bool:
    return _BLANKS.fullmatch(separators) is not None and ("\n" in separators or "\r" in separators)


def _join_broken(pieces: list[tuple[str, str]], known: set[str] | frozenset[str]) -> list[tuple[str, bool]]:
    """Pieces (name, separators before it) as names: a known name holding a separator (各区、县（市）人民政府)
    kept whole, and so is 各区 before 、; two lines joined when `_broken` says so."""
    names: list[tuple[str, bool]] = []
    for name, separators in pieces:
        previous = names[-1][0] if names else ""
        if previous and (match_key(previous + separators + name) in known or
                         (separators.strip() == "、" and _EACH_PLACE.fullmatch(previous))):
            names[-1] = (previous + separators.strip() + name, names[-1][1])
        elif previous and _line_breaks_only(separators) and _broken(previous, name, known):
            names[-1] = (previous + name, True)
        else:
            names.append((name, False))
    return names


_EACH_PLACE = re.compile("各[^、]{1,2}")  # 各区 in 各区、县（市）人民政府: the start of one collective name


# Last characters of a unit's name (市科技局, 市妇联, 市科协, 某某镇, 某某大学, 各成员单位 …); a piece ending
# otherwise (市人力资源社会, 市住房和城乡建) may be the first half of a broken name.
_UNIT_ENDINGS = (*"局委办部府院会厅室心司行处区县市队所站馆团社校园场台组关道门联协镇乡学位厂",
                 "中心", "公司", "集团")
# How a unit's name starts (市…, 区…, 各…, 国网…): a piece starting so is a unit of its own, even after a piece
# that ends oddly (an abbreviation such as 市交投).
_UNIT_STARTS = (*"市区县省各团", "国网", "中国", "中共", "国家", "人民", "共青团")


def _broken(head: str, tail: str, known: set[str] | frozenset[str]) -> bool:
    """Whether `head` and the `tail` on the next line are one name broken by the page layout."""
    if match_key(head + tail) in known:
        return True
    if match_key(head) in known or match_key(tail) in known or head[-1] in _CLOSE:
        return False
    if tail[0] in _OPEN or head.endswith("社会"):  # 各乡镇 / （街道）; 市人力资源社会 / 保障局
        return True
    return not head.endswith(_UNIT_ENDINGS) and not tail.startswith(_UNIT_STARTS)


def excel_date(serial: float) -> str:
    """An Excel serial number as the date it stands for (1900 date system), ISO-written; empty when out of range."""
    try:
        return (dt.date(1899, 12, 30) + dt.timedelta(days=int(serial))).isoformat()
    except (OverflowError, ValueError):
        return ""
