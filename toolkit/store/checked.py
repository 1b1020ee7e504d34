"""Each unit's current return, checked: the check kept in the ledger when still valid, else made again.

Merge, status, feedback and validate all start from here, so they agree on what each unit returned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from toolkit import __version__
from toolkit.excel import intake
from toolkit.model import findings
from toolkit.model.checks import CheckedReturn, check_parsed
from toolkit.model.findings import Finding
from toolkit.model.parallel import no_progress
from toolkit.store.ledger import Ledger, Receipt
from toolkit.store.manifest import read_manifest
from toolkit.store.workspace import Workspace

CHECK_FORMAT = "2"  # bump when CheckedReturn.to_json changes: checks kept in another form are made again


@dataclass
class ValidationResult:
    returns: dict[str, CheckedReturn]
    not_returned: list[str]
    changes: list[Finding] = field(default_factory=list)  # the target list against what was issued

    @property
    def findings(self) -> list[Finding]:
        return [*self.changes, *(f for r in self.returns.values() for f in r.findings)]


def checked_returns(ws: Workspace, tick: Callable[[], None] = no_progress,
                    manifest: dict | None = None) -> ValidationResult:
    """The current return of every unit that has one, checked; a return checked before is not read again."""
    issued_units: dict[str, dict] = (manifest or read_manifest(ws)).get("units", {})
    order = {unit: i for i, unit in enumerate(issued_units)}
    returns = {}
    keys = CheckKeys(ws)
    with Ledger(ws.state / "ledger.sqlite") as ledger, ledger.batch():
        current = ledger.current_returns()
        for unit, receipt in sorted(current.items(), key=lambda kv: order.get(kv[0], len(order))):
            issued = issued_units.get(unit, {})
            key = keys.key(receipt, issued)
            kept = ledger.cached_check(receipt.sha256, key)
            if kept is not None:
                returns[unit] = CheckedReturn.from_json(kept)
            elif (damage := archive_damage(ws, receipt)) is not None:  # said, not kept: a restored copy is read again
                returns[unit] = CheckedReturn(unit, receipt.file_name, receipt.received_at, [damage])
            else:
                returns[unit] = check_receipt(ws, receipt, issued)
                ledger.keep_check(receipt.sha256, key, returns[unit].to_json())
            tick()
    not_returned = [u for u in issued_units if u not in current]
    return ValidationResult(returns, not_returned)


class CheckKeys:
    """What a return's check depends on besides its bytes: the layout, the issue, the limits, the messages.

    The part shared by every return of a role is worked out once per command, not once per return.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.shared: dict[str, str] = {}

    def key(self, receipt: Receipt, issued: dict) -> str:
        role = issued.get("role", "lead")
        if role not in self.shared:
            self.shared[role] = "\x1f".join([CHECK_FORMAT, __version__, repr(self.ws.spec_for(role)),
                                             repr(self.ws.limits), repr(sorted(findings.catalogue().items()))])
        # The token signs the unit, its items and a hash of their prefilled texts: what was issued.
        issue = issued.get("token") or json.dumps(issued, ensure_ascii=False, sort_keys=True)
        parts = [self.shared[role], issue, receipt.source, receipt.unit, receipt.received_at]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def archive_damage(ws: Workspace, receipt: Receipt) -> Finding | None:
    """Why a return's archived copy cannot be read again (missing, or not the size received), or None."""
    path = ws.root / receipt.archive
    if path.is_file() and path.stat().st_size == receipt.size:
        return None
    return findings.make("archive-damaged", unit=receipt.unit, file=receipt.file_name, path=receipt.archive,
                         hash=receipt.sha256[:12])


def check_receipt(ws: Workspace, receipt: Receipt, issued: dict) -> CheckedReturn:
    """A received file's check, read again from its archived copy."""
    spec = ws.spec_for(issued.get("role", "lead"))
    parsed = intake.parse((ws.root / receipt.archive).read_bytes(), spec, receipt.source, ws.limits)
    return check_parsed(spec, parsed, receipt.unit, issued, receipt.source, receipt.received_at)
