"""The date-based lifecycle kinds, laid out from a customer's schedule as tracks of occurrences.

A *track* is one sequence of notices of a customer: one kind, for one contract, at one offset.
Most tracks hold one occurrence (a trial ends once); a renewal track holds one per new term of
an auto-renewing contract, without end. Everything an occurrence needs (its days, its ledger
key, what its email says) comes from the track and the occurrence's index, so the scan can step
a track to its next occurrence without the catalog (`billing/store/lifecycle_calendar.py`).

Days are counted back from the day the thing happens (SPEC §9): a trial's end is its first
billed day, a renewal the first day of the new term (a term rolls over every `term_months` from
`starts_on`), a contract's end the day after its last billed day. A reminder is due from
`offset` days before that day (never before the contract starts) until that day, exclusive; an
announcement (`trial_ended`, `renewed`) from that day for `ANNOUNCEMENT_DAYS` more. All are the
customer's local days.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from billing.core.catalog import Catalog, reminder_offsets
from billing.core.lifecycle import Reminder
from billing.core.money import ZERO, format_amount
from billing.core.periods import ContractTerm, Schedule, add_months
from billing.core.pricing.flat import FlatCharge

ANNOUNCEMENT_DAYS = 7  # an announcement is still sent this many days after its day
REMINDER_KINDS = ("trial_ending", "renewal_upcoming", "contract_ending")  # before the event
ANNOUNCEMENT_KINDS = ("trial_ended", "renewed")  # on the event's day
DATE_KINDS = ("trial_ending", "trial_ended", "renewal_upcoming", "renewed", "contract_ending")


@dataclass(frozen=True, slots=True)
class Track:
    """One kind of notice for one contract at one offset: its occurrences are `occurrence(n)`."""

    customer_id: str
    recipient: str
    timezone: str
    kind: str
    contract_starts_on: date
    offset: int  # days before the event a reminder starts; 0 for an announcement
    event_on: date | None  # the day it happens, for a track of one occurrence
    term_months: int | None = None  # renewals: a new term every `term_months` from the start
    renews_until: date | None = None  # renewals: the contract's end (exclusive), if it has one
    context: Mapping[str, Any] | None = None  # what every occurrence says (names, fees)

    @property
    def subject(self) -> str:
        return f"contract/{self.contract_starts_on.isoformat()}"

    @property
    def renews(self) -> bool:
        return self.term_months is not None

    @property
    def first_index(self) -> int:
        return 1 if self.renews else 0  # renewal n starts the n-th term after the first

    def event(self, index: int) -> date | None:
        """The day occurrence `index` is about; None past the track's last occurrence."""
        if self.term_months is None:
            return self.event_on if index == 0 else None
        if index < 1:
            return None
        try:  # a renewal is one whose day and new term's end are dates (not past year 9999)
            day = add_months(self.contract_starts_on, self.term_months * index)
            add_months(self.contract_starts_on, self.term_months * (index + 1))
        except ValueError:
            return None
        return None if self.renews_until is not None and day >= self.renews_until else day

    def occurrence(self, index: int) -> Occurrence | None:
        event = self.event(index)
        if event is None:
            return None
        if self.offset:
            # never before the contract starts (nor, counting back, before year 1)
            opens = event - timedelta(days=min(self.offset, (event - self.contract_starts_on).days))
            return Occurrence(self, index, event, opens, event)
        return Occurrence(self, index, event, event, event + timedelta(days=ANNOUNCEMENT_DAYS + 1))

    def occurrences(self, start: int | None = None) -> Iterator[Occurrence]:
        index = self.first_index if start is None else start
        while (occurrence := self.occurrence(index)) is not None:
            yield occurrence
            index += 1

    def first_open(self, day: date | None) -> Occurrence | None:
        """The first occurrence still undecided or due on `day` (None: the very first)."""
        for occurrence in self.occurrences():
            if day is None or occurrence.closes_on > day:
                return occurrence
        return None


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One notice of a track: due from `opens_on` until `closes_on` (exclusive)."""

    track: Track
    index: int
    event_on: date  # the day it is about: the trial's end, the renewal, the contract's end
    opens_on: date
    closes_on: date

    @property
    def period(self) -> str:
        kind, event = self.track.kind, self.event_on
        if kind in ("trial_ending", "renewal_upcoming"):  # one notice per offset
            return f"{event.isoformat()}/{self.track.offset}d"
        if kind == "contract_ending":
            return f"{(event - timedelta(days=1)).isoformat()}/{self.track.offset}d"
        return event.isoformat()

    def reminder(self, on: date) -> Reminder:
        """The notice as decided on the customer's day `on`, with its ledger key and context."""
        track = self.track
        context = dict(track.context or {}) | self._dates(on)
        return Reminder(
            customer_id=track.customer_id,
            kind=track.kind,
            subject=track.subject,
            period=self.period,
            recipient=track.recipient,
            context=context,
            on=on,
        )

    def _new_term(self) -> dict[str, Any]:
        """The term a renewal starts: its months and its last day, cut short by the contract's
        `ends_on` when that comes first (`ends_with_contract`: the emails say so)."""
        track = self.track
        assert track.term_months is not None
        ends = add_months(track.contract_starts_on, track.term_months * (self.index + 1))
        cut = track.renews_until is not None and track.renews_until < ends
        if cut:
            assert track.renews_until is not None
            ends = track.renews_until
        return {
            "term_months": track.term_months,
            "term_ends_on": (ends - timedelta(days=1)).isoformat(),
            "ends_with_contract": cut,
        }

    def _dates(self, on: date) -> dict[str, Any]:
        track, event = self.track, self.event_on
        days_left = max((event - on).days, 0)
        if track.kind == "trial_ending":
            return {"trial_ends_on": event.isoformat(), "days_left": days_left}
        if track.kind == "trial_ended":
            return {"trial_ended_on": event.isoformat()}
        if track.kind in ("renewal_upcoming", "renewed"):
            term = self._new_term()
            if track.kind == "renewal_upcoming":
                return {"renews_on": event.isoformat(), "days_left": days_left, **term}
            return {"renewed_on": event.isoformat(), **term}
        return {"ends_on": (event - timedelta(days=1)).isoformat(), "days_left": days_left}


def date_tracks(catalog: Catalog, schedule: Schedule) -> list[Track]:
    """Every date-kind track of a customer's contracts, offsets as `reminder_offsets` picks."""
    tracks: list[Track] = []
    for term in schedule.terms:
        tracks += _term_tracks(catalog, schedule, term)
    return tracks


def _term_tracks(catalog: Catalog, schedule: Schedule, term: ContractTerm) -> Iterator[Track]:
    customer, contract, plan = schedule.customer, term.contract, term.plan
    context = _contract_context(catalog, schedule, term)
    base: dict[str, Any] = {
        "customer_id": customer.id,
        "recipient": customer.email,
        "timezone": customer.timezone,
        "contract_starts_on": contract.starts_on,
    }
    if term.index == 0 and schedule.trial is not None:
        for offset in reminder_offsets("trial_ending", plan, contract):
            yield Track(kind="trial_ending", offset=offset, event_on=term.bills_from, context=context, **base)
        yield Track(kind="trial_ended", offset=0, event_on=term.bills_from, context=context, **base)
    if contract.auto_renew and contract.term_months:
        renewal: dict[str, Any] = {
            "term_months": contract.term_months,
            "renews_until": term.bills_until,
            "context": context,
        }
        for offset in reminder_offsets("renewal_upcoming", plan, contract):
            yield Track(kind="renewal_upcoming", offset=offset, event_on=None, **renewal, **base)
        yield Track(kind="renewed", offset=0, event_on=None, **renewal, **base)
    if term.bills_until is not None and not _continued(schedule, term):
        ending: dict[str, Any] = {"event_on": term.bills_until, "context": context}
        for offset in reminder_offsets("contract_ending", plan, contract):
            yield Track(kind="contract_ending", offset=offset, **ending, **base)


def _continued(schedule: Schedule, term: ContractTerm) -> bool:
    """A plan change: the next contract starts the day after this one's last billed day."""
    return any(later.contract.starts_on == term.bills_until for later in schedule.terms[term.index + 1 :])


def _contract_context(catalog: Catalog, schedule: Schedule, term: ContractTerm) -> dict[str, Any]:
    """What every notice about a contract says: who, which plan, what it costs."""
    customer, currency = schedule.customer, catalog.currency
    fees = [c.amount for c in term.charges if isinstance(c, FlatCharge)]
    minimum = term.plan.minimum_commitment
    return {
        "customer_id": customer.id,
        "customer_name": customer.display_name,
        "currency": currency.code,
        "plan_name": term.plan.label,
        "recurring_fee": format_amount(sum(fees, ZERO), currency) if fees else None,
        "minimum_commitment": None if minimum is None else format_amount(minimum, currency),
    }
