"""Which invoice carries what, prorated splits, trials, credits, settling against what was billed,
and the rating fingerprint; every amount is worked by hand in the comments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.core.catalog import Catalog, parse_catalog
from billing.core.catalog.yaml_text import load_yaml
from billing.core.credits import CreditGrant, apply_credits, credit_grants
from billing.core.invoicing import (
    Billed,
    InvoiceDraft,
    closing_periods,
    draft_invoice,
    settle,
    usage_segments,
)
from billing.core.line_keys import LineKey, SegmentId
from billing.core.money import Currency
from billing.core.periods import Schedule
from billing.core.pricing.base import MeteredUsage
from billing.core.rating import InvoiceLine

USD = Currency.of("USD")
D = Decimal

CATALOG = """\
currency: USD
metrics:
  - {code: api_calls, event_type: api_call, aggregation: count}
plans:
  - code: basic
    interval: monthly
    minimum_commitment: "100.00"
    charges:
      - {model: flat, amount: "30.00", description: Platform fee}                     # in advance, prorated
      - {model: per_unit, metric: api_calls, unit_price: "0.50"}
      - {model: flat, amount: "10.00", timing: in_arrears, description: Support}       # prorated
  - code: pro
    interval: monthly
    minimum_commitment: "200.00"
    charges:
      - {model: flat, amount: "60.00", description: Pro platform fee}                 # in advance, prorated
      - {model: per_unit, metric: api_calls, unit_price: "0.40"}
      - {model: flat, amount: "25.00", timing: in_arrears, prorate: false, description: Pro support}
  - code: trial
    interval: monthly
    trial_days: 14
    charges:
      - {model: flat, amount: "30.00", description: Platform fee}
      - {model: per_unit, metric: api_calls, unit_price: "0.50"}
customers:
  - id: steady
    email: steady@example.com
    contracts:
      - {plan: basic, starts_on: 2026-01-01}
  - id: mover
    email: mover@example.com
    contracts:
      - {plan: basic, starts_on: 2026-01-01, ends_on: 2026-02-09}
      - {plan: pro, starts_on: 2026-02-10}
  - id: tryer
    email: tryer@example.com
    contracts:
      - {plan: trial, starts_on: 2026-01-01}
  - id: ender
    email: ender@example.com
    contracts:
      - {plan: basic, starts_on: 2026-01-01, term_months: 2}
  - id: saver
    email: saver@example.com
    contracts:
      - plan: basic
        starts_on: 2026-01-01
        credits:
          - {amount: "40.00", granted_on: 2026-01-01, expires_on: 2026-03-31}   # credit/0
          - {amount: "50.00", granted_on: 2026-01-01, expires_on: 2026-06-30}   # credit/1
          - {amount: "500.00", granted_on: 2026-03-01}                          # credit/2: from March
          - {amount: "20.00", granted_on: 2025-11-01, expires_on: 2025-12-31}   # credit/3: expired
          - {amount: "70.00", granted_on: 2026-02-01, expires_on: 2026-02-01}   # credit/4: Feb 1 only
  - id: tokyo
    email: tokyo@example.com
    timezone: Asia/Tokyo
    contracts:
      - plan: basic
        starts_on: 2026-01-01
        credits: [{amount: "5.00", granted_on: 2026-01-01, expires_on: 2026-01-01}]
"""


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return parse_catalog(load_yaml(CATALOG), "test-catalog")


def schedule_of(catalog: Catalog, customer_id: str) -> Schedule:
    return Schedule(catalog, catalog.customer(customer_id))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def usage(
    schedule: Schedule, boundary: int, calls: dict[tuple[int, int], int], late: tuple[int, ...] = ()
) -> dict[tuple[datetime, datetime], dict[str, MeteredUsage]]:
    """Metered usage for the segments the invoice at `boundary` needs.

    `calls[(period index, contract index)]` is that segment's count of api_calls; absent is 0.
    """
    result = {}
    for segment in usage_segments(schedule, boundary, late):
        n = calls.get((segment.period.index, segment.term.index), 0)
        result[(segment.start, segment.end)] = {"api_calls": MeteredUsage(D(n), n)}
    return result


@dataclass
class Ledger:
    """What finalized invoices billed, folded like `billing.store.invoice_records.BillingState.record`."""

    billed: dict[str, Billed] = field(default_factory=dict)
    credits_used: dict[str, Decimal] = field(default_factory=dict)

    def record(self, draft: InvoiceDraft) -> None:
        for line in draft.lines:
            prior = self.billed.get(line.key)
            amount = line.amount + (prior.amount if prior else D(0))
            quantity = line.quantity + (prior.quantity if prior else D(0))
            self.billed[line.key] = Billed(amount, quantity, line.description)
        for key, amount in draft.credits:
            self.credits_used[key] = self.credits_used.get(key, D(0)) + amount


def draft(
    catalog: Catalog,
    schedule: Schedule,
    boundary: int,
    calls: dict[tuple[int, int], int],
    ledger: Ledger,
    late: tuple[int, ...] = (),
) -> InvoiceDraft:
    result = draft_invoice(
        catalog,
        schedule,
        boundary,
        usage(schedule, boundary, calls, late),
        ledger.billed,
        ledger.credits_used,
        late,
    )
    assert result is not None
    return result


def amounts(invoice: InvoiceDraft) -> dict[str, Decimal]:
    return {str(line.key): line.amount for line in invoice.lines}


def run(catalog: Catalog, customer: str, calls: dict[tuple[int, int], int], until: int) -> list[InvoiceDraft]:
    """Draft and finalize the invoices at boundaries 0 .. until, each seeing the ones before it."""
    schedule = schedule_of(catalog, customer)
    ledger = Ledger()
    invoices = []
    for boundary in range(until + 1):
        invoice = draft(catalog, schedule, boundary, calls, ledger)
        ledger.record(invoice)
        invoices.append(invoice)
    return invoices


# -- which invoice carries what --------------------------------------------------------------------


def test_first_invoice_carries_only_the_in_advance_flat_charges(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")
    assert usage_segments(s, 0) == []  # nothing closes at the first boundary
    invoice = draft(catalog, s, 0, {}, Ledger())
    # period 0 = [2026-01-01, 2026-02-01): only the platform fee, billed in advance, in full
    (line,) = invoice.lines
    assert str(line.key) == "2026-01-01/2026-01-01/flat:fee"
    assert (line.kind, line.timing, line.metric) == ("flat", "in_advance", None)
    assert line.amount == D("30.00")
    assert line.description.startswith("Platform fee: $30.00")
    assert (line.start, line.end) == (utc(2026, 1, 1), utc(2026, 2, 1))
    assert invoice.subtotal == invoice.total == D("30.00")
    assert (invoice.boundary, invoice.issued_at, invoice.issued_on) == (0, utc(2026, 1, 1), date(2026, 1, 1))
    assert (invoice.period_start, invoice.period_end) == (utc(2026, 1, 1), utc(2026, 2, 1))
    assert invoice.customer_id == "steady" and invoice.currency == USD
    assert invoice.credits == ()


def test_invoice_at_a_boundary_closes_the_last_period_and_opens_the_next(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")
    ledger = Ledger()
    ledger.record(draft(catalog, s, 0, {}, ledger))
    assert [p.index for p in closing_periods(s, 1)] == [0]
    invoice = draft(catalog, s, 1, {(0, 0): 100}, ledger)
    # period 0: platform fee 30.00 (billed on the first invoice: left out)
    #           usage 100 x 0.50 = 50.00, support (in arrears) 10.00
    #           charges 30.00 + 50.00 + 10.00 = 90.00 < minimum 100.00 -> true-up 10.00
    # period 1: platform fee 30.00 in advance
    assert amounts(invoice) == {
        "2026-01-01/2026-01-01/per_unit:api_calls": D("50.00"),
        "2026-01-01/2026-01-01/flat:fee:1": D("10.00"),
        "2026-01-01/2026-01-01/minimum": D("10.00"),
        "2026-01-01/2026-02-01/flat:fee": D("30.00"),
    }
    usage_line, support, minimum, advance = invoice.lines  # closing lines first, true-up last of them
    assert (usage_line.kind, usage_line.metric, usage_line.quantity) == ("usage", "api_calls", D(100))
    assert (usage_line.start, usage_line.end) == (utc(2026, 1, 1), utc(2026, 2, 1))
    assert (support.kind, support.timing) == ("flat", "in_arrears")
    assert minimum.kind == "minimum"
    assert minimum.description == "Minimum commitment $100.00: true-up"
    assert (advance.timing, advance.start, advance.end) == ("in_advance", utc(2026, 2, 1), utc(2026, 3, 1))
    assert invoice.subtotal == invoice.total == D("100.00")
    # the invoice is issued at the start of period 1 and shows period 0
    assert (invoice.issued_at, invoice.issued_on) == (utc(2026, 2, 1), date(2026, 2, 1))
    assert (invoice.period_start, invoice.period_end) == (utc(2026, 1, 1), utc(2026, 2, 1))


def test_no_true_up_when_the_period_reaches_the_minimum(catalog: Catalog) -> None:
    invoices = run(catalog, "steady", {(0, 0): 100, (1, 0): 300}, until=2)
    # period 1: usage 300 x 0.50 = 150.00, support 10.00; charges 30 + 150 + 10 = 190.00 >= 100.00
    # period 2: platform fee 30.00
    assert amounts(invoices[2]) == {
        "2026-01-01/2026-02-01/per_unit:api_calls": D("150.00"),
        "2026-01-01/2026-02-01/flat:fee:1": D("10.00"),
        "2026-01-01/2026-03-01/flat:fee": D("30.00"),
    }
    assert invoices[2].total == D("190.00")
    # a month without usage: charges 30 + 0 + 10 = 40.00 -> true-up 60.00 to reach 100.00
    quiet = run(catalog, "steady", {}, until=1)[1]
    assert amounts(quiet) == {
        "2026-01-01/2026-01-01/per_unit:api_calls": D("0.00"),
        "2026-01-01/2026-01-01/flat:fee:1": D("10.00"),
        "2026-01-01/2026-01-01/minimum": D("60.00"),
        "2026-01-01/2026-02-01/flat:fee": D("30.00"),
    }


def test_re_running_a_finalized_boundary_bills_nothing(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")
    ledger = Ledger()
    for boundary in (0, 1):
        ledger.record(draft(catalog, s, boundary, {(0, 0): 100}, ledger))
    for boundary in (0, 1):
        assert (
            draft_invoice(
                catalog, s, boundary, usage(s, boundary, {(0, 0): 100}), ledger.billed, ledger.credits_used
            )
            is None
        )


def test_an_invoice_never_finalized_is_caught_up_by_the_next(catalog: Catalog) -> None:
    # billed = due - already billed: without the first invoice, the second also bills period 0's fee
    s = schedule_of(catalog, "steady")
    invoice = draft(catalog, s, 1, {(0, 0): 100}, Ledger())
    assert amounts(invoice)["2026-01-01/2026-01-01/flat:fee"] == D("30.00")
    # 30.00 + 50.00 + 10.00 + 10.00 true-up + 30.00 for period 1
    assert invoice.total == D("130.00")


def test_negative_boundary_has_no_invoice(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")
    assert draft_invoice(catalog, s, -1, {}, {}, {}) is None


def test_contract_end_stops_in_advance_charges(catalog: Catalog) -> None:
    # term of 2 months without renewal: billed 2026-01-01 .. 2026-02-28
    s = schedule_of(catalog, "ender")
    ledger = Ledger()
    for boundary, calls in ((0, {}), (1, {(0, 0): 300})):
        ledger.record(draft(catalog, s, boundary, calls, ledger))
    last = draft(catalog, s, 2, {(1, 0): 300}, ledger)
    # period 1 closes: usage 150.00 + support 10.00; no period 2 fee: the contract has ended
    assert amounts(last) == {
        "2026-01-01/2026-02-01/per_unit:api_calls": D("150.00"),
        "2026-01-01/2026-02-01/flat:fee:1": D("10.00"),
    }
    ledger.record(last)
    assert usage_segments(s, 3) == []
    assert draft_invoice(catalog, s, 3, {}, ledger.billed, ledger.credits_used) is None


# -- a plan change: two segments, each prorated ----------------------------------------------------


def test_plan_change_prorates_flat_charges_in_advance(catalog: Catalog) -> None:
    s = schedule_of(catalog, "mover")
    ledger = Ledger()
    ledger.record(draft(catalog, s, 0, {}, ledger))
    invoice = draft(catalog, s, 1, {(0, 0): 100}, ledger)
    # period 1 = [2026-02-01, 2026-03-01), 28 days: basic February 1..9 (9 days), pro 10..28 (19 days)
    #   basic fee 30.00 x 9/28 = 9.642857... -> 9.64
    #   pro fee 60.00 x 19/28 = 40.714285... -> 40.71
    assert amounts(invoice) == {
        "2026-01-01/2026-01-01/per_unit:api_calls": D("50.00"),
        "2026-01-01/2026-01-01/flat:fee:1": D("10.00"),
        "2026-01-01/2026-01-01/minimum": D("10.00"),
        "2026-01-01/2026-02-01/flat:fee": D("9.64"),
        "2026-02-10/2026-02-01/flat:fee": D("40.71"),
    }
    # 50.00 + 10.00 + 10.00 + 9.64 + 40.71
    assert invoice.total == D("120.35")
    by_key = {str(line.key): line for line in invoice.lines}
    assert (
        by_key["2026-01-01/2026-02-01/flat:fee"].description
        == "Platform fee: $30.00 prorated for 9 of 28 days"
    )
    assert (
        by_key["2026-02-10/2026-02-01/flat:fee"].description
        == "Pro platform fee: $60.00 prorated for 19 of 28 days"
    )
    assert (by_key["2026-02-10/2026-02-01/flat:fee"].start, by_key["2026-02-10/2026-02-01/flat:fee"].end) == (
        utc(2026, 2, 10),
        utc(2026, 3, 1),
    )


def test_plan_change_rates_each_segment_alone_with_a_prorated_minimum(catalog: Catalog) -> None:
    s = schedule_of(catalog, "mover")
    calls = {(0, 0): 100, (1, 0): 20, (1, 1): 100}
    ledger = Ledger()
    for boundary in (0, 1):
        ledger.record(draft(catalog, s, boundary, calls, ledger))
    segments = usage_segments(s, 2)
    assert [(seg.term.index, seg.coverage.days, seg.coverage.period_days) for seg in segments] == [
        (0, 9, 28),
        (1, 19, 28),
    ]
    invoice = draft(catalog, s, 2, calls, ledger)
    # basic, 9 of 28 days, 20 calls of its own:
    #   fee 9.64 (billed at boundary 1: left out)
    #   usage 20 x 0.50 = 10.00
    #   support 10.00 x 9/28 = 3.214... -> 3.21
    #   minimum 100.00 x 9/28 = 32.142857... -> 32.14; charges 9.64 + 10.00 + 3.21 = 22.85
    #   true-up 32.14 - 22.85 = 9.29
    # pro, 19 of 28 days, 100 calls of its own:
    #   fee 40.71 (billed at boundary 1: left out)
    #   usage 100 x 0.40 = 40.00
    #   support 25.00 in full (prorate: false)
    #   minimum 200.00 x 19/28 = 135.714285... -> 135.71; charges 40.71 + 40.00 + 25.00 = 105.71
    #   true-up 135.71 - 105.71 = 30.00
    # period 2, pro only, whole: fee 60.00
    assert amounts(invoice) == {
        "2026-01-01/2026-02-01/per_unit:api_calls": D("10.00"),
        "2026-01-01/2026-02-01/flat:fee:1": D("3.21"),
        "2026-01-01/2026-02-01/minimum": D("9.29"),
        "2026-02-10/2026-02-01/per_unit:api_calls": D("40.00"),
        "2026-02-10/2026-02-01/flat:fee:1": D("25.00"),
        "2026-02-10/2026-02-01/minimum": D("30.00"),
        "2026-02-10/2026-03-01/flat:fee": D("60.00"),
    }
    # 10.00 + 3.21 + 9.29 + 40.00 + 25.00 + 30.00 + 60.00
    assert invoice.total == D("177.50")
    by_key = {str(line.key): line for line in invoice.lines}
    assert by_key["2026-01-01/2026-02-01/minimum"].description == (
        "Minimum commitment $100.00 prorated for 9 of 28 days: true-up"
    )
    assert by_key["2026-01-01/2026-02-01/per_unit:api_calls"].quantity == D(20)
    assert by_key["2026-02-10/2026-02-01/per_unit:api_calls"].quantity == D(100)
    assert (
        by_key["2026-01-01/2026-02-01/per_unit:api_calls"].start,
        by_key["2026-01-01/2026-02-01/per_unit:api_calls"].end,
    ) == (
        utc(2026, 2, 1),
        utc(2026, 2, 10),
    )
    # each side's charges reach exactly its prorated minimum
    basic_side = D("9.64") + sum(
        v for k, v in amounts(invoice).items() if k.startswith("2026-01-01/2026-02-01/")
    )
    pro_side = D("40.71") + sum(
        v for k, v in amounts(invoice).items() if k.startswith("2026-02-10/2026-02-01/")
    )
    assert (basic_side, pro_side) == (D("32.14"), D("135.71"))


# -- trials ----------------------------------------------------------------------------------------


def test_a_trial_bills_nothing(catalog: Catalog) -> None:
    s = schedule_of(catalog, "tryer")
    # 14 trial days from 2026-01-01: billing starts 2026-01-15
    first = draft(catalog, s, 0, {}, Ledger())
    assert (first.issued_at, first.issued_on) == (utc(2026, 1, 15), date(2026, 1, 15))
    # period 0 = [2026-01-15, 2026-02-15) is whole: the fee is not prorated for the trial
    assert amounts(first) == {"2026-01-01/2026-01-15/flat:fee": D("30.00")}
    assert first.lines[0].start == utc(2026, 1, 15)
    # the usage asked for starts with the first period: trial usage is never rated
    ledger = Ledger()
    ledger.record(first)
    assert [(seg.start, seg.end) for seg in usage_segments(s, 1)] == [(utc(2026, 1, 15), utc(2026, 2, 15))]
    second = draft(catalog, s, 1, {(0, 0): 10}, ledger)
    # period 0: 10 x 0.50 = 5.00 (no minimum on this plan); period 1 fee 30.00
    assert amounts(second) == {
        "2026-01-01/2026-01-15/per_unit:api_calls": D("5.00"),
        "2026-01-01/2026-02-15/flat:fee": D("30.00"),
    }
    assert all(
        line.start is not None and line.start >= utc(2026, 1, 15) for line in first.lines + second.lines
    )


# -- credits ---------------------------------------------------------------------------------------


def test_credit_grants_are_keyed_by_contract(catalog: Catalog) -> None:
    grants = credit_grants(schedule_of(catalog, "saver"))
    assert [g.key for g in grants] == [f"2026-01-01/credit/{i}" for i in range(5)]
    assert grants[2] == CreditGrant("2026-01-01/credit/2", D("500.00"), date(2026, 3, 1), None)
    assert credit_grants(schedule_of(catalog, "steady")) == ()


def test_credits_burn_earliest_expiry_first_and_carry_over(catalog: Catalog) -> None:
    calls = {(0, 0): 100, (1, 0): 300}
    invoices = run(catalog, "saver", calls, until=3)

    # boundary 0, 2026-01-01: subtotal 30.00
    #   valid: credit/0 (40, to Mar 31), credit/1 (50, to Jun 30); credit/2 and /4 not yet granted,
    #   credit/3 expired; earliest expiry first: 30.00 of credit/0, total 0 (never below zero)
    assert invoices[0].subtotal == D("30.00")
    assert invoices[0].credits == (("2026-01-01/credit/0", D("30.00")),)
    assert invoices[0].credits_applied == D("30.00")
    assert invoices[0].total == D("0.00")

    # boundary 1, 2026-02-01: subtotal 100.00 (as for "steady")
    #   credit/4 (70, expires on the issue day itself): 70.00, left 30.00
    #   credit/0: 10.00 remaining, left 20.00; credit/1: 20.00 of 50.00, left 0
    assert invoices[1].subtotal == D("100.00")
    assert invoices[1].credits == (
        ("2026-01-01/credit/4", D("70.00")),
        ("2026-01-01/credit/0", D("10.00")),
        ("2026-01-01/credit/1", D("20.00")),
    )
    assert invoices[1].total == D("0.00")

    # boundary 2, 2026-03-01: subtotal 190.00
    #   credit/0 used up, credit/1 30.00 remaining -> 30.00, left 160.00
    #   credit/2 (granted today, no expiry): 160.00 of 500.00
    assert invoices[2].subtotal == D("190.00")
    assert invoices[2].credits == (("2026-01-01/credit/1", D("30.00")), ("2026-01-01/credit/2", D("160.00")))
    assert invoices[2].total == D("0.00")

    # boundary 3, 2026-04-01: no usage in March -> 0.00 usage + 10.00 support + 60.00 true-up,
    #   + 30.00 April fee = 100.00; only credit/2 is left (340.00): 100.00
    assert invoices[3].subtotal == D("100.00")
    assert invoices[3].credits == (("2026-01-01/credit/2", D("100.00")),)
    assert invoices[3].total == D("0.00")


def test_expired_and_future_credits_are_unused(catalog: Catalog) -> None:
    grants = credit_grants(schedule_of(catalog, "saver"))
    # on 2025-12-31, only credit/3 is valid; on 2026-07-01 only credit/2
    assert apply_credits(D("100.00"), grants, {}, date(2025, 12, 31)) == (
        ("2026-01-01/credit/3", D("20.00")),
    )
    assert apply_credits(D("100.00"), grants, {}, date(2026, 7, 1)) == (("2026-01-01/credit/2", D("100.00")),)
    # expires_on and granted_on are both inclusive
    expiring = [CreditGrant("a", D("5"), date(2026, 1, 1), date(2026, 1, 31))]
    assert apply_credits(D("9"), expiring, {}, date(2026, 1, 31)) == (("a", D("5")),)
    assert apply_credits(D("9"), expiring, {}, date(2026, 2, 1)) == ()
    assert apply_credits(D("9"), expiring, {}, date(2026, 1, 1)) == (("a", D("5")),)
    assert apply_credits(D("9"), expiring, {}, date(2025, 12, 31)) == ()


def test_credits_follow_the_customers_calendar(catalog: Catalog) -> None:
    s = schedule_of(catalog, "tokyo")
    first = draft(catalog, s, 0, {}, Ledger())
    # issued at local midnight on 2026-01-01 in Tokyo, which is still 2025-12-31 in UTC;
    # the credit valid on 2026-01-01 only serves it: 30.00 - 5.00
    assert first.issued_at == utc(2025, 12, 31, 15)
    assert first.issued_on == date(2026, 1, 1)
    assert first.credits == (("2026-01-01/credit/0", D("5.00")),)
    assert first.total == D("25.00")
    assert str(first.lines[0].key) == "2026-01-01/2026-01-01/flat:fee"


def test_apply_credits_never_takes_a_total_below_zero() -> None:
    grants = [
        CreditGrant("later", D("100"), date(2026, 1, 1), date(2026, 12, 31)),
        CreditGrant("forever", D("100"), date(2026, 1, 1), None),
        CreditGrant("sooner", D("10"), date(2026, 1, 1), date(2026, 6, 30)),
    ]
    day = date(2026, 2, 1)
    # 25.00: sooner 10, later 15; forever untouched
    assert apply_credits(D("25.00"), grants, {}, day) == (("sooner", D("10")), ("later", D("15.00")))
    # the used part of a grant is not burned again; a used-up grant is skipped
    assert apply_credits(D("25.00"), grants, {"sooner": D("10"), "later": D("95")}, day) == (
        ("later", D("5")),
        ("forever", D("20.00")),
    )
    # nothing to pay, or money owed back (a reversal): no credit is burned
    assert apply_credits(D("0.00"), grants, {}, day) == ()
    assert apply_credits(D("-12.00"), grants, {}, day) == ()
    # more credit than the subtotal: the whole subtotal, no more
    applied = apply_credits(D("7.50"), grants, {}, day)
    assert sum(amount for _, amount in applied) == D("7.50")


def test_credits_with_the_same_expiry_go_by_grant_date() -> None:
    grants = [
        CreditGrant("b", D("10"), date(2026, 1, 5), date(2026, 12, 31)),
        CreditGrant("a", D("10"), date(2026, 1, 1), date(2026, 12, 31)),
    ]
    assert apply_credits(D("15"), grants, {}, date(2026, 2, 1)) == (("a", D("10")), ("b", D("5")))


# -- settle: due minus already billed --------------------------------------------------------------


def line(key: str, amount: str, quantity: str = "1", kind: str = "usage") -> InvoiceLine:
    return InvoiceLine(
        key=key,
        kind=kind,  # type: ignore[arg-type]
        description=f"line {key}",
        metric="api_calls" if kind == "usage" else None,
        quantity=D(quantity),
        amount=D(amount),
        start=utc(2026, 1, 1),
        end=utc(2026, 2, 1),
    )


def test_settle_leaves_out_what_was_billed_for_the_same_amount() -> None:
    due = [line("p/0", "30.00", kind="flat"), line("p/1", "50.00", "100"), line("q/0", "30.00", kind="flat")]
    billed = {"p/0": Billed(D("30.00"), D(1), "line p/0"), "p/1": Billed(D("50.00"), D(100), "line p/1")}
    assert settle(due, billed, ["p/"], USD) == [due[2]]
    assert settle(due, {}, ["p/"], USD) == due


def test_settle_bills_a_different_amount_as_an_adjustment_for_the_difference() -> None:
    due = [line("p/1", "70.00", "140")]
    billed = {"p/1": Billed(D("50.00"), D(100), "line p/1")}
    (adjustment,) = settle(due, billed, ["p/"], USD)
    # 70.00 due - 50.00 billed = 20.00; 140 - 100 = 40 more units
    assert adjustment.key == "p/1"
    assert adjustment.kind == "adjustment"
    assert adjustment.amount == D("20.00")
    assert adjustment.quantity == D(40)
    assert adjustment.metric == "api_calls"
    assert (adjustment.start, adjustment.end) == (utc(2026, 1, 1), utc(2026, 2, 1))
    assert "billed $50.00 before" in adjustment.description
    # less than billed: a negative adjustment
    (credit,) = settle([line("p/1", "45.00", "90")], billed, ["p/"], USD)
    assert (credit.amount, credit.quantity) == (D("-5.00"), D(-10))


def test_settle_reverses_a_billed_key_no_longer_due() -> None:
    p = SegmentId(date(2026, 1, 1), date(2026, 2, 1))
    q = SegmentId(date(2026, 1, 1), date(2026, 3, 1))
    billed = {
        LineKey.of(p, "minimum"): Billed(D("10.00"), D(1), "Minimum commitment $100.00: true-up"),
        LineKey.of(q, "flat:fee"): Billed(D("30.00"), D(1), "elsewhere"),  # not among the segments revised
        LineKey.of(p, "flat:fee:9"): Billed(D("0.00"), D(0), "already reversed"),  # nets to nothing
    }
    (reversal,) = settle([line(LineKey.of(p, "per_unit:api_calls"), "70.00", "140")], billed, {p}, USD)[1:]
    assert reversal.key == LineKey.of(p, "minimum")
    assert reversal.kind == "adjustment"
    assert (reversal.amount, reversal.quantity) == (D("-10.00"), D(-1))
    assert reversal.description == "Reversal: Minimum commitment $100.00: true-up (no longer due)"


def test_late_usage_adjusts_and_reverses_on_the_next_invoice(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")
    ledger = Ledger()
    for boundary in (0, 1):
        ledger.record(draft(catalog, s, boundary, {(0, 0): 100}, ledger))
    # 40 late calls arrive for period 0 (already invoiced at boundary 1 with 100 calls)
    calls = {(0, 0): 140, (1, 0): 300}
    assert [p.index for p in closing_periods(s, 2, late=[0])] == [1, 0]  # closing first, then late
    invoice = draft(catalog, s, 2, calls, ledger, late=(0,))
    # period 0 now: usage 140 x 0.50 = 70.00, billed 50.00 -> adjustment +20.00 (40 units)
    #   charges 30.00 + 70.00 + 10.00 = 110.00 >= 100.00: the 10.00 true-up is reversed
    # period 1: usage 150.00, support 10.00; period 2 fee 30.00
    assert amounts(invoice) == {
        "2026-01-01/2026-01-01/per_unit:api_calls": D("20.00"),
        "2026-01-01/2026-01-01/minimum": D("-10.00"),
        "2026-01-01/2026-02-01/per_unit:api_calls": D("150.00"),
        "2026-01-01/2026-02-01/flat:fee:1": D("10.00"),
        "2026-01-01/2026-03-01/flat:fee": D("30.00"),
    }
    # 20.00 - 10.00 + 150.00 + 10.00 + 30.00
    assert invoice.total == D("200.00")
    by_key = {str(line.key): line for line in invoice.lines}
    assert by_key["2026-01-01/2026-01-01/per_unit:api_calls"].kind == "adjustment"
    assert by_key["2026-01-01/2026-01-01/per_unit:api_calls"].quantity == D(40)
    assert by_key["2026-01-01/2026-01-01/minimum"].kind == "adjustment"
    # once finalized, period 0 is settled: re-running the boundary bills nothing more
    ledger.record(invoice)
    assert ledger.billed[LineKey.parse("2026-01-01/2026-01-01/per_unit:api_calls")].amount == D("70.00")
    assert ledger.billed[LineKey.parse("2026-01-01/2026-01-01/minimum")].amount == D("0.00")
    again = draft_invoice(catalog, s, 2, usage(s, 2, calls, (0,)), ledger.billed, ledger.credits_used, (0,))
    assert again is None


def test_late_periods_only_reach_back(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")
    # the closing period is always there; "late" adds earlier periods only, never later ones
    assert [p.index for p in closing_periods(s, 3, late=[0, 2, 3, 7, -1])] == [2, 0]
    assert [p.index for p in closing_periods(s, 0, late=[0])] == []


# -- the rating fingerprint ------------------------------------------------------------------------


def test_fingerprint_is_stable_for_the_same_inputs(catalog: Catalog) -> None:
    s = schedule_of(catalog, "mover")
    ledger = Ledger()
    ledger.record(draft(catalog, s, 0, {}, ledger))
    calls = {(0, 0): 100}
    first = draft(catalog, s, 1, calls, ledger)
    second = draft(catalog, s, 1, dict(calls), ledger)
    assert first.fingerprint == second.fingerprint
    assert len(first.fingerprint) == 32
    int(first.fingerprint, 16)
    # the same usage written differently (100 vs 100.0, other insertion order) is the same input
    segments = usage_segments(s, 1)
    written = {
        (seg.start, seg.end): {"api_calls": MeteredUsage(D("100.0"), 100)} for seg in reversed(segments)
    }
    third = draft_invoice(catalog, s, 1, written, ledger.billed, ledger.credits_used)
    assert third is not None and third.fingerprint == first.fingerprint


def test_fingerprint_changes_with_usage_and_what_was_billed(catalog: Catalog) -> None:
    s = schedule_of(catalog, "steady")
    ledger = Ledger()
    ledger.record(draft(catalog, s, 0, {}, ledger))
    base = draft(catalog, s, 1, {(0, 0): 100}, ledger).fingerprint
    assert draft(catalog, s, 1, {(0, 0): 101}, ledger).fingerprint != base
    # same quantity, different event count
    segment = usage_segments(s, 1)[0]
    other = draft_invoice(
        catalog,
        s,
        1,
        {(segment.start, segment.end): {"api_calls": MeteredUsage(D(100), 99)}},
        ledger.billed,
        ledger.credits_used,
    )
    assert other is not None and other.fingerprint != base
    # a different history of finalized invoices
    assert draft(catalog, s, 1, {(0, 0): 100}, Ledger()).fingerprint != base
