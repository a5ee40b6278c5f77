"""Reading an "as of" parameter: a date is the end of that day (UTC), however it is spelt."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from billing.core.as_of import as_of_instant, parse_as_of
from billing.core.errors import BillingError

NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-04-05", "20260405", " 2026-04-05 "])
def test_a_text_without_a_time_of_day_is_a_date(text):
    assert parse_as_of(text) == date(2026, 4, 5)
    assert as_of_instant(text, NOW) == datetime(2026, 4, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-04-05T09:30:00+02:00", datetime(2026, 4, 5, 9, 30, tzinfo=timezone(timedelta(hours=2)))),
        ("2026-04-05 09:30:00Z", datetime(2026, 4, 5, 9, 30, tzinfo=UTC)),
        ("20260405T093000Z", datetime(2026, 4, 5, 9, 30, tzinfo=UTC)),
    ],
)
def test_a_text_with_a_time_of_day_is_an_instant(text, instant):
    assert parse_as_of(text) == instant


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a date: ''"),
        ("   ", "not a date: ''"),
        ("April 2nd", "not a date: 'April 2nd'"),
        ("2026-04-05T09:30", None),  # read, then refused for want of an offset
    ],
)
def test_what_is_not_a_date_or_an_instant_with_its_offset_is_refused(text, message):
    with pytest.raises(BillingError) as refused:
        as_of_instant(text, NOW)
    assert message is None or message in str(refused.value)
