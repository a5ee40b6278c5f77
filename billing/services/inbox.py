"""The scheduled inbox: read each file once it is complete, skip it unchanged, report it changed.

The ledger (`ingested_files`) keeps, per path, the size and SHA-256 of the content last ingested
and that run's counts. A file is remembered only after all its chunks are committed, and only if
it did not change while it was read: a crash or a file still being written means it is read
again next time, which duplicates make harmless.

Two rules use the file's modification time, where its filesystem has one (local files, S3, GCS,
Azure, SFTP; not `memory://`), and one interval, `BILLING_INBOX_SETTLE_SECONDS` (default 60):
- settled: the scheduled inbox takes a file only once it has not been modified for the interval
  (`settling` until then, taken by a later run), so that a producer still writing it is not
  read half-way, remembered, and reported "changed" forever after;
- unchanged without reading: a file of the recorded size, last modified at least the interval
  before its recorded ingest, has not been written since (a write would have moved its time
  past that instant), so it is skipped without being hashed. Any other file is hashed. The
  interval is also the clock difference tolerated between this machine and the storage; a
  tool that writes a file and sets an old modification time on it (`cp -p`, `rsync -t`, `mv`
  of an older file onto the same path) with the same size is not noticed: give new content a
  new name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from billing.sources.file_fingerprints import FileFingerprint, FileStat, fingerprint, stat
from billing.store.ingested_files import LedgerEntry, ledger_entry, remember_file

NEW, UNCHANGED, CHANGED, SETTLING = "new", "unchanged", "changed", "settling"


@dataclass(frozen=True, slots=True)
class InboxCheck:
    """A file as the inbox finds it: never ingested, ingested with this content, changed, or
    modified too recently to be taken (`settling`: not hashed, `found.sha256` empty)."""

    path: str
    state: str  # new | unchanged | changed | settling
    found: FileFingerprint
    previous: LedgerEntry | None
    hashed: bool = True  # False: unchanged by size and modification time, or settling
    quiet_for: timedelta | None = None  # settling: since it was last modified
    settle: timedelta | None = None

    def describe(self) -> str:
        before = self.previous
        if self.state == SETTLING:
            return (
                f"{self.path}: modified {_seconds(self.quiet_for)} ago, less than the settle interval "
                f"of {_seconds(self.settle)} (BILLING_INBOX_SETTLE_SECONDS): still being written? "
                "taken by a later run once it has not changed for that long"
            )
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


def _seconds(interval: timedelta | None) -> str:
    return f"{(interval or timedelta(0)).total_seconds():.0f} s"


def check_file(
    engine: Engine, path: str, now: datetime, settle: timedelta, wait_for_settle: bool = True
) -> InboxCheck:
    """The file against the ledger (see the module's rules). `wait_for_settle`: a file modified
    within `settle` of `now` is `settling` (the scheduled inbox); without, it is checked as any."""
    seen = stat(path)
    quiet = None if seen.modified_at is None else now - seen.modified_at
    if wait_for_settle and quiet is not None and quiet < settle:
        return InboxCheck(path, SETTLING, FileFingerprint(seen.size, ""), None, False, quiet, settle)
    with engine.connect() as connection:
        previous = ledger_entry(connection, path)
    if previous is not None and _untouched_since(previous, seen, settle):
        return InboxCheck(path, UNCHANGED, FileFingerprint(seen.size, previous.content_hash), previous, False)
    found = fingerprint(path)
    if previous is None:
        state = NEW
    elif (previous.size, previous.content_hash) == (found.size, found.sha256):
        state = UNCHANGED
    else:
        state = CHANGED
    return InboxCheck(path, state, found, previous)


MIN_TRUSTED_MARGIN = timedelta(seconds=2)  # whole-second (S3) and two-second (FAT) mtimes


def _untouched_since(previous: LedgerEntry, seen: FileStat, settle: timedelta) -> bool:
    """Same size, and last modified at least `settle` before the recorded ingest. A settle
    interval under MIN_TRUSTED_MARGIN is no margin for coarse modification times or clocks:
    the file is hashed then."""
    return (
        settle >= MIN_TRUSTED_MARGIN
        and seen.modified_at is not None
        and seen.size == previous.size
        and seen.modified_at <= previous.ingested_at - settle
    )


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
