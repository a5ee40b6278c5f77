"""What the terminal shows of text others wrote (transaction ids, file names, key names): one line a
cell, so that no value can draw a row of its own into a table an operator reads."""

from __future__ import annotations

from datetime import UTC, datetime

from billing.store.quarantine import QuarantinedRow
from billing.views.quarantine import quarantine_page, quarantine_table
from billing.views.tables import cell, markdown_table, text_table

FORGED = "q\n 9  2026-03-01 10:00  retried  accepted"


def _row(transaction_id: str, customer_id: str, payload: str) -> QuarantinedRow:
    received = datetime(2026, 3, 5, 10, tzinfo=UTC)
    return QuarantinedRow(
        7, "unknown_customer", "customer is not in the catalog", "in\rbox.jsonl", 1,
        transaction_id, customer_id, payload, "f" * 64, "held", received, None, None,
    )  # fmt: skip


def test_a_cell_with_a_line_break_or_control_character_stays_on_its_line() -> None:
    assert cell("a\nb\r\tc\x1b[2Jd\x00") == "a\\nb\\r\\tc\\x1b[2Jd\\x00"
    assert cell("Zürich — 5 €") == "Zürich — 5 €"  # printable text is left as it is
    assert cell(12) == "12"
    table = text_table([["name", "prefix"], [FORGED, "bk_1"]])
    assert table.splitlines() == [f"{'name':{len(cell(FORGED))}}  prefix", f"{cell(FORGED)}  bk_1"]
    assert markdown_table([["id"], [FORGED]]).splitlines()[2] == f"| {cell(FORGED)} |"


def test_a_quarantined_row_forges_no_line_in_the_list_or_its_page() -> None:
    row = _row(FORGED, "zz\rx", '{"transaction_id": "q\\n", "x": "\x1b]0;owned\x07"}')
    assert len(quarantine_table([row]).splitlines()) == 2  # the header and the row
    page = quarantine_page(row, [])
    assert len(page.splitlines()) == 10
    assert "  transaction:  q\\n 9  2026-03-01 10:00  retried  accepted" in page.splitlines()
    assert "  customer:     zz\\rx" in page.splitlines()
    assert "  source:       in\\rbox.jsonl" in page.splitlines()
    assert "\x1b" not in page and "\x07" not in page
