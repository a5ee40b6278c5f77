"""finalized invoices are immutable in the database; stored amounts are at minor units

Revision ID: 0003
Revises: 0002

Triggers on PostgreSQL and SQLite refuse, with an error that fails the statement:
- an UPDATE of a finalized (`finalized`, `paid`, `void`) invoice, except its status moving
  forward (finalized to paid or void, `updated_at` with it), and any DELETE of one;
- an INSERT, UPDATE or DELETE of the lines of a finalized invoice;
- a finalized invoice without its number or `finalized_at` (both are set in the statement that
  finalizes the draft), a status outside draft, finalized, paid, void;
- an invoice amount (subtotal, credits_applied, total) or line amount with more digits than the
  invoice currency's minor units (ISO 4217, frozen below);
- the invoice counter moving back or being deleted: numbers are never reused.
Drafts stay free to rewrite and delete. A TRUNCATE (PostgreSQL) and SQL run with the triggers
dropped are not stopped here; the invoice run finds what went missing (counter and send ledger
against the stored numbers) and refuses to invoice.

Stored tier amounts become each tier's share of the rounded line (the running total rounded,
less the tiers before), as documents showed them, so that every stored amount is at minor units.

SQLite keeps triggers with their table: a later migration that rebuilds `invoices`,
`invoice_lines` or `counters` (batch mode "move and copy") must create them again.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

# ISO 4217 currencies whose minor unit is not 2 digits (as of the 2026-01 list); frozen here so
# that the database checks what this schema version was written for.
MINOR_UNITS: dict[int, tuple[str, ...]] = {
    0: (
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
        "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
    ),
    3: ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"),
    4: ("CLF", "UYW"),
}  # fmt: skip
DEFAULT_MINOR_UNITS = 2

FINALIZED = "('finalized', 'paid', 'void')"
STATUSES = "('draft', 'finalized', 'paid', 'void')"

# Messages an operator reads when plain SQL is refused.
CHANGED = "a finalized invoice never changes: only its status moves forward (finalized to paid or void)"
DELETED = "a finalized invoice is never deleted: void it instead"
LINES = "the lines of a finalized invoice never change"
UNNUMBERED = "a finalized invoice is numbered and dated (number, finalized_at) in the statement that finalizes it"
BAD_STATUS = "an invoice status is one of draft, finalized, paid, void"
UNROUNDED = "an invoice amount has more digits than the minor units of its currency"
COUNTER = "a counter only moves forward: invoice numbers are never reused"

INVOICE_COLUMNS = (
    "id", "number", "customer_id", "currency", "timezone", "boundary", "issued_at", "issued_on",
    "period_start", "period_end", "subtotal", "credits_applied", "total", "credits", "fingerprint",
    "catalog_version_id", "due_on", "finalized_at",
)  # fmt: skip
"""Every column but `status` and `updated_at`: what a status move may not change (SQLite; on
PostgreSQL the trigger compares whole rows, so a column added later is frozen too)."""


def _minor_units_case(currency: str) -> str:
    whens = " ".join(
        f"WHEN {currency} IN ({', '.join(repr(code) for code in codes)}) THEN {digits}"
        for digits, codes in MINOR_UNITS.items()
    )
    return f"(CASE {whens} ELSE {DEFAULT_MINOR_UNITS} END)"


# -- PostgreSQL --------------------------------------------------------------------------------

POSTGRESQL_UP = [
    f"""
CREATE FUNCTION billing_minor_units(code text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT {_minor_units_case("code")} $$
""",
    f"""
CREATE FUNCTION billing_guard_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    digits integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'invoice % is %: {DELETED}', OLD.number, OLD.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status <> 'draft' THEN
        IF NOT (OLD.status = 'finalized' AND NEW.status IN ('paid', 'void'))
           OR (to_jsonb(NEW) - 'status' - 'updated_at') <> (to_jsonb(OLD) - 'status' - 'updated_at') THEN
            RAISE EXCEPTION 'invoice % is %: {CHANGED}', OLD.number, OLD.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.status NOT IN {STATUSES} THEN
        RAISE EXCEPTION '{BAD_STATUS} (got %)', NEW.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.status <> 'draft' AND (NEW.number IS NULL OR NEW.finalized_at IS NULL) THEN
        RAISE EXCEPTION '{UNNUMBERED}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    digits := billing_minor_units(NEW.currency);
    IF NEW.subtotal <> round(NEW.subtotal, digits) OR NEW.credits_applied <> round(NEW.credits_applied, digits)
       OR NEW.total <> round(NEW.total, digits) THEN
        RAISE EXCEPTION '{UNROUNDED} (% %: subtotal %, credits_applied %, total %)', digits, NEW.currency,
            NEW.subtotal, NEW.credits_applied, NEW.total USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$
""",
    """
CREATE TRIGGER invoices_guard BEFORE INSERT OR UPDATE OR DELETE ON invoices
FOR EACH ROW EXECUTE FUNCTION billing_guard_invoice()
""",
    f"""
CREATE FUNCTION billing_guard_invoice_line() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    invoice record;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT number, status INTO invoice FROM invoices WHERE id = OLD.invoice_id;
        IF FOUND AND invoice.status <> 'draft' THEN
            RAISE EXCEPTION 'invoice % is %: {LINES}', invoice.number, invoice.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
    END IF;
    SELECT number, status, currency INTO invoice FROM invoices WHERE id = NEW.invoice_id;
    IF FOUND AND invoice.status <> 'draft' THEN
        RAISE EXCEPTION 'invoice % is %: {LINES}', invoice.number, invoice.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF FOUND AND NEW.amount <> round(NEW.amount, billing_minor_units(invoice.currency)) THEN
        RAISE EXCEPTION '{UNROUNDED} (line amount % %)', NEW.amount, invoice.currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$
""",
    """
CREATE TRIGGER invoice_lines_guard BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
FOR EACH ROW EXECUTE FUNCTION billing_guard_invoice_line()
""",
    f"""
CREATE FUNCTION billing_guard_counter() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.name <> OLD.name OR NEW.value < OLD.value THEN
        RAISE EXCEPTION 'counter %: {COUNTER}', OLD.name USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$
""",
    """
CREATE TRIGGER counters_guard BEFORE UPDATE OR DELETE ON counters
FOR EACH ROW EXECUTE FUNCTION billing_guard_counter()
""",
]

POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS counters_guard ON counters",
    "DROP TRIGGER IF EXISTS invoice_lines_guard ON invoice_lines",
    "DROP TRIGGER IF EXISTS invoices_guard ON invoices",
    "DROP FUNCTION IF EXISTS billing_guard_counter()",
    "DROP FUNCTION IF EXISTS billing_guard_invoice_line()",
    "DROP FUNCTION IF EXISTS billing_guard_invoice()",
    "DROP FUNCTION IF EXISTS billing_minor_units(text)",
]


# -- SQLite ------------------------------------------------------------------------------------


def _sqlite_at_minor_units(value: str, currency: str) -> str:
    """Amounts are stored as plain decimal text ("6.665", never an exponent): count the digits
    after the point, trailing zeros aside."""
    return (
        f"(instr({value}, '.') = 0 OR "
        f"length(rtrim(substr({value}, instr({value}, '.') + 1), '0')) <= {_minor_units_case(currency)})"
    )


def _sqlite_invoice_checks() -> str:
    amounts = " AND ".join(
        _sqlite_at_minor_units(f"NEW.{column}", "NEW.currency")
        for column in ("subtotal", "credits_applied", "total")
    )
    return f"""
    SELECT RAISE(ABORT, '{BAD_STATUS}') WHERE NEW.status NOT IN {STATUSES};
    SELECT RAISE(ABORT, '{UNNUMBERED}')
        WHERE NEW.status <> 'draft' AND (NEW.number IS NULL OR NEW.finalized_at IS NULL);
    SELECT RAISE(ABORT, '{UNROUNDED}') WHERE NOT ({amounts});"""


_LINE_CURRENCY = "(SELECT currency FROM invoices WHERE id = NEW.invoice_id)"
_UNCHANGED = " AND ".join(f"NEW.{column} IS OLD.{column}" for column in INVOICE_COLUMNS)

SQLITE_UP = [
    f"""
CREATE TRIGGER invoices_refuse_delete BEFORE DELETE ON invoices
WHEN OLD.status IN {FINALIZED}
BEGIN SELECT RAISE(ABORT, '{DELETED}'); END
""",
    f"""
CREATE TRIGGER invoices_refuse_update BEFORE UPDATE ON invoices
WHEN OLD.status IN {FINALIZED}
    AND NOT (OLD.status = 'finalized' AND NEW.status IN ('paid', 'void') AND {_UNCHANGED})
BEGIN SELECT RAISE(ABORT, '{CHANGED}'); END
""",
    f"""
CREATE TRIGGER invoices_check_insert BEFORE INSERT ON invoices
BEGIN {_sqlite_invoice_checks()}
END
""",
    f"""
CREATE TRIGGER invoices_check_update BEFORE UPDATE ON invoices
WHEN OLD.status = 'draft'
BEGIN {_sqlite_invoice_checks()}
END
""",
    f"""
CREATE TRIGGER invoice_lines_refuse_insert BEFORE INSERT ON invoice_lines
WHEN EXISTS (SELECT 1 FROM invoices WHERE id = NEW.invoice_id AND status IN {FINALIZED})
BEGIN SELECT RAISE(ABORT, '{LINES}'); END
""",
    f"""
CREATE TRIGGER invoice_lines_refuse_update BEFORE UPDATE ON invoice_lines
WHEN EXISTS (SELECT 1 FROM invoices WHERE id IN (OLD.invoice_id, NEW.invoice_id) AND status IN {FINALIZED})
BEGIN SELECT RAISE(ABORT, '{LINES}'); END
""",
    f"""
CREATE TRIGGER invoice_lines_refuse_delete BEFORE DELETE ON invoice_lines
WHEN EXISTS (SELECT 1 FROM invoices WHERE id = OLD.invoice_id AND status IN {FINALIZED})
BEGIN SELECT RAISE(ABORT, '{LINES}'); END
""",
    f"""
CREATE TRIGGER invoice_lines_check_insert BEFORE INSERT ON invoice_lines
WHEN NOT {_sqlite_at_minor_units("NEW.amount", _LINE_CURRENCY)}
BEGIN SELECT RAISE(ABORT, '{UNROUNDED}'); END
""",
    f"""
CREATE TRIGGER invoice_lines_check_update BEFORE UPDATE ON invoice_lines
WHEN NOT {_sqlite_at_minor_units("NEW.amount", _LINE_CURRENCY)}
BEGIN SELECT RAISE(ABORT, '{UNROUNDED}'); END
""",
    f"""
CREATE TRIGGER counters_refuse_change BEFORE UPDATE ON counters
WHEN NEW.name IS NOT OLD.name OR NEW.value < OLD.value
BEGIN SELECT RAISE(ABORT, '{COUNTER}'); END
""",
    f"""
CREATE TRIGGER counters_refuse_delete BEFORE DELETE ON counters
BEGIN SELECT RAISE(ABORT, '{COUNTER}'); END
""",
]

SQLITE_TRIGGERS = [
    "invoices_refuse_delete",
    "invoices_refuse_update",
    "invoices_check_insert",
    "invoices_check_update",
    "invoice_lines_refuse_insert",
    "invoice_lines_refuse_update",
    "invoice_lines_refuse_delete",
    "invoice_lines_check_insert",
    "invoice_lines_check_update",
    "counters_refuse_change",
    "counters_refuse_delete",
]


# -- stored tier amounts -----------------------------------------------------------------------


def _digits(currency: str) -> int:
    return next((d for d, codes in MINOR_UNITS.items() if currency in codes), DEFAULT_MINOR_UNITS)


def _shown_tiers(tiers: list[dict[str, Any]], digits: int) -> list[dict[str, Any]]:
    """Each tier's share of the rounded line: its running total rounded, less the tiers before."""
    quantum = Decimal(1).scaleb(-digits)
    exact = so_far = Decimal(0)
    shown = []
    for tier in tiers:
        exact += Decimal(str(tier["amount"]))
        running = exact.quantize(quantum, rounding=ROUND_HALF_UP)
        shown.append({**tier, "amount": running - so_far})
        so_far = running
    return shown


def _round_stored_tiers() -> None:
    connection = op.get_bind()
    lines = sa.table("invoice_lines", sa.column("id"), sa.column("invoice_id"), sa.column("tiers", JSON_DOCUMENT))
    invoices = sa.table("invoices", sa.column("id"), sa.column("currency"))
    rows = connection.execute(
        sa.select(lines.c.id, lines.c.tiers, invoices.c.currency).join(invoices, invoices.c.id == lines.c.invoice_id)
    ).all()
    for line_id, tiers, currency in rows:
        if not tiers:
            continue
        shown = _shown_tiers(tiers, _digits(currency))
        if shown != tiers:
            connection.execute(lines.update().where(lines.c.id == line_id).values(tiers=shown))


def _run(statements: list[str]) -> None:
    connection = op.get_bind()
    postgresql = connection.dialect.name == "postgresql"
    for statement in statements:  # "%" is PL/pgSQL's placeholder, not the driver's
        connection.exec_driver_sql(statement.replace("%", "%%") if postgresql else statement)


def upgrade() -> None:
    _round_stored_tiers()
    _run(POSTGRESQL_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run(POSTGRESQL_DOWN)
    else:
        _run([f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS])
