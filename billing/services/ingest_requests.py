"""`POST /v1/events`'s ingest: concurrent requests' chunks stored in one transaction.

Every store takes the billing lock, so concurrent requests' stores run one after the other,
and each pays a fixed cost whatever its size: the lock, the rollups' statements (about 30 ms
for five metrics, of a 1,000-event request's 50 ms) and the commit. Here a request's chunk,
once validated (`prepare_chunk`, its Great Expectations run shared the same way), waits with
the others arriving meanwhile and whichever request gets to store first stores them all
(`combined_runs`): one transaction, each chunk merged after the previous one's, as if stored
one by one in that order; each request gets its own report, answered once its rows are
committed. If that transaction fails, each chunk is stored alone, so a request's error is its
own. Measured in README, "Usage over HTTP and as CloudEvents".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from billing.core.catalog import Catalog
from billing.services.ingest import IngestReport, PreparedChunk, prepare_chunk, store_chunk, store_chunks
from billing.sources.usage_files import RawRecord
from billing.validation.combined_runs import CombinedRuns
from billing.validation.suite import EventSuite


@dataclass(frozen=True, slots=True)
class _Stored:
    report: IngestReport | None = None
    error: Exception | None = None


class RequestIngest:
    """One per process (the app's): ingests each request's records, storing concurrent
    requests' chunks together."""

    def __init__(self) -> None:
        self._stores: CombinedRuns[tuple[Engine, PreparedChunk], _Stored] = CombinedRuns(_store_together)

    def ingest(
        self,
        engine: Engine,
        catalog: Catalog,
        suite: EventSuite,
        records: Sequence[RawRecord],
        source: str,
        now: datetime,
    ) -> IngestReport:
        """`ingest_records`, its store shared with the requests storing at the same time."""
        prepared = prepare_chunk(catalog, suite, records, source, now)
        stored = self._stores.submit((engine, prepared))
        if stored.error is not None:
            raise stored.error
        assert stored.report is not None
        return stored.report


def _store_together(items: Sequence[tuple[Engine, PreparedChunk]]) -> list[_Stored]:
    stored: dict[int, _Stored] = {}
    for engine, members in _by_engine(items):
        try:
            reports = store_chunks(engine, [items[m][1] for m in members])
            stored.update((m, _Stored(report)) for m, report in zip(members, reports, strict=True))
        except Exception as error:
            if len(members) == 1:
                stored[members[0]] = _Stored(error=error)
                continue
            for member in members:  # rolled back: each alone, so that an error is its chunk's
                stored[member] = _store_alone(engine, items[member][1])
    return [stored[n] for n in range(len(items))]


def _store_alone(engine: Engine, prepared: PreparedChunk) -> _Stored:
    try:
        return _Stored(store_chunk(engine, prepared))
    except Exception as error:
        return _Stored(error=error)


def _by_engine(items: Sequence[tuple[Engine, PreparedChunk]]) -> list[tuple[Engine, list[int]]]:
    groups: dict[int, tuple[Engine, list[int]]] = {}
    for position, (engine, _prepared) in enumerate(items):
        groups.setdefault(id(engine), (engine, []))[1].append(position)
    return list(groups.values())
