"""Each `unique_count` value once per customer, signature and UTC day, with the first and the
last bucket of that day holding it (`usage_rollup_day_values`, migration 0018).

A local day's distinct count used to read every (bucket, value) row of `usage_rollup_values` in
it: a month of 1,000 users at 1,000,000 events is 161,000 rows, most of the console's time.
Here a local day is cut at the UTC midnights inside it (`rollup_days.day_pieces`), and a value
is in a piece [lo, hi) of the UTC day D exactly when D's row for it has

- its first or its last bucket in [lo, hi): a whole UTC day takes every row of the day, the end
  of a day (a +05:45 customer's local day begins at 18:15 UTC) the rows whose last bucket is at
  or after its start, the start of a day those whose first bucket is before its end; or
- its first bucket before `lo` and its last at or after `hi` (a piece inside the UTC day,
  touching neither of its midnights: no zone of today's zoneinfo has one) and one of its buckets
  in between: one probe of the by-value index of `usage_rollup_values` (migration 0014),

the same rule as a segment's spans (`billing.store.value_spans`), per day. A month reads a row
per value and UTC day (28,000 there), each read once for a UTC customer and at most twice when
local days straddle UTC midnights; a value seen in both pieces of a local day counts once.

A trigger on `usage_rollup_values` keeps the rows (migration 0018): whatever inserts a bucket's
value (ingest, a catalog building a new definition's rollups, late events) widens its day's
row in the same statement, so this table holds the same (day, value) pairs as the buckets.
"""

from __future__ import annotations

TABLE = "usage_rollup_day_values"


def seen_in_pieces(who: str, signatures: str, several: bool, inside: bool) -> str:
    """The query of (day, signature, value): each value of `signatures` (an SQL list) that
    customer `who` (an SQL literal or parameter) has in each local day of the CTE `pieces(day,
    utc_day, lo, hi, whole)`; each once when `several` (some day has several pieces). `inside`:
    some piece touches neither midnight of its UTC day (the probe is left out otherwise: its
    estimated cost alone made PostgreSQL compile the statement, 15 ms)."""
    distinct = "DISTINCT " if several else ""
    probe = ""
    if inside:
        probe = """
  WHERE x.first_bucket >= p.lo OR x.last_bucket < p.hi OR EXISTS (
    SELECT 1 FROM usage_rollup_values v
    WHERE v.customer_id = x.customer_id AND v.signature = x.signature AND v.value = x.value
      AND v.bucket >= p.lo AND v.bucket < p.hi)"""
    return f"""SELECT {distinct}p.day AS day, x.signature AS signature, x.value AS value
  FROM pieces p JOIN {TABLE} x ON x.customer_id = {who} AND x.signature IN ({signatures})
   AND x.day = p.utc_day AND x.last_bucket >= p.lo AND x.first_bucket < p.hi{probe}"""
