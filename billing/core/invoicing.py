"""What each invoice bills: the pure generator behind invoice runs, backfills and previews.

Invoices are issued at period boundaries. The invoice issued when period P closes (at the start
of P+1) bills P's usage, P's in-arrears flat charges and P's true-up, plus P+1's in-advance flat
charges; the first one, at the anchor, bills the first period's in-advance charges.

Billed = to be billed - already billed (Kill Bill's rule): every line has a key naming what it
bills; a line whose key was billed on a finalized invoice for the same amount is left out, and
one billed for a different amount (usage that arrived after its period was invoiced) becomes an
adjustment line for the difference. So re-runs change nothing and late usage is billed once.
A key a voided invoice billed (not an adjustment it carried for an earlier period) is left
alone: invoice runs do not bill a voided period again, and backfills leave it out. A backfill's
credit note bills its key like any line, negative: what is billed is the net amount.

Taxes are exclusive percentages of the subtotal (`billing.core.taxes`); prepaid credits then burn
the taxed total: `total = subtotal + taxes - credits_applied`, never below zero. Lines that
would take the subtotal below zero (late usage reversed, a negative adjustment) are the draft's
remainder, carried by a credit note of the invoice (`cap_at_zero`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import NamedTuple

from billing.core.catalog import Catalog
from billing.core.credits import apply_credits, credit_grants
from billing.core.events import dumps, format_timestamp
from billing.core.line_keys import LineKey, SegmentId
from billing.core.money import ZERO, Currency, display_amount, plain
from billing.core.periods import Period, Schedule, Segment, local_date
from billing.core.pricing.base import MeteredUsage
from billing.core.rating import InvoiceLine, PricedLines, rate_in_advance, rate_segment
from billing.core.taxes import TaxLine, compute_taxes, tax_total

_new_tuple = tuple.__new__

UsageBySegment = Mapping[tuple[datetime, datetime], Mapping[str, MeteredUsage]]


class Billed(NamedTuple):
    """What finalized invoices billed under one line key, all lines for that key summed;
    the rest as on the latest of those lines. A named tuple: one is made for every line an
    invoice run folds into a customer's state."""

    amount: Decimal
    quantity: Decimal
    description: str
    kind: str = "usage"
    metric: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    reversed: bool = False  # its invoice was voided: invoice runs and backfills leave it alone

    def plus(self, line: InvoiceLine) -> Billed:
        """This key's billing after one more finalized line."""
        kind = self.kind if line.kind == "adjustment" else line.kind
        # built from a tuple as the named tuple's own __new__ does, without its Python call
        return _new_tuple(
            Billed,
            (
                self.amount + line.amount,
                self.quantity + line.quantity,
                line.description,
                kind,
                line.metric,
                line.start,
                line.end,
                self.reversed,
            ),
        )

    def voided(self) -> Billed:
        """This key's billing, its invoice voided: invoice runs and backfills leave it alone."""
        return self._replace(reversed=True)


NOTHING_BILLED = Billed(ZERO, ZERO, "")


def with_corrections(
    billed: Mapping[LineKey, Billed], corrections: Iterable[InvoiceLine]
) -> dict[LineKey, Billed]:
    """What is billed once pending corrections (a backfill's adjustment lines, not invoiced
    yet) are counted as billed: the next invoice carries them, so nothing settles them twice."""
    folded = dict(billed)
    for line in corrections:
        folded[line.key] = folded.get(line.key, NOTHING_BILLED).plus(line)
    return folded


class InvoiceDraft(NamedTuple):
    """An invoice as the generator computes it, before it is stored, numbered or sent.

    A named tuple, like the other hot value types of drafting: one per invoice of every
    run, and a frozen dataclass's `__init__` sets each of its fourteen fields one call at
    a time."""

    customer_id: str
    currency: Currency
    boundary: int  # index of the period whose start issues this invoice
    issued_at: datetime
    issued_on: date
    period_start: datetime
    period_end: datetime
    lines: tuple[InvoiceLine, ...]
    credits: tuple[tuple[str, Decimal], ...]
    fingerprint: str
    timezone: str = "UTC"
    taxes: tuple[TaxLine, ...] = ()
    # lines that would take the total below zero: a credit note of this invoice carries them
    remainder: tuple[InvoiceLine, ...] = ()
    remainder_taxes: tuple[TaxLine, ...] = ()

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), self.currency.quantum * 0)

    @property
    def credits_applied(self) -> Decimal:
        return sum((amount for _, amount in self.credits), self.currency.quantum * 0)

    @property
    def total(self) -> Decimal:
        return self.subtotal + tax_total(self.taxes) - self.credits_applied

    def as_invoice(self) -> Invoice:
        """The computed invoice as an `Invoice`: a draft, without number."""
        return Invoice(
            customer_id=self.customer_id,
            status="draft",
            currency=self.currency,
            timezone=self.timezone,
            period_start=self.period_start,
            period_end=self.period_end,
            lines=self.lines,
            subtotal=self.subtotal,
            credits_applied=self.credits_applied,
            total=self.total,
            fingerprint=self.fingerprint,
            issued_at=self.issued_at,
            taxes=self.taxes,
        )


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice, stored (number, status) or only computed (a draft, a preview's side).

    `timezone` is the customer's zone when it was rated: every date a person reads of it
    (period days, issue date) is a local calendar day in that zone."""

    customer_id: str
    status: str
    currency: Currency
    timezone: str
    period_start: datetime
    period_end: datetime
    lines: tuple[InvoiceLine, ...]
    subtotal: Decimal
    credits_applied: Decimal
    total: Decimal
    fingerprint: str
    issued_at: datetime | None
    due_on: date | None = None
    number: str | None = None
    taxes: tuple[TaxLine, ...] = ()  # total = subtotal + taxes - credits_applied
    kind: str = "invoice"  # invoice | credit_note
    corrects: str | None = None  # a credit note: the number of the invoice it credits
    reason: str | None = None  # a credit note: void | backfill | remainder
    paid_at: datetime | None = None
    voided_at: datetime | None = None


def closing_periods(schedule: Schedule, boundary: int, late: Iterable[int] = ()) -> list[Period]:
    """The periods whose usage the invoice at `boundary` bills: the one closing, then late ones."""
    if not late:  # most invoices: the period closing only
        closing = schedule.period(boundary - 1)
        return [] if closing is None else [closing]
    indexes = [boundary - 1] if boundary > 0 else []
    indexes += sorted({i for i in late if 0 <= i < boundary - 1})
    periods = [schedule.period(i) for i in indexes]
    return [p for p in periods if p is not None]


def usage_segments(schedule: Schedule, boundary: int, late: Iterable[int] = ()) -> list[Segment]:
    """The segments whose metered usage `draft_invoice` needs for this boundary."""
    return [s for p in closing_periods(schedule, boundary, late) for s in schedule.segments(p)]


def draft_invoice(
    catalog: Catalog,
    schedule: Schedule,
    boundary: int,
    usage: UsageBySegment,
    billed: Mapping[LineKey, Billed],
    credits_used: Mapping[str, Decimal],
    late: Iterable[int] = (),
    memo: PricedLines | None = None,
    corrections: Sequence[InvoiceLine] = (),
) -> InvoiceDraft | None:
    """The invoice issued at the start of period `boundary`; None when it would bill nothing.

    `corrections` are pending adjustment lines (a backfill's) that this invoice carries as
    they are; what it settles counts them as billed already. `memo` shares identical priced
    lines across the invoices of one run."""
    opening = schedule.period(boundary)
    if opening is None:
        return None
    closing = closing_periods(schedule, boundary, late)
    due: list[InvoiceLine] = []
    revised: set[SegmentId] = set()
    inputs: list[tuple[datetime, Mapping[str, MeteredUsage]]] = []
    for period in closing:
        for segment in schedule.segments(period):
            metered = usage[(segment.start, segment.end)]
            due += rate_segment(segment, metered, catalog, memo).lines
            revised.add(segment.id)
            inputs.append((segment.start, metered))
    for segment in schedule.segments(opening):
        due += rate_in_advance(segment, catalog, memo)
    if corrections:
        billed = with_corrections(billed, corrections)
    settled = settle(due, billed, revised, catalog.currency)
    if corrections:
        settled += corrections
    lines, remainder = cap_at_zero(settled)
    if not lines and not remainder:
        return None
    if boundary > 0:
        shown = closing[0]  # the period closing: `closing_periods` lists it first
        assert shown.index == boundary - 1
    else:
        shown = opening
    grants = credit_grants(schedule)
    issued_on = local_date(opening.start, schedule.tz)
    subtotal = sum([line.amount for line in lines], ZERO)
    rates = schedule.taxes
    taxes = compute_taxes(subtotal, rates, catalog.currency)
    remainder_taxes: tuple[TaxLine, ...] = ()
    if remainder:
        remainder_total = sum([line.amount for line in remainder], ZERO)
        remainder_taxes = compute_taxes(remainder_total, rates, catalog.currency)
    credits = apply_credits(subtotal + tax_total(taxes), grants, credits_used, issued_on) if grants else ()
    fingerprint = draft_fingerprint(
        catalog.version, schedule.customer.id, boundary, inputs, billed, credits_used, rates
    )
    return InvoiceDraft(
        customer_id=schedule.customer.id,
        currency=catalog.currency,
        boundary=boundary,
        issued_at=opening.start,
        issued_on=issued_on,
        period_start=shown.start,
        period_end=shown.end,
        lines=tuple(lines),
        credits=credits,
        fingerprint=fingerprint,
        timezone=schedule.customer.timezone,
        taxes=taxes,
        remainder=tuple(remainder),
        remainder_taxes=remainder_taxes,
    )


def cap_at_zero(lines: list[InvoiceLine]) -> tuple[list[InvoiceLine], list[InvoiceLine]]:
    """An invoice total never goes below zero (SPEC §8a): when the lines sum below zero, the
    invoice carries its lines of zero or more and the negative ones are the remainder, which a
    credit note referencing the invoice carries (taxed like it), issued when it is finalized."""
    if sum([line.amount for line in lines], ZERO) >= 0:
        return lines, []
    return [line for line in lines if line.amount >= 0], [line for line in lines if line.amount < 0]


def settle(
    due: Iterable[InvoiceLine],
    billed: Mapping[LineKey, Billed],
    revised: Collection[SegmentId],
    currency: Currency,
) -> list[InvoiceLine]:
    """Due lines minus what finalized invoices billed: new lines, adjustments and reversals.

    Only what usage decides is revised (usage lines and true-ups: late usage changes them);
    a fee once billed stays as billed, whatever the catalog says later.
    """
    lines: list[InvoiceLine] = []
    seen: set[LineKey] = set()
    for line in due:
        seen.add(line.key)
        prior = billed.get(line.key)
        if prior is None:
            lines.append(line)
        elif prior.reversed:
            continue  # its invoice was voided: not billed again by an invoice run
        elif prior.amount != line.amount and line.kind != "flat" and prior.kind != "flat":
            lines.append(_adjustment(line, prior, currency))
    for key, prior in billed.items():
        reversible = prior.amount and prior.kind != "flat" and not prior.reversed
        if key not in seen and key.segment in revised and reversible:
            lines.append(
                InvoiceLine(
                    key=key,
                    kind="adjustment",
                    description=f"Reversal: {prior.description} (no longer due)",
                    metric=prior.metric,
                    quantity=-prior.quantity,
                    amount=-prior.amount,
                    start=prior.start,
                    end=prior.end,
                )
            )
    return lines


def _adjustment(line: InvoiceLine, prior: Billed, currency: Currency) -> InvoiceLine:
    return InvoiceLine(
        key=line.key,
        kind="adjustment",
        description=(
            f"Adjustment for late usage: {line.description} "
            f"(billed {display_amount(prior.amount, currency)} before)"
        ),
        metric=line.metric,
        quantity=line.quantity - prior.quantity,
        amount=line.amount - prior.amount,
        start=line.start,
        end=line.end,
    )


def draft_fingerprint(
    version: str,
    customer_id: str,
    boundary: int,
    usage: Iterable[tuple[datetime, Mapping[str, MeteredUsage]]],
    billed: Mapping[LineKey, Billed],
    credits_used: Mapping[str, Decimal],
    tax_rates: Iterable[tuple[str, Decimal]],
) -> str:
    """`rating_fingerprint` of what one draft depends on: the catalog version, the customer,
    the boundary, each metered segment's usage, what finalized invoices billed (and whether a
    credit note reversed it), the credits they used and the customer's tax rates. Written as
    one text line per input (texts JSON-quoted, so no input can spell a line break), without
    the generic encoder's type dispatch: one per invoice of every run."""
    parts = [encode_basestring(version), encode_basestring(customer_id), str(boundary), "usage"]
    for start, metered in usage:
        parts.append(format_timestamp(start))
        parts += [
            f"{encode_basestring(k)}={plain(v.quantity)}/{v.events}" for k, v in sorted(metered.items())
        ]
    parts.append("billed")
    parts += sorted(
        f"{encode_basestring(str(k))}={plain(b.amount)}{'/reversed' if b.reversed else ''}"
        for k, b in billed.items()
    )
    parts.append("credits")
    parts += [f"{encode_basestring(k)}={plain(v)}" for k, v in sorted(credits_used.items())]
    parts.append("taxes")
    parts += [f"{encode_basestring(name)}={plain(rate)}" for name, rate in tax_rates]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def rating_fingerprint(*inputs: object) -> str:
    """A short hash of everything a rating depended on: same inputs, same fingerprint."""
    return hashlib.sha256(_canonical(inputs).encode()).hexdigest()[:32]


def _canonical(value: object) -> str:
    """`dumps` of the JSON form of a value (instants as UTC text, keys as text), in one pass
    that tests exact types first."""
    if type(value) is str:
        return encode_basestring(value)  # what json.dumps(value, ensure_ascii=False) returns
    if type(value) is Decimal:
        return plain(value)
    if type(value) is int:
        return str(value)
    if type(value) is list or type(value) is tuple:
        return "[" + ",".join(map(_canonical, value)) + "]"
    if type(value) is dict:
        items = sorted({str(k): v for k, v in value.items()}.items())
        return "{" + ",".join(f"{encode_basestring(k)}:{_canonical(v)}" for k, v in items) + "}"
    return dumps(_jsonable(value))


def _jsonable(value: object) -> object:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
