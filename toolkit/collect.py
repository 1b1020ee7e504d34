"""`toolkit collect`: every file received is archived, identified and recorded in the ledger."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from toolkit.excel import intake
from toolkit.model import findings
from toolkit.model import stamp as stamps
from toolkit.model.checks import check_parsed
from toolkit.model.findings import Finding
from toolkit.model.parallel import AUTO, no_progress, worker_count
from toolkit.model.periods import parse_period
from toolkit.model.text import match_key
from toolkit.store.checked import CheckKeys
from toolkit.store.files import write_named_by_content
from toolkit.store.ledger import ACCEPTED, REFUSED, SKIPPED, Ledger, Receipt
from toolkit.store.manifest import read_manifest
from toolkit.store.workspace import Workspace

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".et"}  # never opened as an archive of returns
JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
MAX_MEMBER_BYTES = 100 * 1024 * 1024
MAX_ZIP_DEPTH = 3  # a .zip inside a .zip (units' zips in a zipped inbox) is opened too, this many levels deep


@dataclass(frozen=True)
class Incoming:
    """One file to collect: where it came from (a path, or `archive.zip!entry`) and its bytes."""

    source: str
    name: str
    data: bytes


@dataclass(frozen=True)
class CollectRecord:
    file: str
    unit: str
    verdict: str
    reason: str
    identified_by: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "unit": self.unit, "verdict": self.verdict, "reason": self.reason}


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """Entry names are UTF-8 when flagged, else usually GBK (Windows' Chinese zip tools)."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437", errors="replace")
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def list_files(paths: list[Path]) -> list[Path | CollectRecord]:
    """The files under the given paths (folders recursively), in a stable order; a record for a path not there."""
    listed: list[Path | CollectRecord] = []
    for path in paths:
        if not path.exists():
            listed.append(CollectRecord(str(path), "", SKIPPED, findings.make("path-missing").message))
            continue
        files = _files_under(path) if path.is_dir() else [path]
        listed += [file for file in files if not isinstance(file, Path) or file.name.lower() not in JUNK_NAMES]
    return listed


def _files_under(folder: Path) -> list[Path | CollectRecord]:
    """The files in `folder` and its subfolders (not through links), in the order sorted() gives their paths.

    Each folder's names sorted, a subfolder's files in its place; a folder that cannot be opened gets a record.
    """
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return [CollectRecord(str(folder), "", SKIPPED, findings.make("folder-unreadable", reason=reason).message)]
    found: list[Path | CollectRecord] = []
    for entry in sorted(entries, key=lambda e: os.path.normcase(e.name)):  # Windows sorts paths ignoring case
        if entry.is_dir() and not entry.is_symlink():
            found += _files_under(folder / entry.name)
        elif entry.is_file():
            found.append(folder / entry.name)
    return found


def gather(listed: list[Path | CollectRecord]) -> Iterator[Incoming | CollectRecord]:
    """Each listed file's bytes (.zip archives opened), in order."""
    for file in listed:
        if isinstance(file, CollectRecord):
            yield file
            continue
        try:
            data = file.read_bytes()
        except OSError as exc:
            yield CollectRecord(str(file), "", SKIPPED, findings.make("file-locked", reason=exc.strerror or exc).message)
            continue
        if file.suffix.lower() not in SPREADSHEET_SUFFIXES and _is_plain_zip(data):
            yield from _zip_members(file, data)
        else:
            yield Incoming(str(file), file.name, data)


def _is_plain_zip(data: bytes) -> bool:
    return intake.sniff(data) == ("other", "zip 压缩包")


def _zip_members(file: Path | str, data: bytes, depth: int = 1) -> Iterator[Incoming | CollectRecord]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except intake.ZIP_ERRORS:
        yield Incoming(str(file), str(file).replace("\\", "/").rsplit("/", 1)[-1], data)
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = zip_member_name(info)
            source = f"{file}!{name}"
            if info.file_size > MAX_MEMBER_BYTES:
                yield CollectRecord(source, "", SKIPPED,
                                    findings.make("zip-member-too-large", size_mb=info.file_size // 1048576).message)
                continue
            try:
                member = archive.read(info)
            except intake.ZIP_ERRORS as exc:
                yield CollectRecord(source, "", SKIPPED, findings.make("zip-member-unreadable", reason=exc).message)
                continue
            if depth < MAX_ZIP_DEPTH and _is_plain_zip(member):
                yield from _zip_members(source, member, depth + 1)
                continue
            yield Incoming(source, name.replace("\\", "/").rsplit("/", 1)[-1], member)


def archive_name(sha256: str, fmt: str) -> str:
    """A file's archived copy, relative to the workspace: named by its hash, one folder for all."""
    ext = fmt if fmt in ("xlsx", "xlsm", "xlsb", "xls", "ods") else "bin"
    return f"archive/{sha256}.{ext}"


def identify(ws: Workspace, parsed: intake.Parsed, name: str, manifest: dict) -> tuple[str, str, Finding | None]:
    """(unit, how it was identified, why it is refused) from the stamp, else from the items and file name."""
    issued: dict[str, dict] = manifest.get("units", {})
    values = parsed.stamp
    if values:
        if values.get("period") != ws.period.code:
            return values.get("unit", ""), "stamp", findings.make(
                "stamp-other-period", found=_period_words(values.get("period", "")), expected=ws.period.long)
        if values.get("campaign") != ws.campaign_id:
            return "", "stamp", findings.make("stamp-other-campaign", found=values.get("campaign", "?"),
                                              expected=ws.campaign_id)
        if not stamps.verify(ws.secret(), values):
            return "", "stamp", findings.make("stamp-forged")
        unit = values.get("unit", "")
        if unit not in issued:
            return unit, "stamp", findings.make("stamp-unknown-unit", found=unit)
        return unit, "stamp", None
    items = {row.seq for row in parsed.table.rows} if parsed.table else set()
    candidates = [u for u, entry in issued.items() if items & set(entry.get("items", []))]
    if len(candidates) > 1:
        by_name = [u for u in candidates if match_key(u) in match_key(name)]
        candidates = by_name or sorted(candidates, key=lambda u: -len(items & set(issued[u]["items"])))[:1]
    if not candidates:
        candidates = [u for u in issued if match_key(u) in match_key(name)]
    if len(candidates) == 1:
        return candidates[0], "content", None
    return "", "content", findings.make("identify-failed", items="、".join(sorted(items, key=int)) or "无")


def count_files(listed: list[Path | CollectRecord]) -> int:
    """How many files collect will look at, a .zip counting its members (one level down, from its directory):
    the length of the progress bar, and what decides on worker processes."""
    return sum(_members(f) if f.suffix.lower() == ".zip" else 1 for f in listed if isinstance(f, Path))


def _members(file: Path) -> int:
    try:
        with zipfile.ZipFile(file) as archive:
            return sum(not info.is_dir() for info in archive.infolist()) or 1
    except (zipfile.BadZipFile, OSError):
        return 1


@dataclass(frozen=True)
class Verdict:
    """What a file's bytes say: decided without the ledger, so it can run in another process.

    An accepted return is checked right away (`checked`, CheckedReturn.to_json), so validate need not read it again.
    """

    verdict: str
    reason: str
    unit: str = ""
    identified_by: str = ""
    checked: str = ""
    format: str = ""  # intake.sniff's: the archived copy's extension


def examine(ws: Workspace, manifest: dict, incoming: Incoming, received_at: str = "") -> Verdict:
    """Read, identify, judge and check one file (the slow part of collect)."""
    parsed = intake.parse(incoming.data, ws.spec, incoming.source, ws.limits)
    return replace(_judge(ws, manifest, incoming, received_at, parsed), format=parsed.format)


def _judge(ws: Workspace, manifest: dict, incoming: Incoming, received_at: str, parsed: intake.Parsed) -> Verdict:
    if parsed.problem is not None and parsed.stamp is None:
        verdict = SKIPPED if parsed.problem.code == "file-not-spreadsheet" else REFUSED
        return Verdict(verdict, parsed.problem.message)
    unit, how, refusal = identify(ws, parsed, incoming.name, manifest)
    if refusal is not None:
        return Verdict(REFUSED, refusal.message, unit, how)
    if parsed.problem is not None:
        return Verdict(REFUSED, parsed.problem.message, unit, how)
    notes = [] if how == "stamp" else [findings.make("identified-by-content").message]
    if parsed.format == "xlsm":
        notes.append(findings.make("file-macro").message)
    if parsed.fallback:
        notes.append(findings.make("file-fallback-reader", reason=parsed.fallback).message)
    issued = manifest.get("units", {}).get(unit, {})
    spec = ws.spec_for(issued.get("role", "lead"))
    if spec is not ws.spec:  # a co-organiser's return has its own layout: read it as such
        parsed = intake.parse(incoming.data, spec, incoming.source, ws.limits, (parsed.format, parsed.kind))
    checked = check_parsed(spec, parsed, unit, issued, incoming.source, received_at)
    return Verdict(ACCEPTED, "；".join(notes), unit, how, checked.to_json())


def _period_words(code: str) -> str:
    try:
        return parse_period(code).long
    except ValueError:
        return code or "其他期间"


FILES_PER_WORKER = 150  # automatic --jobs: a worker pays for itself from about this many files
CHUNK = 16  # files sent to a worker at a time


def collect(ws: Workspace, paths: list[Path], as_of: dt.datetime | None = None,
            tick: Callable[[], None] = no_progress, jobs: int = AUTO,
            listed: list[Path | CollectRecord] | None = None) -> list[CollectRecord]:
    """Collect every file under `paths`; one record per file, in input order, whatever happens to the others.

    Files seen before and lock files are recorded at once; the new ones are examined (in `jobs` processes
    when more than one), then each is archived before its ledger row is committed, so a collect killed at any
    point loses no file and counts nothing twice. `listed`: list_files(paths), when the caller has it already.
    """
    received_at = (as_of or dt.datetime.now()).isoformat(timespec="seconds")
    records: dict[int, CollectRecord] = {}
    new: list[tuple[int, Incoming, Receipt]] = []
    with Ledger(ws.state / "ledger.sqlite") as ledger:
        examining: dict[str, str] = {}  # sha256 -> name of a file of this run to be examined
        for index, incoming in enumerate(gather(list_files(paths) if listed is None else listed)):
            if isinstance(incoming, CollectRecord):
                records[index] = incoming
                tick()
                continue
            sha = hashlib.sha256(incoming.data).hexdigest()
            earlier = ledger.find_content(sha)
            receipt = _receipt(ws, incoming, sha, received_at, earlier)
            known = _known_verdict(receipt, incoming, earlier, examining)
            if known is None:
                examining[sha] = incoming.name
                new.append((index, incoming, receipt))
            else:
                records[index] = _record(ledger, _archived(ws, receipt, incoming, known), incoming, known)
                tick()
        if new:
            manifest, keys = read_manifest(ws), CheckKeys(ws)
            verdicts = _examine_all(ws, manifest, [incoming for _, incoming, _ in new], received_at, jobs)
            for (index, incoming, receipt), verdict in zip(new, verdicts, strict=True):
                with ledger.batch():  # the row and its check committed together, the file archived before
                    receipt = _archived(ws, receipt, incoming, verdict)
                    records[index] = _record(ledger, receipt, incoming, verdict)
                    if verdict.checked:
                        issued = manifest.get("units", {}).get(verdict.unit, {})
                        ledger.keep_check(receipt.sha256, keys.key(receipt, issued), verdict.checked)
                tick()
    return [records[i] for i in sorted(records)]


def _examine_all(ws: Workspace, manifest: dict, files: list[Incoming], received_at: str,
                 jobs: int) -> Iterator[Verdict]:
    """Each file's verdict, in order: in this process, or in worker processes when there are enough files."""
    examine_one = functools.partial(examine, ws, manifest, received_at=received_at)
    workers = worker_count(jobs, len(files), FILES_PER_WORKER)
    if workers <= 1:
        yield from map(examine_one, files)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(examine_one, files, chunksize=CHUNK)


def _receipt(ws: Workspace, incoming: Incoming, sha: str, received_at: str, earlier: Receipt | None) -> Receipt:
    """The file's ledger row still to be judged; bytes received before keep their archived copy."""
    fmt, archived = "", ""
    if earlier is not None and (ws.root / earlier.archive).is_file():
        fmt, archived = earlier.format, earlier.archive
    return Receipt(0, sha, received_at, incoming.source, incoming.name, len(incoming.data), fmt, "", SKIPPED, "",
                   "", archived)


def _archived(ws: Workspace, receipt: Receipt, incoming: Incoming, verdict: Verdict) -> Receipt:
    """The file's ledger row as judged, its bytes archived under their hash (written once, never changed).

    Called right before the row is written: a file is always archived before it is recorded.
    """
    fmt, archive = receipt.format, receipt.archive
    if not archive:
        fmt = verdict.format or intake.sniff(incoming.data)[0]
        archive = archive_name(receipt.sha256, fmt)
        write_named_by_content(ws.root / archive, incoming.data)
    return Receipt(id=0, sha256=receipt.sha256, received_at=receipt.received_at, source=receipt.source,
                   file_name=receipt.file_name, size=receipt.size, format=fmt, unit=verdict.unit,
                   verdict=verdict.verdict, reason=verdict.reason, identified_by=verdict.identified_by, archive=archive)


def _known_verdict(receipt: Receipt, incoming: Incoming, earlier: Receipt | None,
                   examining: dict[str, str]) -> Verdict | None:
    """Lock files and bytes already received need no reading."""
    if incoming.name.startswith("~$"):
        return Verdict(SKIPPED, findings.make("file-lock").message)
    if earlier is not None:
        when = f"{earlier.received_at.replace('T', ' ')} 收到"
        reason = findings.make("file-duplicate", first=earlier.file_name, when=when).message
        return Verdict(SKIPPED, reason, earlier.unit)
    if receipt.sha256 in examining:
        reason = findings.make("file-duplicate", first=examining[receipt.sha256], when="本次同时收到").message
        return Verdict(SKIPPED, reason)
    return None


def _record(ledger: Ledger, receipt: Receipt, incoming: Incoming, verdict: Verdict) -> CollectRecord:
    """One ledger row per file received; the same file seen again from the same place adds none."""
    if not (verdict.verdict == SKIPPED and ledger.seen(receipt.sha256, receipt.source)):
        ledger.record(receipt)
    return CollectRecord(incoming.source, verdict.unit, verdict.verdict, verdict.reason, verdict.identified_by)
