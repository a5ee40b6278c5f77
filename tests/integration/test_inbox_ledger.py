"""The inbox ledger: a file is remembered with the content it had, never with content it gained
while it was read; fingerprints are streamed through fsspec."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import fsspec
import sqlalchemy as sa

from billing.services.inbox import CHANGED, NEW, UNCHANGED, check_file, remember_ingested
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
    check = check_file(engine, str(path))
    assert check.state == NEW
    assert remember_ingested(engine, check, COUNTS, NOW) is None
    assert check_file(engine, str(path)).state == UNCHANGED

    path.write_text("one\ntwo\n")
    changed = check_file(engine, str(path))
    assert changed.state == CHANGED
    assert "changed since it was ingested at 2026-03-20T00:00:00Z (4 bytes" in changed.describe()

    path.write_text("one\ntwo\nthree\n")  # written to while it was read: not remembered
    warning = remember_ingested(engine, changed, COUNTS, NOW)
    assert warning == f"{path}: changed while it was read: not recorded as ingested, read again next time"
    with engine.connect() as connection:
        (size,) = connection.execute(sa.select(IngestedFile.size)).one()
    assert size == 4  # still the first content
