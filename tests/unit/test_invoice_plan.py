"""Which invoices are due, and the generator that drafts them in order (runs and previews alike)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.core.catalog import Catalog, parse_catalog
from billing.core.catalog.yaml_text import load_yaml
from billing.core.invoice_plan import (
    BillingState,
    InvoicePlan,
    draft_invoices,
    late_periods,
    plan_invoices,
    plan_through,
)
from billing.core.invoicing import InvoiceDraft
from billing.core.pricing.base import MeteredUsage
from tests.unit.test_invoicing import CATALOG, schedule_of

D = Decimal


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return parse_catalog(load_yaml(CATALOG), "test-catalog")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def metered(catalog: Catalog, customer: str, plan: InvoicePlan, calls: int = 0) -> dict:
    s = schedule_of(catalog, customer)
    return {(seg.start, seg.end): {"api_calls": MeteredUsage(D(calls), calls)} for seg in plan.segments(s)}


def test_every_boundary_up_to_the_instant_is_due_until_finalized(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")  # monthly from 2026-01-01, UTC
    assert plan_invoices(s, BillingState(), utc(2026, 3, 15)).boundaries == (0, 1, 2)
    assert plan_invoices(s, BillingState(last_finalized=1), utc(2026, 3, 15)).boundaries == (2,)
    assert plan_invoices(s, BillingState(), utc(2025, 12, 31)).boundaries == ()


def test_after_a_term_ends_only_the_boundary_closing_it_is_due(catalog: Catalog) -> None:
    s = schedule_of(catalog, "ender")  # two months from 2026-01-01
    assert plan_invoices(s, BillingState(), utc(2026, 12, 1)).boundaries == (0, 1, 2)


def test_late_usage_rides_on_the_next_boundary(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")
    state = BillingState(last_finalized=2, late_first=utc(2026, 1, 10), late_last=utc(2026, 2, 3))
    assert late_periods(s, state) == (0, 1)
    plan = plan_invoices(s, state, utc(2026, 4, 2))
    assert plan.boundaries == (3,) and plan.late_at(0) == (0, 1) and plan.late_at(1) == ()
    # the late periods' segments are metered once, with the closing one
    assert [seg.period.index for seg in plan.segments(s)] == [2, 0, 1]


def test_trial_usage_is_never_late(catalog: Catalog) -> None:
    s = schedule_of(catalog, "tryer")  # trial of 14 days from 2026-01-01
    state = BillingState(last_finalized=0, late_first=utc(2026, 1, 2), late_last=utc(2026, 1, 5))
    assert late_periods(s, state) == ()


def test_a_preview_plans_every_open_invoice_through_its_own(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")
    assert plan_through(s, BillingState(last_finalized=0), 3).boundaries == (1, 2, 3)
    assert plan_through(s, BillingState(last_finalized=2), 3).boundaries == (3,)


def test_drafts_fold_into_the_state_and_stop_at_the_first_that_is_not_final(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")
    state = BillingState()
    plan = plan_invoices(s, state, utc(2026, 4, 15))
    assert plan.boundaries == (0, 1, 2, 3)
    usage = metered(catalog, "steady", plan, calls=100)
    until = utc(2026, 3, 1)

    def final(draft: InvoiceDraft) -> bool:
        return draft.issued_at < until

    drafted = list(draft_invoices(catalog, s, plan, usage, state, final=final))
    # boundaries 0 and 1 are final and folded; 2 is drafted but not final: 3 waits
    assert [b for b, _ in drafted] == [0, 1, 2]
    assert state.last_finalized == 1
    assert all(d is not None for _, d in drafted)
    # what the folded state billed is what the two final drafts billed, key by key
    billed = {k: v.amount for k, v in state.billed.items()}
    expected: dict = {}
    for _, d in drafted[:2]:
        assert d is not None
        for line in d.lines:
            expected[line.key] = expected.get(line.key, D(0)) + line.amount
    assert billed == expected


def test_drafting_the_same_plan_again_on_the_folded_state_bills_nothing(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")
    state = BillingState()
    plan = InvoicePlan((0, 1))
    usage = metered(catalog, "steady", plan, calls=100)
    list(draft_invoices(catalog, s, plan, usage, state, final=lambda _d: True))
    again = list(draft_invoices(catalog, s, plan, usage, state, final=lambda _d: True))
    assert [d for _, d in again] == [None, None]


def test_the_plan_boundaries_are_a_contiguous_run(catalog: Catalog) -> None:
    s = schedule_of(catalog, "mover")
    plan = plan_invoices(s, BillingState(), utc(2026, 6, 1) + timedelta(hours=1))
    assert list(plan.boundaries) == list(range(plan.boundaries[0], plan.boundaries[-1] + 1))
