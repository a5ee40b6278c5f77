"""Usage and contracts into invoice lines: the rating code invoices, previews and quotes share.

`rate_charges` prices one contract's part of one period: every charge of its plan (with the
contract's overrides) on the period's metered usage, each line rounded once, half-up, and a
true-up line when the period's charges fall below the prorated minimum commitment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, NamedTuple

from billing.core.catalog import Catalog, Metric
from billing.core.errors import InvalidUsage
from billing.core.line_keys import MINIMUM, LineKey, SegmentId
from billing.core.money import EXACT, ZERO, Currency, display_amount, round_money, round_ratio
from billing.core.periods import Segment
from billing.core.pricing import ChargeModel, charge_names, price_charge
from billing.core.pricing.base import (
    FULL_COVERAGE,
    MAX_AMOUNT,
    NO_USAGE,
    Coverage,
    MeteredUsage,
    TierAmount,
    money_text,
)
from billing.core.taxes import TaxLine, compute_taxes, tax_total

_new_tuple = tuple.__new__  # what a named tuple's __new__ calls, without its Python frame

LineKind = Literal["usage", "flat", "minimum", "adjustment"]
Timing = Literal["in_advance", "in_arrears"]


class InvoiceLine(NamedTuple):
    """One rounded line; `key` names what it bills, stable across re-runs of the same period.

    `tiers` carry each tier's share of the rounded `amount`, at minor units (`shown_tiers`)."""

    key: LineKey
    kind: LineKind
    description: str
    metric: str | None
    quantity: Decimal
    amount: Decimal
    start: datetime | None = None
    end: datetime | None = None
    tiers: tuple[TierAmount, ...] = ()
    timing: Timing = "in_arrears"


@dataclass(frozen=True, slots=True)
class PeriodCharges:
    """Everything one contract's part of a period costs, in charge order, true-up last."""

    lines: tuple[InvoiceLine, ...]

    @property
    def in_advance(self) -> tuple[InvoiceLine, ...]:
        return tuple(line for line in self.lines if line.timing == "in_advance")

    @property
    def closing(self) -> tuple[InvoiceLine, ...]:
        """What the invoice issued when the period closes bills of it."""
        return tuple(line for line in self.lines if line.timing == "in_arrears")

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


class _PricedLine(NamedTuple):
    """The part of a line that depends only on the charge, its usage and the days covered."""

    kind: LineKind
    description: str
    metric: str | None
    quantity: Decimal
    amount: Decimal
    tiers: tuple[TierAmount, ...]
    timing: Timing


class PricedLines:
    """A memo of priced lines for one run: many lines repeat across customers (every flat fee,
    small counts such as seats or users) and pricing is pure, so identical inputs reuse the
    priced line. Keyed by the charge's identity; each entry keeps its charge alive so that the
    identity cannot be reused while the entry exists."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        # key -> (the charge, its priced line): a hit counts only when its charge is the one
        # asked for (`rate_charges` reads it directly: one lookup per line of every invoice)
        self.entries: dict[tuple[object, ...], tuple[ChargeModel, _PricedLine]] = {}

    def put(self, key: tuple[object, ...], charge: ChargeModel, line: _PricedLine) -> None:
        if len(self.entries) >= self.limit:
            self.entries.clear()
        self.entries[key] = (charge, line)


def shown_tiers(tiers: tuple[TierAmount, ...], currency: Currency) -> tuple[TierAmount, ...]:
    """Each tier's amount as the line shows it, at minor units and adding up to the line.

    The line is rounded once from the tiers' exact sum; each tier shows its running total
    rounded, less the tiers before it. Decided here, when the line is made, so documents only
    format it and every stored tier amount is at minor units."""
    shown = []
    exact = so_far = ZERO
    for quantity, unit_price, flat_fee, amount, bounded in tiers:
        exact = EXACT.add(exact, amount)  # exact: a tier sum can exceed 28 digits
        running = round_money(exact, currency)
        shown.append(TierAmount(quantity, unit_price, flat_fee, running - so_far, bounded))
        so_far = running
    return tuple(shown)


def _price_line(
    charge: ChargeModel,
    usage: MeteredUsage,
    coverage: Coverage,
    metrics: Mapping[str, Metric],
    currency: Currency,
    plan_label: str,
) -> _PricedLine:
    priced = price_charge(charge, usage, coverage)
    if priced.prorated is not None:
        days = priced.prorated
        amount = round_ratio(priced.amount, days.days, days.period_days, currency)
    else:
        amount = round_money(priced.amount, currency)
    if amount.copy_abs() >= MAX_AMOUNT:
        # Lines stay below 10^15 so that invoice totals are exact in ordinary Decimal sums.
        raise InvalidUsage(
            f"a {charge.model} line of {display_amount(amount, currency)} is beyond what one invoice line "
            f"can bill (less than 1,000,000,000,000,000)"
        )
    code = charge.metric_code
    if code is None:
        label = charge.description or f"{plan_label} plan".strip()
        timing: Timing = getattr(charge, "timing", "in_arrears")
        kind: LineKind = "flat"
    else:
        label = charge.description or metrics[code].label
        timing, kind = "in_arrears", "usage"
    explanation = charge.explain(priced, currency)
    tiers = shown_tiers(priced.tiers, currency)
    return _PricedLine(kind, f"{label}: {explanation}", code, priced.quantity, amount, tiers, timing)


def rate_charges(
    charges: tuple[ChargeModel, ...],
    usage: Mapping[str, MeteredUsage],
    *,
    metrics: Mapping[str, Metric],
    currency: Currency,
    coverage: Coverage = FULL_COVERAGE,
    minimum: Decimal | None = None,
    plan_label: str = "",
    segment: SegmentId | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    memo: PricedLines | None = None,
    names: Sequence[str] | None = None,
) -> PeriodCharges:
    """Price a plan's charges for one period (or the part `coverage` says a contract covers).

    `memo` shares identical priced lines across the calls of one run; `names` are the
    charges' `charge_names`, when the caller has them already."""
    lines = []
    total = ZERO
    contract, period = (None, None) if segment is None else segment
    days, period_days, code = coverage.days, coverage.period_days, currency.code
    entries = None if memo is None else memo.entries
    for charge, name in zip(charges, names or charge_names(charges), strict=True):
        metric = charge.metric_code
        metered = NO_USAGE if metric is None else usage.get(metric, NO_USAGE)
        # what a priced line depends on besides its charge; a hit counts only for that charge
        memo_key = (id(charge), metered, days, period_days, code, plan_label)
        hit = None if entries is None else entries.get(memo_key)
        if hit is not None and hit[0] is charge:
            p = hit[1]
        else:
            p = _price_line(charge, metered, coverage, metrics, currency, plan_label)
            if memo is not None:
                memo.put(memo_key, charge, p)
        total += p.amount
        # the named tuples' own __new__ is a Python call: built from a tuple, as it does
        key = _new_tuple(LineKey, (contract, period, name))
        kind, description, metric, quantity, amount, tiers, timing = p
        lines.append(
            _new_tuple(
                InvoiceLine,
                (key, kind, description, metric, quantity, amount, start, end, tiers, timing),
            )
        )
    if minimum is not None:
        floor = round_ratio(minimum, days, period_days, currency)
        if total < floor:
            shown = money_text(minimum, currency)  # as the catalog writes it
            prorated = "" if coverage.is_full else f" prorated for {days} of {period_days} days"
            lines.append(
                InvoiceLine(
                    key=LineKey(contract, period, MINIMUM),
                    kind="minimum",
                    description=f"Minimum commitment {shown}{prorated}: true-up",
                    metric=None,
                    quantity=Decimal(1),
                    amount=floor - total,
                    start=start,
                    end=end,
                )
            )
    return PeriodCharges(tuple(lines))


def rate_segment(
    segment: Segment, usage: Mapping[str, MeteredUsage], catalog: Catalog, memo: PricedLines | None = None
) -> PeriodCharges:
    """Rate one contract's days of a period on that segment's own usage."""
    term = segment.term
    return rate_charges(
        term.charges,
        usage,
        metrics=catalog.metrics_by_code,
        currency=catalog.currency,
        coverage=segment.coverage,
        minimum=term.plan.minimum_commitment,
        plan_label=term.plan.label,
        segment=segment.id,
        start=segment.start,
        end=segment.end,
        memo=memo,
        names=term.charge_names,
    )


def rate_in_advance(
    segment: Segment, catalog: Catalog, memo: PricedLines | None = None
) -> tuple[InvoiceLine, ...]:
    """`rate_segment(segment, {}, ...).in_advance`, pricing only the in-advance charges: the
    opening period of every invoice needs them, and usage charges and the true-up never are."""
    term = segment.term
    if not term.advance_charges:
        return ()
    return rate_charges(
        term.advance_charges,
        {},
        metrics=catalog.metrics_by_code,
        currency=catalog.currency,
        coverage=segment.coverage,
        plan_label=term.plan.label,
        segment=segment.id,
        start=segment.start,
        end=segment.end,
        memo=memo,
        names=term.advance_names,
    ).lines


@dataclass(frozen=True, slots=True)
class Quote:
    currency: Currency
    lines: tuple[InvoiceLine, ...]
    taxes: tuple[TaxLine, ...] = ()

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.subtotal + tax_total(self.taxes)


def quote(
    catalog: Catalog,
    plan_code: str,
    usage: Mapping[str, MeteredUsage],
    tax_rates: Sequence[tuple[str, Decimal]] = (),
) -> Quote:
    """One whole period of a plan as if a contract covered all of it (SPEC §6 `billing quote`),
    taxed at `tax_rates` (`(name, percent)`, as a customer's `tax_rates`)."""
    plan = catalog.plan(plan_code)
    for code in usage:
        catalog.metric(code)  # an unknown metric is an error, not a silent zero
    charges = rate_charges(
        plan.charges,
        usage,
        metrics=catalog.metrics_by_code,
        currency=catalog.currency,
        minimum=plan.minimum_commitment,
        plan_label=plan.label,
    )
    subtotal = sum((line.amount for line in charges.lines), ZERO)
    return Quote(catalog.currency, charges.lines, compute_taxes(subtotal, tax_rates, catalog.currency))
