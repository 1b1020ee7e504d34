"""Time each step of the cycle against its floor and against the usual script (issue 8).

    python -m benchmarks.run --scale city                 # 80 units, 300 items, median of 5 runs
    python -m benchmarks.run --scale province --runs 3    # 1,000 units × 20 items
    python -m benchmarks.run --units 200 --items 10
    python -m benchmarks.run --linearity                  # 100, 300, 1,000 units × 20 items
    python -m benchmarks.run --scale city --profile validate

Every run takes a fresh copy of the generated workspace (benchmarks/generate.py, cached under
benchmarks/.cache/), empties its outbox and runs, each in a process of its own:
distribute, collect, validate, merge, collect again (nothing new), validate again (nothing new);
then the floors and the usual script on the same returns:

- floor of collect + validate: python-calamine reading every cell of every sheet of every return;
- floor of merge: the same reading, plus xlsxwriter writing the returned item rows (every column) into
  one sheet with the summary's kinds of formats (font, wrap, border), and nothing else;
- floor of distribute: xlsxwriter writing the same templates (the same cells on both sheets, the same
  kinds of formats, one list validation, sheet protection, the stamp sheet very hidden), nothing else;
- the usual script: pandas.read_excel of every return (engine openpyxl, as offices use it), concat,
  to_excel (pandas' default xlsx writer, named in the table).

Time is the step's own (measured inside its process, after imports); `wall` adds the start of
Python and the imports. Peak memory is the process's maximum resident set (its VmHWM: see own_peak_mb).
The table shows medians; peak memory is the largest of the runs. Nothing is asserted: it is a report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import generate

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.datetime.fromisoformat(generate.AS_OF)
STEPS = ["distribute", "collect", "validate", "merge", "collect-again", "validate-again"]
FLOORS = ["floor-distribute", "floor-read-before", "floor-read", "floor-merge", "usual"]
# Each floor is timed right after the step it is compared with, on the same copy: this machine's speed
# drifts by a third within a minute, and a ratio of two times taken far apart measures the drift.
# Collect + validate's floor is timed just before them too, and the two times averaged.
ORDER = ["distribute", "floor-distribute", "floor-read-before", "collect", "validate", "floor-read", "merge",
         "floor-merge", "collect-again", "validate-again", "usual"]
READ_FLOOR = ("floor-read-before", "floor-read")
LINEARITY = [generate.Size(100, 2000), generate.Size(300, 6000), generate.Size(1000, 20000)]
TARGET_MB = 300
SNAPSHOT_ENV = "TOOLKIT_BENCH_SNAPSHOT"  # what the snapshot was taken of
SOURCE_ENV = "TOOLKIT_BENCH_SOURCE"  # where it is


# --- one step, in a process of its own ----------------------------------------------------------------------

def _with_jobs(function: Any, jobs: int | None) -> dict[str, Any]:
    """`jobs=` for a toolkit step that takes it (issue 8 §3); nothing when it does not or none is asked."""
    return {"jobs": jobs} if jobs and "jobs" in inspect.signature(function).parameters else {}


def child(step: str, folder: Path, jobs: int | None) -> dict[str, Any]:
    """Run one step; returns its own seconds (after imports) and what it did."""
    ws_dir = folder / "ws"
    if step in STEPS:  # only the step's own module is imported, as the command line does
        from toolkit.store.workspace import open_workspace

        if step == "distribute":
            from toolkit.distribute import distribute

            started = time.perf_counter()
            result = distribute(open_workspace(ws_dir), **_with_jobs(distribute, jobs))
            info = {"workbooks": len(result.issues), "errors": sum(p.is_error for p in result.problems)}
        elif step.startswith("collect"):
            from toolkit.collect import collect

            started = time.perf_counter()
            as_of = AS_OF + dt.timedelta(hours=1 if step == "collect-again" else 0)
            ws = open_workspace(ws_dir)
            records = collect(ws, [ws.root / "inbox"], as_of, **_with_jobs(collect, jobs))
            info = {v: sum(r.verdict == v for r in records) for v in ("accepted", "refused", "skipped")}
        elif step.startswith("validate"):
            from toolkit.validate import validate

            # As `toolkit validate` runs it: the findings only (older toolkits read the answers too).
            as_command = {"answers": False} if "answers" in inspect.signature(validate).parameters else {}
            started = time.perf_counter()
            checked = validate(open_workspace(ws_dir), **as_command)
            info = {"returns": len(checked.returns), "errors": sum(r.errors for r in checked.returns.values()),
                    "warnings": sum(r.warnings for r in checked.returns.values())}
        else:
            from toolkit.merge import merge

            started = time.perf_counter()
            merged = merge(open_workspace(ws_dir))
            info = {"outcome": merged.outcome, "summary": str(merged.path) if merged.path else "",
                    "rows": len(merged.rows), "missing": len(merged.missing), "with_errors": len(merged.with_errors)}
        return {"seconds": time.perf_counter() - started, **info}
    returns = sorted((ws_dir / "inbox").glob("*.xlsx"))
    if step in READ_FLOOR:
        return floor_read(returns)
    if step == "floor-merge":
        return floor_merge(returns, folder / "floor-input.json", folder / "floor-summary.xlsx")
    if step == "floor-distribute":
        return floor_distribute(folder / "floor-input.json", folder / "floor-outbox")
    if step == "usual":
        return usual_script(returns, folder / "floor-input.json", folder / "usual-summary.xlsx")
    raise SystemExit(f"unknown step {step}")


def floor_read(returns: list[Path]) -> dict[str, Any]:
    from python_calamine import CalamineWorkbook

    started = time.perf_counter()
    cells = 0
    for path in returns:
        workbook = CalamineWorkbook.from_path(str(path))
        for name in workbook.sheet_names:
            cells += sum(len(row) for row in workbook.get_sheet_by_name(name).to_python())
        workbook.close()
    return {"seconds": time.perf_counter() - started, "cells": cells}


def floor_merge(returns: list[Path], layout_path: Path, out: Path) -> dict[str, Any]:
    import xlsxwriter
    from python_calamine import CalamineWorkbook

    layout = json.loads(layout_path.read_text(encoding="utf-8"))
    columns, header_row = layout["columns"], layout["header_row"]
    started = time.perf_counter()
    rows: list[list[Any]] = []
    for path in returns:
        workbook = CalamineWorkbook.from_path(str(path))
        sheets = [workbook.get_sheet_by_name(name).to_python() for name in workbook.sheet_names]
        workbook.close()
        for row in sheets[0][header_row + 1:]:
            if row and str(row[0]).strip().isdigit():
                rows.append(row)
    rows.sort(key=lambda row: int(row[0]))
    book = xlsxwriter.Workbook(str(out), {"in_memory": True})
    body = {"font_name": "仿宋_GB2312", "font_size": 12, "text_wrap": True, "valign": "vcenter", "border": 1}
    title = book.add_format({"font_name": "方正小标宋简体", "font_size": 22, "align": "center", "valign": "vcenter"})
    header = book.add_format({**body, "font_name": "黑体", "bold": True, "align": "center"})
    cells = {al: book.add_format({**body, "align": al}) for al in ("left", "center")}
    sheet = book.add_worksheet("汇总")
    sheet.merge_range(0, 0, 0, len(columns) - 1, layout["title"], title)
    for c, col in enumerate(columns):
        sheet.set_column(c, c, col["width"])
        sheet.write_string(1, c, col["label"], header)
    for r, row in enumerate(rows, start=2):
        for c in range(len(columns)):
            value = row[c] if c < len(row) else ""
            text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
            sheet.write_string(r, c, text, cells["center" if c == 0 else "left"])
    book.close()
    return {"seconds": time.perf_counter() - started, "rows": len(rows)}


def floor_distribute(layout_path: Path, out_dir: Path) -> dict[str, Any]:
    import xlsxwriter

    layout = json.loads(layout_path.read_text(encoding="utf-8"))
    columns, header_row = layout["columns"], layout["header_row"]
    status = next((c for c, col in enumerate(columns) if col["choices"]), None)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for book_data in layout["workbooks"]:
        book = xlsxwriter.Workbook(str(out_dir / book_data["file"]), {"in_memory": True, "strings_to_numbers": False,
                                                                      "strings_to_formulas": False,
                                                                      "strings_to_urls": False})
        base = {"font_name": "宋体", "font_size": 11, "valign": "vcenter", "text_wrap": True}
        fmt_title = book.add_format({**base, "font_name": "方正小标宋简体", "font_size": 16, "align": "center"})
        fmt_line = book.add_format({**base, "locked": False, "bottom": 1})
        fmt_header = book.add_format({**base, "font_name": "黑体", "bold": True, "align": "center", "border": 1,
                                      "bg_color": "#D9D9D9"})
        fmt_locked = book.add_format({**base, "border": 1, "valign": "top", "bg_color": "#F2F2F2"})
        fmt_open = book.add_format({**base, "border": 1, "valign": "top", "locked": False})
        main, *others = book_data["sheets"]
        sheet = book.add_worksheet(main["name"])
        for c, col in enumerate(columns):
            sheet.set_column(c, c, col["width"])
        sheet.merge_range(0, 0, 0, len(columns) - 1, main["rows"][0][0] or "", fmt_title)
        first, last = header_row + 1, header_row + book_data["items"]
        for r, row in enumerate(main["rows"][1:], start=1):
            for c, value in enumerate(row):
                if first <= r <= last and c < len(columns) and not columns[c]["prefilled"]:
                    sheet.write_blank(r, c, None, fmt_open)
                elif value is not None:
                    fmt = fmt_header if r == header_row else fmt_locked if first <= r <= last else fmt_line
                    sheet.write_string(r, c, str(value), fmt)
        if status is not None:
            sheet.data_validation(first, status, last, status,
                                  {"validate": "list", "source": columns[status]["choices"]})
        sheet.protect()
        for other in others:
            hidden = book.add_worksheet(other["name"])
            for r, row in enumerate(other["rows"]):
                for c, value in enumerate(row):
                    if value is not None:
                        hidden.write_string(r, c, str(value))
            hidden.protect()
            hidden.very_hidden()
        book.close()
    return {"seconds": time.perf_counter() - started, "workbooks": len(layout["workbooks"])}


def usual_script(returns: list[Path], layout_path: Path, out: Path) -> dict[str, Any]:
    import pandas as pd

    header_row = json.loads(layout_path.read_text(encoding="utf-8"))["header_row"]
    started = time.perf_counter()
    frames = []
    for path in returns:
        frame = pd.read_excel(path, sheet_name=0, header=header_row, engine="openpyxl", dtype=str)
        first = frame.columns[0]
        frames.append(frame[frame[first].fillna("").str.strip().str.isdigit()])
    table = pd.concat(frames, ignore_index=True)
    table = table.sort_values(by=table.columns[0], key=lambda s: s.astype(int))
    with pd.ExcelWriter(out) as writer:
        table.to_excel(writer, index=False)
        engine = writer.engine
    return {"seconds": time.perf_counter() - started, "rows": len(table), "reader": "openpyxl", "writer": engine,
            "pandas": pd.__version__}


# --- the parent: runs, medians, the table -------------------------------------------------------------------

def own_peak_mb() -> float:
    """This process's peak resident memory: VmHWM of its own address space.

    Not ru_maxrss: on Linux a child's ru_maxrss starts from the RSS of the parent it was forked
    from (kept across exec), so every step would report at least the runner's own size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _python_command(*args: str) -> list[str]:
    """`python -m benchmarks.run ARGS`, importing the toolkit from the snapshot when there is one.

    The snapshot goes first on sys.path (before the current folder, which may hold the live toolkit/);
    this repository's root follows, for `benchmarks` itself.
    """
    launch = (f"import os, sys, runpy; sys.path[:0] = [p for p in (os.environ.get({SOURCE_ENV!r}), {str(ROOT)!r}) if p]; "
              "runpy.run_module('benchmarks.run', run_name='__main__', alter_sys=True)")
    return [sys.executable, "-c", launch, *args]


def spawn(step: str, folder: Path, jobs: int | None) -> dict[str, Any]:
    """One step in a child process: its result, its wall time and its peak memory (MB)."""
    result_path = folder / f".result-{step}.json"
    command = _python_command("--child", step, "--folder", str(folder), "--result", str(result_path))
    if jobs:
        command += ["--jobs", str(jobs)]
    if hasattr(os, "sync"):  # the steps before's writes flushed first, not while this step is timed
        os.sync()
    started = time.perf_counter()
    with open(folder / f".log-{step}.txt", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        tail = (folder / f".log-{step}.txt").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"step {step} failed (exit {process.returncode}):\n{tail}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    return {**result, "wall": wall, "mb": result.get("peak_mb") or usage.ru_maxrss / 1024,
            "ru_maxrss_mb": usage.ru_maxrss / 1024}


def fresh_copy(source: Path, dest: Path) -> Path:
    """The generated workspace as it was before distributing: the outbox empty, no ledger yet.

    Nothing is deleted while steps are timed (copies are removed at the end): on an ext4 without a
    journal, as this machine's, creating a file right after thousands were deleted takes several times
    longer (the inode allocator passes over every recently deleted inode), which would be timed as
    distribute's, collect's and merge's own.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    outbox = source / "ws" / "outbox"
    shutil.copytree(source / "ws", dest / "ws", symlinks=True,
                    ignore=lambda folder, names: names if Path(folder) == outbox else [])
    shutil.copy2(source / "floor-input.json", dest / "floor-input.json")
    return dest


def measure(size: generate.Size, *, runs: int, workdir: Path, steps: list[str], jobs: int | None,
            cache_root: Path, log: Any = print) -> dict[str, Any]:
    """Every step `runs` times on fresh copies; {step: [result of each run]} and the generated meta."""
    source = generate.cached(size, root=cache_root, log=log)
    meta = json.loads((source / "meta.json").read_text(encoding="utf-8"))
    results: dict[str, list[dict[str, Any]]] = {step: [] for step in steps}
    folders = []
    for run in range(1, runs + 1):
        folder = fresh_copy(source, workdir / f"{size.units}x{size.items}-run{run}")
        line = []
        for step in steps:
            result = spawn(step, folder, jobs)
            results[step].append(result)
            line.append(f"{step} {result['seconds']:.2f}s")
        log(f"  run {run}/{runs}: " + ", ".join(line))
        folders.append(folder)
    return {"size": size, "meta": meta, "results": results, "last_run": str(folder), "earlier_runs": folders[:-1]}


def med(results: dict[str, list[dict[str, Any]]], step: str, key: str = "seconds") -> float | None:
    values = [r[key] for r in results.get(step, [])]
    return statistics.median(values) if values else None


def floor_times(results: dict[str, list[dict[str, Any]]], base: str | tuple[str, ...]) -> list[float]:
    """Each run's floor: its time, or the mean of its times around the steps (those measured: older
    results have the floor after the steps only)."""
    timed = [results[b] for b in ((base,) if isinstance(base, str) else base) if results.get(b)]
    return [statistics.fmean(r["seconds"] for r in runs) for runs in zip(*timed, strict=True)] if timed else []


def run_ratios(results: dict[str, list[dict[str, Any]]], steps: tuple[str, ...],
               base: str | tuple[str, ...]) -> list[float]:
    """Each run's own ratio: the steps' time over its floor's (timed around them, see ORDER)."""
    runs = [results.get(step, []) for step in steps]
    floors = floor_times(results, base)
    if not all(runs) or not floors:
        return []
    return [sum(r["seconds"] for r in parts) / floor for *parts, floor in zip(*runs, floors, strict=True)]


def paired(results: dict[str, list[dict[str, Any]]], steps: tuple[str, ...], base: str | tuple[str, ...]) -> float | None:
    """The median of the runs' own ratios (the table's ratio column)."""
    ratios = run_ratios(results, steps, base)
    return statistics.median(ratios) if ratios else None


def peak(results: dict[str, list[dict[str, Any]]], step: str) -> float | None:
    values = [r["mb"] for r in results.get(step, [])]
    return max(values) if values else None


def workers_peak(results: dict[str, list[dict[str, Any]]], step: str) -> float | None:
    values = [r["workers_peak_mb"] for r in results.get(step, []) if r.get("workers_peak_mb")]
    return max(values) if values else None


def workers_peak_mb() -> float:
    """The largest peak of this process's worker processes (--jobs), 0 without any.

    An upper bound: a forked worker's ru_maxrss starts from the size of the process it was forked from.
    """
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def fmt_s(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def fmt_x(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def step_table(measured: dict[str, Any]) -> str:
    """The runner's table: every step, its floor and the ratio, then the floors and the usual script."""
    res = measured["results"]
    units = measured["size"].units
    cv = _sum(med(res, "collect"), med(res, "validate"))
    cvm = _sum(cv, med(res, "merge"))
    usual_info = (res.get("usual") or [{}])[0]
    cycle_ratio = paired(res, ("collect", "validate", "merge"), "usual")
    rows = [
        ("distribute", med(res, "distribute"), med(res, "distribute", "wall"), peak(res, "distribute"),
         "floor: xlsxwriter templates", med(res, "floor-distribute"),
         fmt_x(paired(res, ("distribute",), "floor-distribute"))),
        ("collect", med(res, "collect"), med(res, "collect", "wall"), peak(res, "collect"), "", None, "—"),
        ("validate", med(res, "validate"), med(res, "validate", "wall"), peak(res, "validate"), "", None, "—"),
        ("collect + validate", cv, _sum(med(res, "collect", "wall"), med(res, "validate", "wall")),
         _max(peak(res, "collect"), peak(res, "validate")), "floor: calamine reads every cell",
         _median(floor_times(res, READ_FLOOR)), fmt_x(paired(res, ("collect", "validate"), READ_FLOOR))),
        ("merge", med(res, "merge"), med(res, "merge", "wall"), peak(res, "merge"),
         "floor: calamine + xlsxwriter", med(res, "floor-merge"), fmt_x(paired(res, ("merge",), "floor-merge"))),
        ("collect again (nothing new)", med(res, "collect-again"), med(res, "collect-again", "wall"),
         peak(res, "collect-again"), "", None, "—"),
        ("validate again (nothing new)", med(res, "validate-again"), med(res, "validate-again", "wall"),
         peak(res, "validate-again"), "", None, "—"),
        ("collect + validate + merge", cvm, _sum(med(res, "collect", "wall"), med(res, "validate", "wall"),
                                                 med(res, "merge", "wall")),
         _max(peak(res, "collect"), peak(res, "validate"), peak(res, "merge")),
         f"usual script: pandas (read openpyxl, write {usual_info.get('writer', '?')})" if "usual" in res
         else "usual script: not run (--no-usual, or pandas not installed)", med(res, "usual"),
         _speedup(1, cycle_ratio) if cycle_ratio else "—"),
    ]
    lines = ["| step | time s (median) | wall s (with start-up) | peak MB | compared with | its time s | ratio |",
             "|---|---:|---:|---:|---|---:|---:|"]
    for name, t, wall, mb, against, base, ratio in rows:
        if t is not None:
            lines.append(f"| {name} | {fmt_s(t)} | {fmt_s(wall)} | {_mb(mb)} | {against} | {fmt_s(base)} | {ratio} |")
    lines.append("")
    lines.append("ratio: the median of the runs' own ratios, each floor timed right after its step on the same copy "
                 "(collect + validate's also right before them: the mean of the two).")
    if ratios := run_ratios(res, ("collect", "validate"), READ_FLOOR):
        lines.append("collect + validate against its floor, run by run: "
                     + ", ".join(f"{r:.2f}×" for r in ratios) + ".")
    for step in ("distribute", "collect"):
        if mb := workers_peak(res, step):
            lines.append("")
            lines.append(f"{step} ran worker processes (--jobs): each peaked at {mb:.0f} MB at most, besides the "
                         "main process's peak in the table.")
    lines.append("")
    lines.append("| floor / script | time s (median) | wall s | peak MB |")
    lines.append("|---|---:|---:|---:|")
    for step, label in (("floor-distribute", "xlsxwriter writing the templates"),
                        ("floor-read-before", "calamine reading every cell of every return (before collect)"),
                        ("floor-read", "calamine reading every cell of every return (after validate)"),
                        ("floor-merge", "calamine reading + xlsxwriter writing the summary cells"),
                        ("usual", "pandas.read_excel (openpyxl) + concat + to_excel")):
        if step in res:
            lines.append(f"| {label} | {fmt_s(med(res, step))} | {fmt_s(med(res, step, 'wall'))} | {_mb(peak(res, step))} |")
    dist = med(res, "distribute")
    if dist:
        lines.append("")
        lines.append(f"distribute: {units / dist:.0f} workbooks/s ({units} workbooks); "
                     f"the floor writes {units / med(res, 'floor-distribute'):.0f}/s." if med(res, "floor-distribute")
                     else f"distribute: {units / dist:.0f} workbooks/s ({units} workbooks).")
    return "\n".join(lines)


def targets_table(measured: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """Issue 19's targets, against a run of the toolkit before it (`--baseline`, a file written by --json):
    the whole cycle no more than 1.5× its time before, and ahead of the usual script by the same margin or better."""
    res = measured["results"]
    cycle = _cycle(res)
    usual = med(res, "usual")
    lines = [f"| target (issue 19, at {measured['size'].label}) | measured | |", "|---|---|---|"]
    if baseline is None or _cycle(baseline["results"]) is None or cycle is None:
        lines.append("| the cycle ≤ 1.5× its time before issue 19 | no --baseline given | — |")
    else:
        before = _cycle(baseline["results"])
        lines.append(f"| the cycle ≤ 1.5× its time before issue 19 | {cycle:.3f} s against {before:.3f} s: "
                     f"{cycle / before:.2f}× | {'met' if cycle <= 1.5 * before else 'not met'} |")
    toolkit_cvm = _sum(med(res, "collect"), med(res, "validate"), med(res, "merge"))
    before_usual = baseline and med(baseline["results"], "usual")
    before_cvm = baseline and _sum(*(med(baseline["results"], s) for s in ("collect", "validate", "merge")))
    if usual and toolkit_cvm and before_usual and before_cvm:
        now, then = usual / toolkit_cvm, before_usual / before_cvm
        lines.append(f"| collect + validate + merge ahead of the usual script by the same margin or better | "
                     f"{now:.1f}× faster (before: {then:.1f}×) | {'met' if now >= then else 'not met'} |")
    else:
        lines.append(f"| collect + validate + merge against the usual script | {_speedup(usual, toolkit_cvm)} | — |")
    return "\n".join(lines)


def _cycle(res: dict[str, Any]) -> float | None:
    """distribute + collect + validate + merge, each step's median."""
    return _sum(*(med(res, step) for step in ("distribute", "collect", "validate", "merge")))


def _speedup(script: float | None, toolkit: float | None) -> str:
    """How much faster the toolkit is than the script, or how much slower."""
    if not script or not toolkit:
        return "—"
    return f"{script / toolkit:.1f}× faster" if script >= toolkit else f"{toolkit / script:.1f}× slower"


def _sum(*values: float | None) -> float | None:
    return None if any(v is None for v in values) else sum(values)  # type: ignore[arg-type]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _max(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _mb(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def linearity_table(series: list[dict[str, Any]]) -> str:
    lines = ["| units | items | collect s | validate s | merge s | collect + validate + merge s | ms per unit | "
             "per unit vs first | distribute s | workbooks/s |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    first = None
    for measured in series:
        res, size = measured["results"], measured["size"]
        c, v, m = med(res, "collect"), med(res, "validate"), med(res, "merge")
        cvm = c + v + m
        per_unit = cvm / size.units * 1000
        first = first or per_unit
        dist = med(res, "distribute")
        lines.append(f"| {size.units} | {size.items} | {fmt_s(c)} | {fmt_s(v)} | {fmt_s(m)} | {fmt_s(cvm)} | "
                     f"{per_unit:.1f} | {per_unit / first:.2f} | {fmt_s(dist)} | {size.units / dist:.0f} |")
    return "\n".join(lines)


def describe(measured: dict[str, Any], runs: int) -> str:
    meta = measured["meta"]
    return (f"{measured['size'].label} ({meta['returns']} returns, {meta['return_bytes'] / 1048576:.1f} MB; "
            f"{meta['filled_cells']} filled cells, {meta.get('multi_paragraph_cells', 0)} with several paragraphs, "
            f"{meta.get('not_done', 0)} items 未完成); median of {runs} run{'s' if runs > 1 else ''}; "
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")


# --- profiling ----------------------------------------------------------------------------------------------

def profile(size: generate.Size, step: str, workdir: Path, cache_root: Path, top: int, jobs: int | None) -> str:
    """The step under cProfile on a fresh copy (the steps before it run first, unprofiled)."""
    import cProfile
    import io
    import pstats

    source = generate.cached(size, root=cache_root)
    folder = fresh_copy(source, workdir / f"{size.units}x{size.items}-profile")
    order = [s for s in STEPS if s in STEPS[: STEPS.index(step)]] if step in STEPS else ["distribute"]
    for before in order:
        spawn(before, folder, jobs)
    profiler = cProfile.Profile()
    profiler.enable()
    result = child(step, folder, jobs)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    stats.dump_stats(str(workdir / f"profile-{step}.pstats"))
    return f"{step}: {result['seconds']:.2f} s under the profiler\n{out.getvalue()}"


# --- command line -------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--scale", choices=sorted(generate.SCALES),
                        help="city: 80 units × 300 items; units300: 300 units × 20 items each; "
                             "province: 1,000 units × 20 items each (information only)")
    parser.add_argument("--units", type=int, help="number of lead units")
    parser.add_argument("--items", type=float, help="items per unit (default 20)")
    parser.add_argument("--total", type=int, help="items in the whole list (instead of --items)")
    parser.add_argument("--linearity", action="store_true", help="100, 300 and 1,000 units × 20 items: time per unit")
    parser.add_argument("--runs", type=int, default=5, help="runs per step; the table shows medians (default 5)")
    parser.add_argument("--jobs", type=int, help="--jobs for distribute and collect, when the toolkit has it")
    parser.add_argument("--no-usual", action="store_true", help="skip the usual script (pandas)")
    parser.add_argument("--no-floors", action="store_true", help="time the toolkit's steps only")
    parser.add_argument("--profile", choices=STEPS, help="profile one step with cProfile instead of timing")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    parser.add_argument("--cache-dir", type=Path, default=generate.CACHE)
    parser.add_argument("--workdir", type=Path, help="where the copies go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep every run's copy (the last is always kept)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--report", type=Path, help="print the tables again from a file written by --json")
    parser.add_argument("--baseline", type=Path, help="a --json file of the toolkit before issue 19, to compare with")
    parser.add_argument("--no-snapshot", action="store_true",
                        help="import the live toolkit/ (default: a copy taken at the start, so edits made "
                             "while the benchmark runs do not mix into it)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        result = child(args.child, args.folder, args.jobs)
        result["peak_mb"] = own_peak_mb()
        result["workers_peak_mb"] = workers_peak_mb()
        args.result.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        return 0

    if args.report:
        print(report(json.loads(args.report.read_text(encoding="utf-8")), _load(args.baseline)))
        return 0
    if not args.no_snapshot and not os.environ.get(SNAPSHOT_ENV):
        return run_on_snapshot(argv if argv is not None else sys.argv[1:], args.workdir)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="toolkit-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(toolkit_version())
    if args.profile:
        size = generate.size_from(args.units, args.items, args.total, args.scale)
        print(profile(size, args.profile, workdir, args.cache_dir, args.top, args.jobs))
        return 0

    steps = list(STEPS)
    if not args.no_floors:
        steps += ["floor-distribute", *READ_FLOOR, "floor-merge"]
        if not args.no_usual:
            try:
                import pandas  # noqa: F401
            except ImportError:
                print("pandas is not installed (pip install -e '.[bench]'): the usual script is skipped")
            else:
                steps.append("usual")
    steps = [step for step in ORDER if step in steps]
    raw: dict[str, Any] = {}
    if args.linearity:
        series = []
        for size in LINEARITY:
            print(f"{size.label}:")
            series.append(measure(size, runs=args.runs, workdir=workdir, jobs=args.jobs, cache_root=args.cache_dir,
                                  steps=STEPS[:4]))
        print(f"\nLinearity (median of {args.runs} runs; python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")
        print(linearity_table(series))
        raw["linearity"] = [{"size": vars(m["size"]), "results": m["results"]} for m in series]
    else:
        size = generate.size_from(args.units, args.items, args.total, args.scale)
        print(f"{size.label}:")
        measured = measure(size, runs=args.runs, workdir=workdir, jobs=args.jobs, cache_root=args.cache_dir,
                           steps=steps)
        print(f"\n{describe(measured, args.runs)}\n")
        print(step_table(measured))
        print()
        print(targets_table(measured, _load(args.baseline)))
        if args.workdir or args.keep:
            print(f"\nlast run's workspace: {measured['last_run']}/ws")
        raw = {"size": vars(size), "meta": measured["meta"], "results": measured["results"]}
        series = [measured]
    if not args.keep:  # only now: see fresh_copy
        for folder in (f for m in series for f in m["earlier_runs"]):
            shutil.rmtree(folder, ignore_errors=True)
    for m in series:
        generate.remove_stale(m["size"], root=args.cache_dir)
    raw["toolkit"] = toolkit_version()
    if args.json:
        args.json.write_text(json.dumps(raw, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    if not args.workdir and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _load(path: Path | None) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path else None


def report(raw: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """The tables of a run saved with --json."""
    runs = 0
    if "linearity" in raw:
        series = [{"size": generate.Size(**m["size"]), "results": m["results"]} for m in raw["linearity"]]
        runs = len(next(iter(series[0]["results"].values())))
        return f"{raw.get('toolkit', '')}\n\nLinearity (median of {runs} runs)\n\n{linearity_table(series)}".strip()
    size = generate.Size(**raw["size"])
    measured = {"size": size, "meta": raw["meta"], "results": raw["results"]}
    runs = len(next(iter(raw["results"].values())))
    return "\n\n".join([raw.get("toolkit", ""), describe(measured, runs), step_table(measured),
                        targets_table(measured, baseline)]).strip()


def run_on_snapshot(argv: list[str], workdir: Path | None) -> int:
    """Run this command again on a copy of the toolkit's sources (others may edit them meanwhile)."""
    import toolkit
    from toolkit.model.resources import examples_dir, templates_dir

    if workdir:
        workdir.mkdir(parents=True, exist_ok=True)
    snapshot = Path(tempfile.mkdtemp(prefix="toolkit-bench-src-", dir=workdir))
    package = snapshot / "toolkit"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(Path(toolkit.__file__).parent, package, ignore=ignore)
    shutil.copytree(templates_dir(), package / "templates", ignore=ignore)
    shutil.copytree(examples_dir(), package / "examples", ignore=ignore)
    env = {**os.environ, SNAPSHOT_ENV: _source_state(), SOURCE_ENV: str(snapshot)}
    try:
        return subprocess.run(_python_command(*argv), env=env).returncode
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)


def _source_state() -> str:
    """The commit the toolkit was copied at, and whether toolkit/ or templates/ had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "toolkit", "templates"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {head}" + (" with uncommitted changes in toolkit/ or templates/" if dirty else "")


def toolkit_version() -> str:
    import toolkit

    where = os.environ.get(SNAPSHOT_ENV)
    source = f"a copy taken at {where}" if where else f"live sources at {_source_state()}"
    return f"toolkit: {source} (digest {generate.toolkit_digest()}, imported from {Path(toolkit.__file__).parent})"


if __name__ == "__main__":
    sys.exit(main())
