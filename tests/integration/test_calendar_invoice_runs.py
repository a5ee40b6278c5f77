"""Invoice runs over clock changes, end to end: events ingested, metered by the database at the
segments' UTC instants, invoices stored and read back as local days.

Lord Howe goes back half an hour at 02:00 on Sun 5 Apr 2026 (+11:00 -> +10:30); Kolkata is
+05:30 all year, its new year starting at 18:30 UTC on Dec 31; New York falls back at 02:00 on
Sun 1 Nov 2026, the day a plan change takes effect. Amounts are worked by hand beside them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from billing.cli.commands.admin import invoices_list, invoices_show
from billing.core.catalog import parse_catalog
from billing.services.ingest import ingest_records
from billing.services.invoice_run import InvoiceOutcome, invoice_customers
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import active_catalog, save_catalog

GRADUATED = {
    "metric": "calls",
    "model": "graduated",
    "tiers": [{"up_to": 10, "unit_price": "1.00"}, {"up_to": None, "unit_price": "0.50"}],
}
CATALOG = parse_catalog(
    {
        "currency": "USD",
        "metrics": [{"code": "calls", "name": "Calls", "event_type": "call", "aggregation": "count"}],
        "plans": [
            {
                "code": "island",
                "name": "Island",
                "interval": "monthly",
                "charges": [
                    {"model": "flat", "amount": "30.00"},
                    {"metric": "calls", "model": "per_unit", "unit_price": "1.00"},
                ],
            },
            {
                "code": "a",
                "name": "A",
                "interval": "monthly",
                "charges": [{"model": "flat", "amount": "62.00"}, GRADUATED],
            },
            {
                "code": "b",
                "name": "B",
                "interval": "monthly",
                "charges": [{"model": "flat", "amount": "93.00"}, GRADUATED],
            },
        ],
        "customers": [
            {
                "id": "lordhowe",
                "email": "lh@example.com",
                "timezone": "Australia/Lord_Howe",
                "contracts": [{"plan": "island", "starts_on": "2026-03-05"}],
            },
            {
                "id": "kolkata",
                "email": "in@example.com",
                "timezone": "Asia/Kolkata",
                "contracts": [{"plan": "island", "starts_on": "2026-12-01"}],
            },
            {
                "id": "newyork",
                "email": "ny@example.com",
                "timezone": "America/New_York",
                "contracts": [
                    {"plan": "a", "starts_on": "2026-09-15", "ends_on": "2026-10-31"},
                    {"plan": "b", "starts_on": "2026-11-01"},
                ],
            },
        ],
    }
)
NOW = datetime(2027, 1, 3, tzinfo=UTC)


def _invoice(
    engine: Engine, suite: Any, customer: str, times: list[str], as_of: datetime
) -> list[InvoiceOutcome]:
    """Ingest one call per timestamp, invoice the customer up to `as_of` (24 h of grace)."""
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", datetime(2026, 1, 1, tzinfo=UTC))
    with engine.connect() as connection:
        stored = active_catalog(connection)
    records = [
        RawRecord(
            n,
            json.dumps(
                {
                    "transaction_id": f"{customer}-{n}",
                    "customer_id": customer,
                    "event_type": "call",
                    "timestamp": at,
                }
            ),
        )
        for n, at in enumerate(times)
    ]
    assert ingest_records(engine, stored.catalog, suite, records, "test", NOW).accepted == len(times)
    report = invoice_customers(
        engine, stored, [customer], as_of, grace=timedelta(hours=24), due_days=30, now=as_of
    )
    assert not report.failures
    return sorted(report.outcomes, key=lambda o: o.issued_at)


def _shown(number: str | None) -> dict[str, Any]:
    assert number is not None
    document: dict[str, Any] = json.loads(invoices_show(number, as_json=True))
    return document


def _days(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Each line's amount and local days, first and last inclusive."""
    return [
        (line["amount"], line["period"]["first_day"], line["period"]["last_day"])
        for line in document["lines"]
    ]


def test_lord_howe_invoices_over_the_half_hour_fall_back(configured: Engine, event_suite: Any) -> None:
    outcomes = _invoice(
        configured,
        event_suite,
        "lordhowe",
        [
            "2026-04-04T12:59:59.999999Z",  # 4 Apr 23:59:59.999999 +11:00: March's period
            "2026-04-04T13:00:00Z",  # 5 Apr 00:00 +11:00: April's
            "2026-04-04T14:45:00Z",  # 01:45 +11:00 ...
            "2026-04-04T15:15:00Z",  # ... and 01:45 again, +10:30, after the clock went back
            "2026-05-04T13:29:59Z",  # 4 May 23:59:59 +10:30: the last second of April's period
            "2026-05-04T13:30:00Z",  # 5 May 00:00 +10:30: May's, not invoiced yet
        ],
        datetime(2026, 5, 7, tzinfo=UTC),
    )
    # issued at local midnight on the 5th: 13:00 UTC the day before under +11:00, 13:30 under +10:30
    assert [(o.issued_at, o.issued_on.isoformat(), o.status) for o in outcomes] == [
        (datetime(2026, 3, 4, 13, tzinfo=UTC), "2026-03-05", "finalized"),
        (datetime(2026, 4, 4, 13, tzinfo=UTC), "2026-04-05", "finalized"),
        (datetime(2026, 5, 4, 13, 30, tzinfo=UTC), "2026-05-05", "finalized"),
    ]
    april = _shown(outcomes[1].number)  # closes 5 Mar - 4 Apr
    assert (april["issued_at"], april["issued_on"], april["due_on"]) == (
        "2026-04-05T00:00:00+11:00",
        "2026-04-05",
        "2026-05-05",
    )
    assert (april["period"]["first_day"], april["period"]["last_day"]) == ("2026-03-05", "2026-04-04")
    assert _days(april) == [("1.00", "2026-03-05", "2026-04-04"), ("30.00", "2026-04-05", "2026-05-04")]
    may = _shown(outcomes[2].number)  # closes 5 Apr - 4 May: four calls
    assert may["issued_at"] == "2026-05-05T00:00:00+10:30"
    assert (
        may["period"]["end"] == "2026-05-05T00:00:00+10:30"
        and may["period"]["start"] == "2026-04-05T00:00:00+11:00"
    )
    assert _days(may) == [("4.00", "2026-04-05", "2026-05-04"), ("30.00", "2026-05-05", "2026-06-04")]
    assert may["total"] == "34.00"
    listed = invoices_list("lordhowe", as_json=False)
    assert "5 Apr 2026 – 4 May 2026" in listed and "5 Mar 2026 – 4 Apr 2026" in listed


def test_a_kolkata_year_end_invoice_is_dated_in_kolkata(configured: Engine, event_suite: Any) -> None:
    outcomes = _invoice(
        configured,
        event_suite,
        "kolkata",
        [
            "2026-11-30T18:30:00Z",  # 1 Dec 00:00 +05:30: December's first instant
            "2026-12-31T18:29:59.999999Z",  # 31 Dec 23:59:59.999999: December's last
            "2026-12-31T18:30:00Z",  # 1 Jan 2027 00:00: January's, not invoiced yet
        ],
        NOW,
    )
    assert [(o.issued_at, o.issued_on.isoformat()) for o in outcomes] == [
        (datetime(2026, 11, 30, 18, 30, tzinfo=UTC), "2026-12-01"),
        (datetime(2026, 12, 31, 18, 30, tzinfo=UTC), "2027-01-01"),
    ]
    january = _shown(outcomes[1].number)
    assert (january["issued_at"], january["issued_on"]) == ("2027-01-01T00:00:00+05:30", "2027-01-01")
    assert _days(january) == [("2.00", "2026-12-01", "2026-12-31"), ("30.00", "2027-01-01", "2027-01-31")]
    shown = invoices_show(outcomes[1].number or "", as_json=False)
    assert "period 1 Dec 2026 – 31 Dec 2026 (Asia/Kolkata), issued 1 Jan 2027, due 31 Jan 2027" in shown


def test_a_new_york_plan_change_on_the_fall_back_day(configured: Engine, event_suite: Any) -> None:
    on_a = [f"2026-10-20T16:00:{n:02d}Z" for n in range(11)]
    outcomes = _invoice(
        configured,
        event_suite,
        "newyork",
        [
            *on_a,  # 11 calls on Oct 20
            "2026-11-01T03:59:59.999999Z",  # 31 Oct 23:59:59.999999 EDT: A's 12th call
            "2026-11-01T04:30:00Z",  # 00:30 EDT on the change day: B's
            "2026-11-01T05:30:00Z",  # 01:30 EDT: B's
            "2026-11-01T06:30:00Z",  # 01:30 EST, an hour later: B's
        ],
        datetime(2026, 11, 17, tzinfo=UTC),
    )
    assert [o.issued_on.isoformat() for o in outcomes] == ["2026-09-15", "2026-10-15", "2026-11-15"]
    split = _shown(outcomes[1].number)  # issued Oct 15: both sides of the split period in advance
    assert _days(split)[-2:] == [("34.00", "2026-10-15", "2026-10-31"), ("42.00", "2026-11-01", "2026-11-14")]
    closing = _shown(outcomes[2].number)  # issued Nov 15 00:00 EST
    assert closing["issued_at"] == "2026-11-15T00:00:00-05:00"
    assert (closing["period"]["start"], closing["period"]["end"]) == (
        "2026-10-15T00:00:00-04:00",
        "2026-11-15T00:00:00-05:00",
    )
    # each side's tiers from zero: A 10 x 1.00 + 2 x 0.50, B 3 x 1.00; then B's next month
    assert _days(closing) == [
        ("11.00", "2026-10-15", "2026-10-31"),
        ("3.00", "2026-11-01", "2026-11-14"),
        ("93.00", "2026-11-15", "2026-12-14"),
    ]
    assert [line["quantity"] for line in closing["lines"]] == ["12", "3", "1"]
