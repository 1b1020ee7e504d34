"""Shared fixtures: an example workspace, the `toolkit` command run in-process, the `libreoffice` marker."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.excel.office import soffice_path
from toolkit.store.workspace import Workspace, init_workspace

EXAMPLE_YEAR = 2022
EXAMPLE_PERIOD = "Q1"


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A `libreoffice` test without soffice: skipped on a developer's machine, an error in CI (never a silent skip)."""
    if item.get_closest_marker("libreoffice") is None or soffice_path() is not None:
        return
    message = "LibreOffice (soffice) is not installed: run `bash scripts/install-test-deps.sh`"
    if running_in_ci():
        pytest.fail(f"{message} (CI is set, so this test may not be skipped)", pytrace=False)
    pytest.skip(message)


@dataclass
class CliResult:
    exit_code: int
    output: str  # stdout and stderr as the user sees them


def run_cli(*args: str | os.PathLike[str], cwd: Path | None = None) -> CliResult:
    """`toolkit ARGS` in-process, as a user would type it (optionally from inside `cwd`), on a wide terminal.

    TOOLKIT_DEBUG=1: an internal error raises here with its traceback instead of passing for a handled exit 2.
    """
    runner = CliRunner()
    previous = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "400", "TOOLKIT_DEBUG": "1"},
                               catch_exceptions=False)
    finally:
        os.chdir(previous)
    return CliResult(result.exit_code, result.output)


@pytest.fixture
def cli():
    """The `toolkit` command: `cli("distribute", "-w", ws)` → CliResult(exit_code, output)."""
    return run_cli


@pytest.fixture
def example_ws(tmp_path: Path) -> Workspace:
    """A fresh `toolkit init --example` workspace (the bundled 2022 Q1 example), nothing distributed yet."""
    return init_workspace(tmp_path / "ws", example=True)


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """`toolkit init --example` + `toolkit distribute`, once per test module."""
    from returns import distributed_workspace

    return distributed_workspace(tmp_path_factory.mktemp("distributed") / "ws")


@pytest.fixture
def ws(distributed: Workspace, tmp_path: Path) -> Workspace:
    """A fresh copy of the distributed example workspace (same campaign and secret), nothing collected yet."""
    from returns import copy_workspace

    return copy_workspace(distributed, tmp_path / "ws")
