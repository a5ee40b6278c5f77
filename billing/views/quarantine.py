"""Quarantined rows as an operator reads them: a table, one row in full, JSON documents."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from billing.store.quarantine import ActionRecord, QuarantinedRow
from billing.views.tables import cell, text_table

_DETAIL_WIDTH = 60


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _where(row: QuarantinedRow) -> str:
    return row.source if row.line is None else f"{row.source}:{row.line}"


def _short(text: str, width: int = _DETAIL_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def quarantine_document(row: QuarantinedRow, actions: Sequence[ActionRecord] = ()) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": row.id,
        "status": row.status,
        "reason": row.reason,
        "detail": row.detail,
        "source": row.source,
        "line": row.line,
        "transaction_id": row.transaction_id,
        "customer_id": row.customer_id,
        "received_at": _instant(row.received_at),
        "resolution": row.resolution,
        "resolved_at": _instant(row.resolved_at),
        "payload": row.payload,
    }
    if actions:
        document["actions"] = [action_document(a) for a in actions]
    return document


def action_document(action: ActionRecord) -> dict[str, Any]:
    return {
        "action": action.action,
        "outcome": action.outcome,
        "reason": action.reason,
        "detail": action.detail,
        "note": action.note,
        "actor": action.actor,
        "acted_at": _instant(action.acted_at),
    }


def quarantine_table(rows: Sequence[QuarantinedRow]) -> str:
    header = ["id", "received", "status", "reason", "customer", "transaction", "source:line", "detail"]
    body = [
        [
            str(r.id),
            r.received_at.strftime("%Y-%m-%d %H:%M"),
            r.status if r.resolution is None or r.resolution == r.status else f"{r.status}:{r.resolution}",
            r.reason,
            r.customer_id or "-",
            r.transaction_id or "-",
            _where(r),
            _short(r.detail),
        ]
        for r in rows
    ]
    return text_table([header, *body], right=(0,))


def quarantine_page(row: QuarantinedRow, actions: Sequence[ActionRecord]) -> str:
    """One row in full: where it came from, why it is held, its payload and its audit trail."""
    lines = [
        f"quarantined row {row.id}: {row.status}"
        + (f" ({row.resolution})" if row.resolution and row.resolution != row.status else ""),
        f"  reason:       {row.reason}",
        f"  detail:       {cell(row.detail)}",
        f"  source:       {cell(row.source)}",
        f"  line:         {row.line if row.line is not None else '-'}",
        f"  transaction:  {cell(row.transaction_id or '-')}",
        f"  customer:     {cell(row.customer_id or '-')}",
        f"  received:     {_instant(row.received_at)}",
    ]
    if row.resolved_at is not None:
        lines.append(f"  resolved:     {_instant(row.resolved_at)}")
    lines += ["  payload:", f"    {cell(row.payload)}"]
    if actions:
        lines.append("  history:")
        for a in actions:
            what = a.outcome if a.reason is None else f"{a.outcome}: {a.reason}: {a.detail}"
            note = f" — {a.note}" if a.note else ""
            lines.append(cell(f"    {_instant(a.acted_at)}  {a.action} by {a.actor}: {what}{note}"))
    return "\n".join(lines)
