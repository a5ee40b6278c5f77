"""A period's spend and its projection (SPEC §9), and which spend and credit alerts are due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.catalog import Catalog, parse_catalog
from billing.core.periods import Schedule
from billing.core.pricing.base import MeteredUsage
from billing.core.spend import elapsed_share, period_spend, project_usage
from billing.core.spend_alerts import credits_low, current_period, spend_reminders

UTC_ZONE = ZoneInfo("UTC")


def spend_catalog(
    timezone: str = "UTC",
    alerts: tuple[str, ...] = ("500.00", "1000.00"),
    trial_days: int = 0,
    **contract: Any,
) -> Catalog:
    """Calls at $1 each (graduated: the first 100 at $2), storage held at its max at $10/GB, a
    $30 monthly fee in advance; one customer whose periods start on the 1st."""
    return parse_catalog(
        {
            "currency": "USD",
            "metrics": [
                {"code": "calls", "event_type": "call", "aggregation": "count"},
                {"code": "storage", "event_type": "storage", "aggregation": "max", "field": "gb"},
            ],
            "plans": [
                {
                    "code": "pro",
                    "name": "Pro",
                    "interval": "monthly",
                    "minimum_commitment": "100.00",
                    "trial_days": trial_days,
                    "charges": [
                        {"model": "flat", "amount": "30.00"},
                        {
                            "metric": "calls",
                            "model": "graduated",
                            "tiers": [
                                {"up_to": 100, "unit_price": "2.00"},
                                {"up_to": None, "unit_price": "1.00"},
                            ],
                        },
                        {"metric": "storage", "model": "per_unit", "unit_price": "10.00"},
                    ],
                },
                {
                    "code": "max",
                    "name": "Max",
                    "interval": "monthly",
                    "charges": [{"metric": "calls", "model": "per_unit", "unit_price": "3.00"}],
                },
            ],
            "customers": [
                {
                    "id": "acme",
                    "email": "billing@acme.example",
                    "timezone": timezone,
                    "spend_alerts": list(alerts),
                    "contracts": contract.get("contracts") or [{"plan": "pro", "starts_on": "2026-03-01"}],
                }
            ],
        },
        "test",
    )


def usage_of(schedule: Schedule, period_index: int, *per_segment: dict[str, MeteredUsage]):
    period = schedule.period(period_index)
    assert period is not None
    segments = schedule.segments(period)
    return period, segments, {(s.start, s.end): u for s, u in zip(segments, per_segment, strict=True)}


def calls(n: int | Decimal) -> dict[str, MeteredUsage]:
    return {"calls": MeteredUsage(Decimal(n), int(n)), "storage": MeteredUsage(Decimal(0), 0)}


def test_spend_is_usage_and_flat_charges_before_the_minimum_true_up():
    catalog = spend_catalog()
    schedule = Schedule.of(catalog, "acme")
    _, segments, usage = usage_of(schedule, 0, calls(10))
    spend = period_spend(catalog, segments, usage)
    assert spend.total == Decimal("50.00")  # 30 + 10 x 2; the true-up to 100 is not spend
    assert {line.kind for line in spend.lines} == {"flat", "usage"}


def test_counts_are_scaled_by_the_elapsed_share_and_max_is_held():
    catalog = spend_catalog()
    schedule = Schedule.of(catalog, "acme")
    usage = {"calls": MeteredUsage(Decimal(150), 150), "storage": MeteredUsage(Decimal(4), 0)}
    _, segments, by_segment = usage_of(schedule, 0, usage)
    # March has 31 days: at midnight starting Mar 11, 10 of them are gone
    projection = project_usage(catalog, segments, by_segment, datetime(2026, 3, 11, tzinfo=UTC), UTC_ZONE)
    assert projection is not None and projection.spend is not None
    # 150 calls over 10/31 of the period: 465 calls = 100 x 2 + 365 x 1; 4 GB held = 40; fee 30
    assert projection.spend.total == Decimal("635.00")


def test_no_projection_before_the_period_starts_and_none_in_a_trial():
    catalog = spend_catalog()
    schedule = Schedule.of(catalog, "acme")
    _, segments, usage = usage_of(schedule, 0, calls(5))
    assert project_usage(catalog, segments, usage, datetime(2026, 3, 1, tzinfo=UTC), UTC_ZONE) is None
    trialing = spend_catalog(trial_days=14)
    assert current_period(Schedule.of(trialing, "acme"), datetime(2026, 3, 5, tzinfo=UTC)) is None
    assert current_period(Schedule.of(trialing, "acme"), datetime(2026, 3, 16, tzinfo=UTC)) is not None


def test_elapsed_share_counts_local_days_in_kolkata():
    kolkata = ZoneInfo("Asia/Kolkata")
    # 18:30 UTC on Mar 10 is midnight starting Mar 11 in Kolkata: 10 local days of 31 gone
    share = elapsed_share(
        date(2026, 3, 1), date(2026, 4, 1), datetime(2026, 3, 10, 18, 30, tzinfo=UTC), kolkata
    )
    assert (share.elapsed, share.length) == (10 * 86_400_000_000, 31 * 86_400_000_000)
    # a DST month in New York still has 31 local days: the share is of local time
    new_york = ZoneInfo("America/New_York")
    at = datetime(2026, 3, 16, 4, tzinfo=UTC)  # midnight starting Mar 16 local (EDT)
    share = elapsed_share(date(2026, 3, 1), date(2026, 4, 1), at, new_york)
    assert share.elapsed * 31 == share.length * 15


def test_a_plan_change_projects_each_segment_on_its_own_share():
    contracts = [
        {"plan": "pro", "starts_on": "2026-03-01", "ends_on": "2026-03-15"},
        {"plan": "max", "starts_on": "2026-03-16"},
    ]
    catalog = spend_catalog(contracts=contracts)
    schedule = Schedule.of(catalog, "acme")
    _, segments, usage = usage_of(schedule, 0, calls(50), calls(20))
    # Mar 21, 00:00: Pro's 15 days are over (as metered), 5 of Max's 16 are gone
    projection = project_usage(catalog, segments, usage, datetime(2026, 3, 21, tzinfo=UTC), UTC_ZONE)
    assert projection is not None and projection.spend is not None
    # Pro: 30 x 15/31 = 14.52 + 50 x 2 = 100; Max: 20 x 16/5 = 64 calls x 3 = 192
    assert projection.spend.total == Decimal("14.52") + Decimal("100.00") + Decimal("192.00")


def reminders_at(catalog: Catalog, at: datetime, *per_segment: dict[str, MeteredUsage]):
    schedule = Schedule.of(catalog, "acme")
    period = current_period(schedule, at)
    assert period is not None
    usage = {(s.start, s.end): u for s, u in zip(schedule.segments(period), per_segment, strict=True)}
    return {(r.kind, r.subject, r.period): r for r in spend_reminders(catalog, schedule, period, usage, at)}


def test_each_crossed_alert_once_per_period_and_the_forecast_only_before_the_highest():
    catalog = spend_catalog()
    mid = datetime(2026, 3, 11, tzinfo=UTC)  # 10 of March's 31 days gone
    assert reminders_at(catalog, mid, calls(100)) == {}  # 230 so far, 310 calls projected: 440
    forecast = reminders_at(catalog, mid, calls(300))  # 430 so far, 930 calls projected: 1060
    assert set(forecast) == {("spend_forecast", "forecast/1000.00", "2026-03-01")}
    assert forecast[("spend_forecast", "forecast/1000.00", "2026-03-01")].context["spend"] == "430.00"
    crossed = reminders_at(catalog, mid, calls(500))  # 630: past 500, forecast past 1000
    assert set(crossed) == {
        ("spend_threshold", "alert/500.00", "2026-03-01"),
        ("spend_forecast", "forecast/1000.00", "2026-03-01"),
    }
    over = reminders_at(catalog, mid, calls(1000))  # 1130: both alerts, no forecast any more
    assert set(over) == {
        ("spend_threshold", "alert/500.00", "2026-03-01"),
        ("spend_threshold", "alert/1000.00", "2026-03-01"),
    }
    context = over[("spend_threshold", "alert/1000.00", "2026-03-01")].context
    assert context == {
        "customer_id": "acme",
        "customer_name": "acme",
        "currency": "USD",
        "plan_name": "Pro",
        "minimum_commitment": "100.00",
        "period_first_day": "2026-03-01",
        "period_last_day": "2026-03-31",
        "spend": "1130.00",
        "threshold": "1000.00",
    }
    april = reminders_at(catalog, datetime(2026, 4, 20, tzinfo=UTC), calls(1000))
    assert ("spend_threshold", "alert/500.00", "2026-04-01") in april  # a new period crosses again


def test_a_customer_without_alerts_hears_nothing():
    catalog = spend_catalog(alerts=())
    assert reminders_at(catalog, datetime(2026, 3, 20, tzinfo=UTC), calls(10_000)) == {}


def test_credits_low_under_a_fifth_of_the_grant_while_it_can_be_used():
    contracts = [
        {
            "plan": "pro",
            "starts_on": "2026-03-01",
            "credits": [
                {"amount": "100.00", "granted_on": "2026-03-01", "expires_on": "2026-12-31"},
                {"amount": "50.00", "granted_on": "2026-03-01"},
            ],
        }
    ]
    catalog = spend_catalog(contracts=contracts)
    schedule = Schedule.of(catalog, "acme")
    at = datetime(2026, 5, 2, tzinfo=UTC)
    used = {"2026-03-01/credit/0": Decimal("80.00"), "2026-03-01/credit/1": Decimal("40.01")}
    (low,) = credits_low(catalog, schedule, used, at)  # 20.00 left of 100 is not under 20 %
    assert (low.kind, low.subject, low.period) == ("credits_low", "credit/2026-03-01/1", "2026-03-01")
    assert low.context["remaining"] == "9.99" and low.context["expires_on"] is None
    used["2026-03-01/credit/0"] = Decimal("80.01")
    assert len(credits_low(catalog, schedule, used, at)) == 2
    assert len(credits_low(catalog, schedule, used, datetime(2027, 1, 2, tzinfo=UTC))) == 1  # expired


# -- properties ---------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=10**9).map(Decimal)
quantities = st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False, allow_infinity=False)
instants = st.integers(min_value=1, max_value=31 * 86_400 - 1).map(
    lambda seconds: datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=seconds)
)


def _projected(catalog: Catalog, count: Decimal, gb: Decimal, at: datetime) -> Decimal:
    schedule = Schedule.of(catalog, "acme")
    usage = {"calls": MeteredUsage(count, int(count)), "storage": MeteredUsage(gb, 0)}
    _, segments, by_segment = usage_of(schedule, 0, usage)
    projection = project_usage(catalog, segments, by_segment, at, UTC_ZONE)
    assert projection is not None
    if projection.beyond_limit:  # a line past 10^15 (a burst in the period's first seconds)
        return Decimal("Infinity")
    assert projection.spend is not None
    return projection.spend.total


@settings(max_examples=60, deadline=None)
@given(counts, quantities)
def test_the_projection_at_the_period_end_is_the_spend(count, gb):
    catalog = spend_catalog()
    schedule = Schedule.of(catalog, "acme")
    usage = {"calls": MeteredUsage(count, int(count)), "storage": MeteredUsage(gb, 0)}
    _, segments, by_segment = usage_of(schedule, 0, usage)
    end = datetime(2026, 4, 1, tzinfo=UTC)
    projection = project_usage(catalog, segments, by_segment, end, UTC_ZONE)
    assert projection is not None and projection.spend is not None
    assert projection.spend.total == period_spend(catalog, segments, by_segment).total


@settings(max_examples=60, deadline=None)
@given(counts, quantities, instants)
def test_the_projection_is_never_below_the_spend_and_exact(count, gb, at):
    catalog = spend_catalog()
    schedule = Schedule.of(catalog, "acme")
    usage = {"calls": MeteredUsage(count, int(count)), "storage": MeteredUsage(gb, 0)}
    _, segments, by_segment = usage_of(schedule, 0, usage)
    projected = _projected(catalog, count, gb, at)
    assert isinstance(projected, Decimal)
    assert projected.is_infinite() or projected == projected.quantize(Decimal("0.01"))
    assert projected >= period_spend(catalog, segments, by_segment).total


@settings(max_examples=60, deadline=None)
@given(counts, counts, quantities, instants)
def test_the_projection_grows_with_the_usage_so_far(count, more, gb, at):
    catalog = spend_catalog()
    assert _projected(catalog, count + more, gb, at) >= _projected(catalog, count, gb, at)
