"""Each `unique_count` value's span: the first and the last 15-minute bucket holding it.

`usage_rollup_values` keeps a metric's distinct values per bucket, so a segment's distinct count
used to read (and sort) one row per value per bucket: 161,000 rows for a month of 1,000 users.
`usage_rollup_value_spans` keeps one row per (customer, signature, value) with its first and
last bucket (migration 0015), and a value is in the segment [start, end) exactly when

- its first or its last bucket lies in [start, end), or
- it was seen both before `start` and at or after `end`, and one of its buckets lies in
  between (one probe of the by-value index of `usage_rollup_values`, migration 0014);

a value whose last bucket is before `start`, or whose first is at or after `end`, is not. The
count reads, through the index on (customer, signature, last_bucket), the values seen since
`start`: for the period in progress, that is one row per value of the period, whatever the
events or buckets stored. A window of a day or less still counts its buckets' values directly:
there, most values were seen before and after it, and the probes would cost more than the day's
rows (the console's usage by day counts all its days at once: `billing.store.daily_usage`).

The rollup writer (`billing.store.rollups`) widens the spans in the statements that add the
events' values, under the billing lock: first = the least, last = the greatest bucket. Events
are never deleted, so a span only ever widens.
"""

from __future__ import annotations

SHORT_HOURS = 25  # a local day, DST's included: counted from its buckets' values directly


def distinct_count(customer: str, signature: str, starts: str, ends: str, postgres: bool) -> str:
    """The SQL expression counting the distinct values of `signature` for `customer` in
    [starts, ends): each argument is an SQL expression (a literal, a parameter or a column).

    A window of at most a day (`SHORT_HOURS`, DST's days included) counts its buckets' values
    directly, at most 96 buckets' worth, since most of a day's values were also seen before
    and after it and would each cost a probe; a longer one reads the spans."""
    if postgres:
        short = f"{ends} - {starts} <= INTERVAL '{SHORT_HOURS} hours'"
    else:  # instants are text on SQLite
        short = f"julianday({ends}) - julianday({starts}) <= {SHORT_HOURS} / 24.0"
    direct = (
        f"(SELECT count(DISTINCT v.value) FROM usage_rollup_values v WHERE v.customer_id = {customer} "
        f"AND v.signature = {signature} AND v.bucket >= {starts} AND v.bucket < {ends})"
    )
    return f"CASE WHEN {short} THEN {direct} ELSE {_from_spans(customer, signature, starts, ends)} END"


def _from_spans(customer: str, signature: str, starts: str, ends: str) -> str:
    return f"""(SELECT count(*) FROM usage_rollup_value_spans f
 WHERE f.customer_id = {customer} AND f.signature = {signature}
   AND f.last_bucket >= {starts} AND f.first_bucket < {ends}
   AND (f.first_bucket >= {starts} OR f.last_bucket < {ends} OR EXISTS (
        SELECT 1 FROM usage_rollup_values v
        WHERE v.customer_id = f.customer_id AND v.signature = f.signature AND v.value = f.value
          AND v.bucket >= {starts} AND v.bucket < {ends})))"""


def postgres_widen(signature: str, bucket: str, key: str, where: str) -> str:
    """The statement widening the spans by the events `where` selects (`events e`), whose
    bucket and value key are the expressions `bucket` and `key` (NULL keys are left out)."""
    return f"""
INSERT INTO usage_rollup_value_spans AS f (customer_id, signature, value, first_bucket, last_bucket)
SELECT e.customer_id, {signature}, {key}, min({bucket}), max({bucket})
FROM events e
WHERE {where} AND {key} IS NOT NULL
GROUP BY 1, 3
ON CONFLICT (customer_id, signature, value) DO UPDATE
SET first_bucket = LEAST(f.first_bucket, excluded.first_bucket),
    last_bucket = GREATEST(f.last_bucket, excluded.last_bucket)"""


def sqlite_widen(signature: str, bucket: str, key: str, where: str) -> str:
    """`postgres_widen` on SQLite: buckets are fixed-width text, so the least text is the
    earliest bucket (the outer WHERE also keeps SQLite's parser from reading ON CONFLICT as a
    join's ON)."""
    return f"""
INSERT INTO usage_rollup_value_spans (customer_id, signature, value, first_bucket, last_bucket)
SELECT customer_id, {signature}, value, min(bucket), max(bucket)
FROM (SELECT e.customer_id AS customer_id, {key} AS value, {bucket} AS bucket FROM events e WHERE {where})
WHERE value IS NOT NULL
GROUP BY customer_id, value
ON CONFLICT (customer_id, signature, value) DO UPDATE
SET first_bucket = min(first_bucket, excluded.first_bucket),
    last_bucket = max(last_bucket, excluded.last_bucket)"""
