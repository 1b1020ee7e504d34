"""Where the bundled presets, templates and examples are, installed or in a checkout."""

from __future__ import annotations

import functools
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any


def templates_dir() -> Path:
    return Path(str(files("toolkit.templates")))


def examples_dir() -> Path:
    return Path(str(files("toolkit.examples")))


def preset_path(name: str) -> Path:
    return templates_dir() / "presets" / f"{name}.toml"


def preset_names() -> list[str]:
    return sorted(p.stem for p in (templates_dir() / "presets").glob("*.toml"))


@functools.cache
def labels(section: str) -> dict[str, Any]:
    """A section of templates/labels.toml: the labels of the workbooks besides the spec's table."""
    with (templates_dir() / "labels.toml").open("rb") as handle:
        return tomllib.load(handle)[section]
