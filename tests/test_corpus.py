"""The intake corpus (tests/corpus/manifest.toml): every file collected gets exactly the verdict the manifest says.

The corpus is built once per module (tests/corpus/build.py) against a distributed example workspace whose
toolkit.toml lowers limits.uncompressed_mb, then collected twice with the real `toolkit` command in a
subprocess: as a folder, and as one .zip (with --jobs 2). Each time: one verdict per file, no traceback, the
archive holds every file received byte for byte, the ledger counts what came in, nothing is written outside
the workspace, and `validate` gives each accepted file the manifest's findings.

The corpus size and the count per verdict are printed and written to corpus-verdicts.txt in ARTIFACTS.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from corpus.build import BUILDERS, DEPENDENT, Case, build_corpus, corpus_workspace, load_manifest
from returns import copy_workspace

from toolkit.excel import intake
from toolkit.excel.office import soffice_path
from toolkit.model.findings import catalogue
from toolkit.store.checked import check_receipt
from toolkit.store.ledger import Ledger, Receipt
from toolkit.store.manifest import read_manifest
from toolkit.store.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
# What a person may look at afterwards: TOOLKIT_TEST_ARTIFACTS, else the system's temporary folder (never the
# repository).
ARTIFACTS = Path(os.environ.get("TOOLKIT_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "toolkit-test-artifacts")
VERDICTS = ("accepted", "held", "refused", "skipped")  # held: accepted and archived, not made current


# --- the corpus, built once ---

@dataclass
class Corpus:
    root: Path
    ws: Workspace  # distributed, nothing collected: copied for each collect
    folder: Path
    archive: Path  # the same files in one .zip
    cases: list[Case]

    @property
    def leaves(self) -> dict[str, Case]:
        """Every file collect gives a record for, by its name in the folder (a zip's entry as `zip!entry`)."""
        out = {}
        for case in self.cases:
            for leaf in case.leaves:
                out[case.file if leaf is case else f"{case.file}!{leaf.file}"] = leaf
        return out

    def data(self, key: str) -> bytes:
        if "!" not in key:
            return (self.folder / key).read_bytes()
        container, entry = key.split("!", 1)
        with zipfile.ZipFile(self.folder / container) as z:
            return z.read(next(i for i in z.infolist() if i.filename == entry))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("corpus")
    ws = corpus_workspace(root / "ws")
    folder = root / "corpus"
    cases = build_corpus(ws, folder)
    archive = root / "corpus.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.iterdir()):
            z.write(path, path.name)
    return Corpus(root, ws, folder, archive, cases)


# --- one collect per way of receiving the corpus ---

@dataclass
class Collected:
    mode: str
    ws: Workspace
    records: list[dict[str, str]]
    output: str  # stdout and stderr
    exit_code: int
    outside_before: dict[str, str]
    outside_after: dict[str, str]
    prefix: str  # what the records' file names start with

    def key(self, record: dict[str, str]) -> str:
        assert record["file"].startswith(self.prefix), record["file"]
        return record["file"][len(self.prefix):]

    def receipts(self) -> list[Receipt]:
        with Ledger(self.ws.state / "ledger.sqlite") as ledger:
            return ledger.all()


def snapshot(top: Path, skip: Path) -> dict[str, str]:
    """Every file and folder under `top` but `skip`: its path, and its size and mtime (files)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d != skip]
        for d in dirnames:
            out[str(here / d)] = "dir"
        for f in filenames:
            stat = (here / f).lstat()
            out[str(here / f)] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return out


def toolkit(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real `toolkit` command in a subprocess (no TOOLKIT_DEBUG: what a user sees)."""
    env = {k: v for k, v in os.environ.items() if k != "TOOLKIT_DEBUG"} | {"COLUMNS": "200"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])  # this checkout
    return subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600, check=False)


@pytest.fixture(scope="module", params=["folder", "zip"])
def collected(request: pytest.FixtureRequest, corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Collected:
    mode = request.param
    ws = copy_workspace(corpus.ws, corpus.root / f"ws-{mode}")
    cwd = corpus.root / f"cwd-{mode}" / "inbox"  # `../../evil.xlsx` from here is the pytest base folder
    cwd.mkdir(parents=True)
    top = tmp_path_factory.getbasetemp()
    before = snapshot(top, ws.root)
    if mode == "folder":
        result = toolkit("collect", corpus.folder, "--json", "-w", ws.root, cwd=cwd)
        prefix = f"{corpus.folder}{os.sep}"
    else:
        result = toolkit("collect", corpus.archive, "--json", "--jobs", "2", "-w", ws.root, cwd=cwd)
        prefix = f"{corpus.archive}!"
    after = snapshot(top, ws.root)
    records = json.loads(result.stdout) if result.stdout.strip().startswith("[") else []
    return Collected(mode, ws, records, result.stdout + result.stderr, result.returncode, before, after, prefix)


# --- the manifest ---

def test_manifest_lists_at_least_40_files_each_with_a_builder_and_a_verdict(corpus: Corpus) -> None:
    cases = load_manifest()
    leaves = [leaf for c in cases for leaf in c.leaves]
    assert len(cases) >= 40 and len(leaves) >= 40
    for case in cases:
        assert case.build in BUILDERS or case.build in DEPENDENT, case.id
        assert case.make, case.id
        for leaf in case.leaves:
            assert leaf.verdict in VERDICTS, leaf.id
            assert all(code in catalogue() or code in ("reason-when-done", "reason-required")
                       for code in [*leaf.reason, *(f.code for f in leaf.findings)]), leaf.id
            assert not leaf.findings or leaf.verdict in ("accepted", "held"), leaf.id
    files = [c.file for c in cases]
    assert len(files) == len(set(files))


def test_every_case_is_built_with_its_own_bytes(corpus: Corpus) -> None:
    assert sorted(p.name for p in corpus.folder.iterdir()) == sorted(c.file for c in corpus.cases)
    digests = collections.Counter(hashlib.sha256(corpus.data(key)).hexdigest() for key in corpus.leaves)
    repeated = [key for key in corpus.leaves if digests[hashlib.sha256(corpus.data(key)).hexdigest()] > 1]
    duplicates = [c for c in corpus.cases if c.build == "duplicate_of"]
    assert sorted(repeated) == sorted([c.file for c in duplicates] + [c.args["source"] for c in duplicates])


@pytest.mark.libreoffice
def test_libreoffice_cases_are_in_the_corpus(corpus: Corpus) -> None:
    resaved = [c for c in load_manifest() if c.build == "libreoffice"]
    assert {c.args["format"] for c in resaved} == {"xlsx", "xls", "ods"}
    built = {c.id for c in corpus.cases}
    assert all(c.id in built for c in resaved)
    for c in resaved:
        head = (corpus.folder / c.file).read_bytes()[:8]
        assert head.startswith(b"\xd0\xcf\x11\xe0" if c.args["format"] == "xls" else b"PK\x03\x04"), c.file


def test_the_hostile_files_are_what_they_claim(corpus: Corpus) -> None:
    by_id = {c.id: c for c in corpus.cases}

    def data(case_id: str) -> bytes:
        return (corpus.folder / by_id[case_id].file).read_bytes()

    with zipfile.ZipFile(io.BytesIO(data("h-bomb"))) as z:
        assert sum(i.file_size for i in z.infolist()) > 100 * 1048576 and len(data("h-bomb")) < 1048576
    lying = data("h-bomb-lying")
    with zipfile.ZipFile(io.BytesIO(lying)) as z:
        part = next(i for i in z.infolist() if i.filename.startswith("xl/worksheets/"))
        assert part.file_size < 1 << 20 and len(lying) > 50 * 1024  # declares kilobytes, inflates to 120 MB
    with zipfile.ZipFile(io.BytesIO(data("h-xxe"))) as z:
        assert any(b"<!ENTITY xxe SYSTEM" in z.read(n) for n in z.namelist())
    with zipfile.ZipFile(io.BytesIO(data("h-laughs-late"))) as z:
        xml = z.read("xl/workbook.xml")
        assert xml.index(b"<!DOCTYPE") > 8192 and b"<!ENTITY lol9" in xml
    with zipfile.ZipFile(io.BytesIO(data("h-laughs-rels"))) as z:
        assert b"<!ENTITY lol9" in z.read("xl/_rels/workbook.xml.rels")
    assert data("h-password").startswith(b"\xd0\xcf\x11\xe0") and "EncryptionInfo".encode("utf-16-le") in \
        data("h-password")
    with zipfile.ZipFile(io.BytesIO(data("h-macro"))) as z:
        assert "xl/vbaProject.bin" in z.namelist()
    with zipfile.ZipFile(io.BytesIO(data("h-rows"))) as z:
        assert sum(z.read(n).count(b"<row ") for n in z.namelist()) > 100_000
    with zipfile.ZipFile(io.BytesIO(data("h-cell"))) as z:
        assert any(len(z.read(n)) > 1 << 20 for n in z.namelist())
    assert data("h-empty") == b"" and data("h-html").startswith(b"<html")
    assert (corpus.folder / "a<b>:c?.xlsx").is_file()
    with zipfile.ZipFile(corpus.folder / by_id["h-zip-slip"].file) as z:
        assert [i.filename for i in z.infolist()] == [m.file for m in by_id["h-zip-slip"].members]


# --- collecting it ---

def test_collect_never_prints_a_traceback(collected: Collected) -> None:
    assert "Traceback" not in collected.output
    assert "内部错误" not in collected.output  # the message of an unexpected exception
    assert collected.exit_code == 1, collected.output[-3000:]  # some files are refused
    assert collected.records


def test_every_file_gets_exactly_the_manifests_verdict(collected: Collected, corpus: Corpus) -> None:
    leaves = corpus.leaves
    keys = [collected.key(r) for r in collected.records]
    assert sorted(keys) == sorted(leaves), "one record per file, and only one"
    wrong = []
    for record, key in zip(collected.records, keys, strict=True):
        case = leaves[key]
        got = (record["verdict"], record["unit"] if record["verdict"] != "skipped" else case.unit)
        if got != (case.verdict, case.unit) or not reason_matches(record["reason"], case):
            wrong.append(f"{key}: expected {case.verdict} {case.unit} {case.reason} {case.note!r}, "
                         f"got {record['verdict']} {record['unit']} {record['reason']!r}")
        elif record["verdict"] == "skipped":
            assert record["unit"] in ("", case.unit), key
    assert not wrong, "\n".join(wrong)


def test_the_archive_holds_every_file_received_byte_for_byte(collected: Collected, corpus: Corpus) -> None:
    receipts = collected.receipts()
    by_source = {r.source: r for r in receipts}
    for record in collected.records:
        data = corpus.data(collected.key(record))
        receipt = by_source[record["file"]]
        stored = collected.ws.root / receipt.archive
        assert receipt.sha256 == hashlib.sha256(data).hexdigest()
        assert stored.is_file() and stored.read_bytes() == data, record["file"]
        assert stored.resolve().is_relative_to((collected.ws.root / "archive").resolve())
    archived = {p.name.split(".")[0] for p in (collected.ws.root / "archive").rglob("*") if p.is_file()}
    assert archived == {hashlib.sha256(corpus.data(k)).hexdigest() for k in corpus.leaves}


def test_the_ledger_counts_what_came_in(collected: Collected, corpus: Corpus) -> None:
    receipts = collected.receipts()
    assert len(receipts) == len(collected.records) == len(corpus.leaves)
    in_ledger = collections.Counter("held" if r.held else r.verdict for r in receipts)  # held: accepted, not current
    in_output = collections.Counter(r["verdict"] for r in collected.records)
    in_manifest = collections.Counter(c.verdict for c in corpus.leaves.values())
    assert in_ledger == in_output == in_manifest
    report_counts(corpus, collected, in_ledger)


def test_nothing_is_written_outside_the_workspace(collected: Collected) -> None:
    assert collected.outside_after == collected.outside_before
    for name in ("evil.xlsx", "evil-windows.xlsx"):
        assert not list(collected.ws.root.parent.parent.rglob(name))
    assert not Path("/tmp/evil-absolute.xlsx").exists()


def test_validate_gives_each_accepted_file_the_manifests_findings(collected: Collected, corpus: Corpus) -> None:
    leaves = corpus.leaves
    issued = read_manifest(collected.ws).get("units", {})
    by_source = {r.source: r for r in collected.receipts()}
    wrong = []
    for record in collected.records:
        if record["verdict"] != "accepted":
            continue
        case = leaves[collected.key(record)]
        checked = check_receipt(collected.ws, by_source[record["file"]], issued.get(record["unit"], {}))
        for f in checked.findings:
            assert f.code and f.severity in ("error", "warning") and (f.cell or f.item or f.file), f
        got = sorted((f.code, f.severity, f.item, f.cell) for f in checked.findings)
        expected = sorted((f.code, f.severity, f.item, f.cell) for f in case.findings)
        if got != expected:
            wrong.append(f"{case.file}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)


def test_toolkit_validate_checks_each_units_latest_return(collected: Collected, corpus: Corpus) -> None:
    """`toolkit validate` (the command): the latest accepted file of each unit, with its manifest findings."""
    result = toolkit("validate", "--json", "-w", collected.ws.root, cwd=collected.ws.root)
    assert "Traceback" not in result.stdout + result.stderr and result.returncode in (0, 1), result.stderr
    latest: dict[str, Case] = {}
    for record in collected.records:
        if record["verdict"] == "accepted":
            latest[record["unit"]] = corpus.leaves[collected.key(record)]
    expected = sorted((unit, f.code, f.item, f.cell) for unit, case in latest.items() for f in case.findings)
    got = sorted((f["unit"], f["code"], f["item"], f["cell"]) for f in json.loads(result.stdout))
    assert got == expected


def test_a_macro_is_never_carried_into_any_output(collected: Collected) -> None:
    """The .xlsm is 市地方金融监管局's current return, with an error: its feedback workbook is written from it."""
    root = collected.ws.root
    for args in (("validate",), ("merge", "--allow-missing"), ("feedback",), ("status", "--html",
                                                                               root / "reports" / "status.html")):
        result = toolkit(*args, "-w", root, cwd=root)
        assert "Traceback" not in result.stdout + result.stderr and result.returncode in (0, 1, 3), \
            (args, result.stdout[-2000:], result.stderr[-2000:])
    feedback = [p for p in root.rglob("*市地方金融监管局*.xlsx") if "archive" not in p.parts]
    assert feedback, "the macro workbook's unit got no feedback workbook"
    outputs = [p for p in root.rglob("*") if p.is_file() and not {"archive", ".toolkit", "outbox"} & set(
        p.relative_to(root).parts)]
    assert any(p.suffix == ".xlsx" and "汇总" in p.name for p in outputs), "merge wrote no summary"
    for path in outputs:
        data = path.read_bytes()
        assert b"vbaProject" not in data and b"Auto_Open" not in data and b"macroEnabled" not in data, path
        if data.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    assert "vba" not in info.filename.lower(), (path, info.filename)
                    content = z.read(info)
                    assert b"vbaProject" not in content and b"macroEnabled" not in content, (path, info.filename)


# --- helpers ---

def code_pattern(code: str) -> str:
    """A regex for a finding's message: the catalogue's template with every placeholder matching anything,
    `{% if %}a{% else %}b{% endif %}` matching either branch and `{% if %}a{% endif %}` matching a or nothing."""
    return _template_pattern(catalogue()[code]["message"])


def _template_pattern(template: str) -> str:
    block = re.search(r"{%\s*if[^%]*%}(.*?)(?:{%\s*else\s*%}(.*?))?{%\s*endif\s*%}", template, re.S)
    if block:
        first, second = _template_pattern(block.group(1)), _template_pattern(block.group(2) or "")
        return (_template_pattern(template[:block.start()]) + f"(?:{first}|{second})"
                + _template_pattern(template[block.end():]))
    parts = re.split(r"({{.*?}})", template)
    return "".join(".*?" if p.startswith("{{") else re.escape(p) for p in parts)


def reason_matches(reason: str, case: Case) -> bool:
    """The record's reason is the manifest's note (if any) then its codes' messages, joined by "；"."""
    parts = ([f"[^；]*{re.escape(case.note)}[^；]*"] if case.note else []) + [code_pattern(c) for c in case.reason]
    return re.fullmatch("；".join(parts), reason, flags=re.S) is not None


_SUMMARY: dict[str, str] = {}  # mode -> its line, written together


def report_counts(corpus: Corpus, collected: Collected, counts: collections.Counter[str]) -> None:
    """Print the corpus size and the count per verdict, and keep them in ARTIFACTS/corpus-verdicts.txt."""
    _SUMMARY[collected.mode] = (
        f"corpus collected as a {collected.mode}: {len(corpus.cases)} files, {len(corpus.leaves)} returns received "
        f"(zip entries counted): " + ", ".join(f"{v} {counts.get(v, 0)}" for v in VERDICTS)
        + ("" if soffice_path() else " (LibreOffice missing: its re-saved cases left out)"))
    print(f"\n{_SUMMARY[collected.mode]}")
    table = [f"{c.verdict:9} {c.unit or '-':12} {key}" for key, c in corpus.leaves.items()]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "corpus-verdicts.txt").write_text("\n".join([*_SUMMARY.values(), "", *table]) + "\n",
                                                   encoding="utf-8")


def test_a_part_holding_more_than_it_declares_is_refused_where_it_is_read_whole(corpus: Corpus) -> None:
    """LibreOffice may read any part of an .ods (feedback converts it), so there every part is inflated whole
    and checked against its declared size; in an xlsx every worksheet part is too (its farthest cell is looked
    for, limits.cells), the other parts are left to calamine and openpyxl, which stop at the declared size."""
    lying = (corpus.folder / next(c.file for c in corpus.cases if c.id == "h-bomb-lying")).read_bytes()
    limits = intake.Limits(uncompressed_mb=40)
    refused = intake.check_limits(lying, "ods", limits, "h.ods")
    assert refused is not None and refused.code == "file-unreadable" and "声明" in refused.message
    refused = intake.check_limits(lying, "xlsx", limits, "h.xlsx")
    assert refused is not None and refused.code == "file-unreadable" and "sheet1.xml" in refused.message


def tiny_xlsx() -> tuple[bytearray, int]:
    """A two-part xlsx-like zip to damage, and where its central directory's first entry starts."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with zipfile.ZipFile(buffer) as archive:
        return bytearray(buffer.getvalue()), archive.start_dir


def test_a_member_said_to_start_beyond_the_end_of_the_file_is_unreadable(tmp_path: Path) -> None:
    data, first_entry = tiny_xlsx()
    data[first_entry + 42:first_entry + 46] = (len(data) + 1000).to_bytes(4, "little")  # its local header offset
    refused = intake.check_limits(bytes(data), "xlsx", intake.Limits(), "坏.xlsx")
    assert refused is not None and refused.code == "file-unreadable"


def test_a_zip_needing_a_newer_zip_version_is_refused_or_skipped_not_raised(corpus: Corpus, tmp_path: Path) -> None:
    """zipfile raises NotImplementedError for an unknown 'version needed to extract' (found by byte-level fuzzing)."""
    from toolkit.collect import gather, list_files

    data, first_entry = tiny_xlsx()
    data[first_entry + 6] = 84  # version needed to extract: 8.4
    parsed = intake.parse(bytes(data), corpus.ws.spec, "坏.xlsx")
    assert parsed.problem is not None and parsed.problem.code == "file-unreadable"
    (tmp_path / "回报.zip").write_bytes(bytes(data))
    (received,) = list(gather(list_files([tmp_path / "回报.zip"])))  # not opened as an archive: collected as one file
    assert received.source.endswith("回报.zip")
