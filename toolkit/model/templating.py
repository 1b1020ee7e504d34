"""Templates that only put in names (most messages and labels) rendered without Jinja, as Jinja renders them.

Compiling a template takes Jinja about a millisecond and rendering it tens of microseconds: each collect
worker makes thousands of findings, and every command builds the spec's labels once. A template doing
anything more (tags, filters, expressions) is left to Jinja.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

_NAME = re.compile(r"\{\{ *([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*) *\}\}")


@functools.lru_cache(maxsize=1024)
def pieces(template: str) -> tuple[str, ...] | None:
    """(text, name, text, name, …, text), or None when Jinja must render it (it does more than put in
    names, or Jinja would change its text: a last line break dropped, carriage returns turned)."""
    split = tuple(_NAME.split(template))
    if "\r" in template or template.endswith("\n") or any("{" in text or "}" in text for text in split[::2]):
        return None
    return split


def put_in(split: tuple[str, ...], context: Mapping[str, Any], missing: str | None) -> str:
    """The names' values as str() gives them; a name not in `context` as `missing`, or (None) KeyError.

    A dotted name is looked up as Jinja does (attribute, else item); one not found raises LookupError,
    AttributeError or TypeError, for the caller to leave the template to Jinja.
    """
    out = []
    for i, piece in enumerate(split):
        if i % 2 == 0:
            out.append(piece)
            continue
        name, *attributes = piece.split(".")
        if name not in context and missing is not None and not attributes:
            out.append(missing)
            continue
        value = context[name]
        for attribute in attributes:
            try:
                value = getattr(value, attribute)
            except AttributeError:
                value = value[attribute]
        out.append(str(value))
    return "".join(out)
