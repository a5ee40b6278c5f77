"""Usage-based billing: exact rating, invoices and reminders, run as Prefect flows."""

__version__ = "0.1.0"
