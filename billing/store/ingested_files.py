"""The inbox ledger: which file was ingested with which content, and what its run counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from billing.store.database import dialect_insert
from billing.store.models import IngestedFile


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    path: str
    size: int
    content_hash: str
    ingested_at: datetime
    received: int
    accepted: int
    duplicates: int
    quarantined: int


def ledger_entry(connection: sa.Connection, path: str) -> LedgerEntry | None:
    f = IngestedFile
    row = connection.execute(
        sa.select(
            f.path, f.size, f.content_hash, f.ingested_at, f.received, f.accepted, f.duplicates, f.quarantined
        ).where(f.path == path)
    ).first()
    return None if row is None else LedgerEntry(*row)


def remember_file(connection: sa.Connection, entry: LedgerEntry) -> None:
    """Keep (or replace) the path's entry: called once all of the file's chunks are committed."""
    values = {
        "path": entry.path,
        "size": entry.size,
        "content_hash": entry.content_hash,
        "ingested_at": entry.ingested_at,
        "received": entry.received,
        "accepted": entry.accepted,
        "duplicates": entry.duplicates,
        "quarantined": entry.quarantined,
    }
    statement = dialect_insert(connection, IngestedFile).values(**values)
    updated = {key: statement.excluded[key] for key in values if key != "path"}
    connection.execute(statement.on_conflict_do_update(index_elements=["path"], set_=updated))
