"""The quarantine's counts cannot lie: every row a run counts quarantined is a held row that
`quarantine list` shows (a bad row sent again after it was discarded or retried is held again,
as a row of its own; sent again while held, it is counted as the row holding it), and of two
retries of the same rows at once, one wins them and the other reports them skipped."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from billing.core.catalog import Catalog, parse_catalog
from billing.services import quarantine as service
from billing.sources.usage_files import RawRecord
from billing.store.models import Event, QuarantinedEvent
from billing.store.quarantine import QuarantineFilter
from billing.validation.suite import EventSuite
from tests.integration.test_quarantine import DOCUMENT, WHO, _catalog, _held, _ingest, _line, _load


def _rows(engine) -> list[tuple[str | None, str, str | None]]:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        q = QuarantinedEvent
        return [
            tuple(r)
            for r in connection.execute(sa.select(q.transaction_id, q.status, q.resolution).order_by(q.id))
        ]


def test_a_row_sent_again_after_it_was_discarded_is_held_again_as_a_new_row(engine, event_suite):
    first = _load(engine, _catalog())
    _ingest(engine, first, event_suite, [_line("t1", "zulu")])
    (original,) = _held(engine)
    service.discard_rows(engine, [original], WHO)

    again = _ingest(engine, first, event_suite, [_line("t1", "zulu")])

    assert (again.received, again.quarantined) == (1, 1)
    (held,) = _held(engine)  # the report's quarantined row is one `quarantine list` shows
    assert held.id != original.id and held.payload == original.payload
    assert [r.quarantine_id for r in again.rejections] == [held.id]
    assert _rows(engine) == [("t1", "discarded", "discarded"), ("t1", "held", None)]
    rows, skipped = service.selected_rows(engine, [original.id, held.id])
    assert [r.id for r in rows] == [held.id] and skipped == [
        f"row {original.id} is discarded already: left as it is"
    ]
    service.discard_rows(engine, rows, WHO)  # discarded again: and sent a third time, held again
    third = _ingest(engine, first, event_suite, [_line("t1", "zulu")])
    assert [r.quarantine_id for r in third.rejections] == [h.id for h in _held(engine)]
    assert len(_rows(engine)) == 3


def test_a_row_sent_again_while_held_is_counted_as_the_row_holding_it(engine, event_suite):
    first = _load(engine, _catalog())
    report = _ingest(engine, first, event_suite, [_line("t1", "zulu"), _line("t1", "zulu")])
    (held,) = _held(engine)
    assert report.quarantined == 2  # two rows received, neither accepted: both held, as one row
    assert [r.quarantine_id for r in report.rejections] == [held.id, held.id]

    again = _ingest(engine, first, event_suite, [_line("t1", "zulu")])
    assert [r.quarantine_id for r in again.rejections] == [held.id]
    assert _held(engine) == [held]


def _texting():  # type: ignore[no-untyped-def]
    """The test catalog with a metric counting `sms` events too."""
    document = copy.deepcopy(DOCUMENT)
    document["metrics"].append({"code": "texts", "event_type": "sms", "aggregation": "count"})
    document["plans"][0]["charges"].append({"metric": "texts", "model": "per_unit", "unit_price": "0.01"})
    return parse_catalog(document)


def test_a_row_sent_again_after_a_retry(engine, event_suite):
    first = _load(engine, _catalog())
    sms = _line("s1").replace('"call"', '"sms"')
    _ingest(engine, first, event_suite, [sms])
    (original,) = _held(engine)
    assert original.reason == "unknown_event_type"
    texting = _load(engine, _texting())
    retried = service.retry_rows(engine, texting, event_suite, [original], WHO)
    assert [o.outcome for o in retried.outcomes] == ["accepted"]

    now_good = _ingest(engine, texting, event_suite, [sms])
    assert (now_good.duplicates, now_good.quarantined) == (1, 0)  # stored by the retry: a duplicate
    assert _held(engine) == []

    bad_again = _ingest(engine, first, event_suite, [sms])  # under a catalog not counting sms again
    (held,) = _held(engine)
    assert held.id != original.id and held.reason == "unknown_event_type"
    assert [r.quarantine_id for r in bad_again.rejections] == [held.id]


class _MeetFirst:
    """An event suite that, on its first validation, waits for the other retry to reach its own:
    both have read the rows as held before either stores anything."""

    def __init__(self, meeting: threading.Barrier) -> None:
        self.suite = EventSuite()  # one each, as two processes have (GX's batch is shared state)
        self.meeting = meeting
        self.met = False

    def validate(self, records: Sequence[RawRecord], catalog: Catalog, now: datetime) -> Any:
        if not self.met:
            self.met = True
            self.meeting.wait(timeout=120)
        return self.suite.validate(records, catalog, now)


@pytest.mark.parametrize("how", ["ids", "filter"])
def test_two_retries_of_the_same_rows_at_once_accept_each_once(engine, how):
    first = _load(engine, _catalog())
    _ingest(engine, first, EventSuite(), [_line(f"t{n}", "zulu") for n in range(5)])
    widened = _load(engine, _catalog("zulu"))
    rows = _held(engine)
    meeting = threading.Barrier(2)
    reports: list[service.QuarantineReport] = []
    errors: list[BaseException] = []

    def retry(suite: Any) -> None:
        try:
            if how == "ids":
                reports.append(service.retry_rows(engine, widened, suite, rows, WHO))
            else:
                where = QuarantineFilter(reason="unknown_customer")
                reports.append(service.retry_matching(engine, widened, suite, where, WHO))
        except BaseException as error:  # surfaced in the test's thread below
            errors.append(error)

    threads = [threading.Thread(target=retry, args=(_MeetFirst(meeting),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert not errors and len(reports) == 2, errors
    won, lost = sorted(reports, key=lambda r: -len(r.outcomes))
    assert [o.outcome for o in won.outcomes] == ["accepted"] * 5
    assert lost.outcomes == []
    assert lost.skipped == [
        f"row {row.id} was retried (accepted) by another run meanwhile: left as it is"
        for row in sorted(rows, key=lambda r: r.id)
    ]
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(Event)) == 5
    assert {status for _, status, _ in _rows(engine)} == {"retried"}


def test_a_discard_of_rows_a_retry_took_meanwhile_skips_them(engine, event_suite):
    first = _load(engine, _catalog())
    _ingest(engine, first, event_suite, [_line("t1", "zulu"), _line("t2", "zulu")])
    widened = _load(engine, _catalog("zulu"))
    rows = _held(engine)  # the operator's discard selected these; a retry took one meanwhile
    service.retry_rows(engine, widened, event_suite, [r for r in rows if r.transaction_id == "t1"], WHO)

    report = service.discard_rows(engine, rows, WHO)

    (t1,) = [r.id for r in rows if r.transaction_id == "t1"]
    assert [o.id for o in report.outcomes] == [r.id for r in rows if r.transaction_id == "t2"]
    assert report.skipped == [f"row {t1} was retried (accepted) by another run meanwhile: left as it is"]
