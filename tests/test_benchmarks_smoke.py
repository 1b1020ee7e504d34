"""The benchmarks still work: generator and runner at 3 units × 2 items, one run. Nothing is timed here."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_generator_and_runner_at_tiny_size(tmp_path: Path) -> None:
    cache, work = tmp_path / "cache", tmp_path / "work"
    out = _run("benchmarks.generate", "--units", "3", "--items", "2", "--cache-dir", str(cache))
    assert '"returns": 3' in out

    usual = [] if importlib.util.find_spec("pandas") else ["--no-usual"]
    out = _run("benchmarks.run", "--units", "3", "--items", "2", "--runs", "1", "--cache-dir", str(cache),
               "--workdir", str(work), *usual)
    table = [line for line in out.splitlines() if line.startswith("| ")]
    steps = ["distribute", "collect", "validate", "collect + validate", "merge", "collect again (nothing new)",
             "validate again (nothing new)", "collect + validate + merge"]
    for step in steps:
        assert any(line.startswith(f"| {step} |") for line in table), f"no row for {step}:\n{out}"
    # issue 19's targets need a run from before it: without one the table says so
    assert any(line.startswith("| the cycle ≤ 1.5× its time before issue 19 | no --baseline given |")
               for line in table), out
    if not usual:
        assert any("pandas.read_excel" in line for line in table), out

    ws = next(work.glob("3x6-run1")) / "ws"
    assert list((ws / "reports").glob("*汇总表*.xlsx")), f"merge produced no summary in {ws / 'reports'}"
    assert (work / "3x6-run1" / "floor-summary.xlsx").is_file()


def test_injected_returns_read_as_openpyxl_typed_ones(tmp_path: Path) -> None:
    """The generator's fast filling gives the cells fill_template (openpyxl, as a unit would) gives."""
    from benchmarks import generate
    from toolkit.excel import intake
    from toolkit.excel.fill import fill_template
    from toolkit.store.workspace import open_workspace

    folder = tmp_path / "gen"
    generate.generate(folder, generate.Size(3, 6), jobs=1, log=lambda *_: None)
    ws = open_workspace(folder / "ws")
    manifest = (ws.state / "manifest.json").read_text(encoding="utf-8")
    for template in sorted(ws.outbox.glob("*.xlsx")):
        injected = ws.root / "inbox" / generate.return_name(template.name)
        data = template.read_bytes()
        unit = next(u for u in generate.unit_names(3) if u in template.stem)
        assert unit in manifest
        answers = intake.parse(injected.read_bytes(), ws.spec, "x").table
        typed = tmp_path / f"typed-{template.name}"
        fill_template(template, typed, ws.spec, {r.seq: {k: r.values[k] for k in ("status", "progress", "reason",
                                                                                  "plan")} for r in answers.rows},
                      {k: v for k, (v, _) in answers.contact.items()})
        a = intake.parse(injected.read_bytes(), ws.spec, "a")
        b = intake.parse(typed.read_bytes(), ws.spec, "b")
        assert a.stamp == b.stamp and a.stamp is not None
        assert [r.values for r in a.table.rows] == [r.values for r in b.table.rows]
        assert a.table.contact == b.table.contact
        assert intake.parse(data, ws.spec, "t").stamp == a.stamp


@pytest.mark.parametrize("low, high", [(30, 120), (50, 300)])
def test_generated_text_lengths(low: int, high: int) -> None:
    import random

    from benchmarks.generate import Writer

    w = Writer(random.Random(1))
    lengths = [len(w.text(lambda: w.progress_clause("市教育局"), low, high, paragraphs=0.5)) for _ in range(300)]
    assert low <= min(lengths) and max(lengths) <= high
