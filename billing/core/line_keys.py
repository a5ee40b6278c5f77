"""What an invoice line bills, as a typed key: which contract, which period, which charge.

Billed = to be billed - already billed pairs every line due with what finalized invoices billed
under the same key, so the key must be stable across re-runs and catalog versions: a contract
is named by its start day, a period by its first local day, a charge by `charge_names` (its
model and metric, not its position). The store keeps the three parts in their own columns; the
text form (`2026-01-15/2026-10-01/graduated:api_calls`) is for fingerprints and reading only,
and `LineKey.parse` is its one inverse.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

MINIMUM = "minimum"  # the charge name of a minimum-commitment true-up


class SegmentId(NamedTuple):
    """One contract's part of one period: the unit a late-usage recomputation revises.

    Keys are named tuples, like the other hot value types of rating: every line of every
    invoice makes one and hashes it several times, and a tuple's hash, equality and order
    are computed in C (ordered as a dataclass with `order=True` is, field by field)."""

    contract: date  # the contract's start day
    period: date  # the period's first local day


class LineKey(NamedTuple):
    """A contract's charge in one period; a quote's lines have neither contract nor period."""

    contract: date | None
    period: date | None
    charge: str

    @classmethod
    def of(cls, segment: SegmentId | None, charge: str) -> LineKey:
        if segment is None:
            return cls(None, None, charge)
        return cls(segment.contract, segment.period, charge)

    @property
    def segment(self) -> SegmentId | None:
        if self.contract is None or self.period is None:
            return None
        return SegmentId(self.contract, self.period)

    def __str__(self) -> str:
        if self.contract is None or self.period is None:
            return f"quote/{self.charge}"
        return f"{self.contract.isoformat()}/{self.period.isoformat()}/{self.charge}"

    @classmethod
    def parse(cls, text: str) -> LineKey:
        """The key `str(key)` wrote; `ValueError` for anything else."""
        parts = text.split("/")
        if len(parts) == 2 and parts[0] == "quote" and parts[1]:
            return cls(None, None, parts[1])
        if len(parts) != 3 or not parts[2]:
            raise ValueError(f"not a line key: {text!r}")
        return cls(date.fromisoformat(parts[0]), date.fromisoformat(parts[1]), parts[2])
