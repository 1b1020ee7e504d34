"""Peak memory and time of `toolkit collect` on the corpus' heaviest hostile files, each alone (not a test).

    python tests/corpus/measure.py            # prints a table; --json for the numbers as JSON

Each run is `python -m toolkit collect FILE -w WS` in a fresh copy of a distributed example workspace with the
default limits (as a coordinator has them), measured with os.wait4: wall time and ru_maxrss of that process.
Files: a correct return (the baseline: the interpreter and toolkit alone), the zip bomb (1 GB of spaces in
the sheet XML, about 1 MB on disk, past the default limits.uncompressed_mb = 200), the 100,000-row return, the
1 MB text cell; then, to show what the limits save, the 100,000-row return with limits.rows raised so that it
is read, and a 150 MB bomb with limits.uncompressed_mb raised so that it is read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
sys.path[:0] = [str(TESTS), str(REPO)]

from returns import distributed_workspace  # noqa: E402

from corpus.build import correct, huge_cell, many_rows, set_limits, zip_bomb  # noqa: E402

# A small process that starts the measured one and reports its rusage: Linux keeps the peak RSS of a process
# across exec, so a child forked straight from this (large) process would report this one's size as its own.
SPAWN = """
import json, os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=open(os.environ["MEASURE_OUT"], "wb"), stderr=subprocess.PIPE)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"seconds": time.perf_counter() - start, "maxrss_kb": usage.ru_maxrss,
                  "exit": os.waitstatus_to_exitcode(status), "stderr": child.stderr.read().decode()[-2000:]}))
"""


def measure(ws_root: Path, file: Path) -> dict[str, object]:
    """Wall time and peak RSS (MB) of one `toolkit collect FILE` process, and its verdict."""
    env = {k: v for k, v in os.environ.items() if k != "TOOLKIT_DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    out = ws_root.parent / f"{ws_root.name}.json"
    env["MEASURE_OUT"] = str(out)
    spawned = subprocess.run([sys.executable, "-c", SPAWN, sys.executable, "-m", "toolkit", "collect", str(file),
                              "--json", "-w", str(ws_root)], capture_output=True, text=True, env=env, check=True)
    result = json.loads(spawned.stdout)
    assert "Traceback" not in result["stderr"], result["stderr"]
    records = json.loads(out.read_text(encoding="utf-8") or "[]")
    record = records[0] if records else {"verdict": "?", "reason": result["stderr"][-200:]}
    return {"file": file.name, "size_kb": round(file.stat().st_size / 1024), "seconds": round(result["seconds"], 2),
            "peak_mb": round(result["maxrss_kb"] / 1024), "exit": result["exit"], "verdict": record["verdict"],
            "reason": record["reason"][:60]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="toolkit-measure-") as tmp:
        root = Path(tmp)
        base = distributed_workspace(root / "base")
        files = root / "files"
        files.mkdir()
        plan = [
            ("correct return (baseline)", "correct.xlsx", lambda p: correct(base, p), {}),
            ("zip bomb, 1 GB inflated", "bomb-1g.xlsx", lambda p: zip_bomb(base, p, inflated_mb=1024), {}),
            ("100,000 rows", "rows-100k.xlsx", lambda p: many_rows(base, p), {}),
            ("1 MB text cell", "cell-1mb.xlsx", lambda p: huge_cell(base, p), {}),
            ("100,000 rows, limits.rows = 200000 (read)", "rows-100k.xlsx", None, {"rows": 200000}),
            ("zip bomb, 150 MB, uncompressed_mb = 1000 (read)", "bomb-150m.xlsx",
             lambda p: zip_bomb(base, p, inflated_mb=150), {"uncompressed_mb": 1000}),
        ]
        results = []
        for i, (label, name, build, limits) in enumerate(plan):
            path = files / name
            if build is not None and not path.exists():
                build(path)
            ws_root = root / f"ws{i}"
            shutil.copytree(base.root, ws_root)
            if limits:
                set_limits(ws_root / "toolkit.toml", limits)
            results.append({"case": label, **measure(ws_root, path)})
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return
    for r in results:
        print(f"{r['case']:48} {r['size_kb']:>7} KB {r['seconds']:>7.2f} s {r['peak_mb']:>6} MB peak  "
              f"exit {r['exit']}  {r['verdict']:8} {r['reason']}")


if __name__ == "__main__":
    main()
