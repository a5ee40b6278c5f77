"""The inbox ledger: a file is remembered with the content it had, never with content it gained
while it was read; fingerprints are streamed through fsspec. A file is taken once it has not
been modified for the settle interval, and an unchanged file (same size, modified well before
its ingest) is skipped without being hashed."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec
import sqlalchemy as sa

from billing.services import inbox
from billing.services.inbox import CHANGED, NEW, SETTLING, UNCHANGED, check_file, remember_ingested
from billing.sources import file_fingerprints
from billing.store.models import IngestedFile

NOW = datetime(2026, 3, 20, tzinfo=UTC)
COUNTS = {"received": 2, "accepted": 1, "duplicates": 1, "quarantined": 0}


def test_fingerprints_stream_in_blocks(monkeypatch):
    monkeypatch.setattr(file_fingerprints, "BLOCK_BYTES", 7)
    content = b"".join(b"line %d\n" % n for n in range(1000))
    with fsspec.open("memory://ledger/big.jsonl", "wb") as handle:
        handle.write(content)
    found = file_fingerprints.fingerprint("memory://ledger/big.jsonl")
    assert (found.size, found.sha256) == (len(content), hashlib.sha256(content).hexdigest())


def test_new_unchanged_changed_and_changed_while_read(engine, tmp_path):
    path = tmp_path / "usage.jsonl"
    path.write_text("one\n")
    check = check_file(engine, str(path), NOW, timedelta(0), wait_for_settle=False)
    assert check.state == NEW
    assert remember_ingested(engine, check, COUNTS, NOW) is None
    assert check_file(engine, str(path), NOW, timedelta(0), wait_for_settle=False).state == UNCHANGED

    path.write_text("one\ntwo\n")
    changed = check_file(engine, str(path), NOW, timedelta(0), wait_for_settle=False)
    assert changed.state == CHANGED
    assert "changed since it was ingested at 2026-03-20T00:00:00Z (4 bytes" in changed.describe()

    path.write_text("one\ntwo\nthree\n")  # written to while it was read: not remembered
    warning = remember_ingested(engine, changed, COUNTS, NOW)
    assert warning == f"{path}: changed while it was read: not recorded as ingested, read again next time"
    with engine.connect() as connection:
        (size,) = connection.execute(sa.select(IngestedFile.size)).one()
    assert size == 4  # still the first content


SETTLE = timedelta(seconds=60)


def _modified(path: Path, at: datetime) -> None:
    os.utime(path, (at.timestamp(), at.timestamp()))


class HashCount:
    """Counts the files the inbox hashes (the real fingerprint, counted)."""

    def __init__(self, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        self.paths: list[str] = []
        real = inbox.fingerprint

        def counted(path: str) -> file_fingerprints.FileFingerprint:
            self.paths.append(path)
            return real(path)

        monkeypatch.setattr(inbox, "fingerprint", counted)


def test_a_file_still_being_written_is_taken_once_it_has_settled(engine, tmp_path, monkeypatch):
    hashed = HashCount(monkeypatch)
    path = tmp_path / "usage.jsonl"
    path.write_text('{"half": ')  # the producer has written half of it
    _modified(path, NOW - timedelta(seconds=59))

    waiting = check_file(engine, str(path), NOW, SETTLE)

    assert (waiting.state, hashed.paths) == (SETTLING, [])  # not read, not hashed, not recorded
    assert waiting.describe() == (
        f"{path}: modified 59 s ago, less than the settle interval of 60 s "
        "(BILLING_INBOX_SETTLE_SECONDS): still being written? taken by a later run once it has "
        "not changed for that long"
    )
    path.write_text('{"half": 1}\n')  # finished
    _modified(path, NOW)
    assert check_file(engine, str(path), NOW + timedelta(seconds=30), SETTLE).state == SETTLING
    settled = check_file(engine, str(path), NOW + SETTLE, SETTLE)
    assert settled.state == NEW and settled.found.size == len('{"half": 1}\n')
    assert check_file(engine, str(path), NOW, SETTLE, wait_for_settle=False).state == NEW  # `billing ingest`


def test_an_unchanged_file_is_not_hashed_again(engine, tmp_path, monkeypatch):
    hashed = HashCount(monkeypatch)
    path = tmp_path / "usage.jsonl"
    path.write_text("one\n")
    _modified(path, NOW - timedelta(hours=1))
    check = check_file(engine, str(path), NOW, SETTLE)
    assert remember_ingested(engine, check, COUNTS, NOW) is None
    hashed.paths.clear()

    again = check_file(engine, str(path), NOW + timedelta(minutes=5), SETTLE)
    assert (again.state, again.hashed, hashed.paths) == (UNCHANGED, False, [])
    assert again.found == check.found

    _modified(path, NOW + timedelta(minutes=1))  # written since (the same bytes): hashed, unchanged
    touched = check_file(engine, str(path), NOW + timedelta(minutes=5), SETTLE)
    assert (touched.state, touched.hashed, hashed.paths) == (UNCHANGED, True, [str(path)])

    path.write_text("two\n")  # the same size, other bytes
    _modified(path, NOW + timedelta(minutes=2))
    assert check_file(engine, str(path), NOW + timedelta(minutes=5), SETTLE).state == CHANGED

    _modified(path, NOW - timedelta(seconds=30))  # stamped just before the ingest: within the
    assert check_file(engine, str(path), NOW + timedelta(minutes=5), SETTLE).state == CHANGED  # margin


def test_without_a_modification_time_every_file_is_taken_and_hashed(engine, monkeypatch):
    hashed = HashCount(monkeypatch)
    with fsspec.open("memory://settle/usage.jsonl", "wb") as handle:
        handle.write(b"one\n")
    url = "memory://settle/usage.jsonl"
    assert file_fingerprints.stat(url).modified_at is None
    check = check_file(engine, url, NOW, SETTLE)
    assert check.state == NEW
    remember_ingested(engine, check, COUNTS, NOW)
    hashed.paths.clear()
    assert check_file(engine, url, NOW, SETTLE).state == UNCHANGED and hashed.paths == [url]


def test_modification_times_as_filesystems_give_them():
    when = datetime(2026, 3, 20, 10, tzinfo=UTC)
    assert file_fingerprints.modified_at({"mtime": when.timestamp()}) == when
    assert file_fingerprints.modified_at({"LastModified": when}) == when
    assert file_fingerprints.modified_at({"updated": "2026-03-20T10:00:00.000Z"}) == when
    assert file_fingerprints.modified_at({"last_modified": when.replace(tzinfo=None)}) == when
    assert file_fingerprints.modified_at({"created": when, "mtime": "soon"}) is None


def test_a_settle_interval_under_two_seconds_never_skips_the_hash(engine, tmp_path, monkeypatch):
    """With no margin for whole-second modification times, a same-size rewrite in the second of
    the ingest would look untouched: the file is hashed instead."""
    hashed = HashCount(monkeypatch)
    path = tmp_path / "usage.jsonl"
    path.write_text("one\n")
    _modified(path, NOW - timedelta(hours=1))
    check = check_file(engine, str(path), NOW, timedelta(0), wait_for_settle=False)
    assert remember_ingested(engine, check, COUNTS, NOW) is None
    hashed.paths.clear()
    path.write_text("two\n")
    _modified(path, NOW)  # rewritten in the very second of the ingest, stamped to the second
    again = check_file(engine, str(path), NOW + timedelta(minutes=5), timedelta(0))
    assert (again.state, again.hashed, hashed.paths) == (CHANGED, True, [str(path)])
