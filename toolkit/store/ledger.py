"""The ledger: every file received, when, from where, its hash, its unit and verdict (SQLite in the workspace).

An accepted file is one version of its unit's return. It becomes the unit's current return unless it is
`held` (a blank template, fewer filled cells than the current one: the reason is kept) or the coordinator
chose another version since (`choices`, by `toolkit accept`).

Each file is archived under its content hash *before* its row is committed, and rows are committed
in small groups, so a collect killed at any point loses no file and counts nothing twice: the rows of
the group in progress are simply written again by the next collect.

Every row and every choice is also appended to a journal (`receipts.jsonl`, one JSON object a line, beside
the ledger): when the ledger is lost or damaged, `toolkit rebuild` makes it again from the archive, with
each file's original receipt time and source from the journal.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from toolkit.store.workspace import WorkspaceError

JOURNAL = "receipts.jsonl"  # beside the ledger
REBUILD = "请运行 toolkit rebuild：它把台账移到一旁，按存档和收件记录重建（保留原收到时间）。"

SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL,
    source TEXT NOT NULL,
    file_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    format TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    verdict TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    identified_by TEXT NOT NULL DEFAULT '',
    archive TEXT NOT NULL,
    held TEXT NOT NULL DEFAULT '',
    filled INTEGER NOT NULL DEFAULT -1
);
CREATE UNIQUE INDEX IF NOT EXISTS receipts_one_return_per_content ON receipts(sha256) WHERE verdict != 'skipped';
CREATE INDEX IF NOT EXISTS receipts_by_unit ON receipts(unit, received_at);
CREATE INDEX IF NOT EXISTS receipts_by_content ON receipts(sha256, source);  -- `seen`: a re-collect asks for every file
CREATE TABLE IF NOT EXISTS choices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit TEXT NOT NULL,
    receipt INTEGER NOT NULL,
    after INTEGER NOT NULL,
    chosen_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checks (
    sha256 TEXT NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (sha256, key)
);
"""

ACCEPTED, REFUSED, SKIPPED = "accepted", "refused", "skipped"


@dataclass(frozen=True)
class Receipt:
    id: int
    sha256: str
    received_at: str
    source: str
    file_name: str
    size: int
    format: str
    unit: str
    verdict: str
    reason: str
    identified_by: str
    archive: str
    held: str = ""  # why this accepted version did not become the unit's current return
    filled: int = -1  # answer cells filled in (-1: not counted, a ledger of toolkit 0.x)


_FIELDS = [name for name in Receipt.__dataclass_fields__ if name != "id"]
_INSERT = f"INSERT INTO receipts ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})"
_CHECK = "SELECT payload FROM checks WHERE sha256 = ? AND key = ?"


class Ledger:
    def __init__(self, path: Path, *, rebuilding: bool = False) -> None:
        """The ledger at `path` (in the state folder). A ledger missing while the workspace's archive holds
        files, or one that is not a whole SQLite file, is an error saying how to rebuild it."""
        archive = path.parent.parent / "archive"
        if not rebuilding and not path.is_file() and archive.is_dir() and any(archive.iterdir()):
            raise WorkspaceError(f"台账 {path} 不见了，而存档 {archive} 中有收到的文件：不会从空台账重新开始。{REBUILD}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.journal = path.with_name(JOURNAL)
        self._pending: list[str] = []  # journal lines of the transaction in progress
        try:
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            # NORMAL, with WAL: a commit survives the process being killed at any point (what collect's
            # guarantee needs); only a power cut may undo the last commits, never corrupt the file.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            self._upgrade()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise WorkspaceError(f"台账 {path} 已损坏（{exc}）。{REBUILD}") from exc

    def _upgrade(self) -> None:
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(receipts)")}
        for name, kind in (("held", "TEXT NOT NULL DEFAULT ''"), ("filled", "INTEGER NOT NULL DEFAULT -1")):
            if name not in columns:  # a ledger written by toolkit 0.x
                self.db.execute(f"ALTER TABLE receipts ADD COLUMN {name} {kind}")

    def close(self) -> None:
        self.db.close()

    def _journal(self, entry: dict[str, Any]) -> None:
        """A line for the journal, written when its transaction commits."""
        self._pending.append(json.dumps(entry, ensure_ascii=False) + "\n")
        if not self.db.in_transaction:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            with self.journal.open("a", encoding="utf-8") as out:
                out.writelines(self._pending)
            self._pending.clear()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find_content(self, sha256: str) -> Receipt | None:
        """The return (accepted or refused) that already holds these bytes."""
        row = self.db.execute("SELECT * FROM receipts WHERE sha256 = ? AND verdict != ? ORDER BY id LIMIT 1",
                              (sha256, SKIPPED)).fetchone()
        return Receipt(*row) if row else None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Rows written inside are committed together (or not at all)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            self._pending.clear()
            raise
        self.db.execute("COMMIT")
        self._flush()

    def record(self, receipt: Receipt) -> Receipt:
        """Insert one receipt, in its own transaction unless in a batch; returns it with its id."""
        values = [getattr(receipt, name) for name in _FIELDS]
        if self.db.in_transaction:
            new_id = self.db.execute(_INSERT, values).lastrowid or 0
        else:
            with self.batch():
                new_id = self.db.execute(_INSERT, values).lastrowid or 0
        entry = asdict(receipt)
        self._journal({key: entry[key] for key in ("sha256", "received_at", "source", "file_name", "archive")})
        return replace(receipt, id=new_id)

    def seen(self, sha256: str, source: str) -> bool:
        """Whether these bytes were already recorded from this very place."""
        return self.db.execute("SELECT 1 FROM receipts WHERE sha256 = ? AND source = ? LIMIT 1",
                               (sha256, source)).fetchone() is not None

    def cached_check(self, sha256: str, key: str) -> str | None:
        """A return's check (CheckedReturn.to_json), kept from an earlier run with the same spec, issue and toolkit."""
        row = self.db.execute(_CHECK, (sha256, key)).fetchone()
        return row[0] if row else None

    def keep_check(self, sha256: str, key: str, payload: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO checks (sha256, key, payload) VALUES (?, ?, ?)", (sha256, key, payload))

    def all(self) -> list[Receipt]:
        return [Receipt(*row) for row in self.db.execute("SELECT * FROM receipts ORDER BY id")]

    def current_returns(self) -> dict[str, Receipt]:
        """Each unit's current return: its latest accepted version not held back (by when it was collected, then
        by order of arrival), or the version the coordinator chose, unless a new version came after the choice."""
        choices = {unit: (receipt, after) for unit, receipt, after in
                   self.db.execute("SELECT unit, receipt, after FROM choices ORDER BY id")}
        current: dict[str, Receipt] = {}
        for receipt in self._accepted():
            chosen = choices.get(receipt.unit)
            if receipt.held or (chosen is not None and receipt.id <= chosen[1]):
                continue  # held back, or arrived before the coordinator's choice
            current[receipt.unit] = receipt
        for unit, (receipt_id, _after) in choices.items():
            if unit not in current and (chosen_receipt := self.receipt(receipt_id)) is not None:
                current[unit] = chosen_receipt
        return current

    def _accepted(self, unit: str | None = None) -> list[Receipt]:
        where, args = ("AND unit = ?", (ACCEPTED, unit)) if unit is not None else ("", (ACCEPTED,))
        return [Receipt(*row) for row in self.db.execute(
            f"SELECT * FROM receipts WHERE verdict = ? {where} ORDER BY received_at, id", args)]

    def versions(self, unit: str) -> list[Receipt]:
        """Every accepted version of a unit's return, the held ones too, in the order they came."""
        return self._accepted(unit)

    def receipt(self, receipt_id: int) -> Receipt | None:
        row = self.db.execute("SELECT * FROM receipts WHERE id = ?", (receipt_id,)).fetchone()
        return Receipt(*row) if row else None

    def find_accepted(self, sha_prefix: str) -> list[Receipt]:
        """Accepted versions whose content hash starts with `sha_prefix`."""
        return [Receipt(*row) for row in self.db.execute(
            "SELECT * FROM receipts WHERE verdict = ? AND sha256 LIKE ? ORDER BY id", (ACCEPTED, f"{sha_prefix}%"))]

    def choose(self, receipt: Receipt, chosen_at: str) -> None:
        """The coordinator's choice: `receipt` is its unit's current return until a newer version arrives."""
        last = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM receipts").fetchone()[0]
        with self.batch():
            self.db.execute("INSERT INTO choices (unit, receipt, after, chosen_at) VALUES (?, ?, ?, ?)",
                            (receipt.unit, receipt.id, last, chosen_at))
            self._journal({"chosen": receipt.sha256, "unit": receipt.unit, "chosen_at": chosen_at})
