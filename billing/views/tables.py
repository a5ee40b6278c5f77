"""Run reports as tables: markdown for Prefect artifacts, plain text for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from billing.core.backfill import BackfillLine, BackfillReport
from billing.core.local_days import format_day
from billing.core.money import Currency, format_amount


def cell(value: Any) -> str:
    """A value as one table cell: on one line, whatever it holds. A line break, carriage return,
    tab or other control character (in a transaction id, a file name, a key's name) is written as
    its escape, `\\n`, so that a cell can never draw a row of its own."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def markdown_table(rows: Sequence[Sequence[Any]]) -> str:
    header, *body = rows
    lines = ["| " + " | ".join(cell(c) for c in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c).replace("|", "\\|") for c in row) + " |" for row in body]
    return "\n".join(lines)


def text_table(rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """Columns padded to width; column indexes in `right` are right-aligned (amounts)."""
    cells = [[cell(c) for c in row] for row in rows]
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


def example_rows(report: dict[str, Any]) -> list[list[str]]:
    """The run's first quarantined rows (a few per reason): where they are and why."""
    rows = [["file", "line", "reason", "detail", "transaction id"]]
    for e in report.get("examples", ()):
        rows.append([e["file"], str(e["line"]), e["reason"], e["detail"], e["transaction_id"] or "-"])
    return rows


def invoice_rows(outcomes: Sequence[dict[str, Any]]) -> list[list[str]]:
    rows = [["number", "customer", "issued", "status", "lines", "total"]]
    for o in outcomes:
        number = o["number"] or "-"
        total = f"{o['total']} {o['currency']}"
        issued = format_day(o["issued_on"])  # the customer's local issue date
        rows.append([number, o["customer_id"], issued, o["status"], str(o["lines"]), total])
    return rows


BACKFILL_HEADER = ["customer", "period", "line", "billed", "should be", "difference", "billed on", "action"]
BACKFILL_AMOUNTS = (3, 4, 5)  # right-aligned on the terminal
_ACTIONS = {
    ("adjustment", True): "would adjust on the next invoice",
    ("adjustment", False): "adjustment on the next invoice",
    ("credit", True): "would credit on a credit note",
    ("credit", False): "credited on",
}


def backfill_rows(lines: Sequence[BackfillLine], dry_run: bool) -> list[list[str]]:
    """What a backfill found billed wrong: per customer and line, billed, due, difference."""
    rows = [list(BACKFILL_HEADER)]
    for line in lines:
        currency = Currency.of(line.currency)
        rows.append(
            [
                line.customer_id,
                line.period_days,
                line.description,
                f"{format_amount(line.billed, currency)} {line.currency}",
                f"{format_amount(line.should, currency)} {line.currency}",
                f"{format_amount(line.difference, currency)} {line.currency}",
                line.invoice or "-",
                " ".join(filter(None, [_ACTIONS[(line.action, dry_run)], line.credit_note])),
            ]
        )
    return rows


def backfill_headline(report: BackfillReport) -> str:
    head = "backfill (dry run: nothing written)" if report.dry_run else "backfill"
    return (
        f"{head}: {report.customers} customers, {report.periods} finalized periods re-rated, "
        f"{report.lines_checked} lines compared, {len(report.lines)} to correct"
    )


def notice_rows(listed: Sequence[dict[str, Any]]) -> list[list[str]]:
    """A lifecycle scan's notices (as its summary lists them): who hears what, on which day of
    theirs, about what (the ledger key's subject and period)."""
    rows = [["customer", "kind", "recipient", "customer's day", "about"]]
    for item in listed:
        day = format_day(item["day"]) if item["day"] else ""
        about = f"{item['subject']} {item['period']}"
        rows.append([item["customer_id"], item["kind"], item["recipient"], day, about])
    return rows
