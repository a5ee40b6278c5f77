"""Run reports as tables: markdown for Prefect artifacts, plain text for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from billing.core.local_days import format_day


def markdown_table(rows: Sequence[Sequence[Any]]) -> str:
    header, *body = rows
    lines = ["| " + " | ".join(str(c) for c in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in body]
    return "\n".join(lines)


def text_table(rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """Columns padded to width; column indexes in `right` are right-aligned (amounts)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    out = []
    for row in cells:
        cells_and_widths = enumerate(zip(row, widths, strict=True))
        padded = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in cells_and_widths]
        out.append("  ".join(padded).rstrip())
    return "\n".join(out)


def ingest_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = [["received", "accepted", "duplicates", "quarantined", "late"]]
    rows.append([str(report[k]) for k in rows[0]])
    return rows


def reason_rows(report: dict[str, Any]) -> list[list[str]]:
    return [["reason", "rows"], *([k, str(v)] for k, v in report["reasons"].items())]


def invoice_rows(outcomes: Sequence[dict[str, Any]]) -> list[list[str]]:
    rows = [["number", "customer", "issued", "status", "lines", "total"]]
    for o in outcomes:
        number = o["number"] or "-"
        total = f"{o['total']} {o['currency']}"
        issued = format_day(o["issued_on"])  # the customer's local issue date
        rows.append([number, o["customer_id"], issued, o["status"], str(o["lines"]), total])
    return rows
