"""Prepaid credits: which grants serve an invoice, and how much each gives.

A grant serves invoices issued from `granted_on` through `expires_on` (inclusive), the earliest
expiry first, never taking a total below zero; what remains carries to the next invoice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.core.money import ZERO
from billing.core.periods import Schedule


@dataclass(frozen=True, slots=True)
class CreditGrant:
    key: str
    amount: Decimal
    granted_on: date
    expires_on: date | None


def credit_grants(schedule: Schedule) -> tuple[CreditGrant, ...]:
    return tuple(
        CreditGrant(f"{term.key}/credit/{index}", credit.amount, credit.granted_on, credit.expires_on)
        for term in schedule.terms
        for index, credit in enumerate(term.contract.credits)
    )


def apply_credits(
    subtotal: Decimal, grants: Iterable[CreditGrant], used: Mapping[str, Decimal], issued_on: date
) -> tuple[tuple[str, Decimal], ...]:
    """Burn credits valid on the issue day, earliest expiry first, never below a zero total."""
    left = subtotal
    applied = []
    eligible = sorted(
        (
            g
            for g in grants
            if g.granted_on <= issued_on and (g.expires_on is None or issued_on <= g.expires_on)
        ),
        key=lambda g: (g.expires_on is None, g.expires_on or date.max, g.granted_on, g.key),
    )
    for grant in eligible:
        if left <= 0:
            break
        remaining = grant.amount - used.get(grant.key, ZERO)
        take = min(remaining, left)
        if take > 0:
            applied.append((grant.key, take))
            left -= take
    return tuple(applied)
