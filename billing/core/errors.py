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


SHOWN_CHARACTERS = 200  # of an unknown name a message repeats (a client may send megabytes)


def shown_name(name: str) -> str:
    """A name a message repeats, quoted; one longer than a message should repeat is cut, its
    length said."""
    if len(name) > SHOWN_CHARACTERS:
        return f"{name[:SHOWN_CHARACTERS]!r}... ({len(name):,} characters)"
    return repr(name)


class UnknownCustomer(BillingError):
    code = "unknown_customer"

    @classmethod
    def named(cls, customer_id: str) -> UnknownCustomer:
        """`unknown customer 'x'`, a long id cut (`shown_name`)."""
        return cls(f"unknown customer {shown_name(customer_id)}")


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


class SourceMissing(SourceError):
    """A usage file that is not there (gone, a broken link): trying again will not find it."""


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

    @classmethod
    def numbered(cls, number: str) -> UnknownInvoice:
        """`no invoice numbered 'x'`, a long number cut (`shown_name`)."""
        return cls(f"no invoice numbered {shown_name(number)}")


class InvoiceStateError(BillingError):
    """An invoice asked to move where its state does not allow (paying a void invoice)."""

    code = "invalid_invoice_state"


class InvalidHistoryQuery(BillingError):
    """A notification history asked for with a kind, status or page size it cannot have."""

    code = "invalid_query"
