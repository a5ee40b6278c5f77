"""Line keys: one typed identity for what a line bills, and its one text form."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.core.line_keys import LineKey, SegmentId

charges = st.text(
    st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1, max_size=40
)
days = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))


@given(days, days, charges)
def test_text_form_parses_back_to_the_same_key(contract: date, period: date, charge: str) -> None:
    key = LineKey(contract, period, charge)
    assert LineKey.parse(str(key)) == key
    assert key.segment == SegmentId(contract, period)


@given(charges)
def test_a_quote_line_has_no_segment(charge: str) -> None:
    key = LineKey.of(None, charge)
    assert str(key) == f"quote/{charge}"
    assert LineKey.parse(str(key)) == key
    assert key.segment is None


def test_the_stored_form_is_contract_period_charge() -> None:
    key = LineKey.of(SegmentId(date(2026, 1, 15), date(2026, 10, 15)), "graduated:api_calls")
    assert str(key) == "2026-01-15/2026-10-15/graduated:api_calls"


@pytest.mark.parametrize(
    "text", ["", "quote/", "2026-01-15/graduated", "2026-01-15/2026-13-01/x", "a/b/c/d", "x/y/"]
)
def test_anything_else_is_not_a_key(text: str) -> None:
    with pytest.raises(ValueError):
        LineKey.parse(text)


def test_a_reversal_pairs_keys_by_segment_not_by_prefix() -> None:
    # "2026-01-1" is a string prefix of "2026-01-15": typed segments cannot be confused that way
    a = LineKey(date(2026, 1, 1), date(2026, 2, 1), "flat:fee")
    b = LineKey(date(2026, 1, 15), date(2026, 2, 1), "flat:fee")
    assert a.segment != b.segment


@given(st.lists(st.tuples(days, days, charges), max_size=8))
def test_keys_sort_and_compare_field_by_field(parts: list[tuple[date, date, str]]) -> None:
    # keys are named tuples: ordered by contract, then period, then charge, equal by value
    keys = [LineKey(*p) for p in parts]
    assert [tuple(k) for k in sorted(keys)] == sorted(parts)
    assert {LineKey(*p) for p in parts} == set(keys)
    assert sorted(k.segment for k in keys) == sorted(SegmentId(c, p) for c, p, _ in parts)
