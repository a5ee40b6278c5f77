"""The scheduled inbox: read each file once, skip it unchanged, report it changed.

The ledger (`ingested_files`) keeps, per path, the size and SHA-256 of the content last ingested
and that run's counts. A file is remembered only after all its chunks are committed, and only if
it did not change while it was read: a crash or a file still being written means it is read
again next time, which duplicates make harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from billing.sources.file_fingerprints import FileFingerprint, fingerprint
from billing.store.ingested_files import LedgerEntry, ledger_entry, remember_file

NEW, UNCHANGED, CHANGED = "new", "unchanged", "changed"


@dataclass(frozen=True, slots=True)
class InboxCheck:
    """A file as the inbox finds it: never ingested, ingested with this content, or changed."""

    path: str
    state: str  # new | unchanged | changed
    found: FileFingerprint
    previous: LedgerEntry | None

    def describe(self) -> str:
        before = self.previous
        if before is None:
            return f"{self.path}: not ingested yet"
        when = before.ingested_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        if self.state == UNCHANGED:
            return f"{self.path}: unchanged since it was ingested at {when}"
        return (
            f"{self.path}: changed since it was ingested at {when} "
            f"({before.size} bytes, sha256 {before.content_hash[:12]}; now {self.found.size} bytes, "
            f"sha256 {self.found.sha256[:12]}): not read again; `billing ingest {self.path}` reads it"
        )


def check_file(engine: Engine, path: str) -> InboxCheck:
    found = fingerprint(path)
    with engine.connect() as connection:
        previous = ledger_entry(connection, path)
    if previous is None:
        state = NEW
    elif (previous.size, previous.content_hash) == (found.size, found.sha256):
        state = UNCHANGED
    else:
        state = CHANGED
    return InboxCheck(path, state, found, previous)


def remember_ingested(engine: Engine, check: InboxCheck, counts: dict[str, Any], now: datetime) -> str | None:
    """Record the file as ingested with the content it had when checked; if it changed while
    it was read, record nothing and say so (it is read again next time)."""
    if fingerprint(check.path) != check.found:
        return f"{check.path}: changed while it was read: not recorded as ingested, read again next time"
    entry = LedgerEntry(
        check.path,
        check.found.size,
        check.found.sha256,
        now,
        counts["received"],
        counts["accepted"],
        counts["duplicates"],
        counts["quarantined"],
    )
    with engine.begin() as connection:
        remember_file(connection, entry)
    return None
