"""`toolkit collect`: every file received is archived, identified and recorded in the ledger."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import io
import itertools
import json
import math
import os
import signal
import zipfile
from collections.abc import Callable, Iterable, Iterator
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
from toolkit.store.ledger import ACCEPTED, JOURNAL, REFUSED, SKIPPED, Ledger, Receipt
from toolkit.store.manifest import read_manifest
from toolkit.store.workspace import Workspace

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".et"}  # never opened as an archive of returns
JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
MAX_MEMBER_BYTES = 100 * 1024 * 1024
HELD = "held"  # a collect record's verdict: accepted and archived, not the unit's current return
MAX_ZIP_DEPTH = 3  # a .zip inside a .zip (units' zips in a zipped inbox) is opened too, this many levels deep


@dataclass(frozen=True)
class Incoming:
    """One file to collect: where it came from (a path, or `archive.zip!entry`) and its bytes."""

    source: str
    name: str
    data: bytes
    received_at: str = ""  # when it came, if not now (a ledger rebuilt from the archive)


@dataclass(frozen=True)
class CollectRecord:
    file: str
    unit: str
    verdict: str  # accepted, refused, skipped; held: accepted but not the unit's current return
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
            code = "file-link-broken" if path.is_symlink() else "path-missing"
            listed.append(CollectRecord(str(path), "", SKIPPED, findings.make(code).message))
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
        if entry.is_dir(follow_symlinks=False):
            found += _files_under(folder / entry.name)
        elif not entry.is_symlink() or os.path.isfile(entry.path):  # a link to a file: its bytes are read
            found.append(folder / entry.name)
        else:  # a link to a folder (not followed: it may loop), or to nothing (broken, or a loop)
            code = "file-link-folder" if os.path.isdir(entry.path) else "file-link-broken"
            found.append(CollectRecord(str(folder / entry.name), "", SKIPPED, findings.make(code).message))
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
    covered = [u for u, entry in issued.items()
               if entry.get("role", "lead") == "lead" and entry.get("items") and set(entry["items"]) <= items]
    if len(covered) > 1:  # the summary, the target list or a merged file: no one unit's return
        return "", "content", findings.make("file-several-units", count=len(covered),
                                            units="、".join(covered[:3]) + ("等" if len(covered) > 3 else ""))
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
    filled: int = -1  # answer cells filled in, for an accepted return


def examine(ws: Workspace, manifest: dict, incoming: Incoming, received_at: str = "") -> Verdict:
    """Read, identify, judge and check one file (the slow part of collect)."""
    received_at = incoming.received_at or received_at
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
    filled = sum(bool(text.strip()) for answers in checked.answers.values() for text in answers.values())
    return Verdict(ACCEPTED, "；".join(notes), unit, how, checked.to_json(), filled=filled)


def _period_words(code: str) -> str:
    try:
        return parse_period(code).long
    except ValueError:
        return code or "其他期间"


FILES_PER_WORKER = 150  # automatic --jobs: a worker pays for itself from about this many files
BATCHES_PER_WORKER = 2
COMMIT_EVERY = 16  # files recorded per ledger transaction: a kill loses at most these rows, never their files


def collect(ws: Workspace, paths: list[Path], as_of: dt.datetime | None = None,
            tick: Callable[[], None] = no_progress, jobs: int = AUTO,
            listed: list[Path | CollectRecord] | None = None) -> list[CollectRecord]:
    """Collect every file under `paths`; one record per file, in input order, whatever happens to the others.

    Files seen before and lock files are recorded at once; the new ones are examined (in `jobs` processes
    when more than one), then each is archived before its ledger row is committed, so a collect killed at any
    point loses no file and counts nothing twice. `listed`: list_files(paths), when the caller has it already.
    """
    ws.secret()  # an empty or replaced secret is refused before anything is recorded
    received_at = (as_of or dt.datetime.now()).isoformat(timespec="seconds")
    return take_in(ws, gather(list_files(paths) if listed is None else listed), received_at, tick, jobs)


def take_in(ws: Workspace, stream: Iterable[Incoming | CollectRecord], received_at: str,
            tick: Callable[[], None] = no_progress, jobs: int = AUTO, *, rebuilding: bool = False) -> list[CollectRecord]:
    """collect's work on the files of `stream`, each received at `received_at` unless it says otherwise."""
    records: dict[int, CollectRecord] = {}
    new: list[tuple[int, Incoming, Receipt]] = []
    with Ledger(ws.state / "ledger.sqlite", rebuilding=rebuilding) as ledger:
        examining: dict[str, str] = {}  # sha256 -> name of a file of this run to be examined
        current_ids = {r.id for r in ledger.current_returns().values()}
        for index, incoming in enumerate(stream):
            if isinstance(incoming, CollectRecord):
                records[index] = incoming
                tick()
                continue
            sha = hashlib.sha256(incoming.data).hexdigest()
            earlier = ledger.find_content(sha)
            receipt = _receipt(ws, incoming, sha, incoming.received_at or received_at, earlier)
            known = _known_verdict(receipt, incoming, earlier, examining, current_ids)
            if known is None:
                examining[sha] = incoming.name
                new.append((index, incoming, receipt))
            else:
                records[index] = _record(ledger, _archived(ws, receipt, incoming, known), incoming, known)
                tick()
        if new:
            manifest, keys = read_manifest(ws), CheckKeys(ws)
            current = ledger.current_returns()
            # closed on Ctrl-C too, so that the worker processes end with this command
            with contextlib.closing(_examine_all(ws, manifest, [incoming for _, incoming, _ in new], received_at,
                                                 jobs)) as verdicts:
                examined = zip(new, verdicts, strict=True)
                while group := list(itertools.islice(examined, COMMIT_EVERY)):
                    with ledger.batch():  # rows and checks committed together, each file archived before its row
                        for (index, incoming, receipt), verdict in group:
                            held = _held_back(verdict, receipt.received_at, current.get(verdict.unit))
                            receipt = replace(_archived(ws, receipt, incoming, verdict), held=held,
                                              filled=verdict.filled)
                            if verdict.verdict == ACCEPTED and not held:
                                current[verdict.unit] = receipt
                            records[index] = _record(ledger, receipt, incoming, verdict)
                            if verdict.checked:
                                issued = manifest.get("units", {}).get(verdict.unit, {})
                                ledger.keep_check(receipt.sha256, keys.key(receipt, issued), verdict.checked)
                    for _ in group:
                        tick()
    return [records[i] for i in sorted(records)]


def _examine_all(ws: Workspace, manifest: dict, files: list[Incoming], received_at: str,
                 jobs: int) -> Iterator[Verdict]:
    """Each file's verdict, in order: in this process, or in worker processes when there are enough files."""
    workers = worker_count(jobs, len(files), FILES_PER_WORKER)
    if workers <= 1:
        yield from (examine(ws, manifest, incoming, received_at) for incoming in files)
        return
    # A few large batches: each carries the workspace and the manifest (megabytes of prefilled texts at 300
    # units × 20 items), so they are sent BATCHES_PER_WORKER times a worker, not with every few files.
    size = math.ceil(len(files) / (workers * BATCHES_PER_WORKER))
    batches = [files[start:start + size] for start in range(0, len(files), size)]
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts)
    try:
        for verdicts in pool.map(functools.partial(_examine_batch, ws, manifest, received_at), batches):
            yield from verdicts
    finally:  # on Ctrl-C too: the files not started are dropped, the workers end with their current files
        pool.shutdown(wait=True, cancel_futures=True)


def _examine_batch(ws: Workspace, manifest: dict, received_at: str, files: list[Incoming]) -> list[Verdict]:
    return [examine(ws, manifest, incoming, received_at) for incoming in files]


def _ignore_interrupts() -> None:
    """A worker leaves Ctrl-C to the main process, which stops the collect (no traceback from each worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _receipt(ws: Workspace, incoming: Incoming, sha: str, received_at: str, earlier: Receipt | None) -> Receipt:
    """The file's ledger row still to be judged; bytes received before keep their archived copy."""
    fmt, archived = "", ""
    copy = ws.root / earlier.archive if earlier is not None else None
    if earlier is not None and copy is not None and copy.is_file() and copy.stat().st_size == len(incoming.data):
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


def _held_back(verdict: Verdict, received_at: str, current: Receipt | None) -> str:
    """Why an accepted return must not replace the unit's current one without the coordinator's word, or "".

    A return dated before the current one (collect --as-of) replaces nothing, so it is not compared."""
    if verdict.verdict != ACCEPTED:
        return ""
    if verdict.filled == 0:
        return findings.make("return-blank").message
    if current is not None and received_at >= current.received_at and current.filled > verdict.filled >= 0:
        return findings.make("return-fewer-filled", filled=verdict.filled, current=current.filled,
                             first=current.file_name).message
    return ""


MAIL_SUFFIXES = {".eml": "EML", ".msg": "Outlook MSG"}
ARCHIVE_MAGIC = {b"Rar!\x1a\x07": "RAR", b"7z\xbc\xaf\x27\x1c": "7z"}


def _not_a_return(incoming: Incoming) -> Finding | None:
    """What a file is, from its name and first bytes, when it is plainly no return: a lock file, a macOS
    resource file, an archive other than .zip, a saved e-mail."""
    if incoming.name.startswith("~$"):
        return findings.make("file-lock")
    if incoming.name.startswith("._") or "__MACOSX/" in incoming.source.replace("\\", "/"):
        return findings.make("file-macos-resource")
    kind = next((k for magic, k in ARCHIVE_MAGIC.items() if incoming.data.startswith(magic)), None)
    if kind is not None:
        return findings.make("file-other-archive", kind=kind)
    suffix = os.path.splitext(incoming.name)[1].lower()
    if suffix in MAIL_SUFFIXES:
        return findings.make("file-mail", kind=MAIL_SUFFIXES[suffix])
    return None


def _known_verdict(receipt: Receipt, incoming: Incoming, earlier: Receipt | None,
                   examining: dict[str, str], current_ids: set[int]) -> Verdict | None:
    """Files plainly no return and bytes already received need no reading."""
    if (plain := _not_a_return(incoming)) is not None:
        return Verdict(SKIPPED, plain.message)
    if earlier is not None:
        when = f"{earlier.received_at.replace('T', ' ')} 收到"
        reason = findings.make("file-duplicate", first=earlier.file_name, when=when).message
        if earlier.verdict == ACCEPTED and earlier.id not in current_ids:  # a version the coordinator may want back
            reason = findings.make("file-duplicate-not-current", first=earlier.file_name, when=when,
                                   unit=earlier.unit, hash=earlier.sha256[:12]).message
        return Verdict(SKIPPED, reason, earlier.unit)
    if receipt.sha256 in examining:
        reason = findings.make("file-duplicate", first=examining[receipt.sha256], when="本次同时收到").message
        return Verdict(SKIPPED, reason)
    return None


def _record(ledger: Ledger, receipt: Receipt, incoming: Incoming, verdict: Verdict) -> CollectRecord:
    """One ledger row per file received; the same file seen again from the same place adds none."""
    if not (verdict.verdict == SKIPPED and ledger.seen(receipt.sha256, receipt.source)):
        ledger.record(receipt)
    if receipt.held:
        return CollectRecord(incoming.source, verdict.unit, HELD, "；".join(filter(None, [receipt.held, verdict.reason])),
                             verdict.identified_by)
    return CollectRecord(incoming.source, verdict.unit, verdict.verdict, verdict.reason, verdict.identified_by)


@dataclass
class Rebuilt:
    records: list[CollectRecord]
    moved: list[Path]  # the damaged ledger's files, kept beside it
    from_journal: int  # files whose receipt time and source came from the journal
    from_archive: list[str]  # archived files the journal did not know: received at their file time
    lost: list[str]  # files the journal names whose archived copy is gone


def rebuild_ledger(ws: Workspace, tick: Callable[[], None] = no_progress, jobs: int = AUTO) -> Rebuilt:
    """A new ledger from the archive, in the order and with the times and sources the journal recorded, the
    coordinator's choices (toolkit accept) made again; the old ledger and journal are moved aside, not deleted."""
    ws.secret()
    when = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    while any(ws.state.glob(f"*.before-rebuild-{when}")):  # a rebuild within the same second: never overwritten
        when += "-1"
    ledger_path = ws.state / "ledger.sqlite"
    moved = []
    for path in (ledger_path, ledger_path.with_name(f"{ledger_path.name}-wal"),
                 ledger_path.with_name(f"{ledger_path.name}-shm"), ledger_path.with_name(JOURNAL)):
        if path.exists():
            moved.append(path.with_name(f"{path.name}.before-rebuild-{when}"))
            os.replace(path, moved[-1])
    journal = next((p for p in moved if p.name.startswith(JOURNAL)), None)
    archive = ws.root / "archive"
    files = {p.name.split(".")[0]: p for p in archive.iterdir() if p.is_file()} if archive.is_dir() else {}
    segments: list[tuple[list[Incoming], dict | None]] = [([], None)]
    known: set[str] = set()
    lost = []
    for entry in _journal_entries(journal):
        if "chosen" in entry:
            segments.append(([], entry))
        elif (path := files.get(entry.get("sha256", ""))) is not None:
            known.add(path.name.split(".")[0])
            segments[-1][0].append(Incoming(entry["source"], entry["file_name"], path.read_bytes(), entry["received_at"]))
        else:
            lost.append(entry.get("file_name", "?"))
    unknown = sorted((p for sha, p in files.items() if sha not in known), key=lambda p: p.stat().st_mtime)
    segments[-1][0].extend(Incoming(str(p), p.name, p.read_bytes(), _file_time(p)) for p in unknown)
    records: list[CollectRecord] = []
    for incoming, choice in segments:
        if choice is not None:
            with Ledger(ledger_path, rebuilding=True) as ledger:
                found = ledger.find_accepted(choice["chosen"])
                if found:
                    ledger.choose(found[0], choice.get("chosen_at", ""))
        if incoming:
            records += take_in(ws, incoming, "", tick, jobs, rebuilding=True)
    return Rebuilt(records, moved, sum(len(s[0]) for s in segments) - len(unknown), [p.name for p in unknown],
                   sorted(set(lost)))


def _journal_entries(path: Path | None) -> Iterator[dict]:
    """The journal's lines; a line cut short (the last one, when a collect was killed) is passed over."""
    if path is None:
        return
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry


def _file_time(path: Path) -> str:
    return dt.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds")
