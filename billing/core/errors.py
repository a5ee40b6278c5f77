"""One exception family, with messages a user can act on.

Every error a user can cause (a bad catalog, an unknown plan, a malformed quantity) is a
`BillingError`; the command line prints its message on one line and exits non-zero, the HTTP
API answers it with a 4xx.
"""

from __future__ import annotations


class BillingError(Exception):
    """Base class of every error the product reports to a user."""

    code = "billing_error"


class MoneyError(BillingError):
    """A float where money was expected, mixed currencies, an amount that is not a number."""

    code = "invalid_money"


class CatalogError(BillingError):
    """A catalog that cannot be loaded; the message names the file, the path and the value."""

    code = "invalid_catalog"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class UnknownPlan(BillingError):
    code = "unknown_plan"


class UnknownMetric(BillingError):
    code = "unknown_metric"


class UnknownCustomer(BillingError):
    code = "unknown_customer"

    SHOWN_CHARACTERS = 200  # of an unknown id a message repeats (a client may send megabytes)

    @classmethod
    def named(cls, customer_id: str) -> UnknownCustomer:
        """`unknown customer 'x'`; an id longer than a message should repeat is cut, its length
        said."""
        cut = cls.SHOWN_CHARACTERS
        shown = repr(customer_id)
        if len(customer_id) > cut:
            shown = f"{customer_id[:cut]!r}... ({len(customer_id):,} characters)"
        return cls(f"unknown customer {shown}")


class InvalidUsage(BillingError):
    """A usage quantity or an event that cannot be rated."""

    code = "invalid_usage"


class UnmeterableUsage(BillingError):
    """Stored events a metric cannot aggregate (a value that is not a number where a number is
    needed), which ingest would have quarantined: `customers` says, per customer, which event."""

    code = "unmeterable_usage"

    def __init__(self, customers: dict[str, str]) -> None:
        """`customers`: at least one."""
        self.customers = customers
        customer, why = next(iter(customers.items()))
        super().__init__(f"{customer}: {why}")


class DatabaseNotReady(BillingError):
    code = "database_not_ready"


class SourceError(BillingError):
    """A usage source that cannot be read (missing file, unsupported format)."""

    code = "invalid_source"


class RunIncomplete(BillingError):
    """A run that did all it could and names what it could not, one problem a line; `report`
    is what it did (its summary), so the caller shows both."""

    code = "run_incomplete"

    def __init__(self, problems: list[str], report: object = None) -> None:
        self.problems = problems
        self.report = report
        super().__init__("\n".join(problems))

    def __reduce__(self) -> tuple[object, ...]:  # kept intact when a run's state is stored
        return (type(self), (self.problems, self.report))


class UnknownInvoice(BillingError):
    """No invoice or credit note has this number."""

    code = "unknown_invoice"


class InvoiceStateError(BillingError):
    """An invoice asked to move where its state does not allow (paying a void invoice)."""

    code = "invalid_invoice_state"


class InvalidHistoryQuery(BillingError):
    """A notification history asked for with a kind, status or page size it cannot have."""

    code = "invalid_query"
