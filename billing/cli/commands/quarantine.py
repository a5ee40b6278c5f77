"""`billing quarantine list|show|retry|discard`: work the rows ingestion could not accept.

`list` and `show` only read the database (no Prefect, no Great Expectations). `retry` feeds held
rows back through ingestion with the active catalog; `discard` sets rows aside. Both keep an
audit row per quarantined row: who (`--by`, default the login name), when, the note.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from billing.core.errors import BillingError, RunIncomplete
from billing.runtime import resources
from billing.store.quarantine import QuarantineFilter

if TYPE_CHECKING:
    from billing.services.quarantine import QuarantineReport

PROBLEM_LINES = 20  # rows held again, one line each, then a count of the rest


class BadQuarantineArguments(BillingError):
    code = "bad_arguments"


def quarantine_filter(
    status: str | None, reason: str | None, source: str | None, customer: str | None
) -> QuarantineFilter:
    return QuarantineFilter(None if status == "all" else status, reason, source, customer)


def quarantine_list(where: QuarantineFilter, limit: int, as_json: bool) -> str:
    from billing.store.quarantine import count_quarantined, find_quarantined
    from billing.views.quarantine import quarantine_document, quarantine_table

    if limit < 1:
        raise BadQuarantineArguments(f"--limit: must be at least 1 (got {limit})")
    with resources.engine().connect() as connection:
        rows = find_quarantined(connection, where, limit)
        total = len(rows) if len(rows) < limit else count_quarantined(connection, where)
    if as_json:
        return json.dumps([quarantine_document(row) for row in rows])
    status = where.status or "quarantined"
    if not rows:
        return f"no {status} rows match"
    matched = f"1 {status} row matches" if total == 1 else f"{total} {status} rows match"
    head = matched + (f"; the newest {len(rows)}:" if total > len(rows) else ":")
    return head + "\n" + quarantine_table(rows)


def quarantine_show(row_id: int, as_json: bool) -> str:
    from billing.store.quarantine import actions_of, quarantined_by_id
    from billing.views.quarantine import quarantine_document, quarantine_page

    with resources.engine().connect() as connection:
        row = quarantined_by_id(connection, [row_id]).get(row_id)
        if row is None:
            raise BadQuarantineArguments(f"no quarantined row with id {row_id}")
        actions = actions_of(connection, row_id)
    if as_json:
        return json.dumps(quarantine_document(row, actions))
    return quarantine_page(row, actions)


def quarantine_retry(ids: Sequence[int], where: QuarantineFilter, actor: str | None, note: str | None) -> str:
    from billing.services import quarantine as service

    filtered = any((where.reason, where.source, where.customer))
    if ids and filtered:
        raise BadQuarantineArguments(
            "retry: give row ids or filters (--reason, --source, --customer), not both"
        )
    if not ids and not filtered:
        raise BadQuarantineArguments(
            "retry: name the rows: ids, or --reason, --source or --customer (see billing quarantine list)"
        )
    engine = resources.engine()
    stored = resources.catalog()
    who = service.Operator(actor or _login(), note, resources.utc_now())
    if ids:
        rows, skipped = service.selected_rows(engine, ids)
        report = service.retry_rows(engine, stored.catalog, resources.event_suite(), rows, who)
        report.skipped += skipped
    else:
        report = service.retry_matching(engine, stored.catalog, resources.event_suite(), where, who)
    return _finish(report, f"with catalog version {stored.content_hash[:12]}")


def quarantine_discard(ids: Sequence[int], actor: str | None, note: str | None) -> str:
    from billing.services import quarantine as service

    engine = resources.engine()
    rows, skipped = service.selected_rows(engine, ids)
    report = service.discard_rows(
        engine, rows, service.Operator(actor or _login(), note, resources.utc_now())
    )
    report.skipped += skipped
    return _finish(report, "")


def _finish(report: QuarantineReport, context: str) -> str:
    text = _summary(report, context)
    if report.skipped:  # the summary on stdout, each row left alone on stderr, exit 1
        raise RunIncomplete(report.skipped, text)
    return text


def _summary(report: QuarantineReport, context: str) -> str:
    done = len(report.outcomes)
    if report.action == "discard":
        return f"discarded {done} row{'s' * (done != 1)}"
    head = (
        f"retried {done} row{'s' * (done != 1)}{' ' + context if context else ''}: "
        f"{report.count('accepted')} accepted, {report.count('duplicate')} duplicates, "
        f"{report.count('held')} held again"
    )
    again = [o for o in report.outcomes if o.outcome == "held"]
    lines = [f"  row {o.id}: {o.reason}: {o.detail}" for o in again[:PROBLEM_LINES]]
    if len(again) > PROBLEM_LINES:
        lines.append(f"  … and {len(again) - PROBLEM_LINES} more (billing quarantine list)")
    return "\n".join([head, *lines])


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        return "unknown"
