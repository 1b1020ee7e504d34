"""The one way a template of the toolkit's data is rendered: spec labels, rule messages, findings messages.

Jinja in a sandbox, because a unit's answer can be in the context (a rule's message quotes it) and must stay
text: the result is used as it is, never rendered again.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

# A name not given is an error in a label or a rule's message (a typo in a preset), and nothing in a finding's
# message (not every finding has a unit, an item, a cell…).
_STRICT = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
_LENIENT = SandboxedEnvironment(undefined=jinja2.ChainableUndefined, autoescape=False)


def render(template: str, context: Mapping[str, Any], *, strict: bool = True) -> str:
    return _compiled(template, strict).render(context)


@functools.lru_cache(maxsize=512)
def _compiled(template: str, strict: bool) -> jinja2.Template:
    """Compiling costs Jinja far more than rendering, and collect renders thousands of messages from a few
    dozen templates."""
    return (_STRICT if strict else _LENIENT).from_string(template)
